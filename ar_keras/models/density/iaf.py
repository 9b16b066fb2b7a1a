"""IAF: Inverse Autoregressive Flow as a density model (fast sampling).

Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling, "Improved Variational
Inference with Inverse Autoregressive Flow", NIPS 2016 (the flow; their
ResNet VAE is `iaf_vae`).

The generative direction maps base noise ``u ~ N(0, I)`` to data through K
IAF layers (`ar_keras.flows.iaf`), each reading its MADE on the noise side::

    h_k = h_{k-1} * exp(s_k(h_{k-1})) + m_k(h_{k-1})        (gated: sigma h + (1 - sigma) m)

(the affine step of `ar_keras.flows.affine`, on `ar_keras.flows.MADE` layers)

with the dimensions reversed between layers.  So::

    log p(x) = log N(u; 0, I) - sum_k sum_d s_{k,d}(h_{k-1})

**Costs** (the mirror image of MAF):

* `sample` and `sample_and_log_prob`: one MADE pass per layer;
* `log_prob` of an *outside* ``x`` (and so training by maximum likelihood
  with ``model.fit``): each layer must be inverted one dimension at a time,
  D sequential MADE passes per layer (TFP's ``tf.while_loop``).  Exact, but
  D times slower than MAF's density pass.

The per-dimension terms (`dimension_log_probs`) sum to `log_prob`; with
``permutation="none"`` (or one layer) the map is triangular in the natural
order and they are the exact conditionals (`conditional_log_probs`).

Example:
    >>> import numpy as np, ar_keras as ark
    >>> model = ark.models.get("iaf", preset="tiny")
    >>> x, log_p = model.sample_and_log_prob(1000, seed=0)   # one pass, no inversion
    >>> bool(np.allclose(model.log_prob(x), log_p, atol=1e-4))   # D passes: same numbers
    True
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from ar_keras import flows
from ar_keras.core import noise as noise_lib
from ar_keras.core.density import HALF_LOG_TWO_PI, ContinuousModel, uniform_to_normal
from ar_keras.flows import affine
from ar_keras.flows.permutation import layer_permutations
from ar_keras.models.registry import register

__all__ = ["IAF"]

tfd = tfp.distributions


@register("iaf")
class IAF(ContinuousModel):
    """Inverse Autoregressive Flow density model.

    Args:
        event_size: D.
        num_layers: K IAF layers.
        hidden_units: hidden widths of every MADE.
        permutation: between layers: ``"reverse"``, ``"random"`` or ``"none"``.
        gated: Kingma et al.'s sigmoid-gated update (scales at most 1).
        activation: hidden activation of the MADEs.
        hidden_degrees: ``"equal"`` or ``"random"``.
        log_scale_bound: soft clamp of the log-scales.
        num_classes: class-conditional IAF (one-hot labels into every MADE).
        seed: seeds the MADE degrees and random permutations.
    """

    def __init__(
        self,
        event_size=2,
        num_layers=4,
        hidden_units=(64, 64),
        permutation="reverse",
        gated=False,
        activation="relu",
        hidden_degrees="equal",
        log_scale_bound=5.0,
        num_classes=None,
        seed=0,
        **kwargs,
    ):
        super().__init__(event_size, num_classes=num_classes, **kwargs)
        self.num_layers = int(num_layers)
        self.hidden_units = [int(h) for h in np.atleast_1d(hidden_units)]
        self.permutation = permutation
        self.gated = bool(gated)
        self.activation = activation
        self.hidden_degrees = hidden_degrees
        self.log_scale_bound = None if log_scale_bound is None else float(log_scale_bound)
        self.seed = int(seed)
        D = self.event_size
        # mades[0] acts first on the noise when sampling.
        self.mades = flows.made_stack(
            D,
            num_layers,
            self.hidden_units,
            permutation,
            activation,
            hidden_degrees,
            self.log_scale_bound,
            self.num_classes,
            self.seed,
        )
        for made in self.mades:
            made.build((None, D))
        # Permutations in the density direction (as `flows.stack` applies them).
        self._perms = layer_permutations(D, self.num_layers, permutation, seed=self.seed)
        self._finish_init()

    @property
    def exact_conditionals(self):
        return self.permutation == "none" or self.num_layers == 1

    def bijector(self):
        """The flow as a TFP bijector: ``forward`` samples (one pass), ``inverse`` D passes."""
        return flows.iaf(self.mades, permutation=self.permutation, gated=self.gated, seed=self.seed)

    def distribution(self):
        """``tfd.TransformedDistribution(N(0, I), bijector())`` (unconditional models)."""
        if self.num_classes is not None:
            raise ValueError("distribution() is for unconditional models; use log_prob / sample.")
        return tfd.TransformedDistribution(
            tfd.Sample(tfd.Normal(0.0, 1.0), [self.event_size]), self.bijector()
        )

    def _step_log_scale(self, made, h, kw):
        """``log |dx/du|`` per dimension of one layer, read at its noise-side input ``h``."""
        _, log_scale = made(h, **kw)
        return affine.log_det(log_scale, self.gated)

    # ------------------------------------------------------------------ density
    def dimension_log_probs(self, x, conditional=None):
        """Per-dimension terms ``[B, D]`` summing to `log_prob` (exact conditionals if
        `exact_conditionals`)."""
        x, c = self._check(x, conditional)
        return self._terms(x, c)

    def _terms(self, x, c):
        c1h = self._one_hot(c)
        kw = {} if c1h is None else {"conditional_input": c1h}
        h, acc = x, tf.zeros_like(x)
        position = np.arange(self.event_size)
        # Density direction: the last sampling layer is inverted first.
        for j, k in enumerate(reversed(range(self.num_layers))):
            made = self.mades[k]
            layer = flows.iaf_layer(made, self.gated, name=f"iaf_{k}")
            h = layer.inverse(h, **kw)  # D sequential passes
            acc = acc - self._step_log_scale(made, h, kw)
            if j < len(self._perms):
                perm = self._perms[j]
                h, acc = tf.gather(h, perm, axis=1), tf.gather(acc, perm, axis=1)
                position = position[perm]
        base = -0.5 * tf.square(h) - HALF_LOG_TWO_PI
        return tf.gather(acc + base, np.argsort(position), axis=1)

    def _log_prob(self, x, c, training=False):
        return tf.reduce_sum(self._terms(x, c), axis=1)

    def _conditional_log_probs(self, x, c):
        return self._terms(x, c)

    # ----------------------------------------------------------------- sampling
    def _forward(self, u, c1h):
        """Base noise ``u`` -> ``(x, sum_k log|dh_k/dh_{k-1}|)``: one pass per layer."""
        kw = {} if c1h is None else {"conditional_input": c1h}
        h, log_det = u, tf.zeros(tf.shape(u)[:1])
        perms = list(reversed(self._perms))  # sampling direction: inverse permutations
        for k, made in enumerate(self.mades):
            h, step_log_det = affine.forward(h, *made(h, **kw), gated=self.gated)
            log_det += tf.reduce_sum(step_log_det, axis=1)
            if k < len(perms):
                h = tf.gather(h, np.argsort(perms[k]), axis=1)
        return h, log_det

    def _sample_from_noise(self, noise, conditional, temperature, cache):
        del cache  # one path: a single pass per layer
        u = temperature * uniform_to_normal(noise[..., 0])
        return self._forward(u, self._one_hot(conditional))[0]

    def sample_and_log_prob(self, num_samples, conditional=None, seed=None, temperature=1.0):
        """Samples and their log-density in one pass per layer (no inversion).

        Returns:
            ``(x [n, D], log p(x) [n])``; ``log p`` is the model's density at
            ``x`` (temperature changes where ``x`` lands, not the density).
        """
        n, c, temperature, _ = self._check_sample_args(num_samples, conditional, temperature, None)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
        noise = noise_lib.seeded_noise(int(seed), n, self.event_size, 1)

        def run(nz, c, t):
            u = t * uniform_to_normal(nz[..., 0])
            x, log_det = self._forward(u, self._one_hot(c))
            base = tf.reduce_sum(-0.5 * tf.square(u) - HALF_LOG_TWO_PI, axis=1)
            return x, base - log_det

        fn = self._compiled(("sample_and_log_prob", c is None), run)
        return fn(noise, c, tf.constant(temperature, tf.float32))
