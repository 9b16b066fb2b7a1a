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
``<= i - 1`` only.  So when the sampler reaches a new row it computes one row
of every vertical layer from a buffer of the last ``k//2 + 1`` rows of that
layer's input, and keeps the row's ``v_to_h`` contributions; at each element
it computes the horizontal stack at the current pixel only, from a buffer of
the current row (``k//2`` pixels to the left) of every horizontal layer.  A
step costs ``O(layers)`` (plus ``O(layers x width)`` once per row) instead of
a pass over the whole image; channels of a pixel recompute that pixel (the
channel groups make the partial pixel visible to the later channels only).

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("gated_pixelcnn", preset="digits")
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=20)
    >>> samples = model.sample(16, seed=0)              # [16, 8, 8, 1]
"""

import tensorflow as tf

from ar_keras.distributions import Categorical
from ar_keras.layers import GatedPixelCNNBlock, MaskedConv2D
from ar_keras.layers.gated_pixelcnn_block import _valid_conv
from ar_keras.models.base import AutoregressiveModel
from ar_keras.models.registry import register

__all__ = ["GatedPixelCNN"]


# The network and the cached step use explicit TF control flow (tf.cond) only;
# keeping AutoGraph from rewriting them makes tracing the samplers much faster.
_no_autograph = tf.autograph.experimental.do_not_convert


@register("gated_pixelcnn")
class GatedPixelCNN(AutoregressiveModel):
    """Gated PixelCNN with optional class conditioning.

    Args:
        image_shape: ``(H, W, C)``.
        num_levels: K.
        filters: F, features in each stack.
        num_layers: gated layers (the first uses ``first_kernel_size``).
        kernel_size: k of the later layers (odd).
        first_kernel_size: k of the first layer (odd).
        output_filters: width of the 1x1 output layer.
        num_classes: optional class-conditional model (eq. 4, ``h`` one-hot).
    """

    PRESETS = {
        "tiny": dict(image_shape=(3, 3, 1), num_levels=4, filters=6, num_layers=3,
                     kernel_size=3, first_kernel_size=3, output_filters=8),
        "digits": dict(image_shape=(8, 8, 1), num_levels=17, filters=64, num_layers=6,
                       kernel_size=3, first_kernel_size=5, output_filters=128),
        # van den Oord et al. 2016, CIFAR-10 (3.03 bits/dim): 20 layers of 384
        # feature maps and a 256-way softmax per channel (sec. 3.1).  The
        # paper does not list the kernel sizes; 7x7 first (as in PixelRNN's
        # PixelCNN) and 3x3 after are our choice.  The 1024-wide output layer
        # follows PixelRNN's PixelCNN (sec. 5.3).
        "paper": dict(image_shape=(32, 32, 3), num_levels=256, filters=384, num_layers=20,
                      kernel_size=3, first_kernel_size=7, output_filters=1024),
    }

    def __init__(self, image_shape=(8, 8, 1), num_levels=17, filters=64, num_layers=6,
                 kernel_size=3, first_kernel_size=5, output_filters=128, num_classes=None,
                 **kwargs):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {self.image_shape}.")
        for name, k in (("kernel_size", kernel_size), ("first_kernel_size", first_kernel_size)):
            if k < 1 or k % 2 == 0:
                raise ValueError(f"{name} must be odd and >= 1, got {k}.")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
        self.filters = int(filters)
        self.num_layers = int(num_layers)
        self.kernel_size = int(kernel_size)
        self.first_kernel_size = int(first_kernel_size)
        self.output_filters = int(output_filters)
        C = self.image_shape[-1]
        if self.filters < C:
            raise ValueError(f"filters ({filters}) must be at least the channel count ({C}).")
        self._head = Categorical(self.num_levels)
        conditional = self.num_classes is not None
        self.blocks = [
            GatedPixelCNNBlock(self.filters,
                               self.first_kernel_size if i == 0 else self.kernel_size,
                               data_channels=C, first=(i == 0),
                               vertical_output=(i < self.num_layers - 1),
                               conditional=conditional, name=f"block_{i}")
            for i in range(self.num_layers)
        ]
        self.out_hidden = MaskedConv2D(self.output_filters, 1, mask_type="B", data_channels=C,
                                       name="out_hidden")
        self.out_logits = MaskedConv2D(C * self._head.num_params, 1, mask_type="B",
                                       data_channels=C, name="out_logits")
        self._finish_init()

    @property
    def head(self):
        return self._head

    @_no_autograph
    def network(self, x, conditional=None, training=False):
        batch = tf.shape(x)[0]
        H, W, C = self.image_shape
        # Levels -> [-1, 1] floats.
        scaled = tf.cast(x, tf.float32) * (2.0 / (self.num_levels - 1)) - 1.0
        cond = (None if conditional is None
                else tf.one_hot(conditional, self.num_classes))    # [B, num_classes]
        v, h = scaled, scaled
        for block in self.blocks:
            v, h = block(v, h, conditioning=cond)
        out = self.out_hidden(tf.nn.relu(h))
        logits = self.out_logits(tf.nn.relu(out))                   # [B, H, W, C*K]
        return tf.reshape(logits, [batch, H, W, C, self._head.num_params])  # [B,H,W,C*K] -> [B,H,W,C,K]

    # ----------------------------------------------------------- cached sampler
    def _kernel(self, i):
        return self.first_kernel_size if i == 0 else self.kernel_size

    @_no_autograph
    def init_cache(self, batch, conditional=None):
        H, W, C = self.image_shape
        F = self.filters
        cache = {"x": tf.zeros(tf.stack([batch, self.event_size]), tf.int32)}
        for i in range(self.num_layers):
            half = self._kernel(i) // 2
            width_in = C if i == 0 else F
            # The last k//2 + 1 rows of the vertical input, padded k//2 each side.
            cache[f"v_{i}"] = tf.zeros(tf.stack([batch, half + 1, W + 2 * half, width_in]))
            # v_to_h(shift_down(v_pre)) for the current row.
            cache[f"v_to_h_{i}"] = tf.zeros(tf.stack([batch, 1, W, 2 * F]))
            if i > 0:
                # The current row of the horizontal input, k//2 zero columns on the left.
                cache[f"h_{i}"] = tf.zeros(tf.stack([batch, 1, W + half, F]))
        return cache

    def _scaled(self, x_flat):
        H, W, C = self.image_shape
        x = tf.reshape(x_flat, [-1, H, W, C])                           # [B, D] -> [B, H, W, C]
        return tf.cast(x, tf.float32) * (2.0 / (self.num_levels - 1)) - 1.0

    def _new_row(self, cache, r, cond):
        """At the start of row r: the vertical stack's row r - 1 (zeros at r = 0)."""
        cache = dict(cache)

        def first_row():
            out = dict(cache)
            for i, block in enumerate(self.blocks):
                zeros = tf.zeros_like(cache[f"v_to_h_{i}"])             # [B, 1, W, 2F]
                out[f"v_to_h_{i}"] = block.v_to_h(zeros)               # shift_down's zero row
            return out

        def later_row():
            out = dict(cache)
            scaled = self._scaled(cache["x"])                           # [B, H, W, C]
            row = tf.gather(scaled, tf.reshape(r - 1, [1]), axis=1)     # [B, 1, W, C]
            for i, block in enumerate(self.blocks):
                half = self._kernel(i) // 2
                row = tf.pad(row, [[0, 0], [0, 0], [half, half], [0, 0]])
                buf = tf.concat([cache[f"v_{i}"][:, 1:], row], axis=1)   # rows r-1-k//2 .. r-1
                out[f"v_{i}"] = buf
                v_pre = _valid_conv(block.v_conv, buf)                   # [B, 1, W, 2F], row r-1
                out[f"v_to_h_{i}"] = block.v_to_h(v_pre)
                if block.vertical_output:
                    row = block.v_gate(v_pre, cond)                      # next layer's input row
            return out

        return tf.cond(r > 0, later_row, first_row)

    @_no_autograph
    def step(self, x_prev, cache, index, conditional=None):
        H, W, C = self.image_shape
        D = self.event_size
        cond = None if conditional is None else tf.one_hot(conditional, self.num_classes)
        hit = tf.equal(tf.range(D), index - 1)[None, :]                  # [1, D]
        cache = dict(cache, x=tf.where(hit, x_prev[:, None], cache["x"]))
        pixel, channel = index // C, index % C
        r, c = pixel // W, pixel % W
        new_row = tf.logical_and(tf.equal(c, 0), tf.equal(channel, 0))
        cache = tf.cond(new_row, lambda: self._new_row(cache, r, cond), lambda: dict(cache))
        # The horizontal stack at (r, c), with the pixel's channels drawn so far.
        half0 = self.first_kernel_size // 2
        scaled = self._scaled(cache["x"])
        row = tf.pad(tf.gather(scaled, tf.reshape(r, [1]), axis=1),
                     [[0, 0], [0, 0], [half0, 0], [0, 0]])                # [B, 1, half0 + W, C]
        window = tf.gather(row, c + tf.range(half0 + 1), axis=2)          # [B, 1, half0 + 1, C]
        h = None
        for i, block in enumerate(self.blocks):
            half = self._kernel(i) // 2
            if i > 0:
                key = f"h_{i}"
                at = tf.equal(tf.range(W + half), c + half)[None, None, :, None]
                cache[key] = tf.where(at, h, cache[key])                  # write h_{i-1}(r, c)
                window = tf.gather(cache[key], c + tf.range(half + 1), axis=2)
            v_to_h = tf.gather(cache[f"v_to_h_{i}"], tf.reshape(c, [1]), axis=2)  # [B, 1, 1, 2F]
            h_pre = _valid_conv(block.h_conv, window) + v_to_h
            h_new = block.h_out(block.h_gate(h_pre, cond))               # [B, 1, 1, F]
            h = h_new if block.first else h_new + h
        out = self.out_hidden(tf.nn.relu(h))
        logits = self.out_logits(tf.nn.relu(out))                        # [B, 1, 1, C*K]
        logits = tf.reshape(logits, [-1, C, self._head.num_params])      # -> [B, C, K]
        return tf.gather(logits, channel, axis=1), cache                 # [B, K]

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "num_layers": self.num_layers,
            "kernel_size": self.kernel_size, "first_kernel_size": self.first_kernel_size,
            "output_filters": self.output_filters,
        })
        return config
