"""Discretized logistic mixture head (PixelCNN++), element-wise and exact.

Salimans, Karpathy, Chen & Kingma, "PixelCNN++: Improving the PixelCNN with
Discretized Logistic Mixture Likelihood and Other Modifications", ICLR 2017,
sec. 2.1 - 2.2.

The law of one pixel
--------------------
Levels ``k in [0, K)`` are placed at ``v_k = 2k / (K - 1) - 1`` in ``[-1, 1]``;
bin ``k`` is ``[v_k - h, v_k + h]`` with ``h = 1 / (K - 1)``, except the **edge
bins**: bin 0 takes all of ``(-inf, v_0 + h]`` and bin ``K - 1`` all of
``[v_{K-1} - h, inf)``, so no mass falls outside ``[0, K)``.  A component
``(mu, s)`` gives bin ``k`` the mass

    P(k | mu, s) = sigma((v_k + h - mu) / s) - sigma((v_k - h - mu) / s).

A pixel with C channels is a mixture of M components that is shared by its
channels (one component draws the whole pixel), with the PixelCNN++ linear
channel coupling inside a component:

    p(x) = sum_m pi_m prod_c P(x_c | mu_mc + sum_{c'<c} a_mcc' v_{x_c'}, s_mc)

(for RGB: G's mean moves with R, B's with R and G; ``a = tanh(raw)``).

Element-wise factorisation
--------------------------
ar_keras scores and samples one element (one channel of one pixel) at a time.
The exact conditional of channel c given channels ``< c`` of the same pixel is
again a mixture, whose weights are the component posteriors after the earlier
channels (Bayes' rule):

    p(x_c | x_<c) = sum_m w_mc P(x_c | mu~_mc, s_mc),
    log w_mc = log pi_m + sum_{c'<c} log P(x_c' | mu~_mc', s_mc') - logZ_c,

and ``prod_c p(x_c | x_<c)`` is exactly the joint ``p(x)`` above.
`element_params` turns the network's per-pixel parameters and the *given*
pixel into per-element parameters ``[w (M logits), mu~ (M), log s (M)]``;
channel c's entry only reads channels ``< c``, so a network that feeds it x
stays autoregressive.  `log_prob` and `sample` then work element by element,
like every other head.  The edge bins carry the logistic's tails; the
log-probabilities are computed without cancellation or underflow (see
`discretized_logistic_log_prob`).

Sampling
--------
`sample` computes the K bin probabilities of the element's mixture and draws
by Gumbel-max with K uniforms (``noise_depth = K``), as the categorical head
does: exact (the same numbers as `log_prob`), reproducible from external
noise (TFLite), and ``temperature`` means what it means elsewhere in
ar_keras: ``p_k^(1/T)`` renormalised.

Example:
    >>> head = DiscretizedLogisticMixture(num_levels=256, num_mixtures=10, num_channels=3)
    >>> pixel = tf.random.normal([2, 32, 32, head.num_pixel_params])     # network output
    >>> x = tf.random.uniform([2, 32, 32, 3], 0, 256, tf.int32)
    >>> params = head.element_params(pixel, x)                           # [2, 32, 32, 3, 30]
    >>> head.log_prob(params, x).shape                                   # per element
    TensorShape([2, 32, 32, 3])
"""

import math

import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.distributions.categorical import gumbel_max

__all__ = ["DiscretizedLogisticMixture", "discretized_logistic_log_prob"]


def _log1mexp(d):
    """``log(1 - exp(-d))`` for ``d > 0`` without cancellation (Maechler 2012).

    Below ``ln 2``, ``1 - exp(-d)`` is a difference of nearly equal numbers and
    ``-expm1(-d)`` computes it exactly; above, ``exp(-d)`` is small and
    ``log1p`` keeps its digits.  Both branches are finite for every ``d > 0``,
    so the gradient through `tf.where` stays finite too.
    """
    return tf.where(d < math.log(2.0), tf.math.log(-tf.math.expm1(-d)), tf.math.log1p(-tf.exp(-d)))


def discretized_logistic_log_prob(k, mean, log_scale, num_levels):
    """``log P(bin k | mean, exp(log_scale))`` of one discretized logistic, in float32.

    Args:
        k: int levels in ``[0, K)`` (broadcast against ``mean``).
        mean: component means in ``[-1, 1]`` units.
        log_scale: component log-scales (already clamped by the caller).
        num_levels: K >= 2.

    Returns:
        float32, the broadcast shape.
    """
    K = int(num_levels)
    half = 1.0 / (K - 1)  # half a bin in [-1, 1] units
    k = tf.cast(k, tf.float32)
    centre = 2.0 * half * k - 1.0  # v_k
    inv_s = tf.exp(-log_scale)
    upper = (centre + half - mean) * inv_s  # standardised upper edge a
    lower = (centre - half - mean) * inv_s  # standardised lower edge b
    # Interior bins: log(sigma(a) - sigma(b)) directly would subtract two
    # numbers near 1 (right tail) or take the log of a difference that
    # underflows; instead use the identity
    #     sigma(a) - sigma(b) = sigma(a) * sigma(-b) * (1 - exp(-(a - b)))
    # whose three logs are -softplus(-a), -softplus(b) and log1mexp(a - b),
    # each accurate everywhere.  a - b = 2h / s is formed from h and 1/s, not
    # by subtracting a and b, so it keeps full precision when a and b are large.
    log_interior = -tf.nn.softplus(-upper) - tf.nn.softplus(lower) + _log1mexp(2.0 * half * inv_s)
    # Edge bins take the tails: bin 0 is sigma(a) (log: -softplus(-a)), bin
    # K-1 is 1 - sigma(b) = sigma(-b) (log: -softplus(b)).  All three branches
    # are finite for every input, so the gradient that tf.where passes to the
    # unselected ones (multiplied by zero) is never 0 * inf = NaN.
    log_first = -tf.nn.softplus(-upper)
    log_last = -tf.nn.softplus(lower)
    return tf.where(tf.equal(k, 0.0), log_first, tf.where(tf.equal(k, K - 1.0), log_last, log_interior))


class DiscretizedLogisticMixture:
    """Mixture of M discretized logistics per pixel, with PixelCNN++ channel coupling.

    Args:
        num_levels: K >= 2 (PixelCNN++: 256).
        num_mixtures: M (PixelCNN++: 10 on CIFAR-10).
        num_channels: C, the channels of a pixel that share one mixture.
        min_log_scale, max_log_scale: log-scales are clamped into this range.
            PixelCNN++ clamps below at -7 (scale 9e-4, about a ninth of a
            bin at K = 256).  The upper clamp (ours) keeps ``2h / s`` from underflowing
            in float32 and keeps a component from degenerating into two tied
            edge bins: a scale of e^2 is already 3.7 times the data range
            [-1, 1], wider than any useful component.

    Attributes:
        num_pixel_params: network outputs per pixel,
            ``M * (1 + 2C + C(C-1)/2)``, laid out as
            ``[logits (M) | means (C x M) | log-scales (C x M) | coupling (C(C-1)/2 x M)]``;
            coupling pairs ``(c, c')``, ``c' < c``, in the order (1,0), (2,0), (2,1), ...
            (PixelCNN++'s a, b, c for RGB).
        num_params: per-element parameters, ``3M``:
            ``[log-weights (M) | coupled means (M) | log-scales (M)]``.
        noise_depth: uniforms per element for `sample` (K).
    """

    def __init__(self, num_levels, num_mixtures=5, num_channels=1, min_log_scale=-7.0, max_log_scale=2.0):
        if int(num_levels) != num_levels or num_levels < 2:
            raise ValueError(f"num_levels must be an integer >= 2, got {num_levels!r}.")
        self.num_levels = int(num_levels)
        self.num_mixtures = checks.check_positive_int(num_mixtures, "num_mixtures")
        self.num_channels = checks.check_positive_int(num_channels, "num_channels")
        self.min_log_scale = float(min_log_scale)
        self.max_log_scale = float(max_log_scale)
        M, C = self.num_mixtures, self.num_channels
        self.num_pairs = C * (C - 1) // 2
        self.num_pixel_params = M * (1 + 2 * C + self.num_pairs)
        self.num_params = 3 * M
        self.noise_depth = self.num_levels
        self.sample_dtype = tf.int32  # dtype of `sample`'s values (the sampler's buffer)
        self.truncatable = True  # `sample` takes a top-k / top-p truncation of the K levels
        # coupling[c, c'] = index of the pair (c, c') among the raw coefficients,
        # or num_pairs (a zero slot) when c' >= c: the strictly lower-triangular
        # C x C coupling matrix is one gather.
        index = np.full((C, C), self.num_pairs, np.int32)
        pair = 0
        for c in range(C):
            for c2 in range(c):
                index[c, c2] = pair
                pair += 1
        self._pair_index = index.reshape(-1)

    # ----------------------------------------------------------------- helpers
    def scale_levels(self, x):
        """Levels ``[0, K)`` -> bin centres ``v_k`` in ``[-1, 1]`` (float32)."""
        return tf.cast(x, tf.float32) * (2.0 / (self.num_levels - 1)) - 1.0

    def split_pixel_params(self, pixel_params):
        """``[..., num_pixel_params]`` -> logits ``[..., M]``, means, log-scales
        ``[..., C, M]``, coupling matrix ``[..., C, C, M]`` (tanh, strictly lower).
        """
        p = tf.cast(pixel_params, tf.float32)
        M, C, P = self.num_mixtures, self.num_channels, self.num_pairs
        lead = tf.shape(p)[:-1]
        logits = p[..., :M]
        channel_shape = tf.concat([lead, [C, M]], 0)
        # [..., C*M] -> [..., C, M]: channel-major, as laid out above.
        means = tf.reshape(p[..., M : M + C * M], channel_shape)
        log_scales = tf.reshape(p[..., M + C * M : M + 2 * C * M], channel_shape)
        log_scales = tf.clip_by_value(log_scales, self.min_log_scale, self.max_log_scale)
        raw = tf.reshape(p[..., M + 2 * C * M :], tf.concat([lead, [P, M]], 0))  # -> [..., P, M]
        zero = tf.zeros(tf.concat([lead, [1, M]], 0))
        padded = tf.concat([tf.tanh(raw), zero], axis=-2)  # [..., P+1, M]
        coupling = tf.gather(padded, self._pair_index, axis=-2)  # [..., C*C, M]
        coupling = tf.reshape(coupling, tf.concat([lead, [C, C, M]], 0))  # -> [..., C, C, M]
        return logits, means, log_scales, coupling

    def _coupled(self, pixel_params, x):
        """Shared part of `element_params` and `joint_log_prob`."""
        logits, means, log_scales, coupling = self.split_pixel_params(pixel_params)
        v = self.scale_levels(x)  # [..., C]
        # mu~_mc = mu_mc + sum_{c'} a_mcc' v_c'  (a is zero unless c' < c)
        coupled = means + tf.reduce_sum(coupling * v[..., None, :, None], axis=-2)  # [..., C, M]
        log_components = discretized_logistic_log_prob(
            tf.cast(x, tf.int32)[..., None], coupled, log_scales, self.num_levels
        )  # [..., C, M]
        return logits, coupled, log_scales, log_components

    # -------------------------------------------------------- pixel -> element
    def element_params(self, pixel_params, x):
        """Per-pixel network outputs and the given pixels -> per-element parameters.

        Args:
            pixel_params: ``[..., num_pixel_params]``.
            x: int levels ``[..., C]``; entry c of the result reads channels
                ``< c`` only.

        Returns:
            float32 ``[..., C, 3M]``: posterior log-weights (normalised),
            coupled means, clamped log-scales.
        """
        logits, coupled, log_scales, log_components = self._coupled(pixel_params, x)
        # Posterior weights after the earlier channels of the pixel: the
        # exclusive cumulative sum adds log P(x_c' | m) for c' < c only.
        evidence = tf.cumsum(log_components, axis=-2, exclusive=True)  # [..., C, M]
        log_weights = tf.nn.log_softmax(logits[..., None, :] + evidence, axis=-1)
        return tf.concat([log_weights, coupled, log_scales], axis=-1)  # [..., C, 3M]

    def joint_log_prob(self, pixel_params, x):
        """PixelCNN++'s joint log-likelihood of whole pixels: ``[..., C]`` -> ``[...]``.

        ``log sum_m pi_m prod_c P(x_c | m)``; equals the sum over channels of
        `log_prob` of `element_params` (the tests check it).
        """
        logits, _, _, log_components = self._coupled(pixel_params, x)
        return tf.reduce_logsumexp(
            tf.nn.log_softmax(logits, axis=-1) + tf.reduce_sum(log_components, axis=-2), axis=-1
        )

    # ------------------------------------------------------------ element-wise
    def _unpack(self, params):
        params = tf.cast(params, tf.float32)
        M = self.num_mixtures
        return params[..., :M], params[..., M : 2 * M], params[..., 2 * M :]

    def log_prob(self, params, x):
        """Per-element log-probabilities: ``params [..., 3M]``, ``x [...]`` -> float32 ``[...]``."""
        log_w, mean, log_s = self._unpack(params)
        log_p = discretized_logistic_log_prob(
            tf.cast(x, tf.int32)[..., None], mean, log_s, self.num_levels
        )  # [..., M]
        return tf.reduce_logsumexp(tf.nn.log_softmax(log_w, axis=-1) + log_p, axis=-1)

    def level_log_probs(self, params):
        """Log-probabilities of every level: ``[..., 3M]`` -> ``[..., K]``."""
        log_w, mean, log_s = self._unpack(params)
        levels = tf.range(self.num_levels)[:, None]  # [K, 1]
        log_p = discretized_logistic_log_prob(
            levels, mean[..., None, :], log_s[..., None, :], self.num_levels
        )  # [..., K, M]
        return tf.reduce_logsumexp(tf.nn.log_softmax(log_w, axis=-1)[..., None, :] + log_p, axis=-1)

    def probs(self, params):
        """Probabilities of every level ``[..., K]``."""
        return tf.exp(self.level_log_probs(params))

    def sample(self, params, noise, temperature=1.0, truncation=None):
        """Gumbel-max over the K level log-probabilities divided by the temperature.

        ``params [..., 3M]``, ``noise`` uniform ``[..., K]`` -> int32 ``[...]``.
        As for the categorical head, temperature T draws from ``p_k^(1/T)``
        renormalised: T = 1 is the exact law, T -> 0 the most probable level.  A top-k /
        top-p ``truncation`` acts on those K level probabilities (not on the mixture's
        components): the mixture is a law over levels like any other.
        """
        return gumbel_max(self.level_log_probs(params), noise, temperature, truncation)

    def distribution(self, params):
        """The same per-element law as a TFP distribution over levels ``[0, K)``.

        A `tfd.MixtureSameFamily` of `tfd.QuantizedDistribution` logistics,
        the construction of `tfd.PixelCNN` (imports TFP lazily).
        """
        import tensorflow_probability as tfp

        tfd, tfb = tfp.distributions, tfp.bijectors
        log_w, mean, log_s = self._unpack(params)
        half_range = 0.5 * (self.num_levels - 1)
        logistic = tfd.Logistic(loc=(mean + 1.0) * half_range, scale=tf.exp(log_s) * half_range)
        # Shift by -1/2 so that level k collects the logistic's mass on (k - 1/2, k + 1/2].
        shifted = tfd.TransformedDistribution(logistic, tfb.Shift(-0.5))
        quantized = tfd.QuantizedDistribution(shifted, low=0.0, high=self.num_levels - 1.0)
        return tfd.MixtureSameFamily(tfd.Categorical(logits=log_w), quantized)

    def get_config(self):
        return {
            "num_levels": self.num_levels,
            "num_mixtures": self.num_mixtures,
            "num_channels": self.num_channels,
            "min_log_scale": self.min_log_scale,
            "max_log_scale": self.max_log_scale,
        }
