"""Input validation shared by every model: clear `ValueError`s, never a silent wrong answer.

Static facts (dtype, rank, shape) are checked always.  Values (the range
``[0, K)``, NaN) are checked with numpy when running eagerly, and with
`tf.debugging` assertions inside a graph (`fit`, SavedModel), which raise
`tf.errors.InvalidArgumentError` carrying the same message.

The event specs (`ar_keras.core.events`) build their checks from these.
"""

import math
import numbers

import numpy as np
import tensorflow as tf

__all__ = [
    "to_tensor",
    "check_range",
    "check_finite",
    "check_labels",
    "check_positive_int",
    "check_odd",
    "check_image_rank",
    "check_choice",
    "check_split",
    "check_rate",
    "check_pair",
    "check_temperature",
    "check_temperature_tensor",
    "check_seed",
    "check_uniforms",
]


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


def _describe(value):
    """A short description of an argument for messages: its type and shape."""
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__}" + ("" if shape is None else f" of shape {list(shape)}")


def _assert(x, conditions, numpy_test, message):
    """Eager: raise ValueError when ``numpy_test(array)`` names a problem; graph: assertions."""
    if tf.executing_eagerly():
        problem = numpy_test(x.numpy())
        if problem:
            raise ValueError(f"{message}; {problem}.")
        return x
    with tf.control_dependencies([c(x, message) for c in conditions]):
        return tf.identity(x)


def check_range(x, num_levels, what="x", validate_values=True, kind="values"):
    """Checks that integer ``x`` holds values in ``[0, num_levels)``; returns int32.

    The range is checked on ``x``'s own dtype *before* the cast to int32, so that
    int64 values beyond int32 (``2**32 + 1``) cannot wrap into valid levels.
    """
    if not x.dtype.is_integer:
        raise ValueError(f"{what} must hold integer {kind} in [0, {num_levels}), got dtype {x.dtype.name}.")
    if not validate_values:
        return tf.cast(x, tf.int32)

    def numpy_test(arr):
        if arr.size and (arr.min() < 0 or arr.max() >= num_levels):
            return f"got values in [{arr.min()}, {arr.max()}]"
        return None

    # int64 comparisons: a uint8 or int8 tensor cannot hold num_levels itself.
    wide = x if tf.executing_eagerly() else tf.cast(x, tf.int64)
    checked = _assert(
        wide,
        [
            lambda t, m: tf.debugging.assert_greater_equal(t, tf.constant(0, t.dtype), message=m),
            lambda t, m: tf.debugging.assert_less(t, tf.constant(num_levels, t.dtype), message=m),
        ],
        numpy_test,
        f"{what} must hold {kind} in [0, {num_levels})",
    )
    return tf.cast(checked, tf.int32)


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
            lambda t, m: tf.debugging.assert_less_equal(t, tf.constant(support[1]), message=m),
        ]
    return _assert(x, conditions, numpy_test, f"{what} must be finite{where}")


def check_labels(c, num_classes, batch=None, what="conditional", validate_values=True):
    """Checks class labels ``[B]`` in ``[0, num_classes)``; returns int32."""
    if num_classes is None:
        if c is not None:
            raise ValueError(
                f"this model is unconditional (num_classes=None): {what} must be None, got "
                f"{_describe(c)}; build it with num_classes=N to condition on labels."
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
        raise ValueError(
            f"{what} must hold one label per example: got {c.shape[0]} labels for a batch of {batch}."
        )
    # The range on the labels' own dtype, before the int32 cast (int64 ids must not wrap).
    return check_range(c, num_classes, what, validate_values, kind="class ids")


def _scalar(value):
    """An eager scalar tensor or 0-d array -> its Python value (other values unchanged)."""
    if isinstance(value, (tf.Tensor, tf.Variable)) and value.shape.rank == 0 and tf.executing_eagerly():
        return value.numpy().item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


def _is_int(value):
    """True for ints (Python or numpy, not bools) and for finite integer-valued floats."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer()


def check_positive_int(value, what, maximum=None):
    """``value`` -> a Python int ``>= 1`` (``<= maximum`` when given), or a clear ValueError.

    Refuses bools, strings, None, NaN, inf and fractional floats naming ``what``.
    """
    value = _scalar(value)
    if not _is_int(value) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}.")
    value = int(value)
    if maximum is not None and value > maximum:
        raise ValueError(f"{what} must be at most {maximum}, got {value}.")
    return value


def check_odd(value, what, minimum=1):
    """``value`` -> a Python int, odd and ``>= minimum`` (a kernel or window centred on its
    pixel), or a clear ValueError naming ``what``.

    Example:
        >>> check_odd(5, "kernel_size")
        5
    """
    value = _scalar(value)
    if not _is_int(value) or value < minimum or int(value) % 2 == 0:
        raise ValueError(f"{what} must be odd and >= {minimum}, got {value!r}.")
    return int(value)


def check_image_rank(image_shape):
    """Refuses an ``image_shape`` that is not ``(H, W, C)`` (a model of images only)."""
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (H, W, C), got {tuple(image_shape)}.")
    return tuple(image_shape)


def check_choice(value, what, allowed):
    """``value`` if it is one of ``allowed``, or a clear ValueError naming ``what`` and the choices.

    Example:
        >>> check_choice("local_1d", "attention", ("local_1d", "local_2d"))
        'local_1d'
        >>> check_choice("global", "attention", ("local_1d", "local_2d"))
        Traceback (most recent call last):
        ...
        ValueError: attention must be one of 'local_1d', 'local_2d', got 'global'.
    """
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, allowed))}, got {value!r}.")
    return value


#: The splits every dataset has.
SPLITS = ("train", "validation", "test")


def check_split(split):
    """``split`` if it is ``"train"``, ``"validation"`` or ``"test"``, else a clear ValueError."""
    return check_choice(split, "split", SPLITS)


def check_rate(value, what):
    """``value`` as a float in ``[0, 1)`` (a dropout rate, a momentum, a sparsity), or a clear
    ValueError naming ``what``.

    Example:
        >>> check_rate(0.25, "dropout")
        0.25
    """
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{what} must be in [0, 1), got {value!r}.")
    return float(value)


def check_pair(value, what, minimum):
    """``value`` -> a tuple of two Python ints ``>= minimum`` (a block shape, a flange), or a
    clear ValueError naming ``what``.

    Example:
        >>> check_pair([4, 8], "block_shape", 1)
        (4, 8)
    """
    try:
        pair = tuple(int(v) for v in value)
        ok = len(pair) == 2 and all(p == v for p, v in zip(pair, value)) and min(pair) >= minimum
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{what} must be two integers >= {minimum}, got {value!r}.")
    return pair


def check_seed(seed):
    """A sampling seed: None (draw a fresh one) or an int in ``[-2**63, 2**63)`` (int64 keys)."""
    seed = _scalar(seed)
    if seed is None:
        return None
    if not _is_int(seed) or not -(2**63) <= int(seed) < 2**63:
        raise ValueError(
            f"seed must be None or an integer in [-2**63, 2**63) (it keys int64 noise), got {seed!r}."
        )
    return int(seed)


def check_temperature(temperature):
    """A Python temperature: a finite number > 0."""
    value = _scalar(temperature)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}.")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {value}.")
    with np.errstate(over="ignore"):
        as_float32 = float(np.float32(value))
    if as_float32 == 0 or not math.isfinite(as_float32):
        # The samplers run in float32: 1e-50 would divide by zero, 1e39 be infinite.
        raise ValueError(
            f"temperature must be a finite number > 0 in float32 (between about "
            f"1.4e-45 and 3.4e38), got {value}."
        )
    return value


def check_temperature_tensor(temperature):
    """The graph temperature check (SavedModel inputs): finite and > 0."""
    t = tf.convert_to_tensor(temperature, tf.float32)
    ok = tf.logical_and(tf.math.is_finite(t), t > 0.0)
    with tf.control_dependencies(
        [
            tf.debugging.Assert(ok, ["temperature must be a finite number > 0, got", t]),
        ]
    ):
        return tf.identity(t)


def check_uniforms(noise, expected, what="noise", check_sizes=None):
    """Checks given sampling noise: floats of rank 3 strictly inside ``(0, 1)``; float32.

    ``expected`` describes the shape for the message (e.g. ``"[n, 9, 4]"``);
    ``check_sizes(noise)`` (the caller's) raises on wrong sizes before the values are read.  Values are
    checked eagerly (numpy) or by graph assertions, like every value check here.
    """
    noise = to_tensor(noise, what)
    if not noise.dtype.is_floating:
        raise ValueError(
            f"{what} must hold float uniforms in (0, 1) of shape {expected}, got dtype {noise.dtype.name}."
        )
    if noise.shape.rank != 3:
        shape = noise.shape.as_list() if noise.shape.rank is not None else "unknown"
        raise ValueError(f"{what} must have shape {expected}, got {shape}.")
    if check_sizes is not None:
        check_sizes(noise)  # the sizes before the values: the clearer message first
    noise = tf.cast(noise, tf.float32)

    def numpy_test(arr):
        if not np.isfinite(arr).all():
            return "it contains NaN or infinite values"
        if arr.size and (arr.min() <= 0.0 or arr.max() >= 1.0):
            return f"got values in [{arr.min()}, {arr.max()}]"
        return None

    return _assert(
        noise,
        [
            lambda t, m: tf.debugging.assert_all_finite(t, m),
            lambda t, m: tf.debugging.assert_greater(t, 0.0, message=m),
            lambda t, m: tf.debugging.assert_less(t, 1.0, message=m),
        ],
        numpy_test,
        f"{what} must hold uniforms strictly inside (0, 1)",
    )


def check_channel_width(value, what, channels):
    """``value`` -> a Python int ``>= channels``: the features of a layer whose R -> G -> B channel
    groups each need features of their own, or a clear ValueError naming ``what``."""
    value = check_positive_int(value, what)
    if value < channels:
        raise ValueError(f"{what} ({value}) must be at least the channel count ({channels}).")
    return value
