"""WaveRNN: one GRU with a dual softmax, block sparsity and subscale generation.

Kalchbrenner, Elsen, Simonyan, Noury, Casagrande, Lockhart, Stimberg, van den
Oord, Dieleman & Kavukcuoglu, "Efficient Neural Audio Synthesis", ICML 2018.

Audio ``x [B, T]`` is a sequence of levels ``v in [0, K)``; each is split into
a coarse and a fine part ``v = c Kf + f`` (16-bit audio: ``K = 65,536``,
``Kc = Kf = 256``, the high and low bytes; `DualSoftmax`).  One time step is
**one element** of the shared sequence contract with K levels, and::

    p(x | h, l) = prod_t P(c_t | x_<t) P(f_t | c_t, x_<t)

The network (paper sec. 3.1, `ar_keras.layers.DualGRU`): scalar inputs
``x_t = [c_{t-1}, f_{t-1}, c_t]`` scaled to [-1, 1] (``c_{-1} = f_{-1} = 0``)::

    pre_t = I* x_t + b + V[h] + W_l l_t            (I* masked: c_t -> fine half only)
    u_t = sigma(R_u h_{t-1} + pre^u_t),  r_t = sigma(R_r h_{t-1} + pre^r_t)
    e_t = tanh(r_t o (R_e h_{t-1}) + pre^e_t),  h_t = u_t o h_{t-1} + (1 - u_t) o e_t
    y_c, y_f = split(h_t)
    P(c_t)       = softmax(O_2 relu(O_1 y_c))      does not read c_t
    P(f_t | c_t) = softmax(O_4 relu(O_3 y_f))      reads c_t through I*

with a global id ``h`` (``num_classes``: a learned bias ``V[h]`` on every
gate) and local features ``l`` (``local_channels``/``local_hop``: upsampled
to the audio rate as in `WaveNet`, then a dense map into every gate).
`log_prob` is one pass over all T steps with the true ``c_t`` fed (teacher
forcing) and the head's params ``[l_c, l_f] [B, T, Kc + Kf]``.

**Why one element per step.**  The shared contract scores ``x_t`` in
``[0, K)`` and keys the sampling noise by ``(seed, sample, t)``; splitting a
step into two elements (c, f) would change the event (2T elements of
different ranges).  Instead each step draws c and then f *within the step*:
the element's noise has ``Kc + Kf`` uniforms, the first Kc draw c, the last
Kf draw f.  The model therefore runs its own sampler (`sample_elements`):

* ``cache=True`` (what `sample` uses): the GRU state in a `tf.while_loop`
  (XLA-compiled): per step one ``h_{t-1} R`` product, the coarse half, draw c,
  the fine half, draw f (`stream_step`, also the TFLite streaming step);
* ``cache=False`` (the reference): the whole network on the partial sample,
  twice per step (once with ``x_t = 0`` for ``P(c_t)``, once with ``x_t = c_t
  Kf`` for ``P(f_t | c_t)``): O(T) per sample.  Both give identical samples.

**Block sparsity** (paper sec. 4): the recurrent gate matrices are used as
``R o P`` with a non-trainable block mask P; `ar_keras.pruning.BlockSparsity`
prunes the smallest blocks (16x1 or 4x4) of each gate matrix to the cubic
schedule ``z = Z (1 - (1 - (t - t0) / S)^3)``.

**Subscale** (paper sec. 5), ``subscale=B, horizon=F``: the sequence is
folded into B sub-tensors ``x^(b) = x[b::B]`` of ``L = T / B`` steps (T must
be a multiple of B); the model orders its elements sub-tensor by sub-tensor
(all of ``x^(0)``, then ``x^(1)``, ...), and step i of sub-tensor b reads

* its own past ``x^(b)_{<i}`` through the GRU (run along each sub-tensor),
* the earlier sub-tensors ``x^(b')``, ``b' < b``, at steps ``i - F .. i + F``
  (the future horizon F) through a masked linear context map into the gates,
* a learned embedding of b.

It is an exact autoregressive model in that order (`sampling_groups`), with
`log_prob` one parallel pass.  Sequential generation (``cache=False``: one
element at a time in that order) and **subscale generation** (``cache=True``:
sub-tensor b runs ``F + 1`` steps behind sub-tensor b - 1, so at each global
step every active sub-tensor produces one sample: B samples per step, ``L + (B
- 1)(F + 1)`` steps) read exactly the same values, so with the same noise
they return the same samples.  Simplifications (chosen here): sub-tensors in
the order 0..B-1 (the paper's figure interleaves them), a linear context map
over the horizon window instead of the paper's conditioning network.  A
subscale model is not causal in time (it reads the future of earlier
sub-tensors), so it is an option, not a preset.

Example:
    >>> import ar_keras as ark, keras
    >>> model = ark.models.get("wavernn", preset="speech")       # 256 levels = 16 x 16
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> # model.fit(ark.data.load("speech", "train").batch(8), epochs=20)
    >>> model.sample(1, length=1600, seed=0).shape                 # 0.1 s at 16 kHz
    TensorShape([1, 1600])
    >>> sub = ark.models.get("wavernn", preset="speech", subscale=16, horizon=4)
    >>> sub.sample(1, length=1600, seed=0).shape                   # 16 samples per step
    TensorShape([1, 1600])
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks, pruning  # noqa: F401  (ark.pruning: BlockSparsity for WaveRNN)
from ar_keras.core import AutoregressiveModel, SequenceEvent, conditioning
from ar_keras.distributions.dual_softmax import DualSoftmax
from ar_keras.layers.dual_gru import DualGRU
from ar_keras.layers.upsample1d import Upsample1D
from ar_keras.models.audio.wavenet import check_local_conditioning
from ar_keras.models.registry import register

__all__ = ["WaveRNN"]


def _shift_right(v):
    """Row t takes row t-1, row 0 takes 0: ``[N, T]`` -> same shape."""
    return tf.pad(v, [[0, 0], [1, 0]])[:, :-1]


@register("wavernn")
class WaveRNN(AutoregressiveModel):
    """WaveRNN over levels ``v = c Kf + f`` (module docstring).

    Args:
        num_levels: K (65,536 for 16-bit audio); a perfect square unless
            ``coarse_levels`` says how to split it.
        coarse_levels: None (K a square, ``Kc = Kf = sqrt K``), ``"ceil"`` (any
            K: ``Kc = ceil(sqrt K)``, the values past K masked) or an int Kc.
        hidden_dim: H, the width of the GRU state (even: coarse and fine halves;
            896 in WaveRNN-896).
        output_dim: width of ``O_1``/``O_3`` (default H/2).
        num_classes: global conditioning on a speaker id, or None.
        local_channels, local_hop, local_upsampling, local_upsampled_channels:
            local conditioning as in `WaveNet`.
        subscale: B sub-tensors (None: plain time order).
        horizon: F, future steps of earlier sub-tensors a step reads.
        sample_rate: Hz (metadata).

    Call arguments:
        inputs: ``x`` or ``(x, conditional)``.
    """

    event_class = SequenceEvent

    def __init__(
        self,
        num_levels=65536,
        coarse_levels=None,
        hidden_dim=896,
        output_dim=None,
        num_classes=None,
        local_channels=None,
        local_hop=None,
        local_upsampling="transposed",
        local_upsampled_channels=None,
        subscale=None,
        horizon=0,
        sample_rate=16000,
        **kwargs,
    ):
        super().__init__(num_classes=num_classes, event=SequenceEvent(num_levels, sample_rate), **kwargs)
        self.head = DualSoftmax(self.num_levels, coarse_levels)
        self.coarse_levels = coarse_levels
        if isinstance(hidden_dim, bool) or int(hidden_dim) != hidden_dim or hidden_dim < 2 or hidden_dim % 2:
            raise ValueError(
                f"hidden_dim must be an even integer >= 2 (coarse and fine halves), got {hidden_dim!r}."
            )
        self.hidden_dim = int(hidden_dim)
        self.output_dim = int(output_dim or self.hidden_dim // 2)
        checks.check_positive_int(self.output_dim, "output_dim")
        checks.check_positive_int(sample_rate, "sample_rate")
        check_local_conditioning(local_channels, local_hop, local_upsampling)
        if subscale is not None:
            checks.check_positive_int(subscale, "subscale")
        if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 0:
            raise ValueError(f"horizon must be an integer >= 0, got {horizon!r}.")
        self.local_channels = None if local_channels is None else int(local_channels)
        self.local_hop = None if local_hop is None else int(local_hop)
        self.local_upsampling = local_upsampling
        self.local_upsampled_channels = (
            None if local_upsampled_channels is None else int(local_upsampled_channels)
        )
        self.subscale = None if subscale is None else int(subscale)
        self.horizon = int(horizon)
        self.sample_rate = self.event.sample_rate

        H, O = self.hidden_dim, self.output_dim
        self.coarse_hidden = keras.layers.Dense(O, name="O1")
        self.coarse_logits = keras.layers.Dense(self.head.num_coarse, name="O2")
        self.fine_hidden = keras.layers.Dense(O, name="O3")
        self.fine_logits = keras.layers.Dense(self.head.num_fine, name="O4")
        self.class_bias = (
            None
            if self.num_classes is None
            else keras.layers.Embedding(self.num_classes, 3 * H, name="class_bias")
        )
        self.upsample = self.local_dense = None
        if self.local_channels:
            if local_upsampling == "repeat" and local_upsampled_channels is not None:
                raise ValueError("local_upsampled_channels is only for local_upsampling='transposed'.")
            self.upsample = Upsample1D(
                self.local_hop, local_upsampling, self.local_upsampled_channels, name="upsample"
            )
            self.local_dense = keras.layers.Dense(3 * H, use_bias=False, name="local")
        self.context = self.subtensor_bias = None
        if self.subscale:
            B, W = self.subscale, 2 * self.horizon + 1
            # Context weights over (sub-tensor b', offset j, coarse/fine) of the window.
            self.context = self.add_weight(
                name="context_kernel", shape=(B * W * 2, 3 * H), initializer="glorot_uniform"
            )
            self.subtensor_bias = keras.layers.Embedding(B, 3 * H, name="subtensor_bias")
            # mask[b, (b', j, k)] = 1 where b' < b: sub-tensor b reads earlier ones only.
            mask = (np.arange(B)[None, :] < np.arange(B)[:, None]).astype(np.float32)  # [b, b']
            self._context_mask = tf.constant(np.repeat(mask, W * 2, axis=1))  # [B, B W 2]
        # Created last, so that its non-trainable pruning mask is the last of the weights.
        self.gru = DualGRU(H, name="gru")
        self.conditioning = conditioning.ConditioningSpec.labels(
            self.num_classes,
            [conditioning.LocalFeatures(self.local_channels, self.local_hop)] if self.local_channels else [],
            owner="wavernn",
        )
        self.example_length = max(self.local_hop or 1, 1) * (self.subscale or 1) * 2
        self._finish_init()

    # ----------------------------------------------------------------- structure
    @property
    def num_coarse(self):
        return self.head.num_coarse

    @property
    def num_fine(self):
        return self.head.num_fine

    @property
    def state_shapes(self):
        """Shape ``[H]`` of the GRU state (per sample), for streaming."""
        return [(self.hidden_dim,)]

    def sampling_groups(self, num_elements):
        """Time order; with subscale, sub-tensor by sub-tensor: ``[b, b + B, b + 2B, ...]``."""
        if not self.subscale:
            return super().sampling_groups(num_elements)
        L = num_elements // self.subscale
        grid = tf.reshape(tf.range(num_elements), [L, self.subscale])  # [T] -> [L, B]
        grid = tf.transpose(grid)  # [L, B] -> [B, L]
        return tf.reshape(grid, [-1, 1])  # [B, L] -> [T, 1]

    # -------------------------------------------------------------- conditioning
    def check_conditional(self, conditional, batch=None, length=None, validate_values=True):
        if self.subscale and isinstance(length, int) and length % self.subscale:
            raise ValueError(
                f"a subscale WaveRNN folds T into {self.subscale} sub-tensors: T must "
                f"be a multiple of {self.subscale}, got T = {length}."
            )
        return super().check_conditional(conditional, batch, length, validate_values)

    def _check(self, x, conditional, validate_values=True):
        x, c = super()._check(x, conditional, validate_values)
        if self.subscale and x.shape[1] is not None and x.shape[1] % self.subscale:
            raise ValueError(
                f"a subscale WaveRNN folds T into {self.subscale} sub-tensors: T must "
                f"be a multiple of {self.subscale}, got T = {x.shape[1]}."
            )
        return x, c

    def upsample_features(self, features):
        """Local conditioning ``[n, T / hop, E]`` -> ``[n, T, E']`` at the audio rate."""
        return self.upsample(tf.convert_to_tensor(features, tf.float32))

    def _extra(self, labels, features):
        """The conditioning terms of the gates: ``[n, 1 or T, 3H]`` (or 0.0)."""
        extra = 0.0
        if labels is not None:
            extra = extra + self.class_bias(labels)[:, None, :]  # [n, 1, 3H]
        if features is not None:
            extra = extra + self.local_dense(self.upsample(features))  # [n, T, 3H]
        return extra

    # ------------------------------------------------------------------- network
    def _scale_coarse(self, c):
        return 2.0 * tf.cast(c, self.compute_dtype) / max(self.num_coarse - 1, 1) - 1.0

    def _scale_fine(self, f):
        return 2.0 * tf.cast(f, self.compute_dtype) / max(self.num_fine - 1, 1) - 1.0

    def _outputs(self, h):
        """States ``[..., H]`` -> ``[l_c, l_f]`` ``[..., Kc + Kf]``."""
        half = self.hidden_dim // 2
        return tf.concat([self._coarse_out(h[..., :half]), self._fine_out(h[..., half:])], -1)

    def _coarse_out(self, y_c):
        # relu as max(x, 0) (see WaveNet._output: a grappler fusion inside while loops).
        return self.coarse_logits(tf.maximum(self.coarse_hidden(y_c), 0.0))  # [.., Kc]

    def _fine_out(self, y_f):
        return self.fine_logits(tf.maximum(self.fine_hidden(y_f), 0.0))  # [.., Kf]

    def _inputs(self, x):
        """``x [N, T]`` -> scaled ``[c_{t-1}, f_{t-1}, c_t]`` ``[N, T, 3]`` along axis 1."""
        c, f = self.head.split(x)
        sc, sf = self._scale_coarse(c), self._scale_fine(f)
        return tf.stack([_shift_right(sc), _shift_right(sf), sc], axis=-1)

    def network(self, x, conditional=None, training=False):
        """``x [B, T]`` -> params ``[B, T, Kc + Kf]`` (``l_f`` at t computed with the true c_t)."""
        labels, features = self.conditioning.values(conditional, "labels", "features")
        extra = self._extra(labels, features)
        if self.subscale:
            return self._subscale_network(x, extra)
        pre = self.gru.input_projection(self._inputs(x)) + extra  # [B, T, 3H]
        return self._outputs(self.gru.sequence(pre, tflite=self._tflite_trace))

    # -------------------------------------------------------------------- subscale
    def _fold(self, v):
        """``[N, T, ...]`` -> ``[N, B, L, ...]``: sub-tensor b holds ``v[:, b::B]``."""
        B = self.subscale
        shape = tf.shape(v)
        rest = v.shape[2:]
        folded = tf.reshape(v, tf.concat([[shape[0], shape[1] // B, B], shape[2:]], 0))  # [N, L, B, ...]
        perm = [0, 2, 1] + list(range(3, 3 + len(rest)))
        return tf.transpose(folded, perm)  # -> [N, B, L, ...]

    def _unfold(self, v):
        """``[N, B, L, ...]`` -> ``[N, T, ...]`` (inverse of `_fold`)."""
        shape = tf.shape(v)
        perm = [0, 2, 1] + list(range(3, v.shape.rank))
        t = tf.transpose(v, perm)  # [N, L, B, ...]
        return tf.reshape(t, tf.concat([[shape[0], shape[1] * shape[2]], shape[3:]], 0))  # -> [N, T, ...]

    def _context_projection(self, windows):
        """``windows [N, L, B' W 2]`` -> per target sub-tensor ``[N, B, L, 3H]`` (b' < b only)."""
        masked = self._context_mask[:, :, None] * self.context[None]  # [B, B'W2, 3H]
        return tf.einsum("nlk,bkh->nblh", windows, masked)

    def _windows(self, scaled):
        """Scaled values ``[N, B, L, 2]`` -> horizon windows ``[N, L, B' (2F+1) 2]``, zero outside."""
        F = self.horizon
        L = tf.shape(scaled)[2]
        padded = tf.pad(scaled, [[0, 0], [0, 0], [F, F], [0, 0]])  # [N, B, L + 2F, 2]
        shifts = tf.stack([padded[:, :, j : j + L] for j in range(2 * F + 1)], axis=3)  # [N, B, L, W, 2]
        t = tf.transpose(shifts, [0, 2, 1, 3, 4])  # [N, L, B, W, 2]
        n = tf.shape(t)[0]
        return tf.reshape(t, tf.stack([n, L, self.subscale * (2 * F + 1) * 2]))  # -> [N, L, B W 2]

    def _subscale_network(self, x, extra):
        B, H = self.subscale, self.hidden_dim
        xs = self._fold(x)  # [N, B, L]
        N, L = tf.shape(xs)[0], tf.shape(xs)[2]
        c, f = self.head.split(xs)
        scaled = tf.stack([self._scale_coarse(c), self._scale_fine(f)], -1)  # [N, B, L, 2]
        inputs = self._inputs(tf.reshape(xs, [N * B, L]))  # [N B, L, 3]
        pre = tf.reshape(self.gru.input_projection(inputs), [N, B, L, 3 * H])  # [N B, L, 3H] -> [N, B, L, 3H]
        pre = pre + self._context_projection(self._windows(scaled))
        pre = pre + self.subtensor_bias(tf.range(B))[None, :, None, :]
        if isinstance(extra, tf.Tensor):
            if extra.shape[1] == 1:
                pre = pre + extra[:, :, None, :]  # [N, 1, 3H] -> [N, 1, 1, 3H]
            else:
                pre = pre + self._fold(extra)  # [N, T, 3H] -> [N, B, L, 3H]
        h = self.gru.sequence(tf.reshape(pre, [N * B, L, 3 * H]), tflite=self._tflite_trace)  # [N B, L, H]
        params = self._outputs(h)  # [N B, L, P]
        return self._unfold(tf.reshape(params, [N, B, L, -1]))  # -> [N, B, L, P] -> [N, T, P]

    # ------------------------------------------------------------------ sampling
    #: Compile the cached (and subscale) sampler with XLA from 256 steps on, where compiling
    #: repays itself (benchmarks/wavernn_generation.py); True/False force it.
    jit_sampling = "auto"

    def init_stream(self, batch):
        """The `stream_step` state before step 0: ``[h_{-1}] = [zeros [batch, H]]``."""
        return [tf.zeros(tf.stack([batch, self.hidden_dim]))]

    def stream_step(self, x_prev, state, index, noise, temperature=1.0, labels=None, local_t=None):
        """One generation step as a pure function (what `export.tflite_step` exports).

        Args:
            x_prev: int32 ``[n]``, the sample drawn at step ``index - 1`` (ignored at 0).
            state: ``[h_{t-1} [n, H]]`` (`init_stream` at step 0).
            index: int32 scalar t.
            noise: ``[n, Kc + Kf]`` uniforms of step t.
            temperature: scalar > 0.
            labels: int32 ``[n]`` global ids, if any.
            local_t: ``[n, E']``, row t of `upsample_features`, if any.

        Returns:
            ``(sample [n], coarse logits [n, Kc], fine logits [n, Kf] (for the drawn c),
            new state)``.
        """
        if self.subscale:
            raise ValueError(
                "stream_step is the time-ordered WaveRNN's step; a subscale model "
                "generates with sample(cache=True)."
            )
        h = state[0]
        c_prev, f_prev = self.head.split(x_prev)
        first = tf.equal(index, 0)
        zero = tf.zeros([], self.compute_dtype)
        sc = tf.where(first, zero, self._scale_coarse(c_prev))  # c_{-1} = 0
        sf = tf.where(first, zero, self._scale_fine(f_prev))
        pre = self.gru.input_projection(tf.stack([sc, sf, tf.zeros_like(sc)], -1))  # [n, 3H]
        if labels is not None:
            pre = pre + self.class_bias(labels)
        if local_t is not None:
            pre = pre + self.local_dense(local_t)
        rec = self.gru.recurrent(h)  # [n, 3H]
        half = self.hidden_dim // 2
        h_coarse = self.gru.gates(pre, rec, h)  # coarse half valid
        coarse = self._coarse_out(h_coarse[:, :half])  # [n, Kc]
        c = self.head.sample_coarse(coarse, noise, temperature)
        pre = pre + self.gru.current_coarse_projection(self._scale_coarse(c))
        h_new = self.gru.gates(pre, rec, h)  # [n, H]
        fine = self._fine_out(h_new[:, half:])  # [n, Kf]
        params = tf.concat([coarse, fine], -1)  # [n, Kc + Kf]
        f = self.head.sample_fine(params, c, noise, temperature)
        return self.head.join(c, f), coarse, fine, [h_new]

    def stream_signatures(self, num_samples=1):
        """``{name: tf.function}`` of the streaming TFLite file (`ar_keras.export.tflite_step`).

        ``step``: ``x_prev`` int32 ``[n]``, ``index`` int32 ``[]``, ``noise [n, Kc + Kf]``,
        ``temperature`` (+ ``conditional [n]``) (+ ``local [n, E']``), ``state_00 [n, H]`` ->
        ``{"sample", "coarse_logits", "fine_logits", "state_00"}``; with local
        conditioning also ``upsample``: ``features [n, T / hop, E] -> {"local": [n, T, E']}``.
        """
        if self.subscale:
            raise ValueError("a subscale WaveRNN has no single-sample streaming step.")
        n = num_samples
        state_spec = tf.TensorSpec([n, self.hidden_dim], tf.float32, name="state_00")
        extra = [] if self.num_classes is None else [tf.TensorSpec([n], tf.int32, name="conditional")]
        if self.local_channels:
            width = self.upsample.output_channels(self.local_channels)
            extra.append(tf.TensorSpec([n, width], tf.float32, name="local"))
        base = [
            tf.TensorSpec([n], tf.int32, name="x_prev"),
            tf.TensorSpec([], tf.int32, name="index"),
            tf.TensorSpec([n, self.noise_depth], tf.float32, name="noise"),
            tf.TensorSpec([], tf.float32, name="temperature"),
        ]

        @tf.function(input_signature=base + extra + [state_spec], autograph=False)
        def step(x_prev, index, noise, temperature, *rest):
            named = {spec.name: value for spec, value in zip(extra, rest[: len(extra)])}
            sample, coarse, fine, state = self.stream_step(
                x_prev, [rest[-1]], index, noise, temperature, named.get("conditional"), named.get("local")
            )
            return {"sample": sample, "coarse_logits": coarse, "fine_logits": fine, "state_00": state[0]}

        functions = {"step": step}
        if self.local_channels:

            @tf.function(
                input_signature=[tf.TensorSpec([n, None, self.local_channels], tf.float32, name="features")],
                autograph=False,
            )
            def upsample(features):
                return {"local": self.upsample_features(features)}  # [n, T, E']

            functions["upsample"] = upsample
        return functions

    #: True while the TFLite signatures are traced (`DualGRU.sequence` without TensorArrays).
    _tflite_trace = False

    def tflite_signatures(self, batch_size=None, num_samples=None):
        """The base's TFLite signatures, traced with the GRU loop TFLite can lower."""
        functions = super().tflite_signatures(batch_size, num_samples)
        self._tflite_trace = True
        try:
            for fn in functions.values():
                fn.get_concrete_function()  # traced now; export reuses these traces
        finally:
            self._tflite_trace = False
        return functions

    def init_cache(self, batch, conditional=None):
        """The sampler's state: ``h [n, H]`` (``[n, B, H]`` with subscale) and the
        conditioning terms of the gates."""
        labels, features = self.conditioning.values(conditional, "labels", "features")
        cache = {"h": tf.zeros(tf.stack([batch, self.hidden_dim]), self.compute_dtype)}
        if labels is not None:
            cache["labels"] = labels
        if features is not None:
            cache["local"] = self.upsample(features)  # [n, T, E']
        return cache

    def step(self, x, cache, index, conditional=None, noise=None, temperature=1.0):
        """Cache protocol, two-stage: draws ``x_t`` itself (its noise ``[n, Kc + Kf]``) and
        returns ``(x_t [n], params [n, Kc + Kf], cache)`` (`sample_elements` runs it)."""
        x_prev = self.previous_value(x, index)  # [n]
        local_t = None if "local" not in cache else tf.gather(cache["local"], index, axis=1)
        sample, coarse, fine, state = self.stream_step(
            x_prev, [cache["h"]], index, noise, temperature, cache.get("labels"), local_t
        )
        return sample, tf.concat([coarse, fine], -1), dict(cache, h=state[0])

    def sample_elements(
        self, noise, num_samples, num_elements, conditional=None, temperature=1.0, cache=True
    ):
        """``[n, T]`` int32: cached GRU steps, the subscale schedule, or full recompute."""
        temperature = tf.convert_to_tensor(temperature, tf.float32)
        x = tf.zeros(tf.stack([num_samples, num_elements]), tf.int32)
        if not cache:
            return self._sample_recompute(noise, x, num_elements, conditional, temperature)
        if self.subscale:
            return self._sample_subscale(noise, x, num_elements, conditional, temperature)
        state = self.init_cache(num_samples, conditional)

        def body(t, x, state):
            u = noise.at(t[None])[:, 0]  # [n, depth]
            value, _, state = self.step(x, state, t, conditional, u, temperature)
            return [t + 1, _write(x, t, value), state]

        _, x, _ = tf.while_loop(
            lambda t, *_: t < num_elements, body, [tf.constant(0), x, state], maximum_iterations=num_elements
        )
        return x

    def _sample_recompute(self, noise, x, num_elements, conditional, temperature):
        """The reference: per element (in `sampling_groups` order) two full passes."""
        order = self.sampling_groups(num_elements)[:, 0]  # [T]

        def body(s, x):
            t = tf.gather(order, s)
            u = noise.at(t[None])[:, 0]  # [n, depth]
            coarse = tf.gather(self.network(x, conditional), t, axis=1)  # [n, P], x_t = 0
            c = self.head.sample_coarse(coarse, u, temperature)
            x = _write(x, t, self.head.join(c, tf.zeros_like(c)))
            fine = tf.gather(self.network(x, conditional), t, axis=1)  # [n, P] given c_t
            f = self.head.sample_fine(fine, c, u, temperature)
            return [s + 1, _write(x, t, self.head.join(c, f))]

        _, x = tf.while_loop(
            lambda s, *_: s < num_elements, body, [tf.constant(0), x], maximum_iterations=num_elements
        )
        return x

    def _sample_subscale(self, noise, x, num_elements, conditional, temperature):
        """Subscale generation: B samples per step, sub-tensor b ``F + 1`` steps behind b - 1."""
        B, F, H = self.subscale, self.horizon, self.hidden_dim
        half = H // 2
        n = tf.shape(x)[0]
        L = num_elements // B
        labels, features = self.conditioning.values(conditional, "labels", "features")
        extra = self._extra(labels, features)  # 0 or [n, 1|T, 3H]
        bias = self.subtensor_bias(tf.range(B))  # [B, 3H]
        masked_context = self._context_mask[:, :, None] * self.context[None]  # [B, B'W2, 3H]
        b_index = tf.range(B)
        offsets = tf.range(-F, F + 1)  # [W]
        steps = L + (B - 1) * (F + 1)

        def body(s, x, h):
            i = s - b_index * (F + 1)  # [B] step of each
            active = (i >= 0) & (i < L)
            ic = tf.clip_by_value(i, 0, L - 1)
            t = ic * B + b_index  # [B] time index
            prev_t = tf.maximum(ic - 1, 0) * B + b_index
            c_prev, f_prev = self.head.split(tf.gather(x, prev_t, axis=1))  # [n, B]
            has_prev = (ic > 0)[None, :]
            sc = tf.where(has_prev, self._scale_coarse(c_prev), tf.zeros([], self.compute_dtype))
            sf = tf.where(has_prev, self._scale_fine(f_prev), tf.zeros([], self.compute_dtype))
            inputs = tf.stack([sc, sf, tf.zeros_like(sc)], -1)  # [n, B, 3]
            # Horizon windows of every sub-tensor b' at steps ic_b + j: [n, B(target), B', W, 2].
            j = ic[:, None, None] + offsets[None, None, :]  # [B, 1, W]
            valid = (j >= 0) & (j < L)
            src = tf.clip_by_value(j, 0, L - 1) * B + b_index[None, :, None]  # [B, B', W]
            vals = tf.gather(x, tf.reshape(src, [-1]), axis=1)  # [n, B B' W]
            vc, vf = self.head.split(vals)
            win = tf.stack([self._scale_coarse(vc), self._scale_fine(vf)], -1)  # [n, B B' W, 2]
            win = tf.reshape(win, [n, B, B, 2 * F + 1, 2])  # -> [n, B, B', W, 2]
            win = win * tf.cast(tf.broadcast_to(valid, [B, B, 2 * F + 1]), tf.float32)[None, ..., None]
            win = tf.reshape(win, [n, B, -1])  # -> [n, B, B' W 2]
            pre = self.gru.input_projection(inputs) + bias[None]  # [n, B, 3H]
            pre = pre + tf.einsum("nbk,bkh->nbh", win, masked_context)
            if isinstance(extra, tf.Tensor):
                pre = pre + (extra if extra.shape[1] == 1 else tf.gather(extra, t, axis=1))
            flat_h = tf.reshape(h, [n * B, H])  # [n, B, H] -> [n B, H]
            flat_pre = tf.reshape(pre, [n * B, 3 * H])  # [n, B, 3H] -> [n B, 3H]
            rec = self.gru.recurrent(flat_h)
            u = tf.reshape(noise.at(t), [n * B, -1])  # [n, B, d] -> [n B, d]
            h_c = self.gru.gates(flat_pre, rec, flat_h)
            coarse = self._coarse_out(h_c[:, :half])
            c = self.head.sample_coarse(coarse, u, temperature)  # [n B]
            flat_pre = flat_pre + self.gru.current_coarse_projection(self._scale_coarse(c))
            h_new = self.gru.gates(flat_pre, rec, flat_h)
            params = tf.concat([coarse, self._fine_out(h_new[:, half:])], -1)
            f = self.head.sample_fine(params, c, u, temperature)
            v = tf.reshape(self.head.join(c, f), [n, B])  # [n B] -> [n, B]
            # Write the active sub-tensors' samples; keep the others' values and states.
            current = tf.gather(x, t, axis=1)  # [n, B]
            v = tf.where(active[None, :], v, current)
            x = _write_many(x, t, v)
            h_new = tf.reshape(h_new, [n, B, H])  # [n B, H] -> [n, B, H]
            h = tf.where(active[None, :, None], h_new, h)
            return [s + 1, x, h]

        h0 = tf.zeros(tf.stack([n, B, H]))
        _, x, _ = tf.while_loop(
            lambda s, *_: s < steps, body, [tf.constant(0), x, h0], maximum_iterations=steps
        )
        return x


def _write(x, t, values):
    """``x[:, t] = values`` for ``x [n, T]``, ``values [n]``."""
    return _write_many(x, t[None], values[:, None])


def _write_many(x, ts, values):
    """``x[:, ts] = values`` for ``ts [G]`` (distinct), ``values [n, G]``."""
    n, g = tf.shape(values)[0], tf.shape(ts)[0]
    rows = tf.repeat(tf.range(n), g)  # [n G]
    cols = tf.tile(ts, [n])  # [n G]
    return tf.tensor_scatter_nd_update(
        x, tf.stack([rows, cols], 1), tf.reshape(values, [-1])
    )  # [n, G] -> [n G]
