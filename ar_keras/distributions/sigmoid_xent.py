"""Sigmoid cross-entropy on grey levels: the Video Pixel Network's Moving MNIST loss.

Kalchbrenner et al. (ICML 2017, sec. 5.1) score Moving MNIST "with a sigmoid
cross-entropy on the grey-level targets" for comparison with earlier work.  A
level ``x in [0, K)`` becomes the intensity ``z = x / (K - 1) in [0, 1]`` and
one logit ``l`` per element predicts it::

    score(x) = z log sigmoid(l) + (1 - z) log sigmoid(-l)      (nats, <= 0)

For K = 2 this is the Bernoulli log-likelihood.  For K > 2 it is *not* a
normalised law over the K levels (it is minus a cross-entropy between the
target ``Bernoulli(z)`` and the prediction ``Bernoulli(sigmoid(l))``), and it
is bounded by the targets' own entropy (Gibbs' inequality)::

    score(x) <= z log z + (1 - z) log(1 - z) = -H(z)

with equality iff ``sigmoid(l) = z``.  The paper's "lower bound" on the loss
(86.3 nats per frame on Moving MNIST) is ``sum H(z)`` over a frame's pixels:
`entropy_bound` computes it per element.

Sampling draws ``Bernoulli(sigmoid(l / T))`` and writes level 0 or ``K - 1``.

Example:
    >>> head = SigmoidCrossEntropy(num_levels=256)
    >>> head.log_prob(tf.zeros([2, 3, 1]), tf.fill([2, 3], 255)).shape
    TensorShape([2, 3])
"""

import tensorflow as tf

__all__ = ["SigmoidCrossEntropy"]

_EPS = 1e-7


class SigmoidCrossEntropy:
    """One logit per element, scored by sigmoid cross-entropy on ``x / (K - 1)``.

    Args:
        num_levels: K >= 2.
    """

    num_params = 1
    noise_depth = 1
    sample_dtype = tf.int32
    truncatable = True  # `sample` takes a top-k / top-p truncation of its two levels

    def __init__(self, num_levels):
        self.num_levels = int(num_levels)

    def _target(self, x):
        return tf.cast(x, tf.float32) / float(self.num_levels - 1)

    def log_prob(self, params, x):
        """``-xent(z, sigmoid(l))`` per element: float32 ``[...]`` (module docstring)."""
        logit = tf.cast(params, tf.float32)[..., 0]
        z = self._target(x)
        # -softplus(-l) = log sigmoid(l), -softplus(l) = log sigmoid(-l): stable for any l.
        return -(z * tf.nn.softplus(-logit) + (1.0 - z) * tf.nn.softplus(logit))

    def entropy_bound(self, x):
        """``-H(z) = z log z + (1 - z) log(1 - z)`` per element: the best score any logit gets."""
        z = self._target(x)
        # 0 log 0 = 0: xlogy is 0 where its first argument is 0.
        return tf.math.xlogy(z, z) + tf.math.xlogy(1.0 - z, 1.0 - z)

    def sample(self, params, noise, temperature=1.0, truncation=None):
        """Bernoulli(sigmoid(l / T)) -> level 0 or K - 1 (int32); ``truncation`` as for
        `Bernoulli`."""
        logit = tf.cast(params, tf.float32)[..., 0] / temperature
        u = tf.clip_by_value(tf.cast(noise, tf.float32)[..., 0], _EPS, 1.0 - _EPS)
        on = logit + tf.math.log(u) - tf.math.log1p(-u) > 0.0
        if truncation is not None:
            on = truncation.binary(logit, on)
        return tf.where(on, self.num_levels - 1, 0)

    def get_config(self):
        return {"num_levels": self.num_levels}
