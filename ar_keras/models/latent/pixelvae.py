"""PixelVAE: a VAE whose decoder is a shallow Gated PixelCNN conditioned on the latents.

Gulrajani, Kumar, Ahmed, Taiga, Visin, Vazquez & Courville, "PixelVAE: A
Latent Variable Model for Natural Images", ICLR 2017.

**One level** (``num_latent_layers=1``, the paper's MNIST model).  A convolutional encoder
(3x3 convolutions, ``num_encoder_downsamples`` of them with stride 2, then a dense
layer) gives a diagonal Gaussian ``q(z | x) = N(mu(x), sigma(x)^2)`` over a
vector ``z`` of ``latent_dim``; the prior is ``p(z) = N(0, I)``; the decoder is
an autoregressive Gated PixelCNN (`ar_keras.layers.GatedPixelCNNStack`,
van den Oord et al. 2016) whose every gated unit gets a learned linear map of
``z`` as a bias (the authors' ``cond_z_bias``; eq. 4 of the Gated PixelCNN
paper with ``h = z``)::

    p(x | z) = prod_i p(x_i | x_<i, z),
    gate(a) = tanh(a_f + V_f z) * sigmoid(a_g + V_g z)      in every layer, both stacks

and a K-way softmax per channel (Bernoulli for K = 2).  The bias depends on no
pixel, so ``p(x | z)`` is causal in ``x`` for every ``z``.

**Two levels** (``num_latent_layers=2``, the paper's model for 32x32 and larger).  A
latent *map* ``z_1 [h, w, c_1]`` (``h = H / 2^num_encoder_downsamples``) and a top
latent vector ``z_2``::

    q(z_1 | x) = N(mu_1(x), sigma_1(x)^2)          per position and channel
    q(z_2 | z_1) = N(mu_2(z_1), sigma_2(z_1)^2)
    p(z_2) = N(0, I)
    p(z_1 | z_2) = prod_s N(z_1[s] ; m_s(z_1[<s], z_2), s_s(z_1[<s], z_2)^2)
    p(x | z_1): the pixel Gated PixelCNN, each gate biased by V * u(z_1)

where ``p(z_1 | z_2)`` is a small Gated PixelCNN over the latent map's
positions (raster order, the ``c_1`` channels of a position conditionally
independent given the earlier positions; conditioned on ``z_2`` by the same
per-layer bias) with a Gaussian head, and ``u(z_1)`` upsamples the latent map
to the image (3x3 convolution, nearest-neighbour repeat, 3x3 convolution): a
bias per pixel (eq. 5 of the Gated PixelCNN paper).

**Objective.**  The ELBO ``log p(x | z) - KL``.  For one level
``KL = KL(q(z | x) || N(0, I))`` in closed form; for two levels
``KL = [log q(z_1 | x) - log p(z_1 | z_2)] + KL(q(z_2 | z_1) || N(0, I))``,
the first term at the posterior sample (the autoregressive prior has no closed
form), the second in closed form.  **KL warm-up** (the authors' ``alpha``):
training maximises ``log p(x | z) - beta_t KL`` with
``beta_t = min(1, t / kl_warmup_steps)`` at optimizer step t (0 at the first
step; 1 throughout when ``kl_warmup_steps = 0``).  ``beta`` applies to the
training loss only: the reported ``bits_per_dim`` (training) and the whole of
``val_loss`` / `evaluate` (``training=False``) use the true ELBO, so early
stopping watches the true negative ELBO.

**Likelihood.**  As `iaf_vae`: `elbo(x, num_samples=S)` is the mean of the
S log-weights ``log p(x, z_s) - log q(z_s | x)`` (the KL terms at the
samples), and `log_prob(x, num_samples=S)` the importance-weighted bound of
Burda et al. (2016)::

    log p(x) >= log (1/S) sum_s p(x, z_s) / q(z_s | x),      z_s ~ q(z | x)

which rises with S towards ``log p(x)``; both key their posterior noise by
``seed`` (deterministic).  bits/dim are ``-bound / (H W C ln 2)``.

**Sampling** draws ``z`` from the prior (``z_2 ~ N(0, T^2 I)``, then, for two
levels, ``z_1`` position by position from the latent PixelCNN), then the
pixels through the one ancestral sampler (`ar_keras.core.sampler.run`) with
the decoder's cache (the `GatedPixelCNNStack`'s ``init_cache`` / ``step``, as
`gated_pixelcnn` does: ``O(layers)`` per element) or, with
``cache=False``, a full decoder pass per element; both paths read the same
keyed noise and give the same samples for a seed.

Example:
    >>> import keras, ar_keras as ark
    >>> model = ark.models.get("pixelvae", preset="digits")
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> # model.fit(ark.data.load("digits").batch(64), ...)
    >>> x = ark.data.as_numpy("digits", "test")[:4]
    >>> elbo, log_p = model.elbo(x), model.log_prob(x, num_samples=100)      # nats, [B] each
    >>> elbo.shape, log_p.shape
    (TensorShape([4]), TensorShape([4]))
    >>> model.sample(4, seed=0).shape                           # int32 [4, 8, 8, 1]
    TensorShape([4, 8, 8, 1])
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import LatentVariableModel, no_autograph, sampler
from ar_keras.core.density import uniform_to_normal
from ar_keras.core.noise import GivenNoise
from ar_keras.distributions import GaussianMixture, head_for_levels
from ar_keras.layers import GatedPixelCNNStack, MaskedConv2D
from ar_keras.models.latent.gaussian import gaussian_log_prob, kl_to_standard_normal, sum_but_batch
from ar_keras.models.latent.stack_sampler import GatedStackSampler
from ar_keras.models.latent.unconditional import UnconditionalImages, image_shape_for
from ar_keras.models.registry import register

__all__ = ["PixelVAE"]


@register("pixelvae")
class PixelVAE(UnconditionalImages, LatentVariableModel):
    """PixelVAE (Gulrajani et al. 2017): conv encoder, Gaussian latents, Gated PixelCNN decoder.

    Args:
        image_shape: ``(H, W, C)``.
        num_levels: K; data are ints in ``[0, K)`` (Bernoulli head for K = 2).
        num_latent_layers: the levels of the latent hierarchy: 1 (a latent
            vector) or 2 (a latent map and a top vector, with a PixelCNN prior
            over the map).
        latent_dim: size of the latent vector (the top one for two levels).
        encoder_dim: channels of the encoder's 3x3 convolutions (and of
            the two-level model's upsampling of the latent map).
        num_encoder_downsamples: n, the stride-2 convolutions of the encoder;
            for two levels the latent map is ``H / 2^n x W / 2^n`` (H, W divisible).
        num_layers: gated layers of the pixel decoder.
        hidden_dim: feature maps of each stack (vertical and horizontal) of the
            pixel decoder.
        kernel_size: odd filter size of the decoder's layers.
        output_dim: width of the decoder's masked 1x1 output layer.
        latent_map_dim: ``c_1``, channels of the latent map (two levels).
        num_prior_layers, prior_dim, prior_kernel_size: gated layers, feature
            maps per stack and odd filter size of the latent map's Gated
            PixelCNN prior (two levels).
        kl_warmup_steps: optimizer steps over which the KL weight of the
            training loss rises linearly from 0 to 1 (0: no warm-up).
        num_importance_samples: S of `log_prob` when not given (and of the
            SavedModel's ``serving_default``).
        seed: seeds the training and evaluation noise.
    """

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=17,
        num_latent_layers=1,
        latent_dim=16,
        encoder_dim=32,
        num_encoder_downsamples=2,
        num_layers=12,
        hidden_dim=16,
        kernel_size=5,
        output_dim=32,
        latent_map_dim=8,
        num_prior_layers=3,
        prior_dim=32,
        prior_kernel_size=3,
        kl_warmup_steps=0,
        num_importance_samples=16,
        seed=0,
        num_classes=None,
        **kwargs,
    ):
        if num_latent_layers not in (1, 2):
            raise ValueError(f"num_latent_layers must be 1 or 2, got {num_latent_layers!r}.")
        self.num_encoder_downsamples = int(num_encoder_downsamples)
        if self.num_encoder_downsamples < 0:
            raise ValueError(f"num_encoder_downsamples must be >= 0, got {num_encoder_downsamples}.")
        # Two levels: the latent map is the image halved num_encoder_downsamples times.
        halvings = self.num_encoder_downsamples if num_latent_layers == 2 else 0
        shape = image_shape_for("pixelvae", image_shape, num_classes, halvings, "num_encoder_downsamples")
        super().__init__(shape, num_levels, **kwargs)
        H, W, C = shape
        self.num_latent_layers = int(num_latent_layers)
        self.latent_dim = checks.check_positive_int(latent_dim, "latent_dim")
        self.encoder_dim = checks.check_positive_int(encoder_dim, "encoder_dim")
        self.num_layers = checks.check_positive_int(num_layers, "num_layers")
        self.hidden_dim = checks.check_channel_width(hidden_dim, "hidden_dim", C)
        self.kernel_size = checks.check_odd(kernel_size, "kernel_size")
        self.output_dim = checks.check_positive_int(output_dim, "output_dim")
        self.latent_map_dim = checks.check_positive_int(latent_map_dim, "latent_map_dim")
        self.num_prior_layers = checks.check_positive_int(num_prior_layers, "num_prior_layers")
        self.prior_dim = checks.check_positive_int(prior_dim, "prior_dim")
        self.prior_kernel_size = checks.check_odd(prior_kernel_size, "prior_kernel_size")
        self.kl_warmup_steps = int(kl_warmup_steps)
        if self.kl_warmup_steps < 0:
            raise ValueError(f"kl_warmup_steps must be >= 0, got {kl_warmup_steps}.")
        self.num_importance_samples = checks.check_positive_int(
            num_importance_samples, "num_importance_samples"
        )
        self.seed = int(seed)
        self.head = head_for_levels(self.num_levels)

        F = self.encoder_dim
        # Encoder: 3x3 convolutions, num_encoder_downsamples of them with stride 2.
        self.encoder_convs = [keras.layers.Conv2D(F, 3, padding="same", name="encoder_conv_0")] + [
            keras.layers.Conv2D(F, 3, strides=2, padding="same", name=f"encoder_conv_{i + 1}")
            for i in range(self.num_encoder_downsamples)
        ]
        h, w = H, W
        for _ in range(self.num_encoder_downsamples):
            h, w = -(-h // 2), -(-w // 2)  # 'same' stride 2: ceil
        if self.num_latent_layers == 1:
            self._encoded_size = h * w * F
            self.encoder_out = keras.layers.Dense(2 * self.latent_dim, name="encoder_out")
            self._latent_size = self.latent_dim
        else:
            c1 = self.latent_map_dim
            self.map_shape = (h, w, c1)
            self.encoder_out = keras.layers.Conv2D(2 * c1, 1, name="encoder_out")
            # q(z_2 | z_1): a 3x3 convolution (stride 2 where the map allows), dense.
            stride2 = 2 if h % 2 == 0 and w % 2 == 0 and h > 1 else 1
            self.top_encoder_conv = keras.layers.Conv2D(
                F, 3, strides=stride2, padding="same", name="top_encoder_conv"
            )
            self._top_encoded_size = (h // stride2) * (w // stride2) * F
            self.top_encoder_out = keras.layers.Dense(2 * self.latent_dim, name="top_encoder_out")
            # p(z_1 | z_2): a Gated PixelCNN over the map's positions, Gaussian head.
            self.prior_head = GaussianMixture(1)
            self.prior_stack = GatedPixelCNNStack(
                self.prior_dim,
                self.num_prior_layers,
                self.prior_kernel_size,
                data_channels=1,
                conditional=True,
                name="prior_stack",
            )
            self.prior_hidden = keras.layers.Conv2D(self.prior_dim, 1, name="prior_hidden")
            self.prior_out = keras.layers.Conv2D(2 * c1, 1, name="prior_out")
            # u(z_1): the latent map upsampled to a per-pixel conditioning map.
            self.upsample_in = keras.layers.Conv2D(F, 3, padding="same", name="upsample_in")
            self.upsample_out = keras.layers.Conv2D(F, 3, padding="same", name="upsample_out")
            self._latent_size = self.latent_dim + h * w * c1
        # Decoder: the Gated PixelCNN, every gate biased by the latents.
        self.decoder_stack = GatedPixelCNNStack(
            self.hidden_dim,
            self.num_layers,
            self.kernel_size,
            data_channels=C,
            conditional=True,
            name="decoder_stack",
        )
        self.decoder_hidden = MaskedConv2D(
            self.output_dim, 1, mask_type="B", data_channels=C, name="decoder_hidden"
        )
        self.decoder_out = MaskedConv2D(
            C * self.head.num_params, 1, mask_type="B", data_channels=C, name="decoder_out"
        )
        with self.precision_scope():
            self._objective(tf.zeros((1,) + shape, tf.int32), None)  # builds every weight
        self.built = True

    # --------------------------------------------------------------- structure
    @property
    def decoder_blocks(self):
        """The pixel decoder's `GatedPixelCNNBlock` layers (those of ``decoder_stack``)."""
        return self.decoder_stack.blocks

    @property
    def prior_blocks(self):
        """The latent map prior's `GatedPixelCNNBlock` layers (two levels; those of ``prior_stack``)."""
        return self.prior_stack.blocks

    @property
    def latent_size(self):
        """Latent dimensions per example (the map's and the top vector's for two levels)."""
        return self._latent_size

    def kl_coefficient(self, step):
        """The KL warm-up weight ``min(1, step / kl_warmup_steps)`` (1 without warm-up)."""
        if self.kl_warmup_steps == 0:
            return tf.constant(1.0)
        return tf.minimum(1.0, tf.cast(step, tf.float32) / float(self.kl_warmup_steps))

    # ---------------------------------------------------------------- networks
    def _pixel_output(self, h):
        """Decoder's last horizontal stack ``[B, H', W', F]`` -> logits ``[B, H', W', C, P]``."""
        out = self.decoder_hidden(tf.nn.relu(h))
        logits = self.decoder_out(tf.nn.relu(out))  # [B, H', W', C*P]
        _, rows, cols, _ = logits.shape
        return tf.reshape(
            logits, [-1, rows, cols, self.image_shape[-1], self.head.num_params]
        )  # -> [B, H', W', C, P]

    def _pixel_scale(self, x):
        return tf.cast(x, self.compute_dtype) * (2.0 / (self.num_levels - 1)) - 1.0

    def decoder(self):
        """The pixel decoder as a sampler-protocol object (conditioning: z, or u(z_1))."""
        return GatedStackSampler(
            self.decoder_stack,
            self._pixel_output,
            self.image_shape,
            self.head,
            self._pixel_scale,
            per_position=False,
        )

    def _prior_output(self, h):
        """Prior's last horizontal stack -> ``[B, h', w', c_1, 3]`` (a one-component mixture)."""
        out = self.prior_out(tf.nn.relu(self.prior_hidden(tf.nn.relu(h))))  # [B, h', w', 2 c_1]
        _, rows, cols, _ = out.shape
        params = tf.reshape(
            out, [-1, rows, cols, self.latent_map_dim, 2]
        )  # [B, h', w', 2 c1] -> [B, h', w', c1, 2]
        return tf.pad(params, [[0, 0]] * 4 + [[1, 0]])  # zero logit: -> [..., 3]

    def latent_prior(self):
        """``p(z_1 | z_2)`` as a sampler-protocol object (two levels; conditioning: z_2)."""
        return GatedStackSampler(
            self.prior_stack,
            self._prior_output,
            self.map_shape,
            self.prior_head,
            lambda z: tf.cast(z, tf.float32),
            per_position=True,
        )

    def decoder_conditioning(self, z):
        """The decoder's conditioning: ``z [B, Z]`` itself (one level) or ``u(z_1) [B, H, W, F]``."""
        if self.num_latent_layers == 1:
            return z
        f = 2**self.num_encoder_downsamples
        u = tf.nn.elu(self.upsample_in(z))  # [B, h, w, F]
        u = tf.repeat(tf.repeat(u, f, axis=1), f, axis=2)  # [B, H, W, F] nearest
        return tf.nn.elu(self.upsample_out(u))

    def decoder_log_prob(self, x, z):
        """``log p(x | z)`` ``[B]`` for int images ``x`` and latents (``z [B, Z]``, or ``z_1``
        maps ``[B, h, w, c_1]`` for two levels)."""
        x, _ = self._check(x, None)
        z = tf.convert_to_tensor(z, tf.float32)
        want = (self.latent_dim,) if self.num_latent_layers == 1 else self.map_shape
        if z.shape.rank != len(want) + 1 or tuple(z.shape[1:]) != want:
            raise ValueError(f"z must have shape [B, {', '.join(map(str, want))}], got {z.shape.as_list()}.")
        return self._decoder_log_prob(x, z)

    def _decoder_log_prob(self, x, z):
        params = self.decoder().network(x, self.decoder_conditioning(z))
        return sum_but_batch(self.head.log_prob(params, x))

    def _encode(self, x):
        h = self._pixel_scale(x)
        for conv in self.encoder_convs:
            h = tf.nn.elu(conv(h))  # [B, h, w, F]
        if self.num_latent_layers == 1:
            h = tf.reshape(h, [-1, self._encoded_size])  # [B, h, w, F] -> [B, h w F]
        return tf.split(self.encoder_out(h), 2, axis=-1)  # mean, log_std

    def _split_noise(self, eps):
        """``[B, latent_size]`` normals -> ``(top [B, Z], map [B, h, w, c_1] or None)``."""
        if self.num_latent_layers == 1:
            return eps, None
        top, flat = tf.split(eps, [self.latent_dim, self._latent_size - self.latent_dim], axis=1)
        return top, tf.reshape(flat, [-1, *self.map_shape])  # [B, h w c1] -> [B, h, w, c1]

    def _inference(self, x, eps):
        """``x`` int ``[B, H, W, C]``, normals ``eps [B, latent_size]`` -> ``[B]`` terms.

        Returns ``(log p(x | z), KL at the sample, KL for training)``: the
        second is ``log q - log p`` at the posterior sample (the log-weights'
        term), the third the same with the Gaussian-to-N(0, I) parts in closed
        form (lower variance; equal in expectation).
        """
        eps_top, eps_map = self._split_noise(eps)
        if self.num_latent_layers == 1:
            mean, log_std = self._encode(x)  # [B, Z] each
            z = mean + tf.exp(log_std) * tf.cast(eps_top, mean.dtype)
            kl_sample = tf.reduce_sum(
                gaussian_log_prob(z, mean, log_std) - gaussian_log_prob(z, 0.0, 0.0), axis=1
            )
            kl_train = tf.reduce_sum(kl_to_standard_normal(mean, log_std), axis=1)
            return self._decoder_log_prob(x, z), kl_sample, kl_train
        mean1, log_std1 = self._encode(x)  # [B, h, w, c1] each
        z1 = mean1 + tf.exp(log_std1) * eps_map
        t = tf.nn.elu(self.top_encoder_conv(z1))
        t = tf.reshape(t, [-1, self._top_encoded_size])  # [B, h', w', F] -> [B, h' w' F]
        mean2, log_std2 = tf.split(self.top_encoder_out(t), 2, axis=-1)  # [B, Z] each
        z2 = mean2 + tf.exp(log_std2) * eps_top
        prior = self.latent_prior()
        log_p1 = sum_but_batch(self.prior_head.log_prob(prior.network(z1, z2), z1))
        kl1 = sum_but_batch(gaussian_log_prob(z1, mean1, log_std1)) - log_p1
        kl2_sample = tf.reduce_sum(
            gaussian_log_prob(z2, mean2, log_std2) - gaussian_log_prob(z2, 0.0, 0.0), axis=1
        )
        kl2 = tf.reduce_sum(kl_to_standard_normal(mean2, log_std2), axis=1)
        return self._decoder_log_prob(x, z1), kl1 + kl2_sample, kl1 + kl2

    def _objective(self, x, c, training=False):
        """``(log p(x|z) - beta KL, log p(x|z) - KL)``: beta < 1 only in training warm-up."""
        eps = self._training_noise(tf.shape(x)[0], training)
        log_px, _, kl = self._inference(x, eps)
        beta = tf.constant(1.0)
        if training and getattr(self, "optimizer", None) is not None:
            beta = self.kl_coefficient(self.optimizer.iterations)
        return log_px - beta * kl, log_px - kl

    # ---------------------------------------------------------------- sampling
    @property
    def noise_size(self):
        """Uniforms per sample: the top latent, the map's (2 per element), every pixel's head noise."""
        size = self.latent_dim + self.event_size * self.head.noise_depth
        if self.num_latent_layers == 2:
            size += int(np.prod(self.map_shape)) * self.prior_head.noise_depth
        return size

    def _sample_graph(self, noise, num_samples, length, conditional, temperature, cache):
        del num_samples, length, conditional  # unconditional; prior, then decoder
        return self._sample_from_noise(
            noise.all(self.noise_size)[..., 0], temperature, cache
        )  # [n, N, 1] -> [n, N]

    @no_autograph
    def _sample_from_noise(self, noise, temperature, cache=True):
        """Uniforms ``[n, noise_size]`` -> int32 images ``[n, H, W, C]``."""
        n = tf.shape(noise)[0]
        Z = self.latent_dim
        z = temperature * uniform_to_normal(noise[:, :Z])  # [n, Z] ~ N(0, T^2)
        offset = Z
        if self.num_latent_layers == 2:
            prior = self.latent_prior()
            D1, depth = prior.num_elements, self.prior_head.noise_depth
            u1 = tf.reshape(
                noise[:, offset : offset + D1 * depth], [-1, D1, depth]
            )  # [n, D1*d] -> [n, D1, d]
            z1 = sampler.run(prior, GivenNoise(u1), n, D1, z, temperature, cache=cache)  # [n, D1]
            z = tf.reshape(z1, [-1, *self.map_shape])  # [n, D1] -> [n, h, w, c1]
            offset += D1 * depth
        decoder = self.decoder()
        D, depth = decoder.num_elements, self.head.noise_depth
        pixel_noise = tf.reshape(noise[:, offset:], [-1, D, depth])  # [n, D*d] -> [n, D, d]
        x = sampler.run(
            decoder, GivenNoise(pixel_noise), n, D, self.decoder_conditioning(z), temperature, cache=cache
        )  # [n, D]
        return tf.reshape(x, [-1, *self.image_shape])  # [n, D] -> [n, H, W, C]
