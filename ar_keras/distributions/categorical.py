"""Categorical head: K logits per element -> a K-way softmax over levels.

For an element with logits ``l in R^K``::

    log p(x = k) = l_k - logsumexp(l)

Sampling uses the Gumbel-max trick with externally supplied uniform noise
``u in (0, 1)^K`` so that the same noise always gives the same sample
(stateless, reproducible, and usable from TFLite where noise is an input)::

    x = argmax_k (l_k / T - log(-log u_k))

where ``T`` is the temperature.  ``T -> 0`` approaches the mode; ``T = 1`` is
an exact draw.

Example:
    >>> head = Categorical(num_levels=4)
    >>> logits = tf.zeros([2, 3, 4])                     # [B, D, K]
    >>> head.log_prob(logits, tf.zeros([2, 3], tf.int32)).shape
    TensorShape([2, 3])
"""

import tensorflow as tf

__all__ = ["Categorical", "gumbel_max"]

# Uniform noise is clipped away from 0 and 1 so that -log(-log u) is finite.
_EPS = 1e-7


def gumbel_max(logits, noise, temperature=1.0, truncation=None):
    """``argmax_k (l_k / T - log(-log u_k))``: a draw from ``softmax(l / T)`` with uniforms
    ``noise [..., K]``, int32 ``[...]``; a top-k / top-p ``truncation`` (`Truncation`) of the
    tempered logits first."""
    logits = tf.cast(logits, tf.float32) / temperature
    if truncation is not None:
        logits = truncation.apply(logits)
    u = tf.clip_by_value(tf.cast(noise, tf.float32), _EPS, 1.0 - _EPS)
    gumbel = -tf.math.log(-tf.math.log(u))
    return tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)


class Categorical:
    """K-level categorical head (the PixelRNN / Gated PixelCNN softmax).

    Args:
        num_levels: K >= 2.

    Attributes:
        num_params: parameters per element (K logits).
        noise_depth: uniform variates needed per element to sample (K).
    """

    def __init__(self, num_levels):
        self.num_levels = int(num_levels)
        self.num_params = self.num_levels
        self.noise_depth = self.num_levels
        self.sample_dtype = tf.int32  # dtype of `sample`'s values (the sampler's buffer)
        self.truncatable = True  # `sample` takes a top-k / top-p truncation

    def log_prob(self, params, x):
        """Per-element log-probabilities in float32.

        Args:
            params: logits ``[..., K]``.
            x: int levels ``[...]``.
        Returns:
            float32 ``[...]``.
        """
        logits = tf.cast(params, tf.float32)
        log_p = tf.nn.log_softmax(logits, axis=-1)  # [..., K]
        onehot = tf.one_hot(tf.cast(x, tf.int32), self.num_levels, dtype=tf.float32)
        return tf.reduce_sum(log_p * onehot, axis=-1)

    def sample(self, params, noise, temperature=1.0, truncation=None):
        """Gumbel-max draw: ``params`` ``[..., K]``, ``noise`` uniform ``[..., K]`` -> int32 ``[...]``
        (``truncation``: a top-k / top-p `Truncation` of the tempered logits)."""
        return gumbel_max(params, noise, temperature, truncation)

    def probs(self, params):
        """Probabilities ``[..., K]``."""
        return tf.nn.softmax(tf.cast(params, tf.float32), axis=-1)

    def distribution(self, params):
        """The same law as a `tfd.Categorical` (imports TFP lazily)."""
        import tensorflow_probability as tfp

        return tfp.distributions.Categorical(logits=tf.cast(params, tf.float32))

    def get_config(self):
        return {"num_levels": self.num_levels}
