"""Multiplicative Units and Residual Multiplicative Blocks (the Video Pixel Network's blocks).

Kalchbrenner, van den Oord, Simonyan, Danihelka, Vinyals, Graves &
Kavukcuoglu, "Video Pixel Networks", ICML 2017, sec. 4.

A **Multiplicative Unit** (MU) gates its input ``h [.., c]`` like an LSTM
without memory (four k x k convolutions of ``h``)::

    g1 = sigmoid(conv_1(h)),  g2 = sigmoid(conv_2(h)),  g3 = sigmoid(conv_3(h))
    u  = tanh(conv_4(h))
    MU(h) = g1 * tanh(g2 * h + g3 * u)

A **Residual Multiplicative Block** (RMB) on ``h [.., 2c]``::

    RMB(h) = h + conv1x1_{c -> 2c}( MU( MU( conv1x1_{2c -> c}(h) ) ) )

In the encoder the MU convolutions are plain (``mask_type=None``) with a
dilation; in the decoder they are PixelCNN masked convolutions (mask ``B``,
R -> G -> B channel groups, `ar_keras.layers.MaskedConv2D`), the 1x1
convolutions too, and no dilation (the paper uses none in the decoder).
Every elementwise product keeps the channel groups apart: the four gate
blocks of one masked convolution (``out_splits=4``) and ``h`` share one
layout (C contiguous groups), so a masked RMB is autoregressive over the
pixels and channels of the frame for any weights.

Example:
    >>> block = ResidualMultiplicativeBlock(4, dilation=2)
    >>> block(tf.zeros([1, 8, 8, 8])).shape                    # [.., 2c] -> [.., 2c]
    TensorShape([1, 8, 8, 8])
    >>> masked = ResidualMultiplicativeBlock(6, mask_type="B", data_channels=3)
    >>> masked(tf.zeros([1, 4, 4, 12])).shape
    TensorShape([1, 4, 4, 12])
"""

import keras
import tensorflow as tf

from ar_keras.layers.masked_conv2d import MaskedConv2D

__all__ = ["MultiplicativeUnit", "ResidualMultiplicativeBlock"]


def _conv(filters, kernel_size, mask_type, data_channels, dilation, out_splits=1, name=None, dtype=None):
    if mask_type is None:
        return keras.layers.Conv2D(
            filters, kernel_size, padding="same", dilation_rate=dilation, dtype=dtype, name=name
        )
    if dilation != 1:
        raise ValueError(f"masked (decoder) convolutions take no dilation, got {dilation}.")
    return MaskedConv2D(
        filters,
        kernel_size,
        mask_type=mask_type,
        data_channels=data_channels,
        out_splits=out_splits,
        dtype=dtype,
        name=name,
    )


def _check_mask(mask_type, dilation):
    if mask_type not in (None, "B"):
        raise ValueError(f"mask_type must be None (encoder) or 'B' (decoder), got {mask_type!r}.")
    if mask_type is not None and dilation != 1:
        raise ValueError(f"masked (decoder) convolutions take no dilation, got {dilation}.")


@keras.saving.register_keras_serializable(package="ar_keras")
class MultiplicativeUnit(keras.layers.Layer):
    """``MU(h) = g1 * tanh(g2 * h + g3 * u)`` (module docstring); keeps ``h``'s c features.

    Args:
        kernel_size: k of the gate convolutions.
        dilation: the gates' dilation (plain convolutions only).
        mask_type: None (plain) or ``"B"`` (masked, R -> G -> B groups).
        data_channels: C, the channel groups of a masked unit.
    """

    def __init__(self, kernel_size=3, dilation=1, mask_type=None, data_channels=1, **kwargs):
        super().__init__(**kwargs)
        _check_mask(mask_type, dilation)
        self.kernel_size = int(kernel_size)
        self.dilation = int(dilation)
        self.mask_type = mask_type
        self.data_channels = int(data_channels)

    def build(self, input_shape):
        c = int(input_shape[-1])
        # One convolution makes the four gate blocks: [.., c] -> [.., 4c], each block in C groups.
        self.gates = _conv(
            4 * c,
            self.kernel_size,
            self.mask_type,
            self.data_channels,
            self.dilation,
            out_splits=4,
            name="gates",
            dtype=self.dtype_policy,
        )
        self.gates.build(input_shape)
        self.built = True

    def call(self, h):
        h = tf.cast(h, self.compute_dtype)
        z1, z2, z3, z4 = tf.split(self.gates(h), 4, axis=-1)  # 4 x [.., c]
        return tf.sigmoid(z1) * tf.tanh(tf.sigmoid(z2) * h + tf.sigmoid(z3) * tf.tanh(z4))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_size": self.kernel_size,
                "dilation": self.dilation,
                "mask_type": self.mask_type,
                "data_channels": self.data_channels,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="ar_keras")
class ResidualMultiplicativeBlock(keras.layers.Layer):
    """``h + conv1x1(MU(MU(conv1x1(h))))`` on ``h [.., 2c]`` (module docstring).

    Args:
        channels: c (the block's input and output have 2c features).
        kernel_size: k of the MU convolutions.
        dilation: the MUs' dilation (encoder).
        mask_type: None (encoder) or ``"B"`` (decoder).
        data_channels: C, channel groups of a masked block.
    """

    def __init__(self, channels, kernel_size=3, dilation=1, mask_type=None, data_channels=1, **kwargs):
        super().__init__(**kwargs)
        _check_mask(mask_type, dilation)
        self.channels = int(channels)
        self.kernel_size = int(kernel_size)
        self.dilation = int(dilation)
        self.mask_type = mask_type
        self.data_channels = int(data_channels)
        policy = self.dtype_policy
        self.reduce = _conv(self.channels, 1, mask_type, data_channels, 1, name="reduce", dtype=policy)
        self.mu1 = MultiplicativeUnit(
            kernel_size, dilation, mask_type, data_channels, dtype=policy, name="mu1"
        )
        self.mu2 = MultiplicativeUnit(
            kernel_size, dilation, mask_type, data_channels, dtype=policy, name="mu2"
        )
        self.expand = _conv(2 * self.channels, 1, mask_type, data_channels, 1, name="expand", dtype=policy)

    def build(self, input_shape):
        if int(input_shape[-1]) != 2 * self.channels:
            raise ValueError(
                f"a residual multiplicative block of c={self.channels} takes "
                f"2c = {2 * self.channels} features, got {input_shape[-1]}."
            )
        inner = tuple(input_shape[:-1]) + (self.channels,)
        self.reduce.build(input_shape)
        self.mu1.build(inner)
        self.mu2.build(inner)
        self.expand.build(inner)
        self.built = True

    def call(self, h):
        h = tf.cast(h, self.compute_dtype)
        return h + self.expand(self.mu2(self.mu1(self.reduce(h))))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "channels": self.channels,
                "kernel_size": self.kernel_size,
                "dilation": self.dilation,
                "mask_type": self.mask_type,
                "data_channels": self.data_channels,
            }
        )
        return config
