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
Kf draw f.  The shared sampler (`ar_keras.core.sampler.run`) does this through
the draw hook (`draw_group`: `DualSoftmax.sample_staged`), which asks for the
step's parameters again with c written in:

* ``cache=True`` (what `sample` uses): the GRU state in the cache; a step costs
  one ``h R`` product (the repeated one, for the fine half, reads the same
  state), the coarse half, draw c, the fine half, draw f.  `stream_step` is the
  same step as a pure function (the TFLite streaming step);
* ``cache=False`` (the reference): the whole network on the partial sample,
  twice per step (``c_t = 0`` for ``P(c_t)``, then the drawn ``c_t`` for
  ``P(f_t | c_t)``): O(T) per sample.  Both give identical samples.

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

It is an exact autoregressive model in that order (`subscale_order`), with
`log_prob` one parallel pass.  **Subscale generation** (`sampling_groups`):
sub-tensor b runs ``F + 1`` steps behind sub-tensor b - 1, so at each step
every active sub-tensor draws one sample: B samples per step, ``L + (B -
1)(F + 1)`` steps, on both paths of the shared sampler.  Drawing one element
at a time in `subscale_order` reads exactly the same values, so with the
same noise it returns the same samples.  Simplifications (chosen here): sub-tensors in
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
from ar_keras.models.audio.wavernn_streaming import WaveRNNStreaming
from ar_keras.models.audio.wavernn_subscale import WaveRNNSubscale
from ar_keras.models.registry import register

__all__ = ["WaveRNN"]


def _shift_right(v):
    """Row t takes row t-1, row 0 takes 0: ``[N, T]`` -> same shape."""
    return tf.pad(v, [[0, 0], [1, 0]])[:, :-1]


@register("wavernn")
class WaveRNN(WaveRNNSubscale, WaveRNNStreaming, AutoregressiveModel):
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

    # ------------------------------------------------------------------ sampling
    #: Compile the cached (and subscale) sampler with XLA from 256 steps on, where compiling
    #: repays itself (benchmarks/wavernn_generation.py); True/False force it.
    jit_sampling = "auto"

    # The cache protocol.  The GRU state ``h_t`` reads ``c_t`` (the fine half's input), which
    # is drawn from the step's coarse half: `step` gives the params with the ``c_t`` in x (zero
    # while undrawn; the coarse half does not read it) and the recurrent product ``R h_{t-1}``;
    # `restep`, with c_t written, the fine half and the state ``h_t`` the sampler carries on.
    staged_draw = True

    def init_cache(self, batch, conditional=None):
        """``h = h_{-1}``; ``rec`` and ``pre``, the last step's ``R h`` and gate inputs (zeros;
        ``[n, B, .]`` with subscale); the conditioning: labels ``[n]``, local features at the
        audio rate ``[n, T, E']``."""
        labels, features = self.conditioning.values(conditional, "labels", "features")
        shape = [batch] if not self.subscale else [batch, self.subscale]
        H = self.hidden_dim
        cache = {
            "h": tf.zeros(tf.stack(shape + [H]), self.compute_dtype),
            "rec": tf.zeros(tf.stack(shape + [3 * H]), self.compute_dtype),
            "pre": tf.zeros(tf.stack(shape + [3 * H]), self.compute_dtype),
        }
        if labels is not None:
            cache["labels"] = labels
        if features is not None:
            cache["local"] = self.upsample(features)  # [n, T, E']
        return cache

    def _pre_at(self, x, i, cache):
        """``I*[c_{i-1}, f_{i-1}, 0] + b (+ sub-tensor bias, context) + conditioning``: the gates'
        inputs at step i of every sequence (of every sub-tensor, ``i [B]``) but the ``c_i`` term
        (`DualGRU.current_coarse_projection`), read from the partial sample ``x [n, T]``:
        ``[n, 3H]`` (``[n, B, 3H]``)."""
        B = self.subscale or 1
        b = tf.range(B) if self.subscale else 0
        i = tf.maximum(i, 0)
        t, prev_t = i * B + b, tf.maximum(i - 1, 0) * B + b  # time indices
        c_prev, f_prev = self.head.split(tf.gather(x, prev_t, axis=1))  # [n(, B)]
        zero = tf.zeros([], self.compute_dtype)
        sc = tf.where(i > 0, self._scale_coarse(c_prev), zero)  # c_{-1} = f_{-1} = 0
        sf = tf.where(i > 0, self._scale_fine(f_prev), zero)
        pre = self.gru.input_projection(tf.stack([sc, sf, tf.zeros_like(sc)], -1))  # [n(, B), 3H]
        if self.subscale:
            pre = pre + self.subtensor_bias(tf.range(B))[None]  # [n, B, 3H]
            pre = pre + self._step_context(x, i)
        if "labels" in cache:
            labels = self.class_bias(cache["labels"])  # [n, 3H]
            pre = pre + (labels[:, None, :] if self.subscale else labels)
        if "local" in cache:
            pre = pre + self.local_dense(tf.gather(cache["local"], t, axis=1))  # [n(, B), 3H]
        return pre

    def _with_current(self, pre, values):
        """``pre`` plus the ``c_t`` term of the levels ``values [n(, B)]``."""
        c, _ = self.head.split(values)
        return pre + self.gru.current_coarse_projection(self._scale_coarse(c))

    def _gates(self, pre, rec, h):
        """`DualGRU.gates` over ``[n(, B), .]``."""
        H = self.hidden_dim
        flat = self.gru.gates(
            tf.reshape(pre, [-1, 3 * H]), tf.reshape(rec, [-1, 3 * H]), tf.reshape(h, [-1, H])
        )  # [n B, H]
        return tf.reshape(flat, tf.shape(h))  # -> [n(, B), H]

    def _positions(self, x, index):
        """``(i, active)``: the step of each sequence (of each sub-tensor, ``[B]``, clipped to its
        elements) and whether it draws at sampler step ``index``."""
        if not self.subscale:
            return index, True
        L = tf.shape(x)[1] // self.subscale
        i = index - tf.range(self.subscale) * (self.horizon + 1)  # [B]
        return tf.clip_by_value(i, 0, L - 1), ((i >= 0) & (i < L))[None, :, None]

    def step(self, x, cache, index, conditional=None):
        """Cache protocol: the params ``[n, Kc + Kf]`` of step ``index`` (``[n, B, .]`` with
        subscale: one element per sub-tensor), the fine half for the ``c_t`` in ``x``."""
        i, _ = self._positions(x, index)
        H = self.hidden_dim
        B = self.subscale or 1
        rec = tf.reshape(self.gru.recurrent(tf.reshape(cache["h"], [-1, H])), tf.shape(cache["rec"]))
        pre = self._pre_at(x, i, cache)
        current = tf.gather(x, tf.maximum(i, 0) * B + (tf.range(B) if self.subscale else 0), axis=1)
        h = self._gates(self._with_current(pre, current), rec, cache["h"])  # h_t
        return self._group_outputs(h), dict(cache, rec=rec, pre=pre)

    def restep(self, x, values, cache, stepped, index, conditional=None):
        """`step`'s params again with ``c_t`` from ``values``, from the recurrent product and gate
        inputs it computed (no second ``h R``), and the state ``h_t`` (kept where a sub-tensor
        is idle)."""
        _, active = self._positions(x, index)
        current = values[:, 0] if not self.subscale else values  # [n, 1] -> [n]; [n, B]
        pre = self._with_current(stepped["pre"], current)
        h = self._gates(pre, stepped["rec"], cache["h"])  # h_t
        return self._group_outputs(h), dict(stepped, h=tf.where(active, h, cache["h"]))

    def _group_outputs(self, h):
        """States ``[n(, B), H]`` -> the group's params ``[n, G, Kc + Kf]``, built as one concat the
        draw slices (XLA then drops the half a stage does not read)."""
        return self._outputs(h if self.subscale else h[:, None, :])  # [n, H] -> [n, 1, H]

    def draw_group(self, params, uniforms, temperature, refine, truncation=None):
        """Coarse, then fine given the coarse (`DualSoftmax.sample_staged`)."""
        return self.head.sample_staged(params, uniforms, temperature, refine, truncation)
