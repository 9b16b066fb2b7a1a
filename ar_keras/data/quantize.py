"""Uniform quantization between floats in ``[0, 1]`` and K integer levels.

``[0, 1]`` is cut into K bins of equal width ``1/K``; level ``k`` is the bin
``[k/K, (k+1)/K)`` (the last bin also holds 1.0)::

    quantize(x, K)   = min(floor(x * K), K - 1)          int32 in [0, K)
    dequantize(k, K) = (k + 0.5) / K                     the bin's centre

so ``quantize(dequantize(k)) == k`` exactly and
``|dequantize(quantize(x)) - x| <= 1 / (2K)``.  For 8-bit pixels ``p``,
``quantize(p / 255, 256) == p`` (``p * 256 / 255 = p + p / 255`` floors to
``p``, and ``p = 255`` lands in the last bin).

Both work on numpy arrays and tensors, eagerly and inside `tf.function` /
`tf.data.Dataset.map`.  Values are checked: eagerly with a `ValueError`, in a
graph with `tf.debugging` assertions that raise `tf.errors.InvalidArgumentError`
carrying the same message.

Example:
    >>> from ar_keras.data import dequantize, quantize
    >>> levels = quantize([0.0, 0.49, 1.0], num_levels=4)     # [0, 1, 3]
    >>> dequantize(levels, num_levels=4)
    <tf.Tensor: shape=(3,), dtype=float32, numpy=array([0.125, 0.375, 0.875], dtype=float32)>
"""

import numpy as np
import tensorflow as tf

__all__ = ["quantize", "dequantize"]


def _check_num_levels(num_levels):
    if (
        isinstance(num_levels, (bool, np.bool_))
        or not isinstance(num_levels, (int, np.integer))
        or num_levels < 2
    ):
        raise ValueError(f"num_levels must be an integer >= 2, got {num_levels!r}.")
    return int(num_levels)


def _to_tensor(x, what):
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return tf.convert_to_tensor(x)
    arr = np.asarray(x)
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise ValueError(f"{what} must be a numeric array, got dtype {arr.dtype}.")
    return tf.convert_to_tensor(arr)


def quantize(x, num_levels):
    """Floats in ``[0, 1]`` -> int32 levels in ``[0, num_levels)``.

    Args:
        x: float array or tensor, any shape, values in ``[0, 1]``.
        num_levels: K >= 2.
    Returns:
        int32 tensor of x's shape: ``min(floor(x * K), K - 1)``.
    Raises:
        ValueError: K not an integer >= 2, x not floating point, NaN, or values
            outside ``[0, 1]``.
    """
    k = _check_num_levels(num_levels)
    x = _to_tensor(x, "x")
    if not x.dtype.is_floating:
        raise ValueError(
            f"quantize expects floats in [0, 1], got dtype {x.dtype.name}; integer data are "
            "levels already (use dequantize to go the other way)."
        )
    if tf.executing_eagerly():
        arr = x.numpy()
        if np.isnan(arr).any():
            raise ValueError("quantize: x contains NaN.")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"quantize: x must lie in [0, 1], got values in [{arr.min()}, {arr.max()}].")
    else:
        msg = "quantize: x must lie in [0, 1] and not be NaN"
        with tf.control_dependencies(
            [
                tf.debugging.assert_all_finite(x, msg),
                tf.debugging.assert_greater_equal(x, tf.zeros([], x.dtype), message=msg),
                tf.debugging.assert_less_equal(x, tf.ones([], x.dtype), message=msg),
            ]
        ):
            x = tf.identity(x)
    # float64 keeps x * K exact enough that bin edges k/K land in bin k for any K.
    levels = tf.floor(tf.cast(x, tf.float64) * k)
    # x == 1.0 gives K: it belongs to the last bin.
    return tf.cast(tf.minimum(levels, k - 1), tf.int32)


def dequantize(levels, num_levels, dtype=tf.float32):
    """Integer levels in ``[0, num_levels)`` -> the centres of their bins in ``(0, 1)``.

    Args:
        levels: integer array or tensor, any shape, values in ``[0, K)``.
        num_levels: K >= 2.
        dtype: floating output dtype.
    Returns:
        tensor of ``dtype``, levels' shape: ``(levels + 0.5) / K``.
    Raises:
        ValueError: K not an integer >= 2, levels not integers, values outside
            ``[0, K)``, or a non-floating dtype.
    """
    k = _check_num_levels(num_levels)
    try:
        dtype = tf.as_dtype(dtype)
    except TypeError as e:
        raise ValueError(f"dtype must be a floating dtype, got {dtype!r}.") from e
    if not dtype.is_floating:
        raise ValueError(f"dtype must be a floating dtype, got {dtype.name}.")
    levels = _to_tensor(levels, "levels")
    if not levels.dtype.is_integer:
        raise ValueError(
            f"dequantize expects integer levels in [0, {k}), got dtype {levels.dtype.name}; "
            "floats in [0, 1] are quantized with quantize()."
        )
    msg = f"dequantize: levels must lie in [0, {k})"
    if tf.executing_eagerly():
        arr = levels.numpy()
        if arr.size and (arr.min() < 0 or arr.max() >= k):
            raise ValueError(f"{msg}, got values in [{arr.min()}, {arr.max()}].")
    else:
        levels = tf.cast(levels, tf.int64)
        with tf.control_dependencies(
            [
                tf.debugging.assert_greater_equal(levels, tf.constant(0, tf.int64), message=msg),
                tf.debugging.assert_less(levels, tf.constant(k, tf.int64), message=msg),
            ]
        ):
            levels = tf.identity(levels)
    centres = (tf.cast(levels, tf.float64) + 0.5) / k
    return tf.cast(centres, dtype)
