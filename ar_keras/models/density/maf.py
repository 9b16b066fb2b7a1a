"""MAF: Masked Autoregressive Flow density model (MAF(K) and MAF MoG).

Papamakarios, Pavlakou & Murray, "Masked Autoregressive Flow for Density
Estimation", NIPS 2017.

The density direction maps data ``x`` to base noise ``u`` through K MADE
layers (`ar_keras.flows.MADE`), each::

    h_k = (h_{k-1} - mu_k(h_{k-1})) * exp(-alpha_k(h_{k-1}))       (autoregressive)

with the dimensions reversed between layers and, optionally, batch
normalisation after each MADE (`ar_keras.flows.BatchNorm`).  Then::

    log p(x) = log p_base(u) + sum_k sum_d log |d h_{k,d} / d h_{k-1,d}|
             = sum_d [log p_base(u_d | u_<d) + sum_k (-alpha_{k,d} + bn_{k,d})]

The base is a standard normal (MAF(K)) or a MADE MoG (MAF MoG: a MADE whose
conditionals are C-component Gaussian mixtures,
`ar_keras.distributions.GaussianMixture`).  The bracket is one term per
dimension: `dimension_log_probs` returns them (summing exactly to
`log_prob`); when the whole map ``x -> u`` is triangular in one ordering
(``permutation="none"``, or a single layer) they are the exact conditionals
``log p(x_d | x_<d)`` and `conditional_log_probs` returns them.

**Costs.**  ``log_prob`` goes through the TFP bijector of `bijector`
(``inverse`` and ``inverse_log_det_jacobian``): parallel passes through each
MADE (training by ``model.fit`` is fast); ``sample`` runs its ``forward``,
which inverts each layer with D sequential MADE passes (a ``tf.while_loop``);
MAF MoG first draws its base ``u`` with `ar_keras.core.sampler.run` (the MADE
MoG as an `ar_keras.core.AutoregressiveDensity`: D more passes).
`dimension_log_probs` walks the same steps (`ar_keras.flows.affine`) one
layer at a time to keep the per-dimension terms the bijector sums away.

**Bounded data.**  With ``data_transform="logit"`` data must lie in
``[0, 1]`` and the flow models ``y = logit(a + (1 - 2a) x)`` (the paper's
preprocessing of MNIST and CIFAR-10, ``a = logit_alpha``); the log-Jacobian
of that map is included, so `log_prob` is the density of ``x`` itself.

Example:
    >>> import keras, ar_keras as ark
    >>> model = ark.models.get("maf", preset="digits")      # 64-d dequantized digits
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> # model.fit(ark.data.load("digits_continuous").batch(128), ...)
    >>> dist = model.distribution()     # a tfd.TransformedDistribution (Gaussian base)
"""

import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from ar_keras import flows
from ar_keras.core.density import HALF_LOG_TWO_PI, AutoregressiveDensity, ContinuousModel, uniform_to_normal
from ar_keras.distributions import GaussianMixture
from ar_keras.flows import affine
from ar_keras.flows.permutation import layer_permutations
from ar_keras.models.registry import register

__all__ = ["MAF", "logit_transform_bijector"]

tfb, tfd = tfp.bijectors, tfp.distributions

_TRANSFORMS = (None, "logit")


def logit_transform_bijector(alpha):
    """``forward: y -> (sigmoid(y) - a) / (1 - 2a)``; ``inverse: x -> logit(a + (1 - 2a) x)``."""
    return tfb.Chain(
        [tfb.Scale(1.0 / (1.0 - 2.0 * alpha)), tfb.Shift(-alpha), tfb.Sigmoid()], name="logit_transform"
    )


class _MADEMoG(AutoregressiveDensity):
    """MAF MoG's base ``p(u) = prod_d MoG(u_d; MADE(u_<d))`` as the sampler's protocol.

    Full recompute only (one MADE pass a step): an incremental MADE would sum
    the first layer in another order than the full pass, so its continuous
    draws would differ from ``cache=False`` in the last bits.
    """

    def __init__(self, made, mixture, one_hot):
        self.made, self.head, self._one_hot = made, mixture, one_hot
        self.ordering = made.ordering

    def element_params(self, u, conditional=None):
        c1h = self._one_hot(conditional)
        return self.made(u, **({} if c1h is None else {"conditional_input": c1h}))  # [n, D, 3C]


@register("maf")
class MAF(ContinuousModel):
    """Masked Autoregressive Flow, MAF(K) or MAF MoG.

    Args:
        event_size: D.
        num_layers: K, the number of MADE layers.
        hidden_units: hidden widths of every MADE.
        permutation: between layers: ``"reverse"`` (the paper), ``"random"``
            or ``"none"`` (then the model is autoregressive in the natural
            order and `conditional_log_probs` is exact).
        batch_norm: batch normalisation after each MADE (the paper).
        batch_norm_momentum: momentum of the moving statistics used outside
            training.
        base: ``"gaussian"`` (MAF) or ``"mog"`` (MAF MoG: a MADE MoG base).
        num_mixtures: C, the Gaussian components of each conditional of the MoG base.
        activation: hidden activation of the MADEs.
        hidden_degrees: ``"equal"`` or ``"random"`` MADE hidden degrees.
        log_scale_bound: soft clamp of the MADE log-scales (`ar_keras.flows.MADE`).
        data_transform: None or ``"logit"`` (data in ``[0, 1]``).
        logit_alpha: a of the logit transform.
        num_classes: class-conditional MAF (one-hot labels into every MADE).
        seed: seeds the MADE degrees and random permutations.
    """

    def __init__(
        self,
        event_size=2,
        num_layers=5,
        hidden_units=(64, 64),
        permutation="reverse",
        batch_norm=False,
        batch_norm_momentum=0.9,
        base="gaussian",
        num_mixtures=10,
        activation="relu",
        hidden_degrees="equal",
        log_scale_bound=5.0,
        data_transform=None,
        logit_alpha=1e-6,
        num_classes=None,
        seed=0,
        **kwargs,
    ):
        super().__init__(event_size, num_classes=num_classes, **kwargs)
        self.num_layers = int(num_layers)
        self.hidden_units = [int(h) for h in np.atleast_1d(hidden_units)]
        self.permutation = permutation
        self.batch_norm = bool(batch_norm)
        self.batch_norm_momentum = float(batch_norm_momentum)
        if base not in ("gaussian", "mog"):
            raise ValueError(f"base must be 'gaussian' or 'mog', got {base!r}.")
        self.base = base
        self.num_mixtures = int(num_mixtures)
        self.activation = activation
        self.hidden_degrees = hidden_degrees
        self.log_scale_bound = None if log_scale_bound is None else float(log_scale_bound)
        if data_transform not in _TRANSFORMS:
            raise ValueError(f"data_transform must be None or 'logit', got {data_transform!r}.")
        self.data_transform = data_transform
        self.logit_alpha = float(logit_alpha)
        if data_transform == "logit" and not 0.0 <= self.logit_alpha < 0.5:
            raise ValueError(f"logit_alpha must be in [0, 0.5), got {logit_alpha}.")
        self.seed = int(seed)
        D = self.event_size
        cond = self.num_classes

        self.mades = flows.made_stack(
            D,
            num_layers,
            self.hidden_units,
            permutation,
            activation,
            hidden_degrees,
            self.log_scale_bound,
            cond,
            self.seed,
        )
        self.batch_norms = (
            [
                flows.BatchNorm(momentum=self.batch_norm_momentum, name=f"batch_norm_{k}")
                for k in range(self.num_layers)
            ]
            if self.batch_norm
            else []
        )
        self._perms = layer_permutations(D, self.num_layers, permutation, seed=self.seed)
        if base == "mog":
            self._mog = GaussianMixture(self.num_mixtures)
            # The paper reverses the order once more before the MoG MADE.
            base_order = {"reverse": "reversed", "random": "random", "none": "natural"}[permutation]
            self.base_made = flows.MADE(
                params=self._mog.num_params,
                hidden_units=self.hidden_units,
                event_size=D,
                ordering=base_order,
                activation=activation,
                hidden_degrees=hidden_degrees,
                conditional_size=cond,
                seed=self.seed * 1009 + self.num_layers,
                name="base_made",
            )
        else:
            self._mog = None
            self.base_made = None
        for layer in self.mades + self.batch_norms + ([self.base_made] if self.base_made else []):
            layer.build((None, D))
        self._finish_init()

    # --------------------------------------------------------------- structure
    @property
    def noise_depth(self):
        return 2 if self.base == "mog" else 1

    @property
    def support(self):
        """With the logit transform, the interval ``[-a, 1 - a] / (1 - 2a)`` it maps onto R
        (``[0, 1]`` up to ``a``): the density is positive, and integrates to 1, there."""
        if self.data_transform != "logit":
            return None
        a = self.logit_alpha
        return (-a / (1.0 - 2.0 * a), (1.0 - a) / (1.0 - 2.0 * a))

    @property
    def exact_conditionals(self):
        single = self.num_layers == 1 and (self.base == "gaussian" or self.permutation == "none")
        return self.permutation == "none" or single

    @property
    def ordering(self):
        return np.arange(self.event_size)

    def bijector(self, training=False):
        """The flow as a TFP bijector (``forward``: base noise -> data; ``inverse``: data -> noise).

        A ``tfb.Chain`` of the logit transform (if any) and `ar_keras.flows.maf`
        over this model's MADEs, permutations and batch norms.
        """
        stack = flows.maf(
            self.mades,
            permutation=self.permutation,
            batch_norm=self.batch_norms or None,
            training=training,
            seed=self.seed,
        )
        if self.data_transform == "logit":
            return tfb.Chain([logit_transform_bijector(self.logit_alpha), stack], name="maf_model")
        return stack

    def distribution(self):
        """``tfd.TransformedDistribution(N(0, I), bijector())`` (Gaussian base, unconditional)."""
        if self.base != "gaussian" or self.num_classes is not None:
            raise ValueError(
                "distribution() needs base='gaussian' and no class conditioning; use log_prob / sample."
            )
        base = tfd.Sample(tfd.Normal(0.0, 1.0), [self.event_size])
        return tfd.TransformedDistribution(base, self.bijector())

    # ------------------------------------------------------------------ density
    def _transform_in(self, x):
        """Data -> flow input, with the per-dimension log-Jacobian ``[B, D]``."""
        if self.data_transform != "logit":
            return x, tf.zeros_like(x)
        a = self.logit_alpha
        s = a + (1.0 - 2.0 * a) * x
        # d logit(s)/dx = (1 - 2a) / (s (1 - s)); log1p keeps 1 - s accurate.
        y = tf.math.log(s) - tf.math.log1p(-s)
        return y, math.log(1.0 - 2.0 * a) - tf.math.log(s) - tf.math.log1p(-s)

    def dimension_log_probs(self, x, conditional=None, training=False):
        """Per-dimension terms of the change of variables: ``[B, D]``, summing to `log_prob`.

        Term ``d`` collects, for data dimension ``d``, the base log-density of
        the noise coordinate it ends up in and every layer's ``log|dh/dh'|``
        along its path.  Exact conditionals when `exact_conditionals`.
        """
        x, c = self._check(x, conditional)
        return self._terms(x, c, training)

    def _terms(self, x, c, training=False):
        """The change of variables walked one dimension-wise step at a time: ``[B, D]``."""
        c1h = self._one_hot(c)
        kw = {} if c1h is None else {"conditional_input": c1h}
        h, acc = self._transform_in(x)  # [B, D] each, data coords
        position = np.arange(self.event_size)  # h[:, j] holds data dim position[j]
        for k, made in enumerate(self.mades):
            h, log_det = affine.inverse(h, *made(h, **kw))  # x -> u of one MAF layer
            acc = acc + log_det
            if self.batch_norms:
                h, log_det = self.batch_norms[k].normalize(h, training=training)
                acc = acc + log_det
            if k < len(self._perms):
                perm = self._perms[k]
                h, acc = tf.gather(h, perm, axis=1), tf.gather(acc, perm, axis=1)
                position = position[perm]
        # Back to data coordinates: column j of acc belongs to data dimension position[j].
        return tf.gather(acc + self._base_log_probs(h, c1h), np.argsort(position), axis=1)

    def _base_log_probs(self, u, c1h):
        """``log p_base`` per noise coordinate: ``[B, D]``."""
        if self._mog is None:
            return -0.5 * tf.square(u) - HALF_LOG_TWO_PI
        kw = {} if c1h is None else {"conditional_input": c1h}
        return self._mog.log_prob(self.base_made(u, **kw), u)  # [B, D, 3C] -> [B, D]

    def _log_prob(self, x, c, training=False):
        """Through the TFP bijector: ``log p_base(u) + log |det du/dx|`` with ``u = bijector.inverse(x)``."""
        c1h = self._one_hot(c)
        flow = self.bijector(training=training)
        kw = flows.conditional_kwargs(flow, c1h)
        # The same x for both calls: TFP's cache then reuses the inverse (a batch
        # norm in training updates its moving statistics once).
        u = flow.inverse(x, **kw)
        log_det = flow.inverse_log_det_jacobian(x, event_ndims=1, **kw)  # [B]
        return tf.reduce_sum(self._base_log_probs(u, c1h), axis=1) + log_det

    def _conditional_log_probs(self, x, c):
        return self._terms(x, c)

    # ----------------------------------------------------------------- sampling
    def _sample_graph(self, noise, num_samples, length, conditional, temperature, cache):
        """Base draws ``u [n, D]``, then the bijector's forward (D MADE passes per layer)."""
        del length
        if self._mog is None:
            u = temperature * uniform_to_normal(noise.all(self.event_size)[..., 0])  # [n, D, 1] -> [n, D]
        else:
            # The MADE MoG base is autoregressive in its own ordering: the one sampler.
            u = _MADEMoG(self.base_made, self._mog, self._one_hot).sample_elements(
                noise, num_samples, self.event_size, conditional, temperature, cache
            )
        c1h = self._one_hot(conditional)
        flow = self.bijector()
        return flow.forward(u, **flows.conditional_kwargs(flow, c1h))
