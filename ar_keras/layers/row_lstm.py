"""PixelRNN's Row LSTM: an LSTM that runs down the image one row at a time.

van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks",
ICML 2016, sec. 3.1 (Figure 4, left).  For an input map ``x [B, H, W, F]``
and ``h`` units, row ``i`` of the state is computed from row ``i`` of the
input and row ``i - 1`` of the state::

    z_i = K_is (*) x_i  +  K_ss (*) h_{i-1}                  [B, W, 4h]
    (h_i, c_i) = lstm_cell(z_i, c_{i-1})                     (see `lstm_cell`)

* **input-to-state** ``K_is``: the paper's "k x 1" convolution, which runs
  *along the row* (spatially ``1 x k``, here ``k = kernel_size = 3``), masked
  B: pixel ``(i, j)`` reads the input at ``(i, j - k//2 .. j)``, the centre
  tap split into R -> G -> B channel groups (a group sees groups ``<=`` its
  own; see `ar_keras.layers.masking.conv_mask`).  It has no recurrence, so it
  runs over the whole map in one convolution.
* **state-to-state** ``K_ss``: a ``3 x 1`` convolution (spatially ``1 x 3``,
  unmasked, no bias) over the previous row of the state: pixel ``(i, j)``
  reads ``h_{i-1}(j - 1 .. j + 1)``.  The previous row is entirely in the
  past, so it needs no mask.
* the cell ``c`` runs down the columns: ``c_i(j) = f * c_{i-1}(j) + i * g``.
* initial state: ``h_{-1} = c_{-1} = 0`` (zero, not learned: the paper
  does not say, and a zero state keeps cached sampling trivially exact).

**Receptive field.**  One layer at ``(i, j)`` reads its input at
``(i, j - k//2 .. j)`` and, through ``h_{i-1}(j - 1 .. j + 1)``, row
``i - d`` at columns ``j - d - k//2 .. j + d``: a triangle opening upwards,
which misses the pixels right of ``j + d`` on the row ``d`` above (the
paper's "triangular receptive field"; a stack of layers widens it to the
left only).

The rows are processed by `tf.scan` (one `tf.while_loop`), not a Python loop.

**Streaming** (cached sampling, raster order): `init_cache` gives zeros;
`step_row` is called at the start of each row ``i >= 1`` and makes the row
just finished the "previous row"; `step` at pixel ``(i, j)`` writes the
pixel's input into a row buffer, reads the ``k//2 + 1`` inputs up to it and
the previous row's state around ``j``, and returns ``h_i(j)``: ``O(1)`` per
pixel.  Calling `step` again at the same pixel (the next channel of a pixel)
overwrites it.

Cache (``half = kernel_size // 2``)::

    "inputs": [B, half + W, F]  the current row's inputs, half zero columns on the left
    "h", "c": [B, W, h]         the current row's state (pixels < j done)
    "up_h", "up_c": [B, W, h]   the previous row's state

Example:
    >>> layer = RowLSTM(units=4, data_channels=1)
    >>> x = tf.random.normal([2, 5, 6, 8])
    >>> layer(x).shape
    TensorShape([2, 5, 6, 4])
    >>> cache = layer.init_cache(2, width=6)
    >>> h_00, cache = layer.step(x[:, :1, :1], cache, column=0)   # == layer(x)[:, :1, :1]
"""

import keras
import tensorflow as tf

from ar_keras.layers.lstm_cell import lstm_cell, scan, write_state
from ar_keras.layers.masked_conv2d import MaskedConv2D

__all__ = ["RowLSTM"]


@keras.saving.register_keras_serializable(package="ar_keras")
class RowLSTM(keras.layers.Layer):
    """Row LSTM layer (masked, streamable).

    Args:
        units: h, the state features (per gate); at least ``data_channels``.
        kernel_size: k (odd), the width of the input-to-state convolution
            along the row.
        state_kernel_size: the width of the state-to-state convolution
            along the previous row (odd; the paper's 3).
        data_channels: C, the R -> G -> B channel groups.

    Call arguments:
        inputs: ``[B, H, W, F]``.

    Returns:
        ``[B, H, W, units]``, the hidden state ``h`` at every pixel.
    """

    def __init__(self, units, kernel_size=3, state_kernel_size=3, data_channels=1, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kernel_size = int(kernel_size)
        self.state_kernel_size = int(state_kernel_size)
        self.data_channels = int(data_channels)
        for name, k in (("kernel_size", self.kernel_size), ("state_kernel_size", self.state_kernel_size)):
            if k < 1 or k % 2 == 0:
                raise ValueError(f"{name} must be odd and >= 1, got {k}.")
        if self.units < self.data_channels:
            raise ValueError(f"units ({units}) must be at least data_channels ({data_channels}).")
        #: Python loops instead of tf.while_loops (static sizes): set only while a model
        #: traces its TFLite signatures (see `ar_keras.layers.lstm_cell.scan`); not config.
        self.unroll = False
        self.input_conv = MaskedConv2D(
            4 * self.units,
            (1, self.kernel_size),
            mask_type="B",
            data_channels=self.data_channels,
            out_splits=4,
            dtype=self.dtype_policy,
            name="input_to_state",
        )

    def build(self, input_shape):
        self.input_conv.build(input_shape)
        self.state_kernel = self.add_weight(
            name="state_kernel",
            shape=(self.state_kernel_size, self.units, 4 * self.units),
            initializer="glorot_uniform",
        )

    def _state_conv(self, h):
        """``h_{i-1} [B, W, h]`` -> ``K_ss (*) h_{i-1} [B, W, 4h]`` (zero padded)."""
        return tf.nn.conv1d(h, tf.cast(self.state_kernel, self.compute_dtype), stride=1, padding="SAME")

    def call(self, inputs):
        pre = self.input_conv(tf.cast(inputs, self.compute_dtype))  # [B, H, W, 4h]
        rows = tf.transpose(pre, [1, 0, 2, 3])  # [B, H, W, 4h] -> [H, B, W, 4h]
        zeros = tf.zeros_like(rows[0, :, :, : self.units])  # [B, W, h]

        def row_step(carry, z_row):
            h, c = carry
            return lstm_cell(z_row + self._state_conv(h), c)

        hs, _ = scan(row_step, rows, (zeros, zeros), self.unroll)  # [H, B, W, h]
        return tf.transpose(hs, [1, 0, 2, 3])  # [H, B, W, h] -> [B, H, W, h]

    # ------------------------------------------------------------- streaming
    def init_cache(self, batch, width, dtype=None):
        """The state before pixel ``(0, 0)`` of ``batch`` images ``width`` wide (layer built)."""
        if not self.built:
            raise ValueError(f"{self.name}: build or call the layer before init_cache.")
        dtype = dtype or self.compute_dtype
        features = self.input_conv.kernel.shape[2]
        zeros = tf.zeros(tf.stack([batch, width, self.units]), dtype)
        half = self.kernel_size // 2
        return {
            "inputs": tf.zeros(tf.stack([batch, width + half, features]), dtype),
            "h": zeros,
            "c": zeros,
            "up_h": zeros,
            "up_c": zeros,
        }

    def step_row(self, cache):
        """Enters row ``i >= 1``: the current row's state becomes the previous row's."""
        return dict(cache, up_h=cache["h"], up_c=cache["c"])

    def step(self, pixel, cache, column):
        """``h`` at pixel ``(i, column)``.

        Args:
            pixel: ``[B, 1, 1, F]``, the input at the pixel.
            cache: from `init_cache`, `step_row` or the last `step`.
            column: scalar int ``j``.

        Returns:
            ``(h [B, 1, 1, units], cache)``.
        """
        half, s_half = self.kernel_size // 2, self.state_kernel_size // 2
        pixel = tf.cast(pixel, self.compute_dtype)
        buffer = cache["inputs"]
        at = tf.equal(tf.range(tf.shape(buffer)[1]), column + half)[None, :, None]  # [1, half + W, 1]
        buffer = tf.where(at, pixel[:, 0], buffer)  # write x(i, j)
        window = tf.gather(buffer, column + tf.range(half + 1), axis=1)  # [B, half + 1, F]
        # Taps right of the centre are masked to zero: the left half + 1 taps are the whole kernel.
        kernel = self.input_conv.masked_kernel()[0, : half + 1]  # [half + 1, F, 4h]
        z = tf.einsum("bkf,kfo->bo", window, kernel) + self.input_conv.compute_bias()  # [B, 4h]
        up = tf.pad(cache["up_h"], [[0, 0], [s_half, s_half], [0, 0]])  # [B, W + 2 s_half, h]
        above = tf.gather(up, column + tf.range(2 * s_half + 1), axis=1)  # [B, state k, h]
        state_kernel = tf.cast(self.state_kernel, self.compute_dtype)
        z = z + tf.einsum("bkf,kfo->bo", above, state_kernel)  # [B, 4h]
        h, c = lstm_cell(z, tf.gather(cache["up_c"], column, axis=1))  # [B, h] each
        here = tf.equal(tf.range(tf.shape(cache["h"])[1]), column)[None, :, None]  # [1, W, 1]
        return h[:, None, None, :], write_state(cache, here, h, c, buffer)  # [B, h] -> [B, 1, 1, h]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "kernel_size": self.kernel_size,
                "state_kernel_size": self.state_kernel_size,
                "data_channels": self.data_channels,
            }
        )
        return config
