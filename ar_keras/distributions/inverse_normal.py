"""Uniform noise -> standard normals, in operations every runtime has (TFLite builtins included).

Every continuous sampler of ar_keras turns its keyed uniforms into normals
with `uniform_to_normal`, so that the Keras model, its SavedModel and its
TFLite file (which has no ``Ndtri`` op) compute the same numbers.

Example:
    >>> import tensorflow as tf
    >>> from ar_keras.distributions.inverse_normal import uniform_to_normal
    >>> uniform_to_normal(tf.constant([0.5, 0.975]))
    <tf.Tensor: shape=(2,), dtype=float32, numpy=array([0.       , 1.95987...], dtype=float32)>
"""

import tensorflow as tf

__all__ = ["uniform_to_normal"]

# Uniforms are kept this far from 0 and 1 so that the quantile stays finite (|z| < 5.3).
_EPS = 2.0**-24

# Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9):
# central region |p - 1/2| <= 0.47575, tails through q = sqrt(-2 log p).
_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (
    -5.447609879822406e01,
    1.615858368580409e02,
    -1.556989798598866e02,
    6.680131188771972e01,
    -1.328068155288572e01,
)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)


def _poly(coefficients, x):
    out = tf.zeros_like(x) + coefficients[0]
    for c in coefficients[1:]:
        out = out * x + c
    return out


def uniform_to_normal(u):
    """Uniform(0, 1) noise -> standard normals through the inverse normal CDF.

    Acklam's rational approximation (relative error below 1.2e-9, under
    float32's resolution) written in plain arithmetic, log and sqrt, so that
    the same function runs in TensorFlow, under XLA and in TFLite's builtin
    ops (which have no ``Ndtri``).  Uniforms are clipped to ``[2^-24, 1 - 2^-24]``.
    """
    p = tf.clip_by_value(tf.cast(u, tf.float32), _EPS, 1.0 - _EPS)
    r = tf.square(p - 0.5)
    central = (p - 0.5) * _poly(_A, r) / (_poly(_B, r) * r + 1.0)
    tail_p = tf.minimum(p, 1.0 - p)  # the nearer tail, mirrored
    q = tf.sqrt(-2.0 * tf.math.log(tail_p))
    tail = _poly(_C, q) / (_poly(_D, q) * q + 1.0)  # the lower tail's quantile (< 0)
    tail = tf.where(p > 0.5, -tail, tail)
    return tf.where(tf.abs(p - 0.5) <= 0.47575, central, tail)
