"""IAF-VAE: a ResNet VAE with bidirectional inference and an IAF posterior, for images.

Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling, "Improved Variational
Inference with Inverse Autoregressive Flow", NIPS 2016, sec. 5 and appendix.

**Model.**  A hierarchy of latent maps ``z_1 .. z_L`` (one per ResNet block,
``latent_dim`` channels at the block's resolution), generated top-down:
``p(z_l | z_>l) = N(mu_l^p, sigma_l^p)`` from the top-down ResNet state, and
``p(x | z)`` a per-pixel categorical over the K levels (Bernoulli for K = 2)
from the last state.

**Inference** is *bidirectional*: a bottom-up ResNet pass computes, per block,
``(mu^q, log sigma^q)`` and a context ``h^up``; the top-down pass adds its own
``(mu^r, log sigma^r, h^down)``, and the initial posterior of ``z_l`` is
``N(mu^r + mu^q, exp(log sigma^r + log sigma^q))``, refined by ``num_flow_steps`` IAF
steps (`ar_keras.flows.MADE` autoregressive over the ``latent_dim`` channels at
each position, conditioned on the context ``h = h^up + h^down``; the step is
`ar_keras.flows.affine`'s)::

    z <- z * exp(s(z, h)) + m(z, h),        log q(z | x) -= sum s

**Objective.**  The ELBO ``log p(x|z) - sum_l [log q(z_l|.) - log p(z_l|.)]``
from one posterior sample (the IAF makes the KL analytic no more).  With
*free bits* ``lambda`` (their sec. 5.1 / ``kl_min``) training uses, per block
and latent channel ``j``, ``max(lambda, E_batch[KL_j])`` in place of ``KL_j``,
so no latent group is pushed below ``lambda`` nats (posterior collapse); under
`tf.distribute` the batch mean is the replica's.  Reported metrics
(``loss``, ``bits_per_dim``) always use the true ELBO.

**Likelihood.**  `elbo(x)` is the ELBO; `log_prob(x, num_samples=S)` the
importance-weighted bound of Burda et al. (2016)::

    log p(x) >= log (1/S) sum_s p(x, z_s) / q(z_s | x),      z_s ~ q(z | x)

which tightens with S.  Both draw their posterior noise from a stateless
generator keyed by ``seed`` (deterministic; same seed, same samples), and
for the same ``(S, seed)`` the bound is >= the mean ELBO of those samples
(Jensen).  bits/dim are ``-bound / (H W C ln 2)``.

Example:
    >>> import keras, ar_keras as ark
    >>> model = ark.models.get("iaf_vae", preset="digits")
    >>> model.compile(optimizer=keras.optimizers.Adamax(2e-3))
    >>> # model.fit(ark.data.load("digits").batch(64), ...)
    >>> x = ark.data.as_numpy("digits", "test")[:4]
    >>> elbo, log_p = model.elbo(x), model.log_prob(x, num_samples=100)      # nats, [B] each
    >>> elbo.shape, log_p.shape
    (TensorShape([4]), TensorShape([4]))
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks, flows
from ar_keras.core import LatentVariableModel
from ar_keras.core.density import uniform_to_normal
from ar_keras.distributions import head_for_levels
from ar_keras.flows import affine
from ar_keras.models.latent.gaussian import gaussian_log_prob
from ar_keras.models.latent.unconditional import UnconditionalImages, image_shape_for
from ar_keras.models.registry import register

__all__ = ["IAFVAE"]


class _IAFBlock(keras.layers.Layer):
    """One ResNet block with a latent map: the bottom-up and top-down halves.

    ``up``: ``h -> h + 0.1 f(h)`` (downsampled), emitting the bottom-up
    posterior terms and context.  ``down``: samples ``z`` (posterior + IAF, or
    prior) and returns ``h + 0.1 g(z, h)`` (upsampled) and the KL terms.
    """

    def __init__(
        self, hidden_dim, latent_dim, downsample, num_flow_steps, flow_hidden_units, top=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.hidden_dim, self.latent_dim = hidden_dim, latent_dim
        self.downsample = downsample
        # The top block's bottom-up output would feed nothing (the top-down pass
        # starts from the learned h_top): it has no residual branch.
        self.top = top
        stride = 2 if downsample else 1
        self.up_conv1 = keras.layers.Conv2D(
            2 * latent_dim + (1 if top else 2) * hidden_dim,
            3,
            strides=stride,
            padding="same",
            name="up_conv1",
        )
        self.up_conv2 = None if top else keras.layers.Conv2D(hidden_dim, 3, padding="same", name="up_conv2")
        self.down_conv1 = keras.layers.Conv2D(
            4 * latent_dim + 2 * hidden_dim, 3, padding="same", name="down_conv1"
        )
        if downsample:
            self.down_conv2 = keras.layers.Conv2DTranspose(
                hidden_dim, 3, strides=2, padding="same", name="down_conv2"
            )
        else:
            self.down_conv2 = keras.layers.Conv2D(hidden_dim, 3, padding="same", name="down_conv2")
        # IAF steps: autoregressive over the z channels at each position, the
        # ordering reversed from one step to the next.
        self.iaf_mades = [
            flows.MADE(
                params=2,
                hidden_units=flow_hidden_units,
                event_size=latent_dim,
                ordering="natural" if k % 2 == 0 else "reversed",
                conditional_size=hidden_dim,
                name=f"iaf_made_{k}",
            )
            for k in range(num_flow_steps)
        ]

    def up(self, h):
        x = self.up_conv1(tf.nn.elu(h))
        z, hs = self.latent_dim, self.hidden_dim
        if self.top:
            q_mean, q_log_std, context = tf.split(x, [z, z, hs], axis=-1)
            return None, (q_mean, q_log_std, context)
        q_mean, q_log_std, context, r = tf.split(x, [z, z, hs, hs], axis=-1)
        r = self.up_conv2(tf.nn.elu(r))
        if self.downsample:
            h = h[:, ::2, ::2, :]  # nearest-neighbour downsampling
        return h + 0.1 * r, (q_mean, q_log_std, context)

    def down(self, h, q, eps, free_bits=0.0, temperature=1.0):
        """``q`` None samples the prior; returns ``(h, kl [B, s, s, z] or None)``."""
        x = self.down_conv1(tf.nn.elu(h))
        latent_dim, hs = self.latent_dim, self.hidden_dim
        p_mean, p_log_std, r_mean, r_log_std, context, h_det = tf.split(
            x, [latent_dim] * 4 + [hs] * 2, axis=-1
        )
        if q is None:
            z = p_mean + temperature * tf.exp(p_log_std) * eps
            kl = None
        else:
            q_mean, q_log_std, up_context = q
            mean, log_std = r_mean + q_mean, r_log_std + q_log_std
            z = mean + tf.exp(log_std) * tf.cast(eps, mean.dtype)
            log_q = gaussian_log_prob(z, mean, log_std)  # [B, s, s, z]
            shape = tf.shape(z)
            flat_z = tf.reshape(z, [-1, latent_dim])  # [B, s, s, z] -> [B*s*s, z]
            flat_ctx = tf.reshape(context + up_context, [-1, hs])  # [B, s, s, H] -> [B*s*s, H]
            for made in self.iaf_mades:
                flat_z, log_det = affine.forward(flat_z, *made(flat_z, conditional_input=flat_ctx))
                log_q = log_q - tf.reshape(log_det, shape)  # [B*s*s, z] -> [B, s, s, z]
            z = tf.reshape(flat_z, shape)  # [B*s*s, z] -> [B, s, s, z]
            kl = log_q - gaussian_log_prob(z, p_mean, p_log_std)
        r = self.down_conv2(tf.nn.elu(tf.concat([z, h_det], axis=-1)))
        if self.downsample:
            h = tf.repeat(tf.repeat(h, 2, axis=1), 2, axis=2)  # nearest-neighbour upsampling
        return h + 0.1 * r, kl


@register("iaf_vae")
class IAFVAE(UnconditionalImages, LatentVariableModel):
    """ResNet VAE with IAF posterior (Kingma et al. 2016).

    Args:
        image_shape: ``(H, W, C)``; H and W divisible by ``2 ** num_scales``.
        num_levels: K; data are ints in ``[0, K)``.
        hidden_dim: channels of every ResNet block (and of the IAF contexts).
        latent_dim: channels of each block's latent map (the paper's z size).
        num_scales: resolutions of the ResNet (the first at half the image
            size, each next one halved again), ``num_blocks`` blocks each.
        num_blocks: ResNet blocks (each with a latent map) per scale.
        num_flow_steps: IAF steps refining each block's posterior.
        flow_hidden_units: hidden widths of the IAF MADEs (default
            ``[hidden_dim]``).
        free_bits: lambda, nats per latent channel and block (0: plain ELBO).
        num_importance_samples: S of `log_prob` when not given (and of the
            SavedModel's ``serving_default``).
        seed: seeds the training and evaluation noise.
    """

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=17,
        hidden_dim=48,
        latent_dim=8,
        num_scales=2,
        num_blocks=2,
        num_flow_steps=1,
        flow_hidden_units=None,
        free_bits=0.0,
        num_importance_samples=16,
        seed=0,
        num_classes=None,
        **kwargs,
    ):
        self.num_scales = checks.check_positive_int(num_scales, "num_scales")
        self.num_blocks = checks.check_positive_int(num_blocks, "num_blocks")
        shape = image_shape_for("iaf_vae", image_shape, num_classes, self.num_scales, "num_scales")
        super().__init__(shape, num_levels, **kwargs)
        self.hidden_dim, self.latent_dim = int(hidden_dim), int(latent_dim)
        self.num_flow_steps = int(num_flow_steps)
        self.flow_hidden_units = (
            [self.hidden_dim]
            if flow_hidden_units is None
            else [int(u) for u in np.atleast_1d(flow_hidden_units)]
        )
        self.free_bits = float(free_bits)
        if self.free_bits < 0:
            raise ValueError(f"free_bits must be >= 0, got {free_bits}.")
        self.num_importance_samples = checks.check_positive_int(
            num_importance_samples, "num_importance_samples"
        )
        self.seed = int(seed)
        self.head = head_for_levels(self.num_levels)
        H, W, C = shape

        self.stem = keras.layers.Conv2D(self.hidden_dim, 5, strides=2, padding="same", name="stem")
        self.blocks = []
        self._latent_shapes = []  # per block, bottom-up order
        res = (H // 2, W // 2)
        for i in range(self.num_scales):
            for j in range(self.num_blocks):
                downsample = i > 0 and j == 0
                if downsample:
                    res = (res[0] // 2, res[1] // 2)
                top = i == self.num_scales - 1 and j == self.num_blocks - 1
                self.blocks.append(
                    _IAFBlock(
                        self.hidden_dim,
                        self.latent_dim,
                        downsample,
                        self.num_flow_steps,
                        self.flow_hidden_units,
                        top=top,
                        name=f"block_{i}_{j}",
                    )
                )
                self._latent_shapes.append(res + (self.latent_dim,))
        self._top_shape = res
        # The learned top state.  Not zeros (the released code's init): elu(0) = 0
        # would give the top block's first convolution a zero gradient at step 1.
        self.h_top = self.add_weight(
            name="h_top", shape=(self.hidden_dim,), initializer=keras.initializers.RandomNormal(stddev=0.1)
        )
        self.out = keras.layers.Conv2DTranspose(
            C * self.head.num_params, 5, strides=2, padding="same", name="out"
        )
        self._latent_size = int(sum(np.prod(s) for s in self._latent_shapes))
        with self.precision_scope():
            self._objective(tf.zeros((1,) + shape, tf.int32), None)  # builds every weight
        for block in self.blocks:  # used through up()/down(), never __call__
            block.built = True
        self.built = True

    # --------------------------------------------------------------- structure

    @property
    def latent_size(self):
        """Latent dimensions per example (all blocks)."""
        return self._latent_size

    # ------------------------------------------------------------------ network
    def _split_noise(self, eps):
        """``[B, Z]`` normals -> one ``[B, s, s, z]`` map per block."""
        sizes = [int(np.prod(s)) for s in self._latent_shapes]
        parts = tf.split(eps, sizes, axis=1)
        return [tf.reshape(p, [-1, *s]) for p, s in zip(parts, self._latent_shapes)]  # [B, n] -> [B, s, s, z]

    def _top(self, batch):
        return tf.broadcast_to(self.h_top, [batch, *self._top_shape, self.hidden_dim])

    def _decode_params(self, h):
        logits = self.out(tf.nn.elu(h))  # [B, H, W, C*P]
        return tf.reshape(logits, [-1, *self.image_shape, self.head.num_params])  # -> [B, H, W, C, P]

    def _inference(self, x, eps, free_bits=0.0):
        """``x`` int ``[B, H, W, C]``, ``eps [B, Z]`` -> (log p(x|z), KL, free-bits KL), each ``[B]``."""
        scaled = tf.cast(x, self.compute_dtype) / (self.num_levels - 1) - 0.5
        h = self.stem(scaled)
        qs = []
        for block in self.blocks:
            h, q = block.up(h)
            qs.append(q)
        h = self._top(tf.shape(x)[0])
        kl_total, kl_objective = 0.0, 0.0
        for block, q, e in reversed(list(zip(self.blocks, qs, self._split_noise(eps)))):
            h, kl = block.down(h, q, e)
            kl_total += tf.reduce_sum(kl, axis=[1, 2, 3])
            if free_bits > 0:
                # Per latent channel: KL summed over positions, averaged over the batch.
                per_group = tf.reduce_mean(tf.reduce_sum(kl, axis=[1, 2]), axis=0)  # [z]
                kl_objective += tf.reduce_sum(tf.maximum(per_group, free_bits)) * tf.ones_like(kl[:, 0, 0, 0])
            else:
                kl_objective += tf.reduce_sum(kl, axis=[1, 2, 3])
        log_px = self.head.log_prob(self._decode_params(h), x)  # [B, H, W, C]
        return tf.reduce_sum(log_px, axis=[1, 2, 3]), kl_total, kl_objective

    def _objective(self, x, c, training=False):
        eps = self._training_noise(tf.shape(x)[0], training)
        log_px, kl, kl_obj = self._inference(x, eps, self.free_bits if training else 0.0)
        return log_px - kl_obj, log_px - kl

    # ---------------------------------------------------------------- sampling
    @property
    def noise_size(self):
        """Uniforms per sample: latent dimensions, then every pixel's head noise."""
        return self._latent_size + self.event_size * self.head.noise_depth

    def _sample_from_noise(self, noise, temperature):
        """Uniforms ``[n, noise_size]`` -> int32 images ``[n, H, W, C]``."""
        n = tf.shape(noise)[0]
        eps = uniform_to_normal(noise[:, : self._latent_size])
        pixel_noise = tf.reshape(
            noise[:, self._latent_size :], [-1, *self.image_shape, self.head.noise_depth]
        )  # [n, D*depth] -> [n, H, W, C, depth]
        h = self._top(n)
        for block, e in reversed(list(zip(self.blocks, self._split_noise(eps)))):
            h, _ = block.down(h, None, e, temperature=temperature)
        return self.head.sample(self._decode_params(h), pixel_noise, temperature)
