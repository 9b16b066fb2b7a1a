"""The pixel groups of the Parallel Multiscale PixelCNN, and its 2x2-block tensor maths.

Reed, van den Oord, Kalchbrenner, Gomez Colmenarejo, Wang, Chen, Belov & de
Freitas, "Parallel Multiscale Autoregressive Density Estimation", ICML 2017,
sec. 3 and Fig. 2.

An ``S x S x C`` image with ``S = b 2^L`` is generated scale by scale: the
``b x b`` base ``x^(0)`` in raster order (one element per step, channels
innermost), then at each scale ``l = 1 .. L`` (``x^(l) = x[::2^(L-l), ::2^(L-l)]``)
the three corners of its 2x2 blocks that the previous scale lacks, `CORNERS`
in order, one channel at a time::

    1 2        1 = upper-left  (the previous scale)
    3 4        2 = upper-right, 3 = lower-left, 4 = lower-right

`generation_steps` lists those groups as flattened element indices
``(i W + j) C + c`` with the scale, corner, channel and base element of each
step; `corner_sets` and `interleave` move between an image and its four corner
sets.

Example:
    >>> groups, scale, corner, channel, element = generation_steps((4, 4, 1), num_doublings(4, 2))
    >>> [g.tolist() for g in groups]                     # 4 base pixels, then corners 2, 3, 4
    [[0], [2], [8], [10], [1, 3, 9, 11], [4, 6, 12, 14], [5, 7, 13, 15]]
    >>> scale.tolist(), corner.tolist()
    ([0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 2, 3])
"""

import numpy as np
import tensorflow as tf

__all__ = ["CORNERS", "num_doublings", "known_table", "generation_steps", "corner_sets", "interleave"]

#: ``(row, col)`` offsets inside a 2x2 block of the groups generated at each scale, in order
#: (upper-right, lower-left, lower-right; the upper-left corners are the previous scale).
CORNERS = ((0, 1), (1, 0), (1, 1))


def num_doublings(side, base_size):
    """L with ``side == base_size * 2^L``, or None."""
    if side < base_size or side % base_size:
        return None
    ratio = side // base_size
    if ratio & (ratio - 1):
        return None
    return ratio.bit_length() - 1


def known_table():
    """``[4, 2, 2]`` float: for corner index q (1..3 = upper-right, lower-left, lower-right),
    which corners of a 2x2 block are known before group q (row 0 unused)."""
    table = np.zeros((4, 2, 2), np.float32)
    for q in range(1, 4):
        table[q, 0, 0] = 1.0
        for earlier in CORNERS[: q - 1]:
            table[q][earlier] = 1.0
    return table


def generation_steps(image_shape, doublings):
    """The sampler's steps, in generation order: ``(groups, scale, corner, channel, element)``.

    ``groups``: one int32 array of flattened element indices per step; ``scale [S]`` (0 for
    the base), ``corner [S]`` (q = 1..3 for ``CORNERS[q - 1]``; 0 for the base), ``channel [S]`` and
    ``element [S]`` (the base element of a base step, else 0), int32 each.
    """
    H, W, C = image_shape
    L = doublings
    index = np.arange(H * W * C).reshape(H, W, C)  # flattened element ids
    groups, scale, corner, channel, element = [], [], [], [], []
    base = index[:: 2**L, :: 2**L]  # [b, b, C]
    for e, flat in enumerate(base.reshape(-1)):  # raster, channels innermost
        groups.append(np.array([flat]))
        scale.append(0), corner.append(0), channel.append(e % C), element.append(e)
    for l in range(1, L + 1):
        t = 2 ** (L - l)
        image = index[::t, ::t]  # [s_l, s_l, C]
        for q, (dy, dx) in enumerate(CORNERS, start=1):
            for c in range(C):
                groups.append(image[dy::2, dx::2, c].reshape(-1))  # row-major corner grid
                scale.append(l), corner.append(q), channel.append(c), element.append(0)
    steps = (np.array(v, np.int32) for v in (scale, corner, channel, element))
    return ([g.astype(np.int32) for g in groups], *steps)


def corner_sets(x):
    """``[B, s, s, F]`` -> ``[B, 4, s/2, s/2, F]``: the four corner sets of its 2x2 blocks
    (index ``2 dy + dx``)."""
    s, f = tf.shape(x)[1] // 2, tf.shape(x)[3]
    y = tf.reshape(x, tf.stack([-1, s, 2, s, 2, f]))  # [B, s, s, F] -> [B, s/2, 2, s/2, 2, F]
    y = tf.transpose(y, [0, 2, 4, 1, 3, 5])  # -> [B, 2, 2, s/2, s/2, F]
    return tf.reshape(y, tf.stack([-1, 4, s, s, f]))  # -> [B, 4, s/2, s/2, F]


def interleave(corners):
    """Inverse of `corner_sets` for params: 4 tensors ``[B, s, s, C, K]`` (upper-left,
    upper-right, lower-left, lower-right) -> ``[B, 2s, 2s, C, K]`` (at most 6-D, for TFLite)."""
    shape = tf.shape(corners[0])
    b, s, ck = shape[0], shape[1], shape[3] * shape[4]
    y = tf.stack([tf.reshape(c, tf.stack([b, s, s, ck])) for c in corners], axis=1)
    # 4 x [B, s, s, C, K] -> 4 x [B, s, s, C K] -> [B, 4, s, s, C K]
    y = tf.reshape(y, tf.stack([b, 2, 2, s, s, ck]))  # -> [B, 2, 2, s, s, C K]
    y = tf.transpose(y, [0, 3, 1, 4, 2, 5])  # -> [B, s, 2, s, 2, C K]
    return tf.reshape(y, tf.concat([[b, 2 * s, 2 * s], shape[3:]], 0))  # -> [B, 2s, 2s, C, K]
