"""Mu-law companding and quantization: audio in ``[-1, 1]`` <-> K integer levels.

The ITU-T G.711 mu-law curve (continuous form), as WaveNet uses it
(van den Oord et al. 2016, sec. 2.2), with ``mu = K - 1``::

    f(x)   = sign(x) * ln(1 + mu |x|) / ln(1 + mu)           [-1, 1] -> [-1, 1]
    f^-1(y) = sign(y) * ((1 + mu)^|y| - 1) / mu

``mu_law_encode`` compresses, then rounds ``f(x)`` onto the K evenly spaced
points ``y_k = 2k / mu - 1`` (``k = 0 .. K-1``)::

    encode(x) = round((f(x) + 1) / 2 * mu)                    int32 in [0, K)
    decode(k) = f^-1(2k / mu - 1)                              float in [-1, 1]

so ``encode(decode(k)) == k`` exactly (for even K no code is exactly 0:
silence encodes to ``K // 2``, which decodes to ``((1 + mu)^(1/mu) - 1) / mu``,
``8.6e-5`` for K = 256), and the reconstruction error is relative: rounding moves ``y`` by at
most ``1 / mu``, which multiplies ``|x| + 1/mu`` by at most ``(1 + mu)^(1/mu)``::

    |decode(encode(x)) - x| <= (|x| + 1/mu) * ((1 + mu)^(1/mu) - 1)
                             ~= 0.022 * (|x| + 0.004)          for K = 256

i.e. about 8 bits of perceptual resolution from 16-bit audio, fine steps for
quiet samples and coarse ones for loud samples.

`pcm16_to_float` / `float_to_pcm16` convert int16 PCM (WAV files, tfds audio
features) to and from floats in ``[-1, 1]``, both with the scale 32768 (so that
PCM -> float -> PCM is exact).  Everything works on numpy
arrays and tensors, eagerly and in graphs (`tf.data` maps); values are
checked with a `ValueError` eagerly and `tf.debugging` assertions in a graph.

Example:
    >>> codes = mu_law_encode([-1.0, 0.0, 0.01, 1.0])        # [0, 128, 157, 255]
    >>> audio = mu_law_decode(codes)                          # close to the input
    >>> codes_again = mu_law_encode(audio)                    # == codes
"""

import numpy as np
import tensorflow as tf

__all__ = ["mu_law_encode", "mu_law_decode", "pcm16_to_float", "float_to_pcm16"]


# The same argument checks as the uniform quantizer.
from ar_keras.data.quantize import _check_num_levels, _to_tensor  # noqa: E402


def _check_range(x, low, high, msg, closed_high):
    """Eager: ValueError; graph: assertions.  ``x`` must be in [low, high] (or [low, high))."""
    if tf.executing_eagerly():
        arr = x.numpy()
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError(f"{msg}; got NaN.")
        if arr.size and (arr.min() < low or (arr.max() > high if closed_high else arr.max() >= high)):
            raise ValueError(f"{msg}; got values in [{arr.min()}, {arr.max()}].")
        return x
    checks = [tf.debugging.assert_greater_equal(x, tf.cast(low, x.dtype), message=msg)]
    if closed_high:
        checks.append(tf.debugging.assert_less_equal(x, tf.cast(high, x.dtype), message=msg))
    else:
        checks.append(tf.debugging.assert_less(x, tf.cast(high, x.dtype), message=msg))
    if x.dtype.is_floating:
        checks.append(tf.debugging.assert_all_finite(x, msg))
    with tf.control_dependencies(checks):
        return tf.identity(x)


def mu_law_encode(audio, num_levels=256):
    """Floats in ``[-1, 1]`` -> int32 mu-law codes in ``[0, num_levels)``.

    Args:
        audio: float array or tensor, any shape, values in ``[-1, 1]``.
        num_levels: K >= 2 (``mu = K - 1``; 256 in WaveNet).
    Returns:
        int32 tensor of audio's shape.
    Raises:
        ValueError: K not an integer >= 2, integer input (convert int16 PCM
            with `pcm16_to_float` first), NaN, or values outside ``[-1, 1]``.
    """
    k = _check_num_levels(num_levels)
    x = _to_tensor(audio, "audio")
    if not x.dtype.is_floating:
        raise ValueError(
            f"mu_law_encode expects float audio in [-1, 1], got dtype {x.dtype.name}; convert "
            "int16 PCM with ar_keras.data.pcm16_to_float first."
        )
    x = _check_range(x, -1.0, 1.0, "mu_law_encode: audio must lie in [-1, 1]", closed_high=True)
    mu = float(k - 1)
    # float64: the rounding below must land every decode(k) back on k.
    x = tf.cast(x, tf.float64)
    y = tf.sign(x) * tf.math.log1p(mu * tf.abs(x)) / np.log1p(mu)  # [-1, 1]
    codes = tf.round((y + 1.0) / 2.0 * mu)  # [0, mu]
    return tf.cast(tf.clip_by_value(codes, 0.0, mu), tf.int32)


def mu_law_decode(codes, num_levels=256, dtype=tf.float32):
    """int mu-law codes in ``[0, num_levels)`` -> floats in ``[-1, 1]``.

    Args:
        codes: integer array or tensor, any shape, values in ``[0, K)``.
        num_levels: K >= 2.
        dtype: floating output dtype.
    Returns:
        tensor of ``dtype`` and codes' shape.
    Raises:
        ValueError: K not an integer >= 2, float input, values outside ``[0, K)``.
    """
    k = _check_num_levels(num_levels)
    dtype = tf.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"dtype must be a floating dtype, got {dtype.name}.")
    c = _to_tensor(codes, "codes")
    if not c.dtype.is_integer:
        raise ValueError(f"mu_law_decode expects integer codes in [0, {k}), got dtype {c.dtype.name}.")
    c = _check_range(
        tf.cast(c, tf.int64), 0, k, f"mu_law_decode: codes must lie in [0, {k})", closed_high=False
    )
    mu = float(k - 1)
    y = 2.0 * tf.cast(c, tf.float64) / mu - 1.0  # [-1, 1]
    x = tf.sign(y) * tf.math.expm1(tf.abs(y) * np.log1p(mu)) / mu  # (1+mu)^|y| - 1
    # expm1(log1p(mu)) / mu can round to 1 + 2^-52: keep the codes' ends on -1 and 1 exactly
    # (mu_law_encode refuses anything outside [-1, 1]).
    return tf.cast(tf.clip_by_value(x, -1.0, 1.0), dtype)


def pcm16_to_float(pcm, dtype=tf.float32):
    """int16 PCM -> floats ``pcm / 32768`` in ``[-1, 1)``."""
    x = _to_tensor(pcm, "pcm")
    if x.dtype not in (tf.int16, tf.int32, tf.int64):
        raise ValueError(f"pcm16_to_float expects int16 PCM samples, got dtype {x.dtype.name}.")
    x = _check_range(
        tf.cast(x, tf.int32),
        -32768,
        32768,
        "pcm16_to_float: samples must lie in [-32768, 32767]",
        closed_high=False,
    )
    return tf.cast(tf.cast(x, tf.float64) / 32768.0, dtype)


def float_to_pcm16(audio):
    """Floats in ``[-1, 1]`` -> int16 PCM (``round(x * 32768)`` clipped to ``[-32768, 32767]``).

    The inverse of `pcm16_to_float` (same scale, 32768): PCM read as floats and
    written back is unchanged, and a float in ``[-1, 1]`` comes back within
    ``1 / 32768``.  Values outside ``[-1, 1]`` are clipped (a sample's fate when
    written to 16 bits); NaN raises.
    """
    x = _to_tensor(audio, "audio")
    if not x.dtype.is_floating:
        raise ValueError(f"float_to_pcm16 expects float audio, got dtype {x.dtype.name}.")
    x = _check_range(x, -np.inf, np.inf, "float_to_pcm16: audio must not be NaN", closed_high=True)
    x = tf.clip_by_value(tf.cast(x, tf.float64), -1.0, 1.0)
    return tf.cast(tf.clip_by_value(tf.round(x * 32768.0), -32768.0, 32767.0), tf.int16)
