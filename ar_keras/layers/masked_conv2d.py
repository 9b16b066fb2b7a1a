"""PixelCNN masked 2-D convolution with mask types A/B and R->G->B channel groups.

The layer pads its input so that the kernel tap ``centre`` lands on the output
pixel, then convolves with ``kernel * mask`` ('VALID').  The mask zeroes taps
below the centre row and right of the centre in its row; at the centre tap,
output channel group ``g`` sees input groups ``< g`` (mask ``A``) or ``<= g``
(mask ``B``).  With ``mask_type=None`` nothing is masked, which with a
``(k//2 + 1) x k`` kernel centred on its last row is the Gated PixelCNN's
vertical stack (it sees the current row too, so it must be shifted down one
row before the horizontal stack may use it).

References: van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016
(sec. 3.4, masks A and B); van den Oord et al., "Conditional Image Generation
with PixelCNN Decoders", NIPS 2016 (vertical and horizontal stacks).

Example:
    >>> conv = MaskedConv2D(6, (3, 3), mask_type="A", data_channels=3)
    >>> conv(tf.zeros([1, 8, 8, 3])).shape
    TensorShape([1, 8, 8, 6])
"""

import keras
import tensorflow as tf

from ar_keras.layers import masking

__all__ = ["MaskedConv2D"]


@keras.saving.register_keras_serializable(package="ar_keras")
class MaskedConv2D(keras.layers.Layer):
    """Masked, causally padded 2-D convolution.

    Args:
        filters: output features.
        kernel_size: ``(kh, kw)`` or an int.
        mask_type: ``"A"``, ``"B"`` or ``None`` (no mask).
        data_channels: C, the number of data channels whose groups are kept
            apart at the centre tap.
        in_splits, out_splits: the input/output features are ``splits``
            blocks each laid out in C contiguous groups (a gated unit's
            pre-activation has ``out_splits=2``).
        centre: ``(row, col)`` of the tap over the output pixel; default the
            kernel's middle.
        use_bias: add a bias.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        mask_type="B",
        data_channels=1,
        in_splits=1,
        out_splits=1,
        centre=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size, kernel_size)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        if mask_type not in ("A", "B", None):
            raise ValueError(f"mask_type must be 'A', 'B' or None, got {mask_type!r}.")
        self.mask_type = mask_type
        self.data_channels = int(data_channels)
        self.in_splits = int(in_splits)
        self.out_splits = int(out_splits)
        kh, kw = self.kernel_size
        self.centre = (kh // 2, kw // 2) if centre is None else tuple(int(c) for c in centre)
        if not (0 <= self.centre[0] < kh and 0 <= self.centre[1] < kw):
            raise ValueError(f"centre {self.centre} lies outside the kernel {self.kernel_size}.")
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        in_features = int(input_shape[-1])
        kh, kw = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel", shape=(kh, kw, in_features, self.filters), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
            if self.use_bias
            else None
        )
        if self.mask_type is None:
            self._mask = None
        else:
            mask = masking.conv_mask(
                self.kernel_size,
                masking.channel_groups(in_features, self.data_channels, self.in_splits),
                masking.channel_groups(self.filters, self.data_channels, self.out_splits),
                self.mask_type,
                centre=self.centre,
            )
            self._mask = mask  # numpy: a tf constant made here could be graph-scoped

    def masked_kernel(self):
        """``kernel * mask`` ``[kh, kw, in, out]`` in the layer's compute dtype."""
        kernel = tf.cast(self.kernel, self.compute_dtype)
        if self._mask is None:
            return kernel
        return kernel * tf.constant(self._mask, self.compute_dtype)

    def compute_bias(self):
        """The bias ``[out]`` in the compute dtype, or None."""
        return None if self.bias is None else tf.cast(self.bias, self.compute_dtype)

    def call(self, inputs):
        kh, kw = self.kernel_size
        cr, cc = self.centre
        inputs = tf.cast(inputs, self.compute_dtype)
        # Pad so that output (i, j) reads input rows i-cr..i+kh-1-cr and
        # columns j-cc..j+kw-1-cc: [B, H, W, F] -> [B, H+kh-1, W+kw-1, F].
        x = tf.pad(inputs, [[0, 0], [cr, kh - 1 - cr], [cc, kw - 1 - cc], [0, 0]])
        y = tf.nn.conv2d(x, self.masked_kernel(), strides=1, padding="VALID")
        if self.bias is not None:
            y = y + self.compute_bias()
        return y

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "mask_type": self.mask_type,
                "data_channels": self.data_channels,
                "in_splits": self.in_splits,
                "out_splits": self.out_splits,
                "centre": self.centre,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
