"""Bernoulli head: one logit per element for binary data (K = 2).

With logit ``l``::

    log p(x = 1) = -softplus(-l),    log p(x = 0) = -softplus(l)

It is the K = 2 categorical with logits ``(0, l)`` and half the parameters,
as in NADE and MADE on binarized MNIST.  Sampling with uniform noise ``u``
uses the logistic inverse CDF: ``x = 1`` iff ``l / T + log u - log(1 - u) > 0``.

Example:
    >>> head = Bernoulli()
    >>> head.log_prob(tf.zeros([2, 3, 1]), tf.ones([2, 3], tf.int32)).shape
    TensorShape([2, 3])
"""

import tensorflow as tf

__all__ = ["Bernoulli"]

_EPS = 1e-7


class Bernoulli:
    """Binary head.  ``params`` are ``[..., 1]`` logits."""

    num_levels = 2
    num_params = 1
    noise_depth = 1
    #: dtype of `sample`'s values (the sampler's buffer).
    sample_dtype = tf.int32
    #: `sample` takes a top-k / top-p truncation of its two levels.
    truncatable = True

    def log_prob(self, params, x):
        logit = tf.cast(params, tf.float32)[..., 0]
        x = tf.cast(x, tf.float32)
        # -softplus(-l) and -softplus(l) are the stable forms of log sigmoid(+-l).
        return -(x * tf.nn.softplus(-logit) + (1.0 - x) * tf.nn.softplus(logit))

    def sample(self, params, noise, temperature=1.0, truncation=None):
        logit = tf.cast(params, tf.float32)[..., 0] / temperature
        u = tf.clip_by_value(tf.cast(noise, tf.float32)[..., 0], _EPS, 1.0 - _EPS)
        logistic = tf.math.log(u) - tf.math.log1p(-u)
        on = logit + logistic > 0.0
        if truncation is not None:
            on = truncation.binary(logit, on)
        return tf.cast(on, tf.int32)

    def probs(self, params):
        p1 = tf.sigmoid(tf.cast(params, tf.float32))
        return tf.concat([1.0 - p1, p1], axis=-1)

    def distribution(self, params):
        import tensorflow_probability as tfp

        return tfp.distributions.Bernoulli(logits=tf.cast(params, tf.float32)[..., 0])

    def get_config(self):
        return {}
