"""A convolution masked over channels only: R -> G -> B at every tap, no spatial mask.

Where a whole set of pixels has its channel ``c' < c`` known before channel
``c`` is drawn (the pixel groups of a multiscale PixelCNN: every pixel of a
group gets its red value at one step, its green at the next, ...), the
conditional of channel ``c`` at any pixel may read channels ``< c`` of *every*
pixel of the set.  This layer is that mask: with the features split into C
contiguous channel groups (`ar_keras.layers.masking.channel_groups`),
output group ``g`` sees input group ``h`` at *every* spatial tap iff

    h < g   (mask ``A``, the first layer: the element's own channel hidden)
    h <= g  (mask ``B``, later layers)

i.e. the 1x1 PixelCNN channel mask (van den Oord et al., "Pixel Recurrent
Neural Networks", ICML 2016, sec. 3.4) tiled over a ``kh x kw`` kernel.  The
padding is 'SAME' around the middle tap (the layer is not spatially causal:
use it only where the spatial neighbours are already known).

Example:
    >>> import tensorflow as tf
    >>> from ar_keras.layers import ChannelMaskedConv2D
    >>> conv = ChannelMaskedConv2D(6, 3, mask_type="A", data_channels=3)
    >>> conv(tf.zeros([1, 4, 4, 3])).shape     # output group 0 (R) sees no input at all
    TensorShape([1, 4, 4, 6])
"""

import keras
import numpy as np

from ar_keras.layers import masking
from ar_keras.layers.masked_conv2d import MaskedConv2D

__all__ = ["ChannelMaskedConv2D"]


@keras.saving.register_keras_serializable(package="ar_keras")
class ChannelMaskedConv2D(MaskedConv2D):
    """`MaskedConv2D` whose channel mask holds at every tap and whose taps are all open.

    Args: as `MaskedConv2D` (``mask_type`` ``"A"`` or ``"B"``; ``centre``
    is the middle tap).
    """

    def __init__(self, filters, kernel_size, mask_type="B", data_channels=1, **kwargs):
        if mask_type not in ("A", "B"):
            raise ValueError(f"ChannelMaskedConv2D needs mask_type 'A' or 'B', got {mask_type!r}.")
        kwargs.pop("centre", None)
        super().__init__(filters, kernel_size, mask_type=mask_type, data_channels=data_channels, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        channel = masking.conv_mask(
            (1, 1),
            masking.channel_groups(int(input_shape[-1]), self.data_channels, self.in_splits),
            masking.channel_groups(self.filters, self.data_channels, self.out_splits),
            self.mask_type,
        )  # [1, 1, in, out]
        kh, kw = self.kernel_size
        self._mask = np.tile(channel, (kh, kw, 1, 1))  # -> [kh, kw, in, out]
