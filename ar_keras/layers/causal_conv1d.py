"""Dilated causal 1-D convolution with a streaming `step` (WaveNet, Fast WaveNet).

With kernel ``W_0 .. W_{k-1}`` (each ``[C, F]``) and dilation ``d``::

    y_t = b + sum_{i=0}^{k-1} W_i^T x_{t - d (k-1-i)}          (x_s = 0 for s < 0)

so ``y_t`` sees ``x_t`` and the ``k - 1`` inputs ``d, 2d, ...`` steps before it,
never the future: causal by construction (left zero padding of
``d (k - 1)``, no mask).  Stacking dilations ``1, 2, 4, ..., 2^(L-1)`` with
``k = 2`` gives a receptive field of ``2^L`` inputs in ``L`` layers
(van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio",
sec. 2.1).

**Streaming** (Paine et al. 2016, "Fast Wavenet Generation Algorithm"): to
produce ``y_t`` one step at a time the layer needs only its last
``d (k - 1)`` inputs, kept in a queue ``[B, d (k-1), C]`` (oldest first)::

    y_t, queue = layer.step(x_t, queue)      # O(k C F) per step, not O(t)

The taps ``x_{t - d (k-1-i)}`` for ``i < k - 1`` are ``queue[:, d i]``; the
new queue drops the oldest input and appends ``x_t``.  A zero queue is
exactly the zero padding of the parallel pass, so streaming over a whole
sequence reproduces `call`.

Both paths compute the same contraction: the ``k`` taps concatenated on the
channel axis ``[.., k C]`` times the kernel reshaped to ``[k C, F]``, so the
parallel pass is one matrix product (no space-to-batch for the dilation).

Example:
    >>> conv = CausalConv1D(filters=8, kernel_size=2, dilation_rate=4)
    >>> y = conv(tf.random.normal([2, 100, 3]))              # [2, 100, 8]
    >>> queue = conv.init_cache(batch=2, channels=3)          # [2, 4, 3] zeros
    >>> y0, queue = conv.step(tf.random.normal([2, 3]), queue)   # [2, 8]
"""

import keras
import tensorflow as tf

__all__ = ["CausalConv1D"]


@keras.saving.register_keras_serializable(package="ar_keras")
class CausalConv1D(keras.layers.Layer):
    """Causal, dilated 1-D convolution over ``[B, T, C]``, streamable step by step.

    Args:
        filters: F, output channels.
        kernel_size: k >= 1 taps.
        dilation_rate: d >= 1, the spacing of the taps.
        use_bias: add a bias ``b [F]``.
        kernel_initializer, bias_initializer: Keras initializers.

    Call arguments:
        inputs: ``[B, T, C]`` float, any T.

    Returns:
        ``[B, T, F]``; row t depends on inputs ``t - d (k-1) .. t`` only.

    Attributes:
        queue_length: ``d (k - 1)``, the inputs `step` remembers.
    """

    def __init__(
        self,
        filters,
        kernel_size=2,
        dilation_rate=1,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for value, what in (
            (filters, "filters"),
            (kernel_size, "kernel_size"),
            (dilation_rate, "dilation_rate"),
        ):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"CausalConv1D: {what} must be a positive integer, got {value!r}.")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.dilation_rate = int(dilation_rate)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @property
    def queue_length(self):
        return self.dilation_rate * (self.kernel_size - 1)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.input_channels = channels
        # [k, C, F]: tap i multiplies x_{t - d (k-1-i)}; tap k-1 is the present.
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )

    def _contract(self, taps):
        """``taps [..., k C]`` (tap-major) -> ``[..., F]``."""
        # [k, C, F] -> [kC, F], tap-major like the taps.
        kernel = tf.cast(self.kernel, self.compute_dtype)
        kernel = tf.reshape(kernel, [self.kernel_size * self.input_channels, self.filters])
        if taps.shape.rank == 2:
            y = tf.matmul(taps, kernel)  # [B, kC] -> [B, F]
        else:
            y = tf.einsum("btc,cf->btf", taps, kernel)  # [B, T, kC] -> [B, T, F]
        return y + tf.cast(self.bias, self.compute_dtype) if self.bias is not None else y

    def call(self, inputs):
        x = tf.cast(inputs, self.compute_dtype)
        length = tf.shape(x)[1]
        pad = self.queue_length
        x_pad = tf.pad(x, [[0, 0], [pad, 0], [0, 0]])  # [B, pad + T, C]
        # Tap i is the input shifted right by d (k-1-i): x_pad[:, d i : d i + T].
        taps = [
            x_pad[:, self.dilation_rate * i : self.dilation_rate * i + length]
            for i in range(self.kernel_size)
        ]
        return self._contract(tf.concat(taps, axis=-1))  # [B, T, kC] -> [B, T, F]

    def init_cache(self, batch, channels=None, dtype=None):
        """The queue before the first step: zeros ``[batch, d (k-1), C]``."""
        channels = self.input_channels if channels is None else int(channels)
        return tf.zeros([batch, self.queue_length, channels], dtype or self.compute_dtype)

    def step(self, x_t, queue):
        """One output step.

        Args:
            x_t: ``[B, C]``, the input at time t.
            queue: ``[B, d (k-1), C]``, inputs ``t - d (k-1) .. t - 1`` (oldest first).

        Returns:
            ``(y_t [B, F], new_queue)`` with new_queue holding ``t - d (k-1) + 1 .. t``.
        """
        x_t = tf.cast(x_t, self.compute_dtype)
        queue = tf.cast(queue, self.compute_dtype)
        if self.queue_length == 0:
            return self._contract(x_t), queue
        taps = [queue[:, self.dilation_rate * i] for i in range(self.kernel_size - 1)] + [x_t]
        y = self._contract(tf.concat(taps, axis=-1))  # [B, kC] -> [B, F]
        new_queue = tf.concat([queue[:, 1:], x_t[:, None]], axis=1)  # drop oldest, push x_t
        return y, new_queue

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "dilation_rate": self.dilation_rate,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
