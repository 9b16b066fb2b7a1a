"""Gated PixelCNN: vertical and horizontal stacks, gated units, no blind spot.

van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu,
"Conditional Image Generation with PixelCNN Decoders", NIPS 2016.

Each layer keeps two feature maps (paper Fig. 2):

* the **vertical stack** ``v``: a ``(k//2 + 1) x k`` convolution over the rows
  above *and including* the current row (unmasked);
* the **horizontal stack** ``h``: a ``1 x (k//2 + 1)`` convolution over the
  current row up to the current pixel, masked A in the first layer and B after,
  with R -> G -> B channel groups at the centre tap.

The vertical pre-activation, shifted down one row (so row ``i`` sees only rows
``< i``), is added to the horizontal pre-activation through a 1x1 convolution.
Both stacks use the gated unit ``tanh(.) * sigmoid(.)`` with an optional class
bias (eq. 4); the horizontal stack has a residual connection after its 1x1
convolution.  Because the vertical stack covers the full width above, the
receptive field has no blind spot (the original PixelCNN's flaw).

Head: ReLU, masked 1x1 conv, ReLU, masked 1x1 conv to ``C x K`` logits: a
K-way softmax per channel, channel ``c`` conditioned on channels ``< c`` of the
same pixel through the channel groups.

Cached sampling (``sample(cache=True)``, exact)
-----------------------------------------------
The horizontal stack at row ``i`` reads the vertical stack of row ``i - 1``
only (``shift_down``), and the vertical stack of row ``i - 1`` depends on rows
``<= i - 1`` only.  The `GatedPixelCNNStack` streams its blocks
(``init_cache`` / ``step``): when the sampler reaches a new row it feeds the
image's previous row through every block's vertical stack (each block's
vertical output row is the next block's input row), and at each element it
feeds the current pixel through every block's horizontal stack.  A step
costs ``O(layers)`` (plus ``O(layers x width)`` once per row) instead of a
pass over the whole image; channels of a pixel recompute that pixel (the
channel groups make the partial pixel visible to the later channels only).
The model's cache is the stack's, ``{"block_<i>": that block's cache}``; the sample so far
is the sampler's partial sample ``x``.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("gated_pixelcnn", preset="digits")
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=20)
    >>> model.sample(4, seed=0).shape
    TensorShape([4, 8, 8, 1])
"""

import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, no_autograph
from ar_keras.distributions import Categorical
from ar_keras.layers import GatedPixelCNNStack, MaskedConv2D
from ar_keras.models.registry import register

__all__ = ["GatedPixelCNN"]


@register("gated_pixelcnn")
class GatedPixelCNN(AutoregressiveModel):
    """Gated PixelCNN with optional class conditioning.

    Args:
        image_shape: ``(H, W, C)``.
        num_levels: K.
        hidden_dim: F, features of the vertical and horizontal stacks (the paper's feature maps).
        num_layers: gated layers (the first uses ``first_kernel_size``).
        kernel_size: k of the later layers (odd).
        first_kernel_size: k of the first layer (odd).
        output_dim: features of the hidden 1x1 output layer.
        num_classes: optional class-conditional model (eq. 4, ``h`` one-hot).
    """

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=17,
        hidden_dim=64,
        num_layers=6,
        kernel_size=3,
        first_kernel_size=5,
        output_dim=128,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        C = checks.check_image_rank(self.image_shape)[-1]
        self.hidden_dim = checks.check_channel_width(hidden_dim, "hidden_dim", C)
        self.num_layers = checks.check_positive_int(num_layers, "num_layers")
        self.kernel_size = checks.check_odd(kernel_size, "kernel_size")
        self.first_kernel_size = checks.check_odd(first_kernel_size, "first_kernel_size")
        self.output_dim = checks.check_positive_int(output_dim, "output_dim")
        self.head = Categorical(self.num_levels)
        conditional = self.num_classes is not None
        self.stack = GatedPixelCNNStack(
            self.hidden_dim,
            self.num_layers,
            self.kernel_size,
            first_kernel_size=self.first_kernel_size,
            data_channels=C,
            conditional=conditional,
            name="stack",
        )
        self.out_hidden = MaskedConv2D(self.output_dim, 1, mask_type="B", data_channels=C, name="out_hidden")
        self.out_logits = MaskedConv2D(
            C * self.head.num_params, 1, mask_type="B", data_channels=C, name="out_logits"
        )
        self._finish_init()

    @no_autograph
    def network(self, x, conditional=None, training=False):
        batch = tf.shape(x)[0]
        H, W, C = self.image_shape
        # Levels -> [-1, 1] floats.
        scaled = tf.cast(x, self.compute_dtype) * (2.0 / (self.num_levels - 1)) - 1.0
        cond = None if conditional is None else tf.one_hot(conditional, self.num_classes)  # [B, num_classes]
        h = self.stack(scaled, conditioning=cond)  # [B, H, W, F]
        out = self.out_hidden(tf.nn.relu(h))
        logits = self.out_logits(tf.nn.relu(out))  # [B, H, W, C*K]
        return tf.reshape(logits, [batch, H, W, C, self.head.num_params])  # [B,H,W,C*K] -> [B,H,W,C,K]

    # ----------------------------------------------------------- cached sampler
    @no_autograph
    def init_cache(self, batch, conditional=None):
        return self.stack.init_cache(batch, self.image_shape[1])  # see GatedPixelCNNStack

    def _scaled(self, x_flat):
        H, W, C = self.image_shape
        x = tf.reshape(x_flat, [-1, H, W, C])  # [B, D] -> [B, H, W, C]
        return tf.cast(x, self.compute_dtype) * (2.0 / (self.num_levels - 1)) - 1.0

    @no_autograph
    def step(self, x, cache, index, conditional=None):
        H, W, C = self.image_shape
        cond = None if conditional is None else tf.one_hot(conditional, self.num_classes)
        pixel, channel = index // C, index % C
        r, c = pixel // W, pixel % W
        # The horizontal stack at (r, c), with the pixel's channels drawn so far
        # (the later channels are zeros, hidden by the channel groups).
        h, cache = self.stack.step(self._scaled(x), cache, r, c, channel, conditioning=cond)  # [B, 1, 1, F]
        out = self.out_hidden(tf.nn.relu(h))
        logits = self.out_logits(tf.nn.relu(out))  # [B, 1, 1, C*K]
        logits = tf.reshape(logits, [-1, C, self.head.num_params])  # -> [B, C, K]
        return tf.gather(logits, channel, axis=1), cache  # [B, K]
