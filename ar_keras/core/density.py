"""Flows, continuous densities and latent-variable models on the one base.

`ContinuousModel`: a density ``p(x)`` on ``R^D`` (data float ``[B, D]``,
`ar_keras.core.events.VectorEvent`), for MAF, IAF and RNADE::

    log_prob(x, conditional=None)                 [B] nats (a density: may be > 0)
    conditional_log_probs(x, conditional=None)    [B, D], where exact
    sample(n, conditional=None, seed=, temperature=1.0)   float32 [n, D]

**Bits per dimension** of a density are ``-log p(x) / (D ln 2)``; for
continuous data they may be *negative* and depend on the scale of the data, so
early stopping watches ``monitor = "val_loss"`` (the validation NLL).

**Sampling** draws ``noise_depth`` uniforms per dimension from the key
``(seed, sample, dimension)`` (`ar_keras.core.noise`) and maps them to normals
by the inverse normal CDF.  ``temperature`` T scales the base noise
(``z ~ N(0, T^2)``, the Glow convention; mixtures scale their component
standard deviations).

`AutoregressiveDensity`: the protocol `ar_keras.core.sampler.run` reads, for a
density on ``R^D`` whose conditionals ``p(x_{o(t)} | x_{o(<t)})`` come from a
head (`ar_keras.distributions.GaussianMixture`) one dimension at a time in an
ordering ``o``: ``head``, ``ordering``, ``element_params(x [n, D], c) -> [n,
D, P]`` (data order, the full-recompute path) and optionally ``init_cache`` /
``step`` (the cached path).  A `ContinuousModel` that is one (RNADE) samples
through the sampler; a model whose base density is one (MAF MoG) samples its
base with `AutoregressiveDensity.sample_elements`.

`LatentVariableModel`: images of integer levels with latent variables
(`iaf_vae`, `pixelvae`): training maximises a per-example bound (the ELBO),
``log_prob`` is an importance-weighted bound (Burda et al. 2016), ``elbo(x)``
the ELBO, and sampling draws the latents from the prior, then the pixels.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("maf", preset="tiny")           # event_size=2
    >>> model.compile(optimizer="adam")
    >>> x = model.sample(4, seed=0)                             # float32 [4, 2]
    >>> model.log_prob(x).shape
    TensorShape([4])
"""

import math

import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import sampler
from ar_keras.core.base import BaseModel
from ar_keras.core.events import ImageEvent, VectorEvent
from ar_keras.distributions.inverse_normal import uniform_to_normal

__all__ = [
    "ContinuousModel",
    "AutoregressiveDensity",
    "LatentVariableModel",
    "uniform_to_normal",
    "HALF_LOG_TWO_PI",
]

HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


class AutoregressiveDensity(sampler.SamplingProtocol):
    """Mixin: a continuous density factorised one dimension at a time, sampled by the one sampler.

    Subclasses provide ``head`` (params -> distribution, with ``sample`` and
    ``sample_dtype``), ``ordering`` (``[D]``: the dimension generated at step
    t) and ``element_params``; ``init_cache`` / ``step`` where a cheaper exact
    path exists (else ``cache=True`` runs the full recompute too).  See
    `ar_keras.core.sampler.SamplingProtocol`.
    """

    def _sample_graph(self, noise, num_samples, length, conditional, temperature, cache):
        del length
        return self.sample_elements(noise, num_samples, len(self.ordering), conditional, temperature, cache)


class ContinuousModel(BaseModel):
    """Base class of the density models of float vectors ``[B, D]``.

    Args:
        event_size: D.
        num_classes: number of class labels to condition on, or None.

    Subclasses implement ``_log_prob`` (and ``_conditional_log_probs`` with
    ``exact_conditionals`` where the conditionals are exact) and either
    inherit `AutoregressiveDensity` too (sampling by `ar_keras.core.sampler.run`)
    or implement ``_sample_from_noise(noise [n, D, depth], conditional,
    temperature, cache)``.
    """

    #: Uniforms per dimension that one sample consumes.
    noise_depth = 1
    #: Densities of float data: log-determinants, triangular inverses and sharp densities need
    #: float32, and these small MLPs gain nothing from half precision (BaseModel docstring).
    float32_only = True
    #: None (all of R^D) or the ``(low, high)`` every value must lie in.
    support = None
    event_class = VectorEvent

    def __init__(self, event_size, num_classes=None, **kwargs):
        # The support may depend on arguments set after this call: `_finish_init` sets it.
        super().__init__(VectorEvent(event_size), num_classes, **kwargs)

    @property
    def image_shape(self):
        """``(D,)``: the event shape."""
        return self.event.shape

    @property
    def ordering(self):
        """``[D]`` int array: ``ordering[t]`` is the dimension generated at step t."""
        return np.arange(self.event_size)

    def _finish_init(self):
        # The support may depend on arguments a subclass sets after this base's __init__.
        self.event = VectorEvent(self.event_size, self.support)
        super()._finish_init()

    def _one_hot(self, c):
        """Labels ``[B]`` -> one-hot ``[B, num_classes]`` (None stays None)."""
        return None if c is None else tf.one_hot(c, self.num_classes, dtype=tf.float32)

    def _sample_graph(self, noise, num_samples, length, conditional, temperature, cache):
        del length
        return self._sample_from_noise(noise.all(self.event_size), conditional, temperature, bool(cache))

    def _sample_from_noise(self, noise, conditional, temperature, cache):
        raise NotImplementedError


class LatentVariableModel(BaseModel):
    """Base class of the latent-variable models of integer images (`iaf_vae`, `pixelvae`).

    Args:
        image_shape: ``(H, W, C)``.
        num_levels: K.

    Subclasses set ``seed``, ``num_importance_samples`` and ``_latent_size``
    (standard-normal dimensions of the posterior noise) and implement
    ``_inference(x, eps) -> (log p(x|z), log q(z|x) - log p(z) at z, KL used for
    training)`` (each ``[B]``), ``_objective`` (bound used for training, ELBO),
    ``noise_size`` and ``_sample_from_noise(noise [n, noise_size], temperature)``.
    From those this base gives `log_prob` (the importance-weighted bound of
    Burda et al. 2016), `elbo` and the per-replica training noise.
    """

    event_class = ImageEvent
    noise_depth = 1
    #: Early stopping on the validation bound in nats (its bits/dim are a bound too).
    monitor = "val_loss"
    #: The importance-weighted bound needs stateless random normals, which TFLite lacks.
    supports_tflite = False
    #: The posterior samples, Gaussian log-densities, KL terms and IAF log-determinants
    #: run in float32 (BaseModel docstring).
    float32_only = True

    def __init__(self, image_shape, num_levels, num_classes=None, **kwargs):
        super().__init__(ImageEvent(image_shape, num_levels), num_classes, **kwargs)

    @property
    def image_shape(self):
        return self.event.shape

    @property
    def noise_size(self):
        raise NotImplementedError

    def _log_prob(self, x, conditional, training=False):
        return self.log_prob(x, conditional)

    def _inference(self, x, eps):
        raise NotImplementedError

    # ------------------------------------------------------------------ noise
    def _training_noise(self, batch, training):
        """Posterior noise for `fit` / `evaluate`: keyed by (seed, step), sliced per replica.

        Every replica draws the *global* batch's noise and keeps its own rows,
        so a step on R replicas sees the noise the single-device step sees.
        """
        step = tf.constant(0, tf.int64)
        if training and getattr(self, "optimizer", None) is not None:
            step = tf.cast(self.optimizer.iterations, tf.int64) + 1
        ctx = tf.distribute.get_replica_context()
        replicas = 1 if ctx is None else ctx.num_replicas_in_sync
        replica = 0 if ctx is None else ctx.replica_id_in_sync_group
        key = tf.stack([tf.constant(self.seed, tf.int64), step])
        full = tf.random.stateless_normal([batch * replicas, self._latent_size], seed=key, alg="philox")
        return full[tf.cast(replica, tf.int32) * batch :][:batch]

    # ----------------------------------------------------------------- bounds
    def _log_weights(self, x, num_samples, seed):
        """``log p(x, z_s) - log q(z_s | x)`` for S posterior samples: ``[S, B]``.

        Row ``b S + s`` of one Philox stream: example b's noise does not depend
        on the batch size.
        """
        batch = tf.shape(x)[0]
        tiled = tf.repeat(x, num_samples, axis=0)  # [B*S, H, W, C]
        eps = tf.random.stateless_normal(
            [batch * num_samples, self._latent_size],
            seed=tf.stack([tf.cast(seed, tf.int64), tf.constant(1, tf.int64)]),
            alg="philox",
        )
        log_px, kl = self._inference(tiled, eps)[:2]
        return tf.transpose(tf.reshape(log_px - kl, [batch, num_samples]))  # [B*S] -> [B, S] -> [S, B]

    def _bounds(self, x, num_samples, seed):
        with self.precision_scope():  # the weights as `fit` reads them; the bound in float32
            lw = tf.cast(self._log_weights(x, num_samples, seed), tf.float32)
        iwae = tf.reduce_logsumexp(lw, axis=0) - tf.math.log(tf.cast(num_samples, tf.float32))
        return iwae, tf.reduce_mean(lw, axis=0)

    def log_prob(self, x, conditional=None, num_samples=None, seed=0):
        """Importance-weighted lower bound on ``log p(x)`` (Burda et al. 2016): ``[B]`` nats.

        Args:
            x: int images ``[B, H, W, C]``.
            conditional: must be None.
            num_samples: S posterior samples (default ``num_importance_samples``).
            seed: int; keys the posterior noise (same seed, same estimate).
        """
        x, _ = self._check(x, conditional)
        S = self.num_importance_samples if num_samples is None else num_samples
        return self._checked_bounds(x, S, seed)[0]

    def elbo(self, x, num_samples=1, seed=0):
        """The evidence lower bound, averaged over S posterior samples: ``[B]`` nats."""
        x, _ = self._check(x, None)
        return self._checked_bounds(x, num_samples, seed)[1]

    def _checked_bounds(self, x, num_samples, seed):
        """`_bounds` after checking S (at most `max_sample_elements` images in all) and the seed."""
        S = checks.check_positive_int(num_samples, "num_samples")
        if seed is None or checks.check_seed(seed) is None:
            raise ValueError(f"seed must be an integer (it keys the posterior noise), got {seed!r}.")
        batch = max(x.shape[0] or 1, 1)  # an empty batch does not make any S acceptable
        if batch * S * self.event_size > self.max_sample_elements:
            raise ValueError(
                f"num_samples = {S} posterior samples of {x.shape[0]} images are more than one call "
                f"may hold (max_sample_elements = {self.max_sample_elements}): num_samples must be "
                "smaller, or the batch split."
            )
        if x.shape[0] == 0:
            return tf.zeros([0], tf.float32), tf.zeros([0], tf.float32)
        return self._bounds(x, S, int(seed))

    def conditional_log_probs(self, x, conditional=None):
        name = getattr(self, "registry_name", type(self).__name__)
        raise NotImplementedError(
            f"{name} is a latent-variable model: it has no exact per-pixel "
            "conditionals. Use log_prob (importance-weighted bound) or elbo."
        )

    def _sample_graph(self, noise, num_samples, length, conditional, temperature, cache):
        del num_samples, length, conditional, cache  # one path: prior, then decoder
        return self._sample_from_noise(noise.all(self.noise_size)[..., 0], temperature)  # [n, N, 1] -> [n, N]

    def sample_from_noise(self, noise, conditional=None, temperature=1.0, cache=True):
        """Samples from given uniforms ``noise [n, noise_size, 1]``."""
        noise, c, temperature, _ = self._check_noise(noise, conditional, temperature, self.noise_size)
        if noise.shape[0] == 0:
            return tf.zeros((0,) + self.event.event_shape(), self.event.dtype)
        return self._run_sampler(noise, True, c, temperature, cache, None)

    def export_signatures(self):
        """The base's (``serving_default`` = the importance-weighted bound, ``sample``) and
        ``elbo``."""
        x_spec = self.event.tensor_spec()
        return super().export_signatures() + [("elbo", lambda x: {"elbo": self.elbo(x)}, [x_spec])]

    def tflite_signatures(self, batch_size=None, num_samples=None):
        raise TypeError(
            f"{type(self).__name__} has no TFLite export: its log_prob (an importance-"
            "weighted bound) draws posterior noise with ops TFLite lacks. Export a "
            "SavedModel (ar_keras.export.saved_model)."
        )
