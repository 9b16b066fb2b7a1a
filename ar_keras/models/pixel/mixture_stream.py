"""Cache plumbing shared by the cached samplers of PixelCNN++ and PixelSNAIL.

Both models feed their network ``x`` in ``[-1, 1]`` plus a channel of ones
(`network_inputs`), condition every block on a one-hot class
(`class_conditioning`), start their ul stream with
``ul_0 = down_shift(conv_1x3(x)) + right_shift(conv_2x1(x))`` (`ul_init_at`
computes it at one pixel), and end in a discretized logistic mixture per
pixel shared by the pixel's channels.  Their cached ``step`` computes that
mixture once, at a pixel's first channel, and reuses it for the later
channels (`mixture_step`); `cond_update` carries only the cache entries an
update touches through a `tf.cond`.

These are private helpers of the two model files (not part of the public
API); the models' docstrings describe the caches themselves.
"""

import tensorflow as tf

__all__ = [
    "class_conditioning",
    "network_inputs",
    "padded_inputs",
    "ul_init_at",
    "cond_update",
    "mixture_step",
]


def class_conditioning(num_classes, conditional):
    """The one-hot class ``h [B, num_classes]`` every gated block adds ``V h`` of, or None."""
    if num_classes is None:
        return None
    return tf.one_hot(conditional, num_classes)  # [B] -> [B, num_classes]


def network_inputs(head, x):
    """``x [B, H, W, C]`` levels -> ``[B, H, W, C + 1]``: values in [-1, 1] and ones.

    The channel of ones marks the image against the convolutions' zero padding.
    """
    v = head.scale_levels(x)
    return tf.concat([v, tf.ones_like(v[..., :1])], axis=-1)


def padded_inputs(head, x):
    """`network_inputs` of ``x [B, H, W, C]`` padded for pixel-wise streaming: ``[B, H + 2, W + 2, C + 1]``.

    Two zero rows on top and one zero column each side: row r of the result
    is input row r - 2, column c is input column c - 1.
    """
    return tf.pad(network_inputs(head, x), [[0, 0], [2, 0], [1, 1], [0, 0]])


def ul_init_at(above, left, xp, row, col):
    """``ul_0 = down_shift(above(x)) + right_shift(left(x))`` at pixel ``(row, col)``: ``[B, 1, 1, F]``.

    Args:
        above: the 1x3 `DownShiftedConv2D` (reads input row ``row - 1``,
            columns ``col - 1 .. col + 1``).
        left: the 2x1 `DownRightShiftedConv2D` (reads input rows
            ``row - 1 .. row`` at column ``col - 1``).
        xp: `padded_inputs` of the sample so far.
        row, col: int32 scalars.
    """
    # xp row row + 1 is input row row - 1; xp column col is input column col - 1.
    window_above = tf.slice(xp, tf.stack([0, row + 1, col, 0]), [-1, 1, 3, -1])  # [B, 1, 3, C+1]
    window_left = tf.slice(xp, tf.stack([0, row + 1, col, 0]), [-1, 2, 1, -1])  # [B, 2, 1, C+1]
    # The zero row of down_shift and the zero column of right_shift.
    dtype = above.compute_dtype
    return above.call_padded(window_above) * tf.cast(row > 0, dtype) + left.call_padded(
        window_left
    ) * tf.cast(col > 0, dtype)


def cond_update(pred, update, cache, keys):
    """``update(cache)`` if ``pred`` else ``cache``, carrying only ``keys`` through the cond.

    Every tensor a `tf.cond` returns costs a few runtime ops per step; the
    branches read the rest of the cache as captured inputs.
    """
    keys = sorted(keys)

    def updated():
        result = update(cache)
        return {k: result[k] for k in keys}

    new = tf.cond(pred, updated, lambda: {k: cache[k] for k in keys})
    return dict(cache, **new)


def mixture_step(head, x, cache, index, channels, new_pixel, keys=None):
    """The cache protocol's step for a model with one logistic mixture per pixel.

    Args:
        head: the `DiscretizedLogisticMixture`.
        x: ``[n, D]``, the partial sample.
        cache: the model's cache; ``cache["pixel"] [n, R]`` is the mixture of
            the current pixel.
        index: int32 scalar, the element to draw (pixel ``index // C``,
            channel ``index % C``).
        channels: C.
        new_pixel: ``cache -> cache`` that runs the network at the pixel and
            sets ``cache["pixel"]``; it reads the partial sample as
            ``cache["x"]``.  Called at the pixel's first channel only.
        keys: the cache entries ``new_pixel`` changes (default: all).

    Returns:
        ``(params [n, 3M] of element index, cache)``.
    """
    C = channels
    pixel, channel = index // C, index % C
    cache = dict(cache, x=x)  # the partial sample, read by new_pixel
    if C == 1:
        cache = new_pixel(cache)
    else:
        keys = [k for k in cache if k != "x"] if keys is None else keys
        cache = cond_update(tf.equal(channel, 0), new_pixel, cache, keys)
    # [n, C]: the pixel's channels drawn so far (the later ones are not read).
    current = tf.gather(x, pixel * C + tf.range(C), axis=1)
    params = head.element_params(cache["pixel"], current)  # [n, C, 3M]
    del cache["x"]
    return tf.gather(params, channel, axis=1), cache  # [n, 3M]
