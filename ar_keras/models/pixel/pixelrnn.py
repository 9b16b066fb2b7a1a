"""PixelRNN: Row LSTM, Diagonal BiLSTM and the plain PixelCNN of the same paper.

van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks",
ICML 2016.

Architecture (sec. 3, Figure 5)
-------------------------------
``x`` in ``[0, K)`` is scaled to ``[-1, 1]``, then::

    y_0 = MaskA_{k x k}(x)  (+ a learned class bias)        [B, H, W, 2h]   k = 7
    y_l = y_{l-1} + Conv1x1_B(LSTM_l(y_{l-1}))              [B, H, W, 2h]   residual, l = 1..L
    z   = sum_l y_l   (skip connections)   or   y_L
    logits = Conv1x1_B(ReLU(Conv1x1_B(ReLU(z))))           [B, H, W, C, P]

``LSTM_l`` has ``h`` units per gate: the input ``2h`` features give ``4h``
gate pre-activations and ``h`` state features, which the 1x1 convolution
takes back to ``2h`` (the paper's residual block).  Every convolution keeps
``C`` channel groups apart (R -> G -> B): mask A in the first layer, mask B
after (`ar_keras.layers.masking.conv_mask`), and the LSTM cells act per
feature, so channel ``c`` of a pixel is conditioned on its channels ``< c``.
The head is a K-way softmax per channel, or a Bernoulli (one logit, a
sigmoid) for ``K = 2``, as the paper's binarized MNIST model.

``variant`` picks ``LSTM_l``:

* ``"diagonal_bilstm"`` (default): `ar_keras.layers.DiagonalBiLSTM`, the
  left-to-right diagonal LSTM plus the right-to-left one shifted down a row.
* ``"row_lstm"``: `ar_keras.layers.RowLSTM` (``1 x 3`` masked input-to-state
  along the row, ``1 x 3`` state-to-state on the row above).
* ``"pixelcnn"``: the paper's PixelCNN baseline: no recurrence, each layer is
  the residual block ``2h -> ReLU -> 1x1 -> h -> ReLU -> 3x3 mask B -> h ->
  ReLU -> 1x1 -> 2h`` (paper Figure 5, right).

Receptive fields (``a = first_kernel_size // 2``; tests/models/test_pixelrnn.py
measures them on 8x8 and matches them pair by pair to these rules)
-------------------------------------------------------------------------------
* **pixelcnn**: a stack of masked ``k x k`` kernels reaches ``k // 2``
  columns right per row above, so pixel ``(i, j)`` never sees ``(i - d,
  j')`` with ``j' > j + a + (d - 1) (k // 2)``, nor anything more than ``a +
  L (k // 2)`` rows up: the **blind spot** above-right that Gated PixelCNN
  later removed.
* **row_lstm**: a triangle: row ``i - d`` is seen up to column ``j + a + d -
  1`` (the input convolution's reach, then one more column per row through
  the state-to-state convolution), however deep the stack; in its own row
  (and to the left) it reaches ``a + L (row_kernel_size // 2)`` columns.
* **diagonal_bilstm**: at the level of *positions*, one layer covers the
  whole context (left-to-right map: ``i' <= i, j' <= j``; shifted
  right-to-left map: ``i' < i, j' >= j``).  At the level of *pixels* there is
  one gap, which no depth closes: ``x(i - 1, W - 1)``, the last pixel of the
  row above, enters the network only through the mask-A input convolution at
  row ``i`` (the features at row ``i - 1`` may not see it, and those of row
  ``i`` that do are at columns ``>= W - 1 - a``), so pixel ``(i, j)`` sees it
  iff ``j >= W - 1 - a``.  On 8x8 with the paper's 7x7 input that leaves 28
  of the 2,016 earlier-pixel pairs unseen (1,988 seen); with
  ``first_kernel_size >= 2 W - 1`` every one is seen.  The paper's "entire
  available context" holds for positions, not quite for pixels.

Cached sampling (``sample(cache=True)``, exact, ``O(H W)`` steps)
------------------------------------------------------------------
The sampler draws element by element (channels innermost); `step` at pixel
``(i, j)``, channel ``c``:

1. at the start of row ``i >= 1``, every LSTM layer's ``step_row``: the Row
   LSTM makes the finished row its "previous row"; the Diagonal BiLSTM runs
   its right-to-left LSTM over the finished row ``i - 1`` (the only way that
   direction reaches row ``i``, through the down-shift), ``O(W)`` per layer;
2. the mask-A input convolution at ``(i, j)`` on a ``(a + 1) x (2a + 1)``
   window of the partial sample;
3. every layer's ``step`` at ``(i, j)``: the Row LSTM from its previous-row
   state and the inputs at ``(i, j - 1 .. j)``; the Diagonal BiLSTM's
   left-to-right state from ``h(i - 1, j)``, ``h(i, j - 1)``, ``c(i, j -
   1)``, plus the right-to-left map of row ``i - 1``: ``O(1)`` per layer.

A pixel's channels recompute that pixel (its later channels are zeros,
hidden by the channel groups; no feature at a pixel reads its own last
channel, so the features left after its last channel are final).  The
``pixelcnn`` variant has a finite receptive field ``R = a + L (k // 2)``: its
step recomputes the network on the window of ``min(H, R + 1)`` rows ending
at row ``i`` and ``min(W, 2 R + 1)`` columns around ``j`` (clamped into the
image), which reproduces the full pass at ``(i, j)`` exactly (every window
edge is either an image edge or beyond the receptive field): a windowed
recompute, ``O(R^2)`` per step instead of ``O(H W)``.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("pixelrnn", preset="digits")          # Diagonal BiLSTM
    >>> row = ark.models.get("pixelrnn", preset="digits", variant="row_lstm")
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=20)
    >>> model.sample(4, seed=0).shape
    TensorShape([4, 8, 8, 1])
"""

import keras
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, no_autograph
from ar_keras.distributions import head_for_levels
from ar_keras.layers.diagonal_bilstm import DiagonalBiLSTM
from ar_keras.layers.masked_conv2d import MaskedConv2D
from ar_keras.layers.row_lstm import RowLSTM
from ar_keras.models.registry import register

__all__ = ["PixelRNN"]

VARIANTS = ("diagonal_bilstm", "row_lstm", "pixelcnn")


def _valid_conv(layer, window):
    """A `MaskedConv2D` on an already cut window ('VALID', masked kernel)."""
    y = tf.nn.conv2d(window, layer.masked_kernel(), strides=1, padding="VALID")
    return y + layer.bias if layer.bias is not None else y


@register("pixelrnn")
class PixelRNN(AutoregressiveModel):
    """PixelRNN (van den Oord et al., ICML 2016): Diagonal BiLSTM, Row LSTM or PixelCNN.

    Args:
        image_shape: ``(H, W, C)``.
        num_levels: K (K = 2 uses a Bernoulli head).
        variant: ``"diagonal_bilstm"``, ``"row_lstm"`` or ``"pixelcnn"``.
        num_layers: L, residual LSTM (or masked-conv) layers.
        hidden_dim: units per gate of each LSTM (the paper's h); the residual
            stream has ``2h`` features.
        first_kernel_size: k of the mask-A input convolution (paper: 7).
        row_kernel_size: width of the Row LSTM's input-to-state convolution
            along the row (paper: k >= 3; 3).
        conv_kernel_size: k of the ``pixelcnn`` variant's masked convolutions
            (paper: 3).
        output_dim: features of the hidden 1x1 output layer.
        skip_connections: feed the sum of every layer's output to the output
            layers (instead of the last one's).
        shift_backward: False drops the Diagonal BiLSTM's down-shift, which
            breaks causality: it exists **only** for the mutation test.
        num_classes: optional class-conditional model (a learned bias per
            class on the input features).
    """

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=17,
        variant="diagonal_bilstm",
        num_layers=4,
        hidden_dim=32,
        first_kernel_size=7,
        row_kernel_size=3,
        conv_kernel_size=3,
        output_dim=128,
        skip_connections=False,
        shift_backward=True,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {self.image_shape}.")
        checks.check_choice(variant, "variant", VARIANTS)
        for name, k in (
            ("first_kernel_size", first_kernel_size),
            ("row_kernel_size", row_kernel_size),
            ("conv_kernel_size", conv_kernel_size),
        ):
            if int(k) < 1 or int(k) % 2 == 0:
                raise ValueError(f"{name} must be odd and >= 1, got {k}.")
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
        C = self.image_shape[-1]
        if int(hidden_dim) < C or int(output_dim) < C:
            raise ValueError(
                f"hidden_dim ({hidden_dim}) and output_dim ({output_dim}) "
                f"must be at least the channel count ({C})."
            )
        self.variant = variant
        self.num_layers = int(num_layers)
        self.hidden_dim = int(hidden_dim)
        self.first_kernel_size = int(first_kernel_size)
        self.row_kernel_size = int(row_kernel_size)
        self.conv_kernel_size = int(conv_kernel_size)
        self.output_dim = int(output_dim)
        self.skip_connections = bool(skip_connections)
        self.shift_backward = bool(shift_backward)
        self.head = head_for_levels(self.num_levels)
        h = self.hidden_dim
        B = dict(mask_type="B", data_channels=C)
        self.input_conv = MaskedConv2D(
            2 * h, self.first_kernel_size, mask_type="A", data_channels=C, name="input_conv"
        )
        self.class_bias = (
            None
            if self.num_classes is None
            else keras.layers.Embedding(self.num_classes, 2 * h, name="class_bias")
        )
        self.recurrent, self.residual = [], []
        for i in range(self.num_layers):
            if variant == "diagonal_bilstm":
                self.recurrent.append(
                    DiagonalBiLSTM(
                        h, data_channels=C, shift_backward=self.shift_backward, name=f"diagonal_bilstm_{i}"
                    )
                )
            elif variant == "row_lstm":
                self.recurrent.append(
                    RowLSTM(h, kernel_size=self.row_kernel_size, data_channels=C, name=f"row_lstm_{i}")
                )
            else:
                self.recurrent.append(
                    [
                        MaskedConv2D(h, 1, name=f"conv_{i}_in", **B),
                        MaskedConv2D(h, self.conv_kernel_size, name=f"conv_{i}_mid", **B),
                    ]
                )
            self.residual.append(MaskedConv2D(2 * h, 1, name=f"residual_{i}", **B))
        self.out_hidden = MaskedConv2D(self.output_dim, 1, name="out_hidden", **B)
        self.out_logits = MaskedConv2D(C * self.head.num_params, 1, name="out_logits", **B)
        self._finish_init()

    # ------------------------------------------------------------------ network
    def _scale(self, x):
        """Levels -> ``[-1, 1]`` floats."""
        return tf.cast(x, self.compute_dtype) * (2.0 / (self.num_levels - 1)) - 1.0

    def _input_features(self, y, conditional):
        """Adds the class bias (``[B, 1, 1, 2h]``, broadcast) to the input features."""
        if self.class_bias is None:
            return y
        return y + self.class_bias(conditional)[:, None, None, :]  # [B, 2h] -> [B, 1, 1, 2h]

    def _layer(self, i, y):
        """Residual layer i over a whole map: ``y + Conv1x1(LSTM(y))``."""
        if self.variant == "pixelcnn":
            conv_in, conv_mid = self.recurrent[i]
            t = conv_mid(tf.nn.relu(conv_in(tf.nn.relu(y))))
            return y + self.residual[i](tf.nn.relu(t))
        return y + self.residual[i](self.recurrent[i](y))

    def _output(self, z):
        """The two ReLU + 1x1 output layers: ``[..., 2h]`` -> logits ``[..., C P]``."""
        return self.out_logits(tf.nn.relu(self.out_hidden(tf.nn.relu(z))))

    def _trunk(self, scaled, conditional):
        """Scaled image ``[B, h, w, C]`` -> logits ``[B, h, w, C P]``, any h, w."""
        y = self._input_features(self.input_conv(scaled), conditional)  # [B, h, w, 2h]
        skip = 0.0
        for i in range(self.num_layers):
            y = self._layer(i, y)
            skip = skip + y
        return self._output(skip if self.skip_connections else y)

    @no_autograph
    def network(self, x, conditional=None, training=False):
        batch = tf.shape(x)[0]
        H, W, C = self.image_shape
        logits = self._trunk(self._scale(x), conditional)  # [B, H, W, C P]
        return tf.reshape(logits, [batch, H, W, C, self.head.num_params])  # -> [B, H, W, C, P]

    # ----------------------------------------------------------- cached sampler
    @property
    def receptive_reach(self):
        """R: rows above (and columns either side) the pixelcnn variant's output reads."""
        return self.first_kernel_size // 2 + self.num_layers * (self.conv_kernel_size // 2)

    @no_autograph
    def init_cache(self, batch, conditional=None):
        if self.variant == "pixelcnn":
            return {}  # windowed recompute: nothing carried between steps
        W = self.image_shape[1]
        return {layer.name: layer.init_cache(batch, W) for layer in self.recurrent}

    def _image(self, x_flat):
        H, W, C = self.image_shape
        return tf.reshape(x_flat, [-1, H, W, C])  # [B, D] -> [B, H, W, C]

    def _window_step(self, x, r, c, conditional):
        """pixelcnn: the trunk on the window around ``(r, c)`` -> logits ``[B, C P]`` there."""
        H, W, C = self.image_shape
        R = self.receptive_reach
        rows, cols = min(H, R + 1), min(W, 2 * R + 1)
        top = tf.clip_by_value(r - R, 0, H - rows)
        left = tf.clip_by_value(c - R, 0, W - cols)
        window = tf.slice(
            self._image(x), tf.stack([0, top, left, 0]), tf.stack([-1, rows, cols, C])
        )  # [B, rows, cols, C]
        logits = self._trunk(self._scale(window), conditional)  # [B, rows, cols, C P]
        at = tf.gather(logits, tf.reshape(r - top, [1]), axis=1)  # [B, 1, cols, C P]
        return tf.gather(at, c - left, axis=2)[:, 0]  # [B, C P]

    def _first_features(self, x, r, c, conditional):
        """The mask-A input convolution at ``(r, c)`` from the partial sample: ``[B, 1, 1, 2h]``."""
        H, W, C = self.image_shape
        a = self.first_kernel_size // 2
        rows = r - a + tf.range(a + 1)  # rows r - a .. r
        cols = c - a + tf.range(2 * a + 1)  # columns c - a .. c + a
        window = tf.gather(self._image(x), tf.clip_by_value(rows, 0, H - 1), axis=1)
        window = tf.gather(window, tf.clip_by_value(cols, 0, W - 1), axis=2)  # [B, a+1, 2a+1, C]
        inside = (rows >= 0)[:, None] & ((cols >= 0) & (cols < W))[None, :]  # [a+1, 2a+1]
        window = self._scale(window) * tf.cast(inside, self.compute_dtype)[None, :, :, None]  # zero padding
        kernel = self.input_conv.masked_kernel()[: a + 1]  # rows below are masked
        y = tf.nn.conv2d(window, kernel, strides=1, padding="VALID") + self.input_conv.bias
        return self._input_features(y, conditional)  # [B, 1, 1, 2h]

    @no_autograph
    def step(self, x, cache, index, conditional=None):
        H, W, C = self.image_shape
        pixel, channel = index // C, index % C
        r, c = pixel // W, pixel % W
        if self.variant == "pixelcnn":
            logits = self._window_step(x, r, c, conditional)  # [B, C P]
        else:
            new_row = tf.logical_and(tf.logical_and(tf.equal(c, 0), tf.equal(channel, 0)), r > 0)
            cache = tf.cond(
                new_row,
                lambda: {l.name: l.step_row(cache[l.name]) for l in self.recurrent},
                lambda: dict(cache),
            )
            cache = dict(cache)
            y = self._first_features(x, r, c, conditional)  # [B, 1, 1, 2h]
            skip = 0.0
            for i, layer in enumerate(self.recurrent):
                out, cache[layer.name] = layer.step(y, cache[layer.name], c)  # [B, 1, 1, h]
                y = y + self.residual[i](out)
                skip = skip + y
            logits = self._output(skip if self.skip_connections else y)[:, 0, 0]  # [B, C P]
        logits = tf.reshape(logits, [-1, C, self.head.num_params])  # [B, C P] -> [B, C, P]
        return tf.gather(logits, channel, axis=1), cache  # [B, P]

    # ------------------------------------------------------------------- export
    def tflite_signatures(self, batch_size=None, num_samples=None):
        """The base class' TFLite signatures, traced with the LSTM loops unrolled.

        The converter cannot lower the TensorArrays of `tf.scan` when the batch
        is dynamic; while these functions trace, every LSTM layer runs its
        recurrence as a Python loop over the (static) rows or columns instead.
        """
        signatures = super().tflite_signatures(batch_size, num_samples)

        def unrolled(fn):
            def traced(*args):
                layers = [l for l in self.recurrent if hasattr(l, "unroll")]
                for layer in layers:
                    layer.unroll = True
                try:
                    return fn(*args)
                finally:
                    for layer in layers:
                        layer.unroll = False

            return traced

        return {
            name: tf.function(
                unrolled(fn.python_function), input_signature=fn.input_signature, autograph=False
            )
            for name, fn in signatures.items()
        }
