"""PixelRNN's Diagonal BiLSTM: two LSTMs along the diagonals, the right-to-left one shifted down.

van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks",
ICML 2016, sec. 3.2 (Figures 3 and 4, right).

**One direction (left to right).**  The input-to-state pre-activations
``K_is (*) x`` (a ``1 x 1`` convolution, mask B, R -> G -> B channel groups)
are skewed (`ar_keras.layers.skew`: row ``i`` shifted right by ``i``), so
that the diagonals become columns, and an LSTM runs along the columns of the
skewed map with a ``2 x 1`` state-to-state convolution ``K_ss`` (no bias)
over the previous column: skewed ``(i, c)`` reads skewed ``(i - 1, c - 1)``
and ``(i, c - 1)``.  Unskewed, pixel ``(i, j)`` reads the state of the pixel
**above**, ``(i - 1, j)``, and of the pixel to its **left**, ``(i, j - 1)``::

    z(i, j) = K_is x(i, j) + K_up h(i - 1, j) + K_left h(i, j - 1)     [B, 4h]
    (h, c)(i, j) = lstm_cell(z(i, j), c(i, j - 1))                    (`lstm_cell`)

with zero state outside the image (the skewed map's padding is held at zero
state: the initial state is zero, not learned).  So ``h(i, j)`` depends on
the input at every ``(i', j')`` with ``i' <= i`` and ``j' <= j``: the
up-left quadrant, the pixel itself included (mask B: only its earlier
channel groups, for a group).

**The other direction (right to left)** is the same computation, with its
own weights, on the column-reversed map: its state at ``(i, j)`` depends on
the up-right quadrant ``i' <= i``, ``j' >= j``, which contains *future*
pixels of row ``i``.  Its output map is therefore **shifted down one row**
(row ``i`` takes row ``i - 1``, row 0 zeros) before it is added to the
left-to-right map::

    out(i, j) = h_fw(i, j) + h_bw(i - 1, j)

so that ``out(i, j)`` depends on the inputs at every position before
``(i, j)`` in raster order and at ``(i, j)`` (mask B): the whole context.
The best known TF port (carpedm20/pixel-rnn-tensorflow, issue #16) keeps
``h_bw`` unshifted (it drops the *last* row instead), so each pixel sees the
rest of its own row: a causality leak.  ``shift_backward=False`` reproduces
that bug; it exists **only** for the mutation test that watches the
causality check fail, and such a layer cannot stream.

The columns of the skewed map are processed by `tf.scan` (one
`tf.while_loop` over ``W + H - 1`` columns); skew and unskew are a pad and
two reshapes each.

**Streaming** (cached sampling, raster order, ``O(1)`` per pixel plus
``O(W)`` per row): the left-to-right state at ``(i, j)`` needs ``h(i - 1,
j)``, ``h(i, j - 1)`` and ``c(i, j - 1)``, all known when pixel ``(i, j)``
is generated, so `step` computes it pixel by pixel.  The right-to-left map
enters row ``i`` only through row ``i - 1``: at the start of each row
``i >= 1``, `step_row` runs the right-to-left LSTM over the completed row
``i - 1`` (its inputs kept in a row buffer, the state above from row
``i - 2``), a `tf.scan` over ``W`` columns.

Cache::

    "inputs": [B, W, F]   the current row's inputs (read by step_row at the next row)
    "h", "c": [B, W, h]   the left-to-right state of the current row (pixels < j done)
    "up":     [B, W, h]   the left-to-right h of the previous row
    "bw":     [B, W, h]   the right-to-left h of the previous row: the shifted map of this row

Example:
    >>> layer = DiagonalBiLSTM(units=4, data_channels=1)
    >>> x = tf.random.normal([2, 5, 6, 8])
    >>> layer(x).shape
    TensorShape([2, 5, 6, 4])
    >>> cache = layer.init_cache(2, width=6)
    >>> out_00, cache = layer.step(x[:, :1, :1], cache, column=0)  # == layer(x)[:, :1, :1]
"""

import keras
import tensorflow as tf

from ar_keras.layers.lstm_cell import lstm_cell, scan, write_state
from ar_keras.layers.masked_conv2d import MaskedConv2D
from ar_keras.layers.skew import skew, unskew

__all__ = ["DiagonalBiLSTM", "diagonal_lstm"]


def diagonal_lstm(pre, state_kernel, unroll=False):
    """One left-to-right diagonal LSTM over a whole map.

    Args:
        pre: ``[B, H, W, 4h]``, the input-to-state pre-activations.
        state_kernel: ``[2, h, 4h]``: tap 0 reads the state above
            ``(i - 1, j)``, tap 1 the state to the left ``(i, j - 1)``.
        unroll: a Python loop over the columns (static sizes; for TFLite).

    Returns:
        ``h [B, H, W, h]``.
    """
    units = state_kernel.shape[1]
    width = pre.shape[2] if pre.shape[2] is not None else tf.shape(pre)[2]
    skewed = skew(pre)  # [B, H, W + H - 1, 4h]
    valid = skew(tf.ones_like(pre[..., :1]))  # [B, H, W + H - 1, 1]: 1 on the image
    columns = tf.transpose(skewed, [2, 0, 1, 3])  # -> [W + H - 1, B, H, 4h]
    valid = tf.transpose(valid, [2, 0, 1, 3])  # -> [W + H - 1, B, H, 1]
    zeros = tf.zeros_like(columns[0, :, :, :units])  # [B, H, h]

    def column_step(carry, elems):
        h, c = carry
        z, keep = elems
        # Skewed row r of the previous column is image (r, j - 1); row r - 1 is image (r - 1, j).
        above = tf.pad(h, [[0, 0], [1, 0], [0, 0]])[:, :-1]  # [B, H, h], row r <- r - 1
        z = (
            z
            + tf.einsum("brf,fo->bro", above, state_kernel[0])
            + tf.einsum("brf,fo->bro", h, state_kernel[1])
        )
        h, c = lstm_cell(z, c)
        return h * keep, c * keep  # zero state on the skew's padding

    hs, _ = scan(column_step, (columns, valid), (zeros, zeros), unroll)  # [W + H - 1, B, H, h]
    hs = tf.transpose(hs, [1, 2, 0, 3])  # -> [B, H, W + H - 1, h]
    return unskew(hs, width=width)  # -> [B, H, W, h]


def _shift_down(x):
    """Row i takes row i - 1, row 0 zeros: ``[B, H, W, F]`` -> same shape."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


@keras.saving.register_keras_serializable(package="ar_keras")
class DiagonalBiLSTM(keras.layers.Layer):
    """Diagonal BiLSTM layer (masked, streamable).

    Args:
        units: h, the state features of each direction; at least
            ``data_channels``.
        data_channels: C, the R -> G -> B channel groups.
        shift_backward: shift the right-to-left map down one row (True, the
            paper).  False exists only for the mutation test (the layer is
            then not causal and cannot stream).

    Call arguments:
        inputs: ``[B, H, W, F]``.

    Returns:
        ``[B, H, W, units]``: ``h_fw + shift_down(h_bw)``.
    """

    def __init__(self, units, data_channels=1, shift_backward=True, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.data_channels = int(data_channels)
        self.shift_backward = bool(shift_backward)
        if self.units < self.data_channels:
            raise ValueError(f"units ({units}) must be at least data_channels ({data_channels}).")
        #: Python loops instead of tf.while_loops (static sizes): set only while a model
        #: traces its TFLite signatures (see `ar_keras.layers.lstm_cell.scan`); not config.
        self.unroll = False
        conv = dict(mask_type="B", data_channels=self.data_channels, out_splits=4, dtype=self.dtype_policy)
        self.forward_input = MaskedConv2D(4 * self.units, 1, name="forward_input", **conv)
        self.backward_input = MaskedConv2D(4 * self.units, 1, name="backward_input", **conv)

    def build(self, input_shape):
        self.forward_input.build(input_shape)
        self.backward_input.build(input_shape)
        shape = (2, self.units, 4 * self.units)
        self.forward_state_kernel = self.add_weight(
            name="forward_state_kernel", shape=shape, initializer="glorot_uniform"
        )
        self.backward_state_kernel = self.add_weight(
            name="backward_state_kernel", shape=shape, initializer="glorot_uniform"
        )

    def _state_kernels(self):
        """The forward and backward state kernels ``[2, h, 4h]`` in the compute dtype."""
        return (
            tf.cast(self.forward_state_kernel, self.compute_dtype),
            tf.cast(self.backward_state_kernel, self.compute_dtype),
        )

    def call(self, inputs):
        inputs = tf.cast(inputs, self.compute_dtype)
        forward_kernel, backward_kernel = self._state_kernels()
        forward = diagonal_lstm(self.forward_input(inputs), forward_kernel, self.unroll)  # [B, H, W, h]
        reversed_pre = tf.reverse(
            self.backward_input(inputs), axis=[2]
        )  # [B, H, W, 4h], columns right to left
        backward = diagonal_lstm(reversed_pre, backward_kernel, self.unroll)
        backward = tf.reverse(backward, axis=[2])  # [B, H, W, h], columns back in order
        if self.shift_backward:
            backward = _shift_down(backward)  # row i <- row i - 1
        return forward + backward

    # ------------------------------------------------------------- streaming
    def init_cache(self, batch, width, dtype=None):
        """The state before pixel ``(0, 0)``: zeros (row 0's shifted map is zero)."""
        if not self.shift_backward:
            raise ValueError(
                f"{self.name}: shift_backward=False (the mutation-test layer) sees "
                "the rest of its row and cannot be sampled pixel by pixel."
            )
        if not self.built:
            raise ValueError(f"{self.name}: build or call the layer before init_cache.")
        dtype = dtype or self.compute_dtype
        features = self.forward_input.kernel.shape[2]
        zeros = tf.zeros(tf.stack([batch, width, self.units]), dtype)
        return {
            "inputs": tf.zeros(tf.stack([batch, width, features]), dtype),
            "h": zeros,
            "c": zeros,
            "up": zeros,
            "bw": zeros,
        }

    def step_row(self, cache):
        """Enters row ``i >= 1``: the right-to-left LSTM over the completed row ``i - 1``."""
        row = cache["inputs"][:, None]  # [B, 1, W, F]
        pre = self.backward_input(row)[:, 0]  # [B, W, 4h]
        kernel = self._state_kernels()[1]
        # The state above (i - 2, j) is known for the whole row: add its term at once.
        pre = pre + tf.einsum("bwf,fo->bwo", cache["bw"], kernel[0])  # [B, W, 4h]
        columns = tf.reverse(tf.transpose(pre, [1, 0, 2]), axis=[0])  # [B, W, 4h] -> [W, B, 4h], right first
        zeros = tf.zeros_like(columns[0, :, : self.units])  # [B, h]

        def column_step(carry, z):
            h, c = carry  # the state at (i - 1, j + 1)
            return lstm_cell(z + tf.matmul(h, kernel[1]), c)

        hs, _ = scan(column_step, columns, (zeros, zeros), self.unroll)  # [W, B, h], right first
        backward = tf.transpose(tf.reverse(hs, axis=[0]), [1, 0, 2])  # -> [B, W, h]
        return dict(cache, bw=backward, up=cache["h"])

    def step(self, pixel, cache, column):
        """The layer's output at pixel ``(i, column)``.

        Args:
            pixel: ``[B, 1, 1, F]``, the input at the pixel.
            cache: from `init_cache`, `step_row` or the last `step`.
            column: scalar int ``j``.

        Returns:
            ``(out [B, 1, 1, units], cache)``.  Calling `step` again at the
            same pixel (its next channel) overwrites it.
        """
        pixel = tf.cast(pixel, self.compute_dtype)
        width = tf.shape(cache["h"])[1]
        here = tf.equal(tf.range(width), column)[None, :, None]  # [1, W, 1]
        inputs = tf.where(here, pixel[:, 0], cache["inputs"])  # write x(i, j)
        kernel = self._state_kernels()[0]
        z = self.forward_input(pixel)[:, 0, 0]  # [B, 4h]
        left = tf.maximum(column - 1, 0)
        has_left = tf.cast(column > 0, z.dtype)
        h_left = tf.gather(cache["h"], left, axis=1) * has_left  # [B, h], zero at j = 0
        c_left = tf.gather(cache["c"], left, axis=1) * has_left
        z = z + tf.matmul(tf.gather(cache["up"], column, axis=1), kernel[0]) + tf.matmul(h_left, kernel[1])
        h, c = lstm_cell(z, c_left)  # [B, h] each
        out = h + tf.gather(cache["bw"], column, axis=1)  # + h_bw(i - 1, j)
        return out[:, None, None, :], write_state(cache, here, h, c, inputs)  # [B, h] -> [B, 1, 1, h]

    def get_config(self):
        config = super().get_config()
        config.update(
            {"units": self.units, "data_channels": self.data_channels, "shift_backward": self.shift_backward}
        )
        return config
