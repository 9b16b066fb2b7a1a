"""Shift-based causal convolutions (PixelCNN++), and row buffers for streaming them.

Salimans et al., "PixelCNN++", ICLR 2017, sec. 2.3 and Fig. 2 (the
reference code's ``down_shifted_conv2d`` family).

Instead of masking a kernel, these layers pad their input on the top (and
left) only, so an output can only see what lies above (and to the left):
causality by construction, with every kernel tap used.

* `DownShiftedConv2D`, kernel ``(kh, kw)`` with kw odd: output ``(i, j)`` at
  stride s reads input rows ``s*i - kh + 1 .. s*i`` and columns
  ``s*j - (kw-1)/2 .. s*j + (kw-1)/2`` (zero outside the image).  Rows
  ``<= i`` only; followed by `down_shift` it sees rows ``< i`` only.
* `DownRightShiftedConv2D`, kernel ``(kh, kw)``: rows ``s*i - kh + 1 .. s*i``,
  columns ``s*j - kw + 1 .. s*j``: above and to the left, current pixel
  included; followed by `right_shift` (or fed only by streams that exclude
  the current pixel) it is strictly causal.
* `DownShiftedConv2DTranspose` / `DownRightShiftedConv2DTranspose`: the
  stride-s upsampling counterparts; output row ``r`` receives input rows ``i``
  with ``s*i <= r`` only (and for the down-right one columns ``s*j <= c``), so
  an upsampled map is as causal as its input.  The output is cropped to
  ``output_size`` (odd sizes and sizes 1, 2, 3 work: the model crops to its
  skip connection's size).

With ``s = 1``, output sizes equal input sizes; with ``s = 2``, a strided conv
gives ``ceil(H / 2) x ceil(W / 2)``.

Streaming (the cached samplers)
-------------------------------
A causal conv with ``kh`` rows needs only the last ``kh`` rows of its input.
`init_buffer` / `push_row` / `write_column` keep those rows, padded on the
left and right like `call` pads them; `row_output` and `position_output`
compute one output row, or one output pixel, from the buffer with the same
kernel and a 'VALID' convolution, so a sampler that generates row by row (or
pixel by pixel) recomputes O(width) (or O(1)) outputs per layer per step
instead of the whole map.

Example:
    >>> conv = DownShiftedConv2D(8, (2, 3))
    >>> y = conv(tf.zeros([1, 5, 5, 3]))                     # [1, 5, 5, 8]
    >>> buf = conv.init_buffer(1, 5, 3)                      # [1, 2, 7, 3]
    >>> buf = conv.push_row(buf, tf.zeros([1, 1, 5, 3]))
    >>> conv.row_output(buf).shape                           # one output row
    TensorShape([1, 1, 5, 8])
"""

import keras
import tensorflow as tf

__all__ = [
    "down_shift",
    "right_shift",
    "DownShiftedConv2D",
    "DownRightShiftedConv2D",
    "DownShiftedConv2DTranspose",
    "DownRightShiftedConv2DTranspose",
]


def down_shift(x, rows=1):
    """Row i takes row i - rows (the first rows take zeros): ``[B, H, W, F]`` -> same."""
    height = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
    return tf.pad(x, [[0, 0], [rows, 0], [0, 0], [0, 0]])[:, :height]


def right_shift(x, cols=1):
    """Column j takes column j - cols (the first columns take zeros): ``[B, H, W, F]`` -> same."""
    width = x.shape[2] if x.shape[2] is not None else tf.shape(x)[2]
    return tf.pad(x, [[0, 0], [0, 0], [cols, 0], [0, 0]])[:, :, :width]


def _pair(value, name):
    if isinstance(value, int):
        value = (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}.")
    return value


class _ShiftedKernel(keras.layers.Layer):
    """The arguments, weights and config shared by the shifted convolutions and their transposes."""

    def __init__(
        self, filters, kernel_size, strides=1, use_bias=True, kernel_initializer="glorot_uniform", **kwargs
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = int(strides)
        if self.strides < 1:
            raise ValueError(f"strides must be >= 1, got {strides}.")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _kernel_shape(self, channels):
        raise NotImplementedError

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=self._kernel_shape(int(input_shape[-1])), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
            if self.use_bias
            else None
        )

    def compute_kernel(self):
        """The kernel in the layer's compute dtype."""
        return tf.cast(self.kernel, self.compute_dtype)

    def _add_bias(self, y):
        return y + tf.cast(self.bias, self.compute_dtype) if self.bias is not None else y

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config


class _ShiftedConv2D(_ShiftedKernel):
    """Common code: pad top ``kh - 1`` rows and ``(left, right)`` columns, then 'VALID'."""

    def _columns(self):
        raise NotImplementedError

    @property
    def padding(self):
        """``(top, left, right)`` zero padding that `call` applies."""
        left, right = self._columns()
        return self.kernel_size[0] - 1, left, right

    def _kernel_shape(self, channels):
        return self.kernel_size + (channels, self.filters)  # [kh, kw, in, out]

    def call_padded(self, padded):
        """The convolution of an input already padded by `padding` ('VALID')."""
        s = self.strides
        padded = tf.cast(padded, self.compute_dtype)  # a raw op: no Keras autocast of inputs
        y = tf.nn.conv2d(padded, self.compute_kernel(), strides=[1, s, s, 1], padding="VALID")
        return self._add_bias(y)

    def call(self, inputs):
        top, left, right = self.padding
        # [B, H, W, F] -> [B, H + top, W + left + right, F]: output (i, j) reads
        # only rows <= s*i (and, for the down-right conv, columns <= s*j).
        padded = tf.pad(tf.cast(inputs, self.compute_dtype), [[0, 0], [top, 0], [left, right], [0, 0]])
        return self.call_padded(padded)

    # --------------------------------------------------------------- streaming
    def init_buffer(self, batch, width, channels):
        """Zeros ``[B, kh, left + width + right, channels]``: the rows above row 0."""
        _, left, right = self.padding
        return tf.zeros(
            tf.stack([batch, self.kernel_size[0], left + width + right, channels]), self.compute_dtype
        )

    def push_row(self, buffer, row):
        """Drops the oldest row and appends ``row [B, 1, width, C]`` (padded)."""
        _, left, right = self.padding
        row = tf.cast(row, buffer.dtype)
        row = tf.pad(row, [[0, 0], [0, 0], [left, right], [0, 0]])  # [B, 1, W, C] -> [B, 1, Wp, C]
        return tf.concat([buffer[:, 1:], row], axis=1)

    def start_row(self, buffer):
        """Appends an empty row (to be filled by `write_column`)."""
        return tf.concat([buffer[:, 1:], tf.zeros_like(buffer[:, :1])], axis=1)

    def write_column(self, buffer, column, value):
        """``buffer[:, -1, left + column] = value`` for ``value [B, 1, 1, C]``."""
        _, left, _ = self.padding
        width = buffer.shape[2] if buffer.shape[2] is not None else tf.shape(buffer)[2]
        hit = tf.equal(tf.range(width), column + left)[None, None, :, None]  # [1, 1, Wp, 1]
        last = tf.where(hit, tf.cast(value, buffer.dtype), buffer[:, -1:])  # [B, 1, Wp, C]
        return tf.concat([buffer[:, :-1], last], axis=1)

    def row_output(self, buffer):
        """The output row whose input rows the buffer holds: ``[B, 1, W_out, filters]``."""
        return self.call_padded(buffer)

    def position_output(self, buffer, column):
        """Output pixel ``column`` of that row: ``[B, 1, 1, filters]``."""
        kw, s = self.kernel_size[1], self.strides
        window = tf.gather(buffer, s * column + tf.range(kw), axis=2)  # [B, kh, kw, C]
        return self.call_padded(window)


@keras.saving.register_keras_serializable(package="ar_keras")
class DownShiftedConv2D(_ShiftedConv2D):
    """Convolution over the rows above and including the current one (PixelCNN++'s u stream).

    Args:
        filters: output features.
        kernel_size: ``(kh, kw)``, kw odd (default ``(2, 3)``).
        strides: s (1, or 2 to downsample).
        use_bias, kernel_initializer: as in `keras.layers.Conv2D`.

    Call arguments:
        inputs: ``[B, H, W, C]``.

    Returns:
        ``[B, ceil(H/s), ceil(W/s), filters]``; output ``(i, j)`` depends on
        input rows ``<= s*i`` only.
    """

    def __init__(self, filters, kernel_size=(2, 3), strides=1, **kwargs):
        super().__init__(filters, kernel_size, strides, **kwargs)
        if self.kernel_size[1] % 2 == 0:
            raise ValueError(f"a down-shifted kernel needs an odd width, got {self.kernel_size}.")

    def _columns(self):
        half = (self.kernel_size[1] - 1) // 2
        return half, half


@keras.saving.register_keras_serializable(package="ar_keras")
class DownRightShiftedConv2D(_ShiftedConv2D):
    """Convolution over the pixels above and to the left, current pixel included (the ul stream).

    Args:
        filters: output features.
        kernel_size: ``(kh, kw)`` (default ``(2, 2)``).
        strides: s.
        use_bias, kernel_initializer: as in `keras.layers.Conv2D`.

    Returns:
        ``[B, ceil(H/s), ceil(W/s), filters]``; output ``(i, j)`` depends on
        input ``(r, c)`` with ``r <= s*i`` and ``c <= s*j`` only.
    """

    def __init__(self, filters, kernel_size=(2, 2), strides=1, **kwargs):
        super().__init__(filters, kernel_size, strides, **kwargs)

    def _columns(self):
        return self.kernel_size[1] - 1, 0


class _ShiftedConv2DTranspose(_ShiftedKernel):
    """Transposed conv, 'VALID', then cropped to keep the causal part."""

    def __init__(self, filters, kernel_size, strides=2, **kwargs):
        super().__init__(filters, kernel_size, strides, **kwargs)

    def _left_crop(self):
        raise NotImplementedError

    def _kernel_shape(self, channels):
        return self.kernel_size + (self.filters, channels)  # conv2d_transpose: [kh, kw, out, in]

    def call(self, inputs, output_size=None):
        """``[B, H, W, C]`` -> ``[B, H_out, W_out, filters]``, ``output_size = (H_out, W_out)``
        (default ``(s*H, s*W)``; at most that)."""
        kh, kw = self.kernel_size
        s = self.strides
        height, width = inputs.shape[1], inputs.shape[2]
        if output_size is None:
            output_size = (s * height, s * width)
        out_h, out_w = (int(v) for v in output_size)
        if out_h > s * height or out_w > s * width:
            raise ValueError(f"output_size {output_size} exceeds {(s * height, s * width)}.")
        # The full 'VALID' transposed conv is [(H-1)s + kh, (W-1)s + kw]; we ask
        # for [Hs + kh - 1, Ws + kw - 1] (also a valid size for these strides)
        # so that the crops below never run out of rows or columns.
        inputs = tf.cast(inputs, self.compute_dtype)
        full = tf.stack([tf.shape(inputs)[0], height * s + kh - 1, width * s + kw - 1, self.filters])
        y = tf.nn.conv2d_transpose(inputs, self.compute_kernel(), full, strides=[1, s, s, 1], padding="VALID")
        left = self._left_crop()
        # Keep rows [0, H_out): row r receives input rows i with s*i <= r only.
        y = y[:, :out_h, left : left + out_w]  # [B, Hf, Wf, F] -> [B, Ho, Wo, F]
        return self._add_bias(y)


@keras.saving.register_keras_serializable(package="ar_keras")
class DownShiftedConv2DTranspose(_ShiftedConv2DTranspose):
    """Stride-s upsampling of the u stream (default kernel ``(2, 3)``, stride 2).

    Output ``(r, c)`` receives input ``(i, j)`` with ``s*i <= r`` (any column
    within the kernel's reach): rows above stay above.
    """

    def __init__(self, filters, kernel_size=(2, 3), strides=2, **kwargs):
        super().__init__(filters, kernel_size, strides, **kwargs)
        if self.kernel_size[1] % 2 == 0:
            raise ValueError(f"a down-shifted kernel needs an odd width, got {self.kernel_size}.")

    def _left_crop(self):
        return (self.kernel_size[1] - 1) // 2


@keras.saving.register_keras_serializable(package="ar_keras")
class DownRightShiftedConv2DTranspose(_ShiftedConv2DTranspose):
    """Stride-s upsampling of the ul stream (default kernel ``(2, 2)``, stride 2).

    Output ``(r, c)`` receives input ``(i, j)`` with ``s*i <= r`` and ``s*j <= c``.
    """

    def __init__(self, filters, kernel_size=(2, 2), strides=2, **kwargs):
        super().__init__(filters, kernel_size, strides, **kwargs)

    def _left_crop(self):
        return 0
