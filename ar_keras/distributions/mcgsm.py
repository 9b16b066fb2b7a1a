"""MCGSM: the mixture of conditional Gaussian scale mixtures, for continuous pixels.

Theis, Hosseini & Bethge, "Mixtures of Conditional Gaussian Scale Mixtures
Applied to Multiscale Image Representations", PLoS ONE 2012; the output
distribution of RIDE (Theis & Bethge, NeurIPS 2015), where the input ``x`` is
the top spatial LSTM's hidden state.

For a scalar output ``y`` and an input ``x in R^N`` (the parametrisation of
the ``cmt`` library's ``MCGSM``, with one output dimension, ``M = 1``)::

    p(y | x)       = sum_{c, s} p(c, s | x) p(y | x, c, s)
    p(c, s | x)    ∝ exp(eta_cs - 1/2 e^{alpha_cs} sum_i beta_ci^2 (b_i^T x)^2 + e^{alpha_cs} w_c^T x)
    p(y | x, c, s) = N(y; a_c^T x + u_c, precision e^{alpha_cs} l_c^2)

``c`` indexes C components, ``s`` S scales of each; the ``F`` quadratic
features ``b_i`` are shared by all components, the weights ``beta_ci`` are
not.  The scale ``s`` multiplies the precision of component ``c`` by
``e^{alpha_cs}`` (a Gaussian *scale* mixture per component), and the same
factor enters the gate, as in the joint Gaussian scale mixture the conditional
is derived from.

Two pieces:

* `MCGSMParameters` (a Keras layer, the weights ``eta, alpha, beta, b, w, A,
  u, log l``): ``x [..., N]`` -> the per-element parameters ``[..., P]``;
* `MCGSM` (the head, no weights): those parameters -> ``log_prob`` (float32)
  and ``sample``.  ``P = 2 C S + C``: ``[gate logits (C S, index c S + s) |
  means mu_c (C) | log-precisions lambda_cs (C S)]`` and::

      log p(y) = logsumexp_cs [log_softmax(gate)_cs + lambda_cs / 2
                               - e^{lambda_cs} (y - mu_c)^2 / 2 - log(2 pi) / 2]

  For ``y = shift + scale y'`` (a whitening undone), `MCGSM.affine` gives the
  parameters of ``y`` from those of ``y'``: ``mu -> shift + scale mu`` and
  ``lambda -> lambda - 2 log scale``; the gates are unchanged.  The density
  of ``y`` is then ``p(y') / scale``: the whitening's log-Jacobian is in the
  parameters.

`MCGSMParameters` soft-clamps the log-precisions it outputs, ``lambda -> B
tanh(lambda / B)`` with ``B = log_precision_bound`` (14: standard deviations
within ``[e^-7, e^7]``), for the reason `ar_keras.distributions.GaussianMixture`
gives (a component collapsing onto one training point).  The head itself
takes the parameters as they are, so that `MCGSM.affine` is exact.

Sampling takes two uniforms per element: ``noise[..., 0]`` picks ``(c, s)``
by inverting the cumulative gate probabilities, ``noise[..., 1]`` gives the
Gaussian draw through the inverse normal CDF; the temperature multiplies the
standard deviation.

Example:
    >>> layer = MCGSMParameters(num_components=3, num_scales=2, num_features=4)
    >>> head = MCGSM(num_components=3, num_scales=2)
    >>> params = layer(tf.zeros([5, 16]))                    # [5, 2*3*2 + 3]
    >>> head.log_prob(params, tf.zeros([5])).shape
    TensorShape([5])
"""

import math

import keras
import tensorflow as tf

from ar_keras.distributions.inverse_normal import uniform_to_normal

__all__ = ["MCGSM", "MCGSMParameters"]

# Uniforms are kept this far from 0 and 1 so that ndtri stays finite.
_EPS = 2.0**-24
_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


class MCGSM:
    """The MCGSM head: ``[..., 2 C S + C]`` parameters -> a 1-d mixture per element.

    Args:
        num_components: C >= 1.
        num_scales: S >= 1.

    Attributes:
        num_params: ``2 C S + C``.
        noise_depth: 2 uniforms per element.
    """

    noise_depth = 2
    #: dtype of `sample`'s values (the sampler's buffer).
    sample_dtype = tf.float32

    def __init__(self, num_components, num_scales):
        self.num_components = int(num_components)
        self.num_scales = int(num_scales)
        if self.num_components < 1 or self.num_scales < 1:
            raise ValueError(
                f"num_components and num_scales must be >= 1, got {num_components!r} and {num_scales!r}."
            )
        cs = self.num_components * self.num_scales
        self.num_params = 2 * cs + self.num_components

    def split(self, params):
        """``[..., P]`` -> ``(log p(c, s) [..., C, S], mu [..., C, 1], lambda [..., C, S])``."""
        params = tf.cast(params, tf.float32)
        C, S = self.num_components, self.num_scales
        gate, mu, lam = tf.split(params, [C * S, C, C * S], axis=-1)
        shape = tf.concat([tf.shape(params)[:-1], [C, S]], 0)
        log_w = tf.reshape(tf.nn.log_softmax(gate, axis=-1), shape)  # [..., CS] -> [..., C, S]
        lam = tf.reshape(lam, shape)  # [..., CS] -> [..., C, S]
        return log_w, mu[..., None], lam  # mu: [..., C] -> [..., C, 1]

    def log_prob(self, params, y):
        """Per-element log-densities: ``params [..., P]``, ``y [...]`` -> float32 ``[...]``."""
        log_w, mu, lam = self.split(params)
        d = tf.cast(y, tf.float32)[..., None, None] - mu  # [..., C, 1]
        log_n = 0.5 * lam - 0.5 * tf.exp(lam) * tf.square(d) - _HALF_LOG_TWO_PI
        flat = tf.concat([tf.shape(log_n)[:-2], [-1]], 0)
        return tf.reduce_logsumexp(
            tf.reshape(log_w + log_n, flat), axis=-1
        )  # [..., C, S] -> [..., CS] -> [...]

    def sample(self, params, noise, temperature=1.0, truncation=None):
        """``params [..., P]``, uniforms ``noise [..., 2]`` -> float32 ``[...]`` (``truncation``
        must be None: a continuous law has no levels to truncate)."""
        if truncation is not None:
            raise ValueError(
                f"{type(self).__name__} is a continuous law: top_k / top_p truncate discrete levels only."
            )
        log_w, mu, lam = self.split(params)
        C, S = self.num_components, self.num_scales
        flat = tf.concat([tf.shape(log_w)[:-2], [C * S]], 0)
        w = tf.reshape(tf.exp(log_w), flat)  # [..., C, S] -> [..., CS]
        u = tf.clip_by_value(tf.cast(noise, tf.float32), _EPS, 1.0 - _EPS)
        cdf = tf.math.cumsum(w, axis=-1)
        # Rounding can leave cdf[-1] a hair below u: clamp to the last (c, s).
        index = tf.minimum(tf.reduce_sum(tf.cast(cdf < u[..., :1], tf.int32), axis=-1), C * S - 1)
        pick = tf.one_hot(index, C * S, dtype=tf.float32)  # [..., CS]
        means = tf.reshape(tf.broadcast_to(mu, tf.shape(lam)), flat)  # [..., C, S] -> [..., CS]
        mean = tf.reduce_sum(pick * means, axis=-1)
        std = tf.reduce_sum(pick * tf.exp(-0.5 * tf.reshape(lam, flat)), axis=-1)
        return mean + temperature * std * uniform_to_normal(u[..., 1])

    def mean(self, params):
        """``E[y] = sum_c p(c) mu_c``: ``[...]``."""
        log_w, mu, _ = self.split(params)
        return tf.reduce_sum(tf.exp(log_w) * mu, axis=[-2, -1])

    def affine(self, params, shift, scale):
        """The parameters of ``y = shift + scale * y'`` from those of ``y'`` (``scale > 0``).

        ``shift``, ``scale``: broadcastable to ``params.shape[:-1]``.
        """
        params = tf.cast(params, tf.float32)
        C, S = self.num_components, self.num_scales
        gate, mu, lam = tf.split(params, [C * S, C, C * S], axis=-1)
        shift = tf.cast(shift, tf.float32)[..., None]
        scale = tf.cast(scale, tf.float32)[..., None]
        return tf.concat([gate, shift + scale * mu, lam - 2.0 * tf.math.log(scale)], axis=-1)

    def get_config(self):
        return {"num_components": self.num_components, "num_scales": self.num_scales}


@keras.saving.register_keras_serializable(package="ar_keras")
class MCGSMParameters(keras.layers.Layer):
    """The MCGSM's weights: input features ``x [..., N]`` -> `MCGSM` parameters ``[..., P]``.

    Args:
        num_components: C (RIDE: 32).
        num_scales: S (RIDE: 4).
        num_features: F quadratic features (RIDE: 32).
        log_precision_bound: B of the soft clamp on the log-precisions (None: unclamped).

    Weights (``cmt``'s names): ``priors`` eta ``[C, S]``, ``scales`` alpha
    ``[C, S]``, ``weights`` beta ``[C, F]``, ``features`` b ``[N, F]``,
    ``linear_features`` w ``[N, C]``, ``predictors`` A ``[N, C]``, ``means``
    u ``[C]``, ``log_cholesky`` log l ``[C]``.
    """

    def __init__(self, num_components=32, num_scales=4, num_features=32, log_precision_bound=14.0, **kwargs):
        super().__init__(**kwargs)
        self.log_precision_bound = None if log_precision_bound is None else float(log_precision_bound)
        self.num_components = int(num_components)
        self.num_scales = int(num_scales)
        self.num_features = int(num_features)
        if min(self.num_components, self.num_scales, self.num_features) < 1:
            raise ValueError(
                "num_components, num_scales and num_features must be >= 1, got "
                f"{num_components!r}, {num_scales!r}, {num_features!r}."
            )

    def build(self, input_shape):
        N, C, S, F = int(input_shape[-1]), self.num_components, self.num_scales, self.num_features
        normal = keras.initializers.RandomNormal
        self.priors = self.add_weight(name="priors", shape=(C, S), initializer="zeros")
        # Scales spread over [-1, 1] (a factor e^2 between the extreme precisions).
        spread = [(2.0 * s / max(S - 1, 1) - 1.0) for s in range(S)]
        self.scales = self.add_weight(
            name="scales", shape=(C, S), initializer=keras.initializers.Constant([spread] * C)
        )
        self.weights_ = self.add_weight(
            name="weights", shape=(C, F), initializer=normal(stddev=1.0 / math.sqrt(F))
        )
        self.features = self.add_weight(
            name="features", shape=(N, F), initializer=normal(stddev=1.0 / math.sqrt(N))
        )
        self.linear_features = self.add_weight(
            name="linear_features", shape=(N, C), initializer=normal(stddev=0.1 / math.sqrt(N))
        )
        self.predictors = self.add_weight(
            name="predictors", shape=(N, C), initializer=normal(stddev=0.1 / math.sqrt(N))
        )
        self.means = self.add_weight(name="means", shape=(C,), initializer="zeros")
        self.log_cholesky = self.add_weight(name="log_cholesky", shape=(C,), initializer="zeros")
        super().build(input_shape)

    def call(self, x):
        x = tf.cast(x, tf.float32)
        C, S = self.num_components, self.num_scales
        proj = tf.tensordot(x, self.features, axes=[[-1], [0]])  # [..., F]: b_i^T x
        quad = tf.tensordot(
            tf.square(proj), tf.transpose(tf.square(self.weights_)), axes=[[-1], [0]]
        )  # [..., C]
        lin = tf.tensordot(x, self.linear_features, axes=[[-1], [0]])  # [..., C]
        e_alpha = tf.exp(self.scales)  # [C, S]
        gate = self.priors - 0.5 * e_alpha * quad[..., None] + e_alpha * lin[..., None]  # [..., C, S]
        mu = tf.tensordot(x, self.predictors, axes=[[-1], [0]]) + self.means  # [..., C]
        lam = self.scales + 2.0 * self.log_cholesky[:, None]  # [C, S]
        if self.log_precision_bound is not None:
            lam = self.log_precision_bound * tf.tanh(lam / self.log_precision_bound)
        lam = tf.broadcast_to(lam, tf.shape(gate))
        flat = tf.concat([tf.shape(gate)[:-2], [C * S]], 0)
        return tf.concat(
            [tf.reshape(gate, flat), mu, tf.reshape(lam, flat)], axis=-1
        )  # [..., C, S] -> [..., CS]

    def compute_output_shape(self, input_shape):
        C, S = self.num_components, self.num_scales
        return tuple(input_shape[:-1]) + (2 * C * S + C,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_components": self.num_components,
                "num_scales": self.num_scales,
                "num_features": self.num_features,
                "log_precision_bound": self.log_precision_bound,
            }
        )
        return config
