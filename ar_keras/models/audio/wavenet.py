"""WaveNet, with fast (queued) generation.

van den Oord, Dieleman, Zen, Simonyan, Vinyals, Graves, Kalchbrenner, Senior
& Kavukcuoglu, "WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499,
2016; fast generation after Paine, Khorrami, Chang, Zhang, Ramachandran,
Hasegawa-Johnson & Huang, "Fast Wavenet Generation Algorithm",
arXiv:1611.09482, 2016.

Audio ``x [B, T]`` is a sequence of mu-law codes in ``[0, K)``
(`ar_keras.data.mu_law_encode`, K = 256 in the paper) and::

    p(x | h, c) = prod_t softmax(f(x_{t-r..t-1}, h, c_{t-r+1..t}))[x_t]

with ``h`` a global and ``c`` a local conditioning (both optional; ``c`` at
earlier steps reaches step t through the hidden states, within the
receptive field r).

The network (paper Fig. 4), for residual channels R, gate channels G, skip
channels S::

    e_t   = E[x_{t-1}]                 (E[x_{-1}] = 0)    embedding = one-hot x 1x1 conv
    h^0   = e
    h^l, s^l = WaveNetBlock_l(h^{l-1}; h, c)              dilated causal conv (dilation d_l),
                                                           gated unit, residual + skip
    logits = W_2 relu(W_1 relu(sum_l s^l) + b_1) + b_2     [B, T, K]

Each block's convolution has ``k`` taps ``d_l`` apart, so ``x_t`` is predicted
from the ``r = 1 + (k - 1) sum_l d_l`` samples before it (`receptive_field`);
with ``k = 2`` and dilations ``1, 2, ..., 512`` repeated three times,
r = 3070 samples (192 ms at 16 kHz).  Training and `log_prob` are one parallel
pass over all T samples.

**Generation.**  `sample(n, length=T)` draws one sample per step.  The
reference path (``cache=False``) re-runs the network on the whole prefix each
step: O(T) work per sample, O(T^2) per sequence.  The fast path
(``cache=True``, Paine et al.) keeps one queue per block holding the block's
last ``d_l (k - 1)`` inputs; a step pushes the new sample's embedding through
the stack touching one tap per block: O(layers) per sample, independent of
T.  Both run inside one `tf.while_loop` and draw the same Gumbel noise keyed by
``(seed, sample, step)``, so they return identical samples.  The fast loop
is compiled with XLA (`jit_sampling`).  `stream_step` is that step as a pure
function (state in, state out; `init_stream` is the state before step 0),
which `ar_keras.export.tflite_step` exports so a phone can stream samples.

**Conditioning** (paper sec. 2.5), passed as ``conditional=``:

* global, ``num_classes=N``: a speaker/class id ``[B]`` int, a learned bias
  ``V[h]`` on every gate;
* local, ``local_channels=E, local_hop=hop``: a feature sequence
  ``[B, T / hop, E]`` float, upsampled to the audio rate by a transposed
  convolution (``local_upsampling="transposed"``, the paper's choice) or by
  repetition (``"repeat"``), then a 1x1 convolution into every gate;
* both: a dict ``{"labels": [B], "features": [B, T / hop, E]}``.

Example:
    >>> import ar_keras as ark, keras
    >>> ds = ark.data.load("speech", "train")                    # int32 [10240] mu-law codes
    >>> model = ark.models.get("wavenet", preset="speech")
    >>> model.compile(optimizer=keras.optimizers.Adam(2e-3))
    >>> # model.fit(ds.batch(8), epochs=30)
    >>> model.sample_rate
    16000
    >>> audio = model.sample(1, length=1600, seed=0)            # 0.1 s; length=16000 is one second
    >>> audio.shape
    TensorShape([1, 1600])
    >>> wave = ark.data.mu_law_decode(audio)                    # floats in [-1, 1]
    >>> bool(wave.numpy().min() >= -1 and wave.numpy().max() <= 1)
    True
    >>> speaker = ark.models.get("wavenet", preset="tiny", num_classes=5)     # 5 speakers
    >>> speaker.sample(2, conditional=[0, 3], length=800, seed=1).shape
    TensorShape([2, 800])
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, SequenceEvent, conditioning
from ar_keras.distributions import Categorical
from ar_keras.export import signatures
from ar_keras.layers.upsample1d import MODES as UPSAMPLING_MODES
from ar_keras.layers.upsample1d import Upsample1D
from ar_keras.layers.wavenet_block import WaveNetBlock
from ar_keras.models.registry import register

__all__ = ["WaveNet", "dilation_stacks", "check_local_conditioning"]


def check_local_conditioning(local_channels, local_hop, local_upsampling):
    """Checks the local-conditioning arguments of the audio models (both or neither of
    ``local_channels`` and ``local_hop``, positive ints, a known upsampling mode)."""
    if (local_channels is None) != (local_hop is None):
        raise ValueError(
            "local conditioning needs both local_channels=E and local_hop="
            "(samples per frame); pass neither for none."
        )
    if local_channels is not None:
        checks.check_positive_int(local_channels, "local_channels")
        checks.check_positive_int(local_hop, "local_hop")
        checks.check_choice(local_upsampling, "local_upsampling", UPSAMPLING_MODES)


def dilation_stacks(layers_per_stack, stacks):
    """``[1, 2, ..., 2^(L-1)]`` repeated ``stacks`` times (the paper's schedule)."""
    return [2**i for i in range(layers_per_stack)] * stacks


def shift_right(h):
    """Row t takes row t-1, row 0 takes zeros: ``[B, T, C]`` -> same shape."""
    return tf.pad(h, [[0, 0], [1, 0], [0, 0]])[:, :-1]


@register("wavenet")
class WaveNet(AutoregressiveModel):
    """WaveNet over mu-law codes, with queued fast generation.

    Args:
        num_levels: K, the mu-law levels (256).
        residual_channels: R.
        gate_channels: G, channels after the gated unit (the dilated
            convolution makes 2G).
        skip_channels: S.
        output_dim: width of the hidden 1x1 layer of the output stack
            (default S).
        kernel_size: k, taps of every dilated convolution.
        dilations: the dilation of each block, e.g. ``dilation_stacks(10, 3)``.
        num_classes: global conditioning on a speaker/class id, or None.
        local_channels: E, channels of a local conditioning sequence, or None.
        local_hop: samples per local conditioning frame (required with E).
        local_upsampling: ``"transposed"`` (learned) or ``"repeat"``.
        local_upsampled_channels: channels after a transposed upsampling
            (default E).
        sample_rate: Hz of the audio the model is for (metadata: WAV files and
            TensorBoard audio); the maths does not use it.

    Call arguments:
        inputs: ``x`` or ``(x, conditional)``; returns the conditional
        log-probabilities ``[B, T]``.
    """

    event_class = SequenceEvent

    def __init__(
        self,
        num_levels=256,
        residual_channels=32,
        gate_channels=32,
        skip_channels=64,
        output_dim=None,
        kernel_size=2,
        dilations=tuple(dilation_stacks(10, 1)),
        num_classes=None,
        local_channels=None,
        local_hop=None,
        local_upsampling="transposed",
        local_upsampled_channels=None,
        sample_rate=16000,
        **kwargs,
    ):
        super().__init__(num_classes=num_classes, event=SequenceEvent(num_levels, sample_rate), **kwargs)
        for value, what in (
            (residual_channels, "residual_channels"),
            (gate_channels, "gate_channels"),
            (skip_channels, "skip_channels"),
            (kernel_size, "kernel_size"),
            (sample_rate, "sample_rate"),
        ):
            checks.check_positive_int(value, what)
        dilations = list(np.atleast_1d(dilations)) if dilations is not None else []
        if not dilations or any(isinstance(d, bool) or int(d) != d or d < 1 for d in dilations):
            raise ValueError(f"dilations must be a non-empty list of positive integers, got {dilations!r}.")
        check_local_conditioning(local_channels, local_hop, local_upsampling)
        self.residual_channels = int(residual_channels)
        self.gate_channels = int(gate_channels)
        self.skip_channels = int(skip_channels)
        self.output_dim = int(output_dim or skip_channels)
        self.kernel_size = int(kernel_size)
        self.dilations = [int(d) for d in dilations]
        self.local_channels = None if local_channels is None else int(local_channels)
        self.local_hop = None if local_hop is None else int(local_hop)
        self.local_upsampling = local_upsampling
        self.local_upsampled_channels = (
            None if local_upsampled_channels is None else int(local_upsampled_channels)
        )
        self.sample_rate = self.event.sample_rate
        self.head = Categorical(self.num_levels)

        K, R = self.num_levels, self.residual_channels
        self.embedding = keras.layers.Embedding(K, R, name="embedding")
        self.upsample = None
        upsampled = None
        if self.local_channels:
            if local_upsampling == "repeat" and local_upsampled_channels is not None:
                raise ValueError("local_upsampled_channels is only for local_upsampling='transposed'.")
            self.upsample = Upsample1D(
                self.local_hop, local_upsampling, self.local_upsampled_channels, name="upsample"
            )
            upsampled = self.upsample.output_channels(self.local_channels)
        self.blocks = [
            WaveNetBlock(
                R,
                self.gate_channels,
                self.skip_channels,
                self.kernel_size,
                d,
                residual_output=(i < len(self.dilations) - 1),
                num_classes=self.num_classes,
                local_channels=upsampled,
                name=f"block_{i}",
            )
            for i, d in enumerate(self.dilations)
        ]
        self.output_hidden = keras.layers.Dense(self.output_dim, name="output_hidden")
        self.output_logits = keras.layers.Dense(K, name="output_logits")
        self.conditioning = conditioning.ConditioningSpec.labels(
            self.num_classes,
            [conditioning.LocalFeatures(self.local_channels, self.local_hop)] if self.local_channels else [],
            owner="wavenet",
        )
        self.example_length = self.local_hop or 2  # one local frame at least
        self._finish_init()

    # ----------------------------------------------------------------- structure

    @property
    def receptive_field(self):
        """r: ``x_t`` is predicted from ``x_{t-r} .. x_{t-1}``."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)

    @property
    def state_shapes(self):
        """Shape ``[d_l (k-1), R]`` of each block's queue (per sample), for streaming."""
        return [(block.queue_length, self.residual_channels) for block in self.blocks]

    # ------------------------------------------------------------------- network
    def _output(self, skip_sum):
        # relu as max(x, 0): inside the sampler's while loop TF 2.21's grappler remapper
        # fuses MatMul + BiasAdd + Relu into a node it then cannot place ("Node .../Relu
        # does not specify an op"), logs errors and skips optimising the whole loop.
        hidden = self.output_hidden(tf.maximum(skip_sum, 0.0))  # [.., O]
        return self.output_logits(tf.maximum(hidden, 0.0))  # [.., K]

    def network(self, x, conditional=None, training=False):
        """``x [B, T]`` -> logits ``[B, T, K]``; row t sees ``x_{t-r} .. x_{t-1}``."""
        labels, features = self.conditioning.values(conditional, "labels", "features")
        local = None if features is None else self.upsample(features)  # [B, T, E']
        h = shift_right(self.embedding(x))  # [B, T, R]
        skip_sum = 0.0
        for block in self.blocks:
            h, skip = block(h, labels, local)  # [B, T, R], [B, T, S]
            skip_sum = skip_sum + skip
        return self._output(skip_sum)

    # ----------------------------------------------------- cache (fast generation)
    #: Compile the cached sampler with XLA: the while loop becomes one fused program
    #: instead of ~10 graph ops per block per step, about 15x faster on a CPU
    #: (benchmarks/wavenet_generation.py).  Set to False on platforms without XLA.
    jit_sampling = True

    def init_stream(self, batch):
        """The `stream_step` state before step 0: each block's `init_cache`, zero queues
        ``[batch, d_l (k-1), R]`` (shapes `state_shapes`).  Not `init_cache`, the model's
        sampler cache, which holds these queues and the upsampled local conditioning."""
        return [block.init_cache(batch) for block in self.blocks]

    def stream_step(self, x_prev, state, index, labels=None, local_t=None):
        """One generation step as a pure function (what `export.tflite_step` exports).

        Args:
            x_prev: int32 ``[n]``, the sample drawn at step ``index - 1``
                (ignored at ``index == 0``).
            state: the per-block queues (`init_stream` at step 0).
            index: int32 scalar, the step t.
            labels: int32 ``[n]`` global conditioning ids, if any.
            local_t: ``[n, E']``, row t of the upsampled local conditioning
                (`upsample_features`), if any.

        Returns:
            ``(logits [n, K] of x_t, new state)``.
        """
        e = self.embedding(x_prev)  # [n, R]
        h = tf.where(index > 0, e, tf.zeros_like(e))  # E[x_{-1}] = 0
        skip_sum = 0.0
        new_state = []
        for block, queue in zip(self.blocks, state):
            residual, skip, queue = block.step(h, queue, labels, local_t)
            new_state.append(queue)
            skip_sum = skip_sum + skip
            h = residual
        return self._output(skip_sum), new_state

    def stream_signatures(self, num_samples=1):
        """``{name: tf.function}`` of the streaming TFLite file (`ar_keras.export.tflite_step`).

        ``step``: ``x_prev`` int32 ``[n]``, ``index`` int32 ``[]``, ``noise``
        ``[n, noise_depth]``, ``temperature`` (+ ``conditional [n]``) (+ ``local
        [n, E']``), ``state_00 ..`` -> ``{"sample", "logits", "state_00" ..}``;
        with local conditioning also ``upsample``: ``features [n, T / hop, E]
        -> {"local": [n, T, E']}``.
        """
        state_specs = [
            tf.TensorSpec([num_samples, q, r], tf.float32, name=f"state_{i:02d}")
            for i, (q, r) in enumerate(self.state_shapes)
        ]

        def step(x_prev, index, noise, temperature, labels, local, states):
            logits, state = self.stream_step(x_prev, states, index, labels, local)  # [n, K]
            out = {"sample": self.head.sample(logits, noise, temperature), "logits": logits}
            out.update({spec.name: s for spec, s in zip(state_specs, state)})
            return out

        return signatures.stream_signatures(self, num_samples, state_specs, step)

    def upsample_features(self, features):
        """Local conditioning ``[n, T / hop, E]`` -> ``[n, T, E']`` at the audio rate."""
        return self.upsample(tf.convert_to_tensor(features, tf.float32))

    def init_cache(self, batch, conditional=None):
        cache = {"queues": self.init_stream(batch)}
        (features,) = self.conditioning.values(conditional, "features")
        if features is not None:
            cache["local"] = self.upsample(features)  # [n, T, E']
        return cache

    def step(self, x, cache, index, conditional=None):
        x_prev = self.previous_value(x, index)  # [n]
        (labels,) = self.conditioning.values(conditional, "labels")
        local_t = None if "local" not in cache else tf.gather(cache["local"], index, axis=1)
        logits, queues = self.stream_step(x_prev, cache["queues"], index, labels, local_t)
        return logits, dict(cache, queues=queues)
