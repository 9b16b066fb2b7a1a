"""One stage of the Subscale Pixel Network: the conditioning network and the slice decoder.

Menick & Kalchbrenner, "Generating High Fidelity Images with Subscale Pixel
Networks and Multidimensional Upscaling", ICLR 2019, sec. 3 and Fig. 3.

A stage models the slices of an image in the subscale ordering
(`ar_keras.models.multiscale.subscale_order`) with ``L`` levels per element:

* **Conditioning network** (unmasked, ``num_conditioning_layers`` ``k x k`` convolutions
  with ReLUs, "same" padding, at the slice resolution): its input for slice
  ``s`` is every slice stacked as channels ``[B, h, w, S^2 C]`` with the
  slices ``>= s`` zeroed, plus the one-hot slice index ``s`` (the paper's
  "meta-position") broadcast over the positions, plus the class one-hot
  (``num_classes``) and, in the depth-upscaling stage, the whole
  most-significant-bits image, sliced and stacked the same way.  Its output
  ``c_s [B, h, w, E]`` is a map aligned with slice s.
* **Slice decoder**: a Gated PixelCNN (van den Oord et al., NIPS 2016;
  `GatedPixelCNNStack`, vertical + horizontal stacks, no blind spot) over the
  slice ``x_s`` alone, each gate taking ``c_s`` as a location-dependent bias
  (eq. 5 of that paper: ``tanh(W_f * x + V_f c_s) * sigmoid(W_g * x + V_g c_s)``);
  masked 1x1 convolutions to ``C x L`` logits (a softmax per channel, R -> G
  -> B through the channel groups).

The conditioning network sees earlier slices only (zeroing is exact: the
later slices' values never enter), and the decoder is causal in the slice's
raster order, so the stage is autoregressive in the subscale ordering.  The
paper's decoder also has masked self-attention over the slice; this one is
convolutional only (gated blocks without a blind spot, whose reach inside
the slice grows with ``num_layers``), and its receptive field over the earlier slices is the
conditioning network's ``1 + num_conditioning_layers (k - 1)`` pixels of slice
resolution (k = ``conditioning_kernel_size``).

Example:
    >>> import tensorflow as tf
    >>> stage = SubscaleStage(4, channels=1, subscale_factor=2, slice_size=(2, 2))
    >>> stage(tf.zeros([3, 4, 2, 2, 1])).shape                 # [B, S^2, h, w, C, L]
    TensorShape([3, 4, 2, 2, 1, 4])
"""

import keras
import tensorflow as tf

from ar_keras import checks
from ar_keras.layers import GatedActivation, GatedPixelCNNStack, MaskedConv2D

__all__ = ["SubscaleStage"]


@keras.saving.register_keras_serializable(package="ar_keras")
class SubscaleStage(keras.layers.Layer):
    """One Subscale Pixel Network: conditioning network + slice decoder, ``L`` levels.

    Args:
        num_levels: L, the levels of the values this stage models.
        channels: C.
        subscale_factor: S.
        hidden_dim: F, features of the decoder's stacks.
        num_layers: gated blocks of the decoder.
        kernel_size: k of the decoder (odd).
        output_dim: width of the decoder's 1x1 output layer.
        conditioning_dim: E, features of the conditioning network (and its map).
        num_conditioning_layers: convolutions of the conditioning network (>= 1).
        conditioning_kernel_size: their kernel size (odd).
        extra_channels: channels of an extra input of the conditioning network
            (the msb image's ``S^2 C`` stacked slices in the depth stage; 0 if none).
        num_classes: class one-hot width, or None.
        slice_size: ``(h, w)`` (needed by the streaming decoder).  A slice of
            one pixel (``(1, 1)``, e.g. a 2x2 image with S = 2) has no
            neighbours for the gated blocks' spatial taps to read (they would
            be dead weights): its decoder is then one gated unit
            ``gate(W_A * x + V c_s)`` (``W_A`` a 1x1 convolution masked A over
            the R -> G -> B groups, absent when C = 1) before the same output
            layers.

    Call arguments:
        slices: ``[B, S^2, h, w, C]`` float, the data sliced and scaled to
            [-1, 1] (slices not drawn yet may hold anything; they are zeroed).
        extra: ``[B, h, w, extra_channels]`` float or None.
        classes: ``[B, num_classes]`` one-hot or None.

    Returns:
        logits ``[B, S^2, h, w, C, L]``: slice s's from the slices ``< s`` and its
        own earlier elements.
    """

    def __init__(
        self,
        num_levels,
        channels,
        subscale_factor,
        hidden_dim=16,
        num_layers=2,
        kernel_size=3,
        output_dim=32,
        conditioning_dim=16,
        num_conditioning_layers=2,
        conditioning_kernel_size=3,
        extra_channels=0,
        num_classes=None,
        slice_size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.slice_size = None if slice_size is None else tuple(int(v) for v in slice_size)
        self.one_pixel = self.slice_size == (1, 1)
        self.num_levels = int(num_levels)
        self.channels = checks.check_positive_int(channels, "channels")
        self.subscale_factor = checks.check_positive_int(subscale_factor, "subscale_factor")
        self.hidden_dim = checks.check_channel_width(hidden_dim, "hidden_dim", self.channels)
        self.num_layers = checks.check_positive_int(num_layers, "num_layers")
        self.kernel_size = checks.check_odd(kernel_size, "kernel_size")
        self.output_dim = checks.check_positive_int(output_dim, "output_dim")
        self.conditioning_dim = checks.check_positive_int(conditioning_dim, "conditioning_dim")
        self.num_conditioning_layers = checks.check_positive_int(
            num_conditioning_layers, "num_conditioning_layers"
        )
        self.conditioning_kernel_size = checks.check_odd(conditioning_kernel_size, "conditioning_kernel_size")
        self.extra_channels = int(extra_channels)
        self.num_classes = None if num_classes is None else int(num_classes)
        C = self.channels
        self.cond_convs = [
            keras.layers.Conv2D(
                self.conditioning_dim, self.conditioning_kernel_size, padding="same", name=f"cond_{i}"
            )
            for i in range(self.num_conditioning_layers)
        ]
        self.stack, self.pixel_in, self.pixel_gate = None, None, None
        if self.one_pixel:
            if C > 1:
                self.pixel_in = MaskedConv2D(
                    2 * self.hidden_dim, 1, mask_type="A", data_channels=C, out_splits=2, name="pixel_in"
                )
            self.pixel_gate = GatedActivation(conditional=True, name="pixel_gate")
        else:
            self.stack = GatedPixelCNNStack(
                self.hidden_dim,
                self.num_layers,
                self.kernel_size,
                data_channels=C,
                conditional=True,
                name="stack",
            )
        self.out_hidden = MaskedConv2D(self.output_dim, 1, mask_type="B", data_channels=C, name="out_hidden")
        self.out_logits = MaskedConv2D(
            C * self.num_levels, 1, mask_type="B", data_channels=C, name="out_logits"
        )

    @property
    def num_slices(self):
        return self.subscale_factor**2

    def conditioning(self, slices, index, extra=None, classes=None):
        """The conditioning map of slice ``index[b]`` of example b: ``[B, h, w, E]``.

        Args:
            slices: ``[B, S^2, h, w, C]`` scaled slices.
            index: ``[B]`` int32, the slice each example is conditioned for.
            extra, classes: as in `call`.
        """
        n, C = self.num_slices, self.channels
        shape = tf.shape(slices)
        h, w = shape[2], shape[3]
        stacked = tf.transpose(slices, [0, 2, 3, 1, 4])  # [B, S^2, h, w, C] -> [B, h, w, S^2, C]
        visible = tf.cast(tf.range(n)[None, :] < index[:, None], slices.dtype)  # [B, S^2]: slices < index
        stacked = stacked * visible[:, None, None, :, None]  # later slices zeroed
        stacked = tf.reshape(stacked, [-1, h, w, n * C])  # -> [B, h, w, S^2 C]
        ones = tf.ones_like(stacked[..., :1])  # [B, h, w, 1]
        slice_index = tf.one_hot(index, n, dtype=ones.dtype)[:, None, None, :]  # [B, 1, 1, S^2]
        parts = [stacked, ones * slice_index]  # + slice index [B, h, w, S^2]
        if self.extra_channels:
            parts.append(extra)
        if self.num_classes is not None:
            parts.append(ones * classes[:, None, None, :])  # + class [B, h, w, N]
        y = tf.concat(parts, axis=-1)
        for i, conv in enumerate(self.cond_convs):
            y = conv(y)
            if i < self.num_conditioning_layers - 1:
                y = tf.nn.relu(y)
        return y  # [B, h, w, E]

    def decode(self, slice_x, cond):
        """Slice decoder: ``slice_x [B, h, w, C]``, ``cond [B, h, w, E]`` -> logits ``[B, h, w, C, L]``."""
        shape = tf.shape(slice_x)
        if self.one_pixel:
            # No neighbours in the slice: the pixel's earlier channels (mask A) and c_s.
            pre = (
                self.pixel_in(slice_x)
                if self.pixel_in is not None
                else tf.zeros(tf.concat([shape[:3], [2 * self.hidden_dim]], 0))
            )  # [B, 1, 1, 2F]
            h = self.pixel_gate(pre, cond)  # [B, 1, 1, F]
        else:
            h = self.stack(slice_x, conditioning=cond)  # [B, h, w, F]
        out = self.out_hidden(tf.nn.relu(h))
        logits = self.out_logits(tf.nn.relu(out))  # [B, h, w, C L]
        return tf.reshape(
            logits, [shape[0], shape[1], shape[2], self.channels, self.num_levels]
        )  # -> [B, h, w, C, L]

    # ------------------------------------------------------------- streaming
    def init_decoder_cache(self, batch):
        """The decoder's cache before pixel (0, 0) of a slice (`GatedPixelCNNStack`; empty for one pixel)."""
        if self.one_pixel:
            return {}
        return self.stack.init_cache(batch, self.slice_size[1])

    def decode_step(self, slice_x, cond, cache, index):
        """Logits ``[B, L]`` of element ``index`` (raster, channels inner) of the slice.

        ``slice_x [B, h, w, C]``: the slice drawn so far (later elements zero);
        ``cond [B, h, w, E]``: its conditioning map; ``cache``: the stack's
        cache (`init_decoder_cache` at the slice's first element).  Entering
        row ``i >= 1`` feeds row ``i - 1`` through every vertical stack, then
        the pixel goes through every horizontal stack (`GatedPixelCNNStack.step`,
        the map read at the row and the pixel): ``O(layers)`` per element (plus
        ``O(layers w)`` per row) instead of a decoder pass over the slice.
        Returns ``(logits, cache)``.
        """
        C, L = self.channels, self.num_levels
        if self.one_pixel:
            logits = tf.reshape(self.decode(slice_x, cond), [-1, C, L])  # [B, 1, 1, C, L] -> [B, C, L]
            return tf.gather(logits, index % C, axis=1), cache
        w = self.slice_size[1]
        pixel, channel = index // C, index % C
        i, j = pixel // w, pixel % w
        h, cache = self.stack.step(slice_x, cache, i, j, channel, conditioning=cond)  # [B, 1, 1, F]
        out = self.out_hidden(tf.nn.relu(h))
        logits = tf.reshape(self.out_logits(tf.nn.relu(out)), [-1, C, L])  # [B, 1, 1, C L] -> [B, C, L]
        return tf.gather(logits, channel, axis=1), cache  # [B, L]

    def call(self, slices, extra=None, classes=None):
        n = self.num_slices
        shape = tf.shape(slices)
        B, h, w = shape[0], shape[2], shape[3]
        # Every slice in one batch: example b's slice s is row b S^2 + s.
        rep = tf.repeat(slices, n, axis=0)  # [B S^2, S^2, h, w, C]
        index = tf.tile(tf.range(n), [B])  # [B S^2]
        extra = None if extra is None else tf.repeat(extra, n, axis=0)  # [B S^2, h, w, X]
        classes = None if classes is None else tf.repeat(classes, n, axis=0)  # [B S^2, N]
        cond = self.conditioning(rep, index, extra, classes)  # [B S^2, h, w, E]
        own = tf.reshape(slices, [-1, h, w, self.channels])  # [B, S^2, h, w, C] -> [B S^2, h, w, C]
        logits = self.decode(own, cond)  # [B S^2, h, w, C, L]
        return tf.reshape(logits, [B, n, h, w, self.channels, self.num_levels])  # -> [B, S^2, h, w, C, L]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_levels": self.num_levels,
                "channels": self.channels,
                "subscale_factor": self.subscale_factor,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "kernel_size": self.kernel_size,
                "output_dim": self.output_dim,
                "conditioning_dim": self.conditioning_dim,
                "num_conditioning_layers": self.num_conditioning_layers,
                "conditioning_kernel_size": self.conditioning_kernel_size,
                "extra_channels": self.extra_channels,
                "num_classes": self.num_classes,
                "slice_size": None if self.slice_size is None else list(self.slice_size),
            }
        )
        return config
