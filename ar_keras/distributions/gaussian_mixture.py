"""Gaussian-mixture head: 3C network outputs per element -> a C-component 1-d mixture.

The conditionals of RNADE (Uria et al. 2013) and of a MADE MoG (Papamakarios
et al. 2017).  For an element with parameters ``[logits (C) | means (C) | raw
log-scales (C)]``::

    log p(x) = logsumexp_c [log pi_c + log N(x; mu_c, sigma_c)]
    log pi   = log_softmax(logits)
    log sigma_c = B tanh(raw_c / B)          (B = log_scale_bound, default 7)

The soft clamp keeps every scale in ``[e^-B, e^B]`` (``[9e-4, 1.1e3]`` for
B = 7) with a smooth gradient: an unbounded ``exp`` lets one component
collapse onto a single training point, whose density then diverges (the
classic degenerate maximum of mixture likelihoods); a hard clip would stop
its gradient.

Sampling takes two uniforms per element, ``noise[..., 0]`` picks the
component by inverting the cumulative mixing weights, ``noise[..., 1]`` gives
the Gaussian draw through the inverse normal CDF::

    c = #{k : cumsum(pi)_k < u_0},      x = mu_c + T sigma_c ndtri(u_1)

so a draw is a fixed function of its noise (stateless, reproducible).  The
temperature ``T`` scales the component standard deviations (the mixing
weights are unchanged).

Example:
    >>> head = GaussianMixture(num_components=3)
    >>> params = tf.zeros([2, 5, head.num_params])           # [B, D, 3C]
    >>> head.log_prob(params, tf.zeros([2, 5])).shape
    TensorShape([2, 5])
"""

import math

import tensorflow as tf

from ar_keras.distributions.inverse_normal import uniform_to_normal

__all__ = ["GaussianMixture"]

# Uniforms are kept this far from 0 and 1 so that ndtri stays finite (|z| < 5.3).
_EPS = 2.0**-24
_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


class GaussianMixture:
    """C-component Gaussian mixture per element.

    Args:
        num_components: C >= 1.
        log_scale_bound: B of the soft clamp on log-scales (None: unclamped).

    Attributes:
        num_params: ``3 C``.
        noise_depth: 2 uniforms per element.
    """

    noise_depth = 2
    #: dtype of `sample`'s values (the sampler's buffer).
    sample_dtype = tf.float32

    def __init__(self, num_components, log_scale_bound=7.0):
        self.num_components = int(num_components)
        if self.num_components < 1:
            raise ValueError(f"num_components must be >= 1, got {num_components}.")
        self.log_scale_bound = None if log_scale_bound is None else float(log_scale_bound)
        self.num_params = 3 * self.num_components

    def split(self, params):
        """``[..., 3C]`` -> ``(log_weights, means, log_scales)``, each ``[..., C]``."""
        params = tf.cast(params, tf.float32)
        logits, means, raw = tf.split(params, 3, axis=-1)
        if self.log_scale_bound is not None:
            raw = self.log_scale_bound * tf.tanh(raw / self.log_scale_bound)
        return tf.nn.log_softmax(logits, axis=-1), means, raw

    def log_prob(self, params, x):
        """Per-element log-densities: ``params [..., 3C]``, ``x [...]`` -> float32 ``[...]``."""
        log_w, mu, log_s = self.split(params)
        z = (tf.cast(x, tf.float32)[..., None] - mu) * tf.exp(-log_s)  # [..., C]
        log_n = -0.5 * tf.square(z) - log_s - _HALF_LOG_TWO_PI
        return tf.reduce_logsumexp(log_w + log_n, axis=-1)

    def sample(self, params, noise, temperature=1.0, truncation=None):
        """``params [..., 3C]``, uniforms ``noise [..., 2]`` -> float32 ``[...]`` (``truncation``
        must be None: a continuous law has no levels to truncate)."""
        if truncation is not None:
            raise ValueError(
                f"{type(self).__name__} is a continuous law: top_k / top_p truncate discrete levels only."
            )
        log_w, mu, log_s = self.split(params)
        u = tf.clip_by_value(tf.cast(noise, tf.float32), _EPS, 1.0 - _EPS)
        cdf = tf.math.cumsum(tf.exp(log_w), axis=-1)  # [..., C]
        # Rounding can leave cdf[-1] a hair below u: clamp to the last component.
        index = tf.minimum(
            tf.reduce_sum(tf.cast(cdf < u[..., :1], tf.int32), axis=-1), self.num_components - 1
        )  # [...]
        pick = tf.one_hot(index, self.num_components, dtype=tf.float32)
        mean = tf.reduce_sum(pick * mu, axis=-1)
        scale = tf.reduce_sum(pick * tf.exp(log_s), axis=-1)
        return mean + temperature * scale * uniform_to_normal(u[..., 1])

    def mean(self, params):
        """The mixture mean ``sum_c pi_c mu_c``: ``[...]``."""
        log_w, mu, _ = self.split(params)
        return tf.reduce_sum(tf.exp(log_w) * mu, axis=-1)

    def distribution(self, params):
        """The same law as a `tfd.MixtureSameFamily` (imports TFP lazily)."""
        import tensorflow_probability as tfp

        tfd = tfp.distributions
        log_w, mu, log_s = self.split(params)
        return tfd.MixtureSameFamily(tfd.Categorical(logits=log_w), tfd.Normal(mu, tf.exp(log_s)))

    def get_config(self):
        return {"num_components": self.num_components, "log_scale_bound": self.log_scale_bound}
