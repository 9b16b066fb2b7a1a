"""Input validation shared by every model: clear `ValueError`s, never a silent wrong answer.

Static facts (dtype, rank, shape) are checked always.  Values (the range
``[0, K)``, NaN) are checked with numpy when running eagerly, and with
`tf.debugging` assertions inside a graph (`fit`, SavedModel), which raise
`tf.errors.InvalidArgumentError` carrying the same message.

The event specs (`ar_keras.core.events`) build their checks from these.
"""

import math

import numpy as np
import tensorflow as tf

__all__ = ["to_tensor", "check_range", "check_finite", "check_labels",
           "check_positive_int", "check_temperature", "check_temperature_tensor"]


def to_tensor(x, what):
    """Array-like -> tensor; refuses object and string arrays with a clear message."""
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return tf.convert_to_tensor(x)
    try:
        arr = np.asarray(x)
    except Exception as e:  # pragma: no cover - exotic inputs
        raise ValueError(f"{what} could not be converted to an array: {e}") from e
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise ValueError(f"{what} must be a numeric array, got dtype {arr.dtype}.")
    return tf.convert_to_tensor(arr)


def _assert(x, conditions, numpy_test, message):
    """Eager: raise ValueError when ``numpy_test(array)`` names a problem; graph: assertions."""
    if tf.executing_eagerly():
        problem = numpy_test(x.numpy())
        if problem:
            raise ValueError(f"{message}; {problem}.")
        return x
    with tf.control_dependencies([c(x, message) for c in conditions]):
        return tf.identity(x)


def check_range(x, num_levels, what="x", validate_values=True):
    """Checks that int32 ``x`` holds values in ``[0, num_levels)``."""
    if not validate_values:
        return x

    def numpy_test(arr):
        if arr.size and (arr.min() < 0 or arr.max() >= num_levels):
            return f"got values in [{arr.min()}, {arr.max()}]"
        return None

    return _assert(x, [lambda t, m: tf.debugging.assert_greater_equal(t, 0, message=m),
                       lambda t, m: tf.debugging.assert_less(t, num_levels, message=m)],
                   numpy_test, f"{what} must hold values in [0, {num_levels})")


def check_finite(x, what="x", validate_values=True, support=None):
    """Checks that float32 ``x`` is finite (and inside the closed ``support``)."""
    if not validate_values:
        return x
    where = "" if support is None else f" and must lie in [{support[0]}, {support[1]}]"

    def numpy_test(arr):
        if not np.isfinite(arr).all():
            return f"it contains NaN or infinite values; every value must be finite{where}"
        if support is not None and arr.size and (arr.min() < support[0] or arr.max() > support[1]):
            return f"got values in [{arr.min()}, {arr.max()}] (the model's data transform)"
        return None

    conditions = [lambda t, m: tf.debugging.assert_all_finite(t, m)]
    if support is not None:
        conditions += [
            lambda t, m: tf.debugging.assert_greater_equal(t, tf.constant(support[0]), message=m),
            lambda t, m: tf.debugging.assert_less_equal(t, tf.constant(support[1]), message=m)]
    return _assert(x, conditions, numpy_test, f"{what} must be finite{where}")


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
    c = to_tensor(c, what)
    if not c.dtype.is_integer:
        raise ValueError(f"{what} must be integer class ids, got dtype {c.dtype.name}.")
    if c.shape.rank != 1:
        raise ValueError(f"{what} must have shape [batch], got {c.shape.as_list()}.")
    if batch is not None and c.shape[0] is not None and isinstance(batch, int) and c.shape[0] != batch:
        raise ValueError(f"{what} has {c.shape[0]} labels for a batch of {batch}.")
    c = tf.cast(c, tf.int32)
    if not validate_values:
        return c
    return _assert(c, [lambda t, m: tf.debugging.assert_greater_equal(t, 0, message=m),
                       lambda t, m: tf.debugging.assert_less(t, num_classes, message=m)],
                   lambda arr: (f"got values in [{arr.min()}, {arr.max()}]"
                                if arr.size and (arr.min() < 0 or arr.max() >= num_classes)
                                else None),
                   f"{what} must hold class ids in [0, {num_classes})")


def check_positive_int(value, what):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}.")
    return int(value)


def check_temperature(temperature):
    """A Python temperature: a finite number > 0."""
    temperature = float(temperature)
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}.")
    return temperature


def check_temperature_tensor(temperature):
    """The graph temperature check (SavedModel inputs): finite and > 0."""
    t = tf.convert_to_tensor(temperature, tf.float32)
    ok = tf.logical_and(tf.math.is_finite(t), t > 0.0)
    with tf.control_dependencies([
        tf.debugging.Assert(ok, ["temperature must be a finite number > 0, got", t]),
    ]):
        return tf.identity(t)
