"""Input validation shared by every model: clear `ValueError`s, never a silent wrong answer.

Static facts (dtype, rank, shape) are checked always.  Values (the range
``[0, K)``, NaN) are checked with numpy when running eagerly, and with
`tf.debugging` assertions inside a graph (`fit`, SavedModel), which raise
`tf.errors.InvalidArgumentError` carrying the same message.
"""

import numpy as np
import tensorflow as tf

__all__ = ["check_levels", "check_labels", "check_positive_int"]


def _to_tensor(x, what):
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return x
    try:
        arr = np.asarray(x)
    except Exception as e:  # pragma: no cover - exotic inputs
        raise ValueError(f"{what} could not be converted to an array: {e}") from e
    if arr.dtype == object:
        raise ValueError(f"{what} must be a numeric array, got an object array.")
    return tf.convert_to_tensor(arr)


def check_levels(x, event_shape, num_levels, what="x", validate_values=True):
    """Checks integer data ``[B, *event_shape]`` in ``[0, K)``; returns it as int32.

    Raises:
        ValueError: float or bool data, wrong rank or shape, values out of range.
    """
    x = _to_tensor(x, what)
    event_shape = tuple(event_shape)
    if not x.dtype.is_integer:
        raise ValueError(
            f"{what} must hold integer levels in [0, {num_levels}), got dtype {x.dtype.name}. "
            f"Quantize continuous data first, e.g. ar_keras.data.quantize(v, {num_levels}) "
            "for v in [0, 1]."
        )
    expected = ("batch",) + event_shape
    if x.shape.rank != len(expected):
        raise ValueError(
            f"{what} must have rank {len(expected)} with shape {list(expected)}, got shape "
            f"{x.shape.as_list() if x.shape.rank is not None else 'unknown'}. "
            "Add a batch axis for a single example (x[None])."
        )
    actual = tuple(x.shape.as_list()[1:])
    for a, e in zip(actual, event_shape):
        if a is not None and a != e:
            raise ValueError(
                f"{what} must have shape [batch, {', '.join(map(str, event_shape))}], "
                f"got {x.shape.as_list()}."
            )
    x = tf.cast(x, tf.int32)
    if validate_values:
        msg = f"{what} must hold values in [0, {num_levels})"
        if tf.executing_eagerly():
            arr = x.numpy()
            if arr.size and (arr.min() < 0 or arr.max() >= num_levels):
                raise ValueError(f"{msg}; got values in [{arr.min()}, {arr.max()}].")
        else:
            with tf.control_dependencies([
                tf.debugging.assert_greater_equal(x, 0, message=msg),
                tf.debugging.assert_less(x, num_levels, message=msg),
            ]):
                x = tf.identity(x)
    return x


def check_labels(c, num_classes, batch=None, what="conditional", validate_values=True):
    """Checks class labels ``[B]`` in ``[0, num_classes)``; returns int32."""
    if num_classes is None:
        if c is not None:
            raise ValueError(
                f"this model is unconditional (num_classes=None) but {what} was given; "
                "build it with num_classes=N to condition on labels."
            )
        return None
    if c is None:
        raise ValueError(
            f"this model is class-conditional (num_classes={num_classes}): pass "
            f"{what}=labels, an int tensor [batch] in [0, {num_classes})."
        )
    c = _to_tensor(c, what)
    if not c.dtype.is_integer:
        raise ValueError(f"{what} must be integer class ids, got dtype {c.dtype.name}.")
    if c.shape.rank != 1:
        raise ValueError(f"{what} must have shape [batch], got {c.shape.as_list()}.")
    if batch is not None and c.shape[0] is not None and isinstance(batch, int) and c.shape[0] != batch:
        raise ValueError(f"{what} has {c.shape[0]} labels for a batch of {batch}.")
    c = tf.cast(c, tf.int32)
    if validate_values:
        msg = f"{what} must hold class ids in [0, {num_classes})"
        if tf.executing_eagerly():
            arr = c.numpy()
            if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
                raise ValueError(f"{msg}; got values in [{arr.min()}, {arr.max()}].")
        else:
            with tf.control_dependencies([
                tf.debugging.assert_greater_equal(c, 0, message=msg),
                tf.debugging.assert_less(c, num_classes, message=msg),
            ]):
                c = tf.identity(c)
    return c


def check_positive_int(value, what):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}.")
    return int(value)
