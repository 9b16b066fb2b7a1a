"""The Gated PixelCNN block: a vertical and a horizontal stack with gated units.

van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu,
"Conditional Image Generation with PixelCNN Decoders", NIPS 2016 (sec. 2.1-2.3,
Fig. 2).  With ``v, h [B, H, W, F_in]`` the block's vertical and horizontal
inputs, ``k`` the (odd) kernel size and ``c [B, E]`` an optional conditioning
vector (a class one-hot)::

    v_pre = W_v * v                                   [B, H, W, 2F]  (k//2 + 1) x k, unmasked
    h_pre = W_h *_m h  +  U (shift_down(v_pre))       [B, H, W, 2F]  1 x (k//2 + 1), mask A/B
    gate(a) = tanh(a_f + V_f c) * sigmoid(a_g + V_g c)                (eq. 2 and 4)
    v_out = gate(v_pre)                               [B, H, W, F]
    h_out = h + W_o gate(h_pre)                       [B, H, W, F]   (no ``h +`` in the first block)

* **Vertical stack**: output row ``i`` reads input rows ``i - k//2 .. i``
  (columns ``j - k//2 .. j + k//2``), the current row *included*.  It never
  reaches the horizontal stack unshifted.
* **v -> h link**: ``shift_down`` moves ``v_pre`` down one row (row 0 gets
  zeros), so the horizontal stack at row ``i`` sees the vertical stack's rows
  ``< i`` only; ``U`` is a 1x1 convolution.  With the full width above, the
  receptive field has no blind spot.
* **Horizontal stack**: pixel ``(i, j)`` reads pixels ``j - k//2 .. j`` of its
  own row; ``*_m`` is masked A in the first block (the pixel's own channel is
  hidden) and B after.  At the centre tap the features are split into R -> G
  -> B channel groups (``data_channels`` C): output group ``g`` sees input
  groups ``< g`` (A) or ``<= g`` (B).  ``W_o`` is a 1x1 convolution masked B.

**Streaming.**  Generating in raster order, row ``i`` of the vertical stack
needs rows ``i - k//2 .. i`` of its input, and the horizontal stack at
``(i, j)`` needs pixels ``j - k//2 .. j`` of row ``i`` and row ``i`` of
``U shift_down(v_pre)``, i.e. ``U v_pre`` of row ``i - 1``.  So:

* `init_cache` returns zeros and the row-0 v->h contribution ``U 0``;
* `step_row`, called at the start of row ``i >= 1`` with row ``i - 1`` of the
  vertical input, pushes it into the row buffer and returns row ``i - 1`` of
  ``v_out`` (the next block's vertical input row), keeping ``U v_pre`` of that
  row as the v->h contribution for row ``i``: ``O(W)`` once per row;
* `step`, called at every pixel ``(i, j)`` with the horizontal input at it,
  writes that pixel into the row buffer and returns ``h_out`` there: ``O(1)``.
  Pixels ``j - k//2 .. j - 1`` are read as their own `step` saw them; where
  an input is completed later (the data, drawn channel by channel after the
  pixel's step), `set_horizontal_row` hands the whole row over first.

Cache (a dict; ``half = k // 2``, ``F_v`` / ``F_h`` the vertical /
horizontal input features)::

    "v":      [B, half + 1, W + 2 half, F_v]  the last half + 1 vertical input rows,
                                             half zero columns each side
    "v_to_h": [B, 1, W, 2F]                   U shift_down(v_pre) for the current row
    "h":      [B, 1, W + half, F_h]           the current row of the horizontal input,
                                             half zero columns on the left

Example:
    >>> block = GatedPixelCNNBlock(filters=8, kernel_size=3, data_channels=1, first=True)
    >>> x = tf.random.normal([2, 4, 5, 1])
    >>> v_out, h_out = block(x, x)                           # [2, 4, 5, 8] each
    >>> cache = block.init_cache(2, width=5)
    >>> h_00, cache = block.step(x[:, :1, :1], cache, column=0)   # h_out[:, :1, :1]
    >>> v_row, cache = block.step_row(x[:, :1], cache)        # row 0 of v_out; then row 1
"""

import keras
import tensorflow as tf

from ar_keras import checks
from ar_keras.layers.gated import GatedActivation
from ar_keras.layers.masked_conv2d import MaskedConv2D

__all__ = ["GatedPixelCNNBlock", "shift_down"]


def shift_down(x):
    """Row i takes row i-1 (row 0 takes zeros): ``[B, H, W, F]`` -> same shape."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def _valid_conv(layer, window):
    """A `MaskedConv2D` on an already padded window ('VALID', masked kernel, its compute dtype)."""
    window = tf.cast(window, layer.compute_dtype)
    y = tf.nn.conv2d(window, layer.masked_kernel(), strides=1, padding="VALID")
    return y + layer.compute_bias() if layer.bias is not None else y


@keras.saving.register_keras_serializable(package="ar_keras")
class GatedPixelCNNBlock(keras.layers.Layer):
    """One gated layer with a vertical and a horizontal stack, streamable.

    Args:
        filters: F, features per stack (at least ``data_channels``).
        kernel_size: k (odd): the vertical kernel is ``(k//2 + 1) x k``, the
            horizontal one ``1 x (k//2 + 1)``.
        data_channels: C, the number of R -> G -> B channel groups.
        first: first block: mask A and no residual on the horizontal stack.
        vertical_output: compute the vertical stack's output (False in the
            last block, where nothing would read it).
        conditional: add a learned projection of ``conditioning`` to both gates.

    Call arguments:
        v: ``[B, H, W, F_v]``, the vertical stack's input (the scaled image
            in the first block).
        h: ``[B, H, W, F_h]``, the horizontal stack's input (``F_h = F``
            after the first block, for the residual).
        conditioning: ``[B, E]`` float, required iff ``conditional``; or a
            map ``[B, H, W, E]`` aligned with the image (a per-position bias,
            eq. 5 of the paper; PixelVAE's upsampled latent map).  When
            streaming, pass `step_row` the map's row ``i - 1`` ``[B, 1, W, E]``
            and `step` its pixel ``[B, 1, 1, E]``.

    Returns:
        ``(v_out [B, H, W, F] or None, h_out [B, H, W, F])``; ``v_out`` is None
        when ``vertical_output=False`` (a Keras functional graph cannot carry
        None: there, keep ``vertical_output=True`` and ignore ``v_out``).
    """

    def __init__(
        self,
        filters,
        kernel_size,
        data_channels=1,
        first=False,
        vertical_output=True,
        conditional=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = checks.check_odd(kernel_size, "kernel_size")
        self.data_channels = int(data_channels)
        self.first = bool(first)
        self.vertical_output = bool(vertical_output)
        self.conditional = bool(conditional)
        k, F, C = self.kernel_size, self.filters, self.data_channels
        policy = self.dtype_policy
        self.v_conv = MaskedConv2D(
            2 * F, (k // 2 + 1, k), mask_type=None, centre=(k // 2, k // 2), dtype=policy, name="v_conv"
        )
        self.v_to_h = keras.layers.Conv2D(2 * F, 1, dtype=policy, name="v_to_h")
        self.h_conv = MaskedConv2D(
            2 * F,
            (1, k // 2 + 1),
            mask_type="A" if first else "B",
            data_channels=C,
            out_splits=2,
            centre=(0, k // 2),
            dtype=policy,
            name="h_conv",
        )
        self.h_gate = GatedActivation(conditional=self.conditional, dtype=policy, name="h_gate")
        self.v_gate = (
            GatedActivation(conditional=self.conditional, dtype=policy, name="v_gate")
            if self.vertical_output
            else None
        )
        self.h_out = MaskedConv2D(F, 1, mask_type="B", data_channels=C, dtype=policy, name="h_out")

    def build(self, v_shape, h_shape, conditioning_shape=None):
        pre = (None, None, None, 2 * self.filters)  # [B, H, W, 2F]
        self.v_conv.build(v_shape)
        self.h_conv.build(h_shape)
        self.v_to_h.build(pre)
        for gate in (self.h_gate, self.v_gate):
            if gate is not None:
                gate.build(pre, conditioning_shape)
        self.h_out.build((None, None, None, self.filters))

    @property
    def half(self):
        """``k // 2``: the columns each side (vertical) or to the left (horizontal)."""
        return self.kernel_size // 2

    def _horizontal(self, h, h_pre, conditioning):
        """``h_out`` from the horizontal pre-activation (with the v -> h term)."""
        h_new = self.h_out(self.h_gate(h_pre, conditioning))  # [B, ., ., F]
        return h_new if self.first else h_new + h  # residual (horizontal stack)

    def call(self, v, h, conditioning=None):
        v, h = tf.cast(v, self.compute_dtype), tf.cast(h, self.compute_dtype)
        v_pre = self.v_conv(v)  # [B, H, W, 2F], rows <= i
        h_pre = self.h_conv(h) + self.v_to_h(shift_down(v_pre))  # [B, H, W, 2F]
        h_new = self._horizontal(h, h_pre, conditioning)  # [B, H, W, F]
        v_new = self.v_gate(v_pre, conditioning) if self.vertical_output else None
        return v_new, h_new

    # ------------------------------------------------------------- streaming
    def init_cache(self, batch, width, dtype=None):
        """The state before pixel ``(0, 0)`` of ``batch`` images ``width`` wide.

        The block must be built (called once, or `build`), so that its input
        feature counts are known.  See the module docstring for the layout.
        """
        if not self.built:
            raise ValueError(f"{self.name}: build or call the block before init_cache.")
        half, F = self.half, self.filters
        dtype = dtype or self.compute_dtype
        v_features = self.v_conv.kernel.shape[2]
        h_features = self.h_conv.kernel.shape[2]
        v_to_h = tf.zeros(tf.stack([batch, 1, width, 2 * F]), dtype)
        return {
            "v": tf.zeros(tf.stack([batch, half + 1, width + 2 * half, v_features]), dtype),
            # Row 0 sees shift_down's zero row: U 0 (the 1x1 conv's bias).
            "v_to_h": self.v_to_h(v_to_h),
            "h": tf.zeros(tf.stack([batch, 1, width + half, h_features]), dtype),
        }

    def step_row(self, v_row, cache, conditioning=None):
        """Enters row ``i >= 1`` given row ``i - 1`` of the vertical input.

        Args:
            v_row: ``[B, 1, W, F_v]``, row ``i - 1`` of ``v``.
            cache: from `init_cache` or the last step.
            conditioning: ``[B, E]``, required iff ``conditional``.

        Returns:
            ``(v_out_row, cache)``: row ``i - 1`` of ``v_out`` ``[B, 1, W, F]``
            (None when ``vertical_output=False``), and the cache whose
            ``"v_to_h"`` is row ``i`` of ``U shift_down(v_pre)``.
        """
        half = self.half
        v_row = tf.cast(v_row, self.compute_dtype)
        padded = tf.pad(v_row, [[0, 0], [0, 0], [half, half], [0, 0]])  # [B, 1, W + 2 half, F_v]
        rows = tf.concat([cache["v"][:, 1:], padded], axis=1)  # rows i-1-half .. i-1
        v_pre = _valid_conv(self.v_conv, rows)  # [B, 1, W, 2F], row i-1
        cache = dict(cache, v=rows, v_to_h=self.v_to_h(v_pre))
        v_out = self.v_gate(v_pre, conditioning) if self.vertical_output else None
        return v_out, cache

    def set_horizontal_row(self, h_row, cache):
        """Replaces the buffered horizontal input of the current row.

        `step` buffers each pixel's input as it was at that pixel's step.  When
        an input changes afterwards, as the data do in the first block of a
        model drawing C > 1 channels (or one value) per step, the pixel's
        later channels are drawn after its last `step`, hand the row over
        whole before the next `step`.

        Args:
            h_row: ``[B, 1, W, F_h]``, the current row of ``h`` (later pixels
                may hold anything: `step` overwrites a pixel before reading it).
            cache: the block's cache.

        Returns:
            The cache.
        """
        h_row = tf.cast(h_row, self.compute_dtype)
        padded = tf.pad(h_row, [[0, 0], [0, 0], [self.half, 0], [0, 0]])  # [B, 1, half + W, F_h]
        return dict(cache, h=padded)

    def step(self, h_pixel, cache, column, conditioning=None):
        """``h_out`` at pixel ``(i, column)`` of the current row.

        Args:
            h_pixel: ``[B, 1, 1, F_h]``, the horizontal input at the pixel
                (channels not yet drawn may hold anything: the channel groups
                hide them).
            cache: from `init_cache`, `step_row` or the last step.
            column: scalar int, ``j``.
            conditioning: ``[B, E]``, required iff ``conditional``.

        Returns:
            ``(h_out [B, 1, 1, F], cache)``.  Calling `step` again at the same
            pixel (the next channel) overwrites it in the row buffer.
        """
        half = self.half
        h_pixel = tf.cast(h_pixel, self.compute_dtype)
        width = tf.shape(cache["h"])[2]  # W + half
        at = tf.equal(tf.range(width), column + half)[None, None, :, None]  # [1, 1, W + half, 1]
        row = tf.where(at, h_pixel, cache["h"])  # write h(i, j)
        window = tf.gather(row, column + tf.range(half + 1), axis=2)  # [B, 1, half + 1, F_h]
        v_to_h = tf.gather(cache["v_to_h"], tf.reshape(column, [1]), axis=2)  # [B, 1, 1, 2F]
        h_pre = _valid_conv(self.h_conv, window) + v_to_h  # [B, 1, 1, 2F]
        return self._horizontal(h_pixel, h_pre, conditioning), dict(cache, h=row)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "data_channels": self.data_channels,
                "first": self.first,
                "vertical_output": self.vertical_output,
                "conditional": self.conditional,
            }
        )
        return config
