"""Skew and unskew: the diagonal re-indexing of PixelRNN's Diagonal BiLSTM.

van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks",
ICML 2016, sec. 3.2 (Figure 3): each row of an input map is shifted right by
its own index, so that the diagonals of the image become the columns of the
skewed map.  For ``x [B, H, W, C]``::

    skew(x)[b, i, i + j, c] = x[b, i, j, c]        skewed map [B, H, W + H - 1, C]

and every other entry of the skewed map is zero (``i`` zeros on the left of
row ``i``, ``H - 1 - i`` on its right).  For a square ``n x n`` image the
skewed map is ``n x (2n - 1)``.  `unskew` is the inverse:
``unskew(s)[b, i, j] = s[b, i, i + j]``.

A convolution along a column of the skewed map then runs along a diagonal of
the image: skewed position ``(i, i + j - 1)`` is image ``(i, j - 1)`` and
skewed ``(i - 1, i + j - 1)`` is image ``(i - 1, j)``.

**Vectorised, no loop over rows.**  Both directions are one pad and two
reshapes.  Padding each row with ``H`` zeros on the right gives rows of
length ``W + H``; laid out flat, ``x[i, j]`` sits at ``i (W + H) + j``.
Dropping the last ``H`` entries and reading the rest as rows of length
``W + H - 1`` puts it at row ``i + floor((i + j) / (W + H - 1)) = i`` (as
``i + j <= W + H - 2``), column ``i (W + H) + j - i (W + H - 1) = i + j``.
`unskew` runs the same steps backwards.  Sizes may be dynamic.

Example:
    >>> x = tf.reshape(tf.range(6.0), [1, 2, 3, 1])
    >>> tf.squeeze(skew(x)).numpy().tolist()
    [[0.0, 1.0, 2.0, 0.0], [0.0, 3.0, 4.0, 5.0]]
    >>> bool(tf.reduce_all(unskew(skew(x)) == x))
    True
"""

import tensorflow as tf

__all__ = ["skew", "unskew"]


def _dims(x, axis):
    """A static size where known, the dynamic one otherwise."""
    return x.shape[axis] if x.shape[axis] is not None else tf.shape(x)[axis]


def skew(x):
    """``[B, H, W, C]`` -> ``[B, H, W + H - 1, C]`` with ``out[:, i, i + j] = x[:, i, j]``."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 4:
        raise ValueError(f"skew expects a map [B, H, W, C], got shape {x.shape}.")
    batch, height, width, channels = (_dims(x, a) for a in range(4))
    padded = tf.pad(x, [[0, 0], [0, 0], [0, height], [0, 0]])  # [B, H, W + H, C]
    flat = tf.reshape(padded, [batch, height * (width + height), channels])  # -> [B, H (W + H), C]
    flat = flat[:, : height * (width + height - 1)]  # -> [B, H (W + H - 1), C]
    return tf.reshape(flat, [batch, height, width + height - 1, channels])  # -> [B, H, W + H - 1, C]


def unskew(s, width=None):
    """``[B, H, W + H - 1, C]`` -> ``[B, H, W, C]`` with ``out[:, i, j] = s[:, i, i + j]``.

    Args:
        s: a skewed map.
        width: W; default ``skewed width - H + 1``.
    """
    s = tf.convert_to_tensor(s)
    if s.shape.rank != 4:
        raise ValueError(f"unskew expects a skewed map [B, H, W + H - 1, C], got shape {s.shape}.")
    batch, height, skewed_width, channels = (_dims(s, a) for a in range(4))
    if width is None:
        width = skewed_width - height + 1
    flat = tf.reshape(s, [batch, height * skewed_width, channels])  # [B, H, W+H-1, C] -> [B, H (W+H-1), C]
    flat = tf.pad(flat, [[0, 0], [0, height], [0, 0]])  # -> [B, H (W + H), C]
    rows = tf.reshape(flat, [batch, height, width + height, channels])  # -> [B, H, W + H, C]
    return rows[:, :, :width]  # -> [B, H, W, C]
