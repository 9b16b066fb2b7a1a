"""Diagonal Gaussian terms of the VAEs' evidence lower bounds.

For ``q = N(mean, sigma^2)`` with ``sigma = exp(log_std)``, per dimension::

    log q(z)                = -((z - mean) / sigma)^2 / 2 - log sigma - log(2 pi) / 2
    KL(q || N(0, 1))        = (mean^2 + sigma^2 - 1) / 2 - log sigma

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, appendix B.

Example:
    >>> import tensorflow as tf
    >>> float(kl_to_standard_normal(tf.constant(0.0), tf.constant(0.0)))     # q = p
    0.0
    >>> round(float(gaussian_log_prob(tf.constant(0.0), 0.0, 0.0)), 4)       # -log(2 pi) / 2
    -0.9189
"""

import tensorflow as tf

from ar_keras.core.density import HALF_LOG_TWO_PI

__all__ = ["gaussian_log_prob", "kl_to_standard_normal", "sum_but_batch"]


def gaussian_log_prob(z, mean, log_std):
    """``log N(z; mean, exp(log_std)^2)`` per dimension."""
    return -0.5 * tf.square((z - mean) * tf.exp(-log_std)) - log_std - HALF_LOG_TWO_PI


def kl_to_standard_normal(mean, log_std):
    """``KL(N(mean, exp(log_std)^2) || N(0, 1))`` per dimension."""
    return 0.5 * (tf.square(mean) + tf.exp(2.0 * log_std) - 1.0) - log_std


def sum_but_batch(x):
    """``x [B, ...]`` summed over all but the batch axis: ``[B]``."""
    return tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)  # [B, ...] -> [B, N] -> [B]
