"""The subscale ordering of an image: ``S^2`` interleaved slices, generated one after the other.

Menick & Kalchbrenner, "Generating High Fidelity Images with Subscale Pixel
Networks and Multidimensional Upscaling", ICLR 2019, sec. 3.

With subscale factor S, an ``H x W x C`` image (S dividing H and W) is cut
into ``S^2`` *slices* of ``h x w = H/S x W/S`` pixels, the slice of offset
``(a, b)`` being ``x[a::S, b::S]`` (index ``s = a S + b``).  The slices are
generated one after the other in raster order of their offsets, and each
slice in raster order inside, channels innermost::

    step t  ->  slice s = t // (h w C),  pixel (i, j) of the slice,  channel c
            ->  image element ((a + S i) W + (b + S j)) C + c          (``ordering[t]``)

`slice_image` (``[B, H, W, ...] -> [B, S^2, h, w, ...]``) and `unslice_image`
are each other's inverse (a permutation of the elements); ``S = 1`` is the
plain raster order of a PixelCNN.

Example:
    >>> import numpy as np
    >>> x = np.arange(16).reshape(1, 4, 4)
    >>> slice_image(x, 2)[0, 1].numpy()                 # slice (a, b) = (0, 1): x[0::2, 1::2]
    array([[ 1,  3],
           [ 9, 11]])
    >>> bool((unslice_image(slice_image(x, 2), 2).numpy() == x).all())
    True
    >>> subscale_ordering((4, 4, 1), 2)[:4]
    array([ 0,  2,  8, 10])
"""

import numpy as np
import tensorflow as tf

from ar_keras import checks

__all__ = ["slice_image", "unslice_image", "subscale_ordering", "check_subscale_factor"]


def slice_image(x, subscale_factor):
    """``x [B, H, W, *r]`` -> slices ``[B, S^2, H/S, W/S, *r]``, slice ``a S + b = x[:, a::S, b::S]``."""
    S = int(subscale_factor)
    x = tf.convert_to_tensor(x)
    shape = tf.shape(x)
    rest = x.shape[3:]
    H, W = x.shape[1], x.shape[2]
    h = H // S if H is not None else shape[1] // S
    w = W // S if W is not None else shape[2] // S
    y = tf.reshape(
        x, tf.concat([[-1, h, S, w, S], shape[3:]], 0)
    )  # [B, H, W, *r] -> [B, h, S(a), w, S(b), *r]
    perm = [0, 2, 4, 1, 3] + list(range(5, 5 + len(rest)))
    y = tf.transpose(y, perm)  # -> [B, S(a), S(b), h, w, *r]
    return tf.reshape(y, tf.concat([[-1, S * S, h, w], shape[3:]], 0))  # -> [B, S^2, h, w, *r]


def unslice_image(slices, subscale_factor):
    """The inverse of `slice_image`: ``[B, S^2, h, w, *rest]`` -> ``[B, h S, w S, *rest]``."""
    S = int(subscale_factor)
    slices = tf.convert_to_tensor(slices)
    shape = tf.shape(slices)
    rest = slices.shape[4:]
    h = slices.shape[2] if slices.shape[2] is not None else shape[2]
    w = slices.shape[3] if slices.shape[3] is not None else shape[3]
    y = tf.reshape(
        slices, tf.concat([[-1, S, S, h, w], shape[4:]], 0)
    )  # [B, S^2, h, w, *r] -> [B, S(a), S(b), h, w, *r]
    perm = [0, 3, 1, 4, 2] + list(range(5, 5 + len(rest)))
    y = tf.transpose(y, perm)  # -> [B, h, S(a), w, S(b), *r]
    return tf.reshape(y, tf.concat([[-1, h * S, w * S], shape[4:]], 0))  # -> [B, H, W, *r]


def subscale_ordering(image_shape, subscale_factor):
    """``[D]`` int64: ``ordering[t]`` = the raster (row-major ``H, W, C``) index generated at step t."""
    H, W, C = image_shape
    index = np.arange(H * W * C).reshape(1, H, W, C)  # raster element ids
    return slice_image(index, subscale_factor).numpy().reshape(-1)  # [1, S^2, h, w, C] -> [D]


def check_subscale_factor(image_shape, subscale_factor):
    """``subscale_factor`` as an int S >= 1 that divides the sides of ``image_shape``, or a ValueError."""
    S = checks.check_positive_int(subscale_factor, "subscale_factor")
    H, W = image_shape[0], image_shape[1]
    if H % S or W % S:
        raise ValueError(
            f"subscale_factor S={S} must divide the image sides: got image_shape "
            f"{tuple(image_shape)} (H={H}, W={W}); use sides that are multiples of {S}."
        )
    return S
