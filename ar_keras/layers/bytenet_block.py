"""ByteNet residual blocks: ReLU blocks with layer norm, and Residual Multiplicative Blocks.

Kalchbrenner, Espeholt, Simonyan, van den Oord, Graves & Kavukcuoglu, "Neural
Machine Translation in Linear Time", arXiv:1610.10099, 2016, sec. 3.6 and
Fig. 3.  A block maps ``x [B, T, 2d]`` (the residual stream, 2d channels) to
``x + F(x)`` with a bottleneck of d channels and one dilated 1-D convolution
``*_r`` of k taps, dilation r:

``block_type="relu"`` (the paper's ReLU block, its translation model)::

    F(x) = W_3 . ReLU(LN(W_2 *_r ReLU(LN(W_1 . ReLU(LN(x)))))))
           1x1 2d->d            masked 1xk d->d               1x1 d->2d

``block_type="rmb"`` (the Residual Multiplicative Block of Video Pixel
Networks, Kalchbrenner et al. 2016, the paper's language model)::

    h = W_1 . LN(x)                                   1x1 2d -> d
    h = MU(h; W_2 *_r h)                              first MU: dilated 1xk
    h = MU(h; W_3 . h)                                second MU: 1x1
    F(x) = W_4 . h                                    1x1 d -> 2d

with the multiplicative unit, for ``a = [a_1, a_2, a_3, a_u]`` the 4d outputs
of its convolution::

    MU(h; a) = sigmoid(a_1) * tanh(sigmoid(a_2) * h + sigmoid(a_3) * tanh(a_u))

Silent in the paper, chosen here: only the first MU carries the dilated
convolution, so each block of either type has exactly one 1xk convolution
and the same receptive field (``(k - 1) r`` steps back per block); the layer
norm of the RMB sits at its input.

``causal=True`` (the decoder): ``*_r`` is `CausalConv1D`, taps
``t, t - r, .., t - (k-1) r`` (causal by left padding, no mask).
``causal=False`` (the encoder): a centred ("same") dilated convolution, taps
``t - r (k-1)//2 .. t + r k//2``: each output sees the future too.

**Streaming** (decoder only): everything but the convolution is pointwise in
time (layer norm normalises the channels of one step), so `step` needs only
the convolution's queue ``[B, r (k-1), C]``; `call` and `step` run the same
code with the convolution applied in full or one step at a time.

Example:
    >>> block = ByteNetBlock(hidden_channels=8, kernel_size=3, dilation_rate=4)
    >>> y = block(tf.random.normal([2, 50, 16]))                 # [2, 50, 16]
    >>> queue = block.init_cache(2)                              # [2, 8, 8]: r (k-1) x d
    >>> y_t, queue = block.step(tf.random.normal([2, 16]), queue)    # [2, 16]
"""

import keras
import tensorflow as tf

from ar_keras import checks
from ar_keras.layers.causal_conv1d import CausalConv1D

__all__ = ["ByteNetBlock", "BLOCK_TYPES", "multiplicative_unit"]

BLOCK_TYPES = ("rmb", "relu")


def multiplicative_unit(h, a):
    """``MU(h; a)``: ``h [.., d]``, ``a [.., 4d]`` (gates 1-3 and the update) -> ``[.., d]``."""
    g1, g2, g3, u = tf.split(a, 4, axis=-1)  # 4 x [.., d]
    return tf.sigmoid(g1) * tf.tanh(tf.sigmoid(g2) * h + tf.sigmoid(g3) * tf.tanh(u))


@keras.saving.register_keras_serializable(package="ar_keras")
class ByteNetBlock(keras.layers.Layer):
    """One ByteNet residual block over a ``[B, T, 2d]`` stream.

    Args:
        hidden_channels: d; the block's input and output have 2d channels.
        kernel_size: k, taps of the dilated convolution (3 in the paper).
        dilation_rate: r.
        block_type: ``"rmb"`` or ``"relu"`` (module docstring).
        causal: True for the decoder (streamable), False for the encoder.

    Call arguments:
        inputs: ``[B, T, 2d]`` float.

    Returns:
        ``[B, T, 2d]``; with ``causal=True`` row t depends on rows
        ``t - r (k-1) .. t`` only.
    """

    def __init__(
        self, hidden_channels, kernel_size=3, dilation_rate=1, block_type="rmb", causal=True, **kwargs
    ):
        super().__init__(**kwargs)
        for value, what in (
            (hidden_channels, "hidden_channels"),
            (kernel_size, "kernel_size"),
            (dilation_rate, "dilation_rate"),
        ):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"ByteNetBlock: {what} must be a positive integer, got {value!r}.")
        checks.check_choice(block_type, "block_type", BLOCK_TYPES)
        self.hidden_channels = d = int(hidden_channels)
        self.kernel_size = int(kernel_size)
        self.dilation_rate = int(dilation_rate)
        self.block_type = block_type
        self.causal = bool(causal)
        conv_filters = 4 * d if block_type == "rmb" else d
        policy = self.dtype_policy
        if self.causal:
            self.conv = CausalConv1D(
                conv_filters, self.kernel_size, self.dilation_rate, dtype=policy, name="dilated_conv"
            )
        else:
            self.conv = keras.layers.Conv1D(
                conv_filters,
                self.kernel_size,
                padding="same",
                dilation_rate=self.dilation_rate,
                dtype=policy,
                name="dilated_conv",
            )
        self.norm_in = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="norm_in")
        self.reduce = keras.layers.Dense(d, dtype=policy, name="reduce")  # 1x1 2d -> d
        if block_type == "relu":
            self.norm_conv = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="norm_conv")
            self.norm_out = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="norm_out")
        else:
            self.mu_1x1 = keras.layers.Dense(4 * d, dtype=policy, name="mu_1x1")  # second MU, 1x1
        self.expand = keras.layers.Dense(2 * d, dtype=policy, name="expand")  # 1x1 d -> 2d

    def build(self, input_shape):
        d = self.hidden_channels
        self.norm_in.build((None, 2 * d))
        self.reduce.build((None, 2 * d))
        self.conv.build((None, None, d))
        if self.block_type == "relu":
            self.norm_conv.build((None, d))
            self.norm_out.build((None, d))
        else:
            self.mu_1x1.build((None, d))
        self.expand.build((None, d))

    @property
    def queue_length(self):
        """Inputs the streaming step remembers: ``r (k - 1)``."""
        return self.dilation_rate * (self.kernel_size - 1)

    def _residual(self, x, conv):
        """``x + F(x)`` with ``conv`` the dilated convolution (full or one step)."""
        if self.block_type == "relu":
            h = self.reduce(tf.nn.relu(self.norm_in(x)))  # [.., d]
            h = conv(tf.nn.relu(self.norm_conv(h)))  # [.., d]
            return x + self.expand(tf.nn.relu(self.norm_out(h)))  # [.., 2d]
        h = self.reduce(self.norm_in(x))  # [.., d]
        h = multiplicative_unit(h, conv(h))  # [.., 4d] -> [.., d]
        h = multiplicative_unit(h, self.mu_1x1(h))  # [.., d]
        return x + self.expand(h)  # [.., 2d]

    def call(self, inputs):
        return self._residual(tf.cast(inputs, self.compute_dtype), self.conv)

    def init_cache(self, batch, dtype=None):
        """Zeros ``[batch, r (k-1), d]``: the convolution's queue before the first step."""
        if not self.causal:
            raise ValueError("a non-causal (encoder) ByteNetBlock does not stream.")
        return self.conv.init_cache(batch, self.hidden_channels, dtype)

    def step(self, x_t, queue):
        """One time step: ``x_t [B, 2d]``, queue -> ``(y_t [B, 2d], new queue)``."""
        if not self.causal:
            raise ValueError("a non-causal (encoder) ByteNetBlock does not stream.")
        new_queue = []

        def conv_step(h):
            y, q = self.conv.step(h, queue)  # [B, F]
            new_queue.append(q)
            return y

        y = self._residual(tf.cast(x_t, self.compute_dtype), conv_step)
        return y, new_queue[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_channels": self.hidden_channels,
                "kernel_size": self.kernel_size,
                "dilation_rate": self.dilation_rate,
                "block_type": self.block_type,
                "causal": self.causal,
            }
        )
        return config
