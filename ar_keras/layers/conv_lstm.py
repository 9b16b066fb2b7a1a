"""Convolutional LSTM over time: a recurrent state that keeps the frame's resolution.

Shi, Chen, Wang, Yeung, Wong & Woo, "Convolutional LSTM Network", NIPS 2015;
used over the frames of a video by the Video Pixel Network (Kalchbrenner et al.,
ICML 2017).  With input frames ``x_t [H, W, F_in]`` and state
``(h_{t-1}, c_{t-1}) [H, W, F]``::

    z_t = conv_k(x_t; W_x) + conv_k(h_{t-1}; W_h) + b        (4F features, 'same' padding)
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
    c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

(the update of `ar_keras.layers.lstm_cell`).  The state starts at zeros.  The
full call maps a clip ``[B, T, H, W, F_in]`` to every ``h_t`` ``[B, T, H, W, F]``
(the input convolution of all frames in one batched conv, then a Python loop
over the static T); `init_cache` / `step` stream one frame at a time and give
the same ``h_t`` (the cached VPN sampler runs one step per new frame).

Example:
    >>> lstm = ConvLSTM(8, kernel_size=3)
    >>> lstm(tf.zeros([2, 5, 4, 4, 3])).shape
    TensorShape([2, 5, 4, 4, 8])
    >>> cache = lstm.init_cache(2, 4, 4)
    >>> h, cache = lstm.step(tf.zeros([2, 4, 4, 3]), cache)     # h: [2, 4, 4, 8]
"""

import keras
import tensorflow as tf

from ar_keras.layers.lstm_cell import lstm_cell

__all__ = ["ConvLSTM"]


@keras.saving.register_keras_serializable(package="ar_keras")
class ConvLSTM(keras.layers.Layer):
    """Convolutional LSTM (Shi et al., NIPS 2015) with a streaming ``step``.

    Args:
        filters: F, the features of the state ``h`` and ``c``.
        kernel_size: k of both the input and the state convolutions (odd).

    Call arguments:
        inputs: ``[B, T, H, W, F_in]`` float, T static.

    Returns:
        ``[B, T, H, W, F]``: ``h_t`` after frames ``0..t``.
    """

    def __init__(self, filters, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        if self.filters < 1:
            raise ValueError(f"filters must be >= 1, got {filters}.")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}.")
        self.input_conv = keras.layers.Conv2D(
            4 * self.filters, self.kernel_size, padding="same", dtype=self.dtype_policy, name="input_conv"
        )
        self.state_conv = keras.layers.Conv2D(
            4 * self.filters,
            self.kernel_size,
            padding="same",
            use_bias=False,
            dtype=self.dtype_policy,
            name="state_conv",
        )

    def build(self, input_shape):
        H, W, F_in = input_shape[-3:]
        self.input_conv.build((None, H, W, F_in))
        self.state_conv.build((None, H, W, self.filters))
        self.built = True

    def init_cache(self, batch, height, width):
        """The zero state ``{"h", "c"}``, each ``[batch, H, W, F]``."""
        zeros = tf.zeros(tf.stack([batch, height, width, self.filters]), self.compute_dtype)
        return {"h": zeros, "c": zeros}

    def _update(self, pre_x, cache):
        pre = pre_x + self.state_conv(cache["h"])  # [B, H, W, 4F]
        h, c = lstm_cell(pre, tf.cast(cache["c"], self.compute_dtype))
        return h, {"h": h, "c": c}

    def step(self, frame, cache):
        """One frame ``[B, H, W, F_in]`` -> ``(h_t [B, H, W, F], new cache)``."""
        return self._update(self.input_conv(frame), cache)

    def call(self, inputs):
        inputs = tf.cast(inputs, self.compute_dtype)
        T = inputs.shape[1]
        if T is None:
            raise ValueError("ConvLSTM needs a static number of frames T.")
        batch = tf.shape(inputs)[0]
        H, W, F_in = inputs.shape[2], inputs.shape[3], inputs.shape[4]
        flat = tf.reshape(inputs, [-1, H, W, F_in])  # [B, T, H, W, Fi] -> [B T, H, W, Fi]
        pre_x = self.input_conv(flat)
        pre_x = tf.reshape(pre_x, [batch, T, H, W, 4 * self.filters])  # [B T, H, W, 4F] -> [B, T, H, W, 4F]
        cache = self.init_cache(batch, H, W)
        outputs = []
        for t in range(T):
            h, cache = self._update(pre_x[:, t], cache)
            outputs.append(h)
        return tf.stack(outputs, axis=1)  # T x [B, H, W, F] -> [B, T, H, W, F]

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "kernel_size": self.kernel_size})
        return config
