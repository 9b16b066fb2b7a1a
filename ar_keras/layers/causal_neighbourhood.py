"""The causal neighbourhood of every pixel: RIDE's input window, as a fixed masked convolution.

Theis & Bethge, "Generative Image Modeling Using Spatial LSTMs", NeurIPS 2015
(the input of the spatial LSTM at pixel ``(i, j)`` is the causal neighbourhood
``x_<ij`` of that pixel; the official code builds it with
``cmt.tools.generate_masks([nb_size] * channels)``).

For a window width ``n = nb_size`` (odd) the window has ``R = n // 2 + 1`` rows
and ``n`` columns, with the output pixel at its bottom row, middle column.
Pixel ``(i, j)`` sees, in every channel::

    rows i - R + 1 .. i - 1, columns j - n//2 .. j + n//2      (the rows above)
    row  i,                  columns j - n//2 .. j - 1         (the pixels to the left)

and never pixel ``(i, j)`` itself or anything later in raster order.  For
``nb_size = 5`` that is ``2 x 5 + 2 = 12`` pixels (times C channels).  At the
borders the window reaches outside the image and reads zeros (the image is
zero-padded ``R - 1`` rows on top and ``n // 2`` columns left and right).
RIDE itself scores only the *reachable* pixels whose window lies inside the
image: ``(H - R + 1) x (W - 2 (n // 2))`` of them (`reachable_region`).

The features are laid out position-major: feature ``p * C + c`` is channel
``c`` of the ``p``-th window position in raster order of the window.  The full
pass is a ``R x n`` convolution with a constant one-hot kernel (exact copies of
the pixel values: no weights, nothing to learn); `step` slices the same window
out of a partial image, so both give bit-identical features.

Example:
    >>> nb = CausalNeighbourhood(nb_size=5)
    >>> nb(tf.zeros([2, 8, 8, 1])).shape                  # 12 pixels x 1 channel
    TensorShape([2, 8, 8, 12])
"""

import keras
import numpy as np
import tensorflow as tf

__all__ = ["CausalNeighbourhood", "causal_window_mask", "reachable_region"]


def causal_window_mask(nb_size):
    """``[R, n]`` bool: the causal half of an ``n``-wide window (output at ``(R - 1, n // 2)``)."""
    n = int(nb_size)
    if n < 3 or n % 2 == 0:
        raise ValueError(f"nb_size must be odd and >= 3 (the window must hold a pixel), got {nb_size!r}.")
    rows = n // 2 + 1
    mask = np.zeros([rows, n], bool)
    mask[: rows - 1] = True
    mask[rows - 1, : n // 2] = True
    return mask


def reachable_region(image_shape, nb_size):
    """``(row_slice, col_slice)``: the pixels whose whole causal window lies inside the image.

    RIDE (``ride.py``, ``_preprocess``) models only these: ``H - R + 1`` rows from
    row ``R - 1`` and ``W - 2 (n // 2)`` columns from column ``n // 2``.
    """
    H, W = int(image_shape[0]), int(image_shape[1])
    n = int(nb_size)
    rows, half = n // 2 + 1, n // 2
    if H < rows or W < n:
        raise ValueError(
            f"an image of {H}x{W} pixels has no pixel whose {rows}x{n} causal window "
            "lies inside it (no reachable pixel)."
        )
    return slice(rows - 1, H), slice(half, W - half)


@keras.saving.register_keras_serializable(package="ar_keras")
class CausalNeighbourhood(keras.layers.Layer):
    """Per-pixel causal neighbourhood features (no weights).

    Args:
        nb_size: odd window width n >= 3 (RIDE: 5).

    Call arguments:
        x: float ``[B, H, W, C]``.

    Returns:
        ``[B, H, W, P * C]`` with ``P = (R - 1) n + n // 2`` window positions.
    """

    def __init__(self, nb_size=5, **kwargs):
        super().__init__(**kwargs)
        self.nb_size = int(nb_size)
        self.mask = causal_window_mask(self.nb_size)
        self.positions = np.argwhere(self.mask)  # [P, 2] (row, col), raster
        self.window_rows = self.mask.shape[0]

    @property
    def num_positions(self):
        """P, the pixels of the causal window."""
        return len(self.positions)

    def build(self, input_shape):
        self.channels = int(input_shape[-1])
        super().build(input_shape)

    def _kernel(self, channels):
        R, n, P, C = self.window_rows, self.nb_size, self.num_positions, channels
        kernel = np.zeros([R, n, C, P * C], np.float32)
        for p, (r, c) in enumerate(self.positions):
            kernel[r, c, np.arange(C), p * C + np.arange(C)] = 1.0
        return tf.constant(kernel)

    def _pad(self, x):
        half = self.nb_size // 2
        return tf.pad(x, [[0, 0], [self.window_rows - 1, 0], [half, half], [0, 0]])

    def call(self, x):
        x = tf.cast(x, self.compute_dtype)
        kernel = tf.cast(self._kernel(int(x.shape[-1])), self.compute_dtype)
        return tf.nn.conv2d(self._pad(x), kernel, strides=1, padding="VALID")

    def step(self, image, i, j):
        """The features of pixel ``(i, j)`` of a (partial) image ``[n, H, W, C]``: ``[n, P * C]``.

        Only pixels before ``(i, j)`` are read, so the image may hold anything
        (zeros, the sample so far) at ``(i, j)`` and after.
        """
        image = tf.cast(image, self.compute_dtype)
        C = int(image.shape[-1])
        R, n = self.window_rows, self.nb_size
        window = tf.slice(self._pad(image), tf.stack([0, i, j, 0]), tf.stack([-1, R, n, -1]))  # [n, R, nb, C]
        window = tf.reshape(window, [-1, R * n, C])  # [n, R, nb, C] -> [n, R nb, C]
        flat = self.positions[:, 0] * n + self.positions[:, 1]
        picked = tf.gather(window, flat, axis=1)  # [n, P, C]
        return tf.reshape(picked, [-1, self.num_positions * C])  # [n, P, C] -> [n, P C]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_positions * int(input_shape[-1]),)

    def get_config(self):
        config = super().get_config()
        config["nb_size"] = self.nb_size
        return config
