"""Spatial LSTM image model (RIDE): spatial LSTMs over causal neighbourhoods, softmax or MCGSM head.

Theis & Bethge, "Generative Image Modeling Using Spatial LSTMs", NeurIPS 2015
(RIDE, the recurrent image density estimator; official code lucastheis/ride).

Pixels are modelled in raster order, ``p(x) = prod_ij p(x_ij | x_<ij)``:

1. **What the model sees.**  Pixel ``(i, j)``'s input is its causal
   neighbourhood (`ar_keras.layers.CausalNeighbourhood`): with
   ``neighbourhood_size = n`` (RIDE: 5) the ``n // 2`` rows above it, columns ``j - n//2
   .. j + n//2``, and the ``n // 2`` pixels to its left, all channels, zeros
   outside the image (12 pixels for n = 5).
2. **Spatial LSTMs** (`ar_keras.layers.SpatialLSTM`, ``num_layers`` of
   ``hidden_dim`` each; RIDE: 1-2 of 64): the first reads the neighbourhoods,
   each later one the hidden states of the one below at the same pixel.  The
   state at ``(i, j)`` comes from ``(i - 1, j)`` and ``(i, j - 1)``, so the
   top state ``h_ij`` summarises every neighbourhood at ``(i', j')`` with
   ``i' <= i, j' <= j``: **all pixels of the rows above up to column
   ``j + n // 2``, and every pixel to the left in row i**.  Pixels further
   right in earlier rows are *not* seen (RIDE's upper-right blind region:
   1,596 of the 2,016 earlier pixels of an 8x8 image for n = 5; the paper's
   EoRIDE ensemble averages over flipped and rotated images).  On a
   ``W``-wide image, ``neighbourhood_size >= 2 W - 1`` removes it: every earlier pixel
   is then seen (tests/models/test_spatial_lstm.py checks both).
3. **Head**, per channel ``k`` of pixel ``(i, j)`` (R -> G -> B), from
   ``h_ij`` and the pixel's channels ``< k``:

   * ``head="categorical"`` (the default; integer pixels, K levels, so it
     ranks beside the other image models in bits/dim): ``a_k = relu(U_k
     h_ij + V_k x_ij,<k + c_k)``, ``K`` logits ``= O_k a_k + o_k``, a
     softmax (`ar_keras.distributions.Categorical`);
   * ``head="mcgsm"`` (RIDE's; continuous, dequantised pixels): a
     mixture of conditional Gaussian scale mixtures
     (`ar_keras.distributions.MCGSM`, C components x S scales, F quadratic
     features) on the *whitened* pixel, input ``[h_ij ; y'_ij,<k]``.

**Whitening (MCGSM head).**  RIDE preconditions its data (``cmt``'s
``WhiteningPreconditioner``): the neighbourhood ``n_ij`` is whitened before the
LSTM, ``n' = W_in (n_ij - m_in)``, and each pixel value is whitened given its
past, ``y'_k = (y_k - m_k - r_k^T [n_ij ; y_ij,<k]) / s_k`` (the residual of a
linear regression on the neighbourhood and the earlier channels, scaled to unit
variance).  The model's density of ``y`` is that of ``y'`` times the
log-Jacobian::

    log p(y_k | past) = log p_MCGSM(y'_k | h_ij, y'_<k) - log s_k

which `MCGSM.affine` folds into the head parameters (the MCGSM of ``y`` has
means ``m_k + r_k^T[.] + s_k mu_c`` and log-precisions ``lambda_cs - 2 log
s_k``): `log_prob`, `conditional_log_probs` and sampling all use the data
space and **include the log-Jacobian**.  `fit_whitening(images)` estimates
``m_in, W_in, m_k, r_k, s_k`` from training images (before the whitening is
fitted it is the identity: ``W_in = I, r = 0, m = 0, s = 1``).

**Scoring as in the paper.**  RIDE evaluates only the *reachable* pixels,
those whose whole causal window lies inside the image (``ride.py``:
``(H - n//2) x (W - 2 (n//2))`` of them; 6 x 4 of an 8 x 8 image for n = 5),
in bits per pixel: ``-mean log-likelihood / (C ln 2)``.
`ride_log_likelihood(x)` gives those per-pixel log-likelihoods (nats, the
whitening log-Jacobian included) and `ride_bits_per_pixel(x)` the figure.
Our LSTMs run over the whole zero-padded image, so a reachable pixel's
conditional may also use the border pixels' states (RIDE starts its LSTMs at
the reachable region's edge): the protocol is the paper's, the network
sees a little more.  `log_prob` scores every pixel.  The MCGSM head is used
from Python (``python -m train`` and `ar_keras.callbacks.SampleLogger` serve
the softmax head's integer images).

**Any image size** with the same weights: no weight depends on ``H`` or ``W``.
``model.with_image_shape((H2, W2, C))`` builds the same model at another size
and copies every weight (the whitening too).

**Cached sampling** (``sample(cache=True)``, exact): the recurrent state.  Each
LSTM keeps one row of states (`SpatialLSTM.step`); at channel 0 of pixel
``(i, j)`` the neighbourhood is read from the partial sample and every layer
advances one pixel (O(layers) work); the later channels of the pixel reuse the
top state.  ``cache=False`` reruns the whole network for every element.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("spatial_lstm", preset="digits")     # 17 levels, softmax
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=20)
    >>> x = model.sample(4, seed=0)
    >>> x.dtype.name, x.shape
    ('int32', TensorShape([4, 8, 8, 1]))
    >>> ride = ark.models.get("spatial_lstm", preset="paper")        # MCGSM on grey floats
    >>> # ride.fit_whitening(train_images); ride.fit(...); ride.ride_bits_per_pixel(test_images)
"""

import math

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, no_autograph
from ar_keras.core.events import EventSpec
from ar_keras.distributions import MCGSM, Categorical, MCGSMParameters
from ar_keras.layers import CausalNeighbourhood, SpatialLSTM
from ar_keras.layers.causal_neighbourhood import reachable_region
from ar_keras.models.registry import register

__all__ = ["RIDE", "FloatImageEvent"]

HEADS = ("categorical", "mcgsm")


class FloatImageEvent(EventSpec):
    """Float images ``[H, W, C]`` (dequantised or whitened pixels) for the MCGSM head."""

    kind = "float_image"
    default_modality = "image"

    def __init__(self, image_shape):
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {image_shape!r}.")
        super().__init__(shape)


@register("spatial_lstm")
class RIDE(AutoregressiveModel):
    """RIDE: spatial LSTMs over causal neighbourhoods with a softmax or an MCGSM head.

    Args:
        image_shape: ``(H, W, C)``.
        num_levels: K for ``head="categorical"`` (default 17); must be None for ``"mcgsm"``.
        hidden_dim: features of each spatial LSTM's state (RIDE: 64 units).
        num_layers: stacked spatial LSTMs (RIDE: 1 or 2).
        neighbourhood_size: odd width of the causal neighbourhood window (RIDE: 5).
        head: ``"categorical"`` (integer pixels) or ``"mcgsm"`` (float pixels).
        output_dim: hidden width of the softmax head, per channel.
        num_mixtures: components of the MCGSM head (RIDE: 32).
        num_scales: scales per MCGSM component (RIDE: 4).
        num_mixture_features: quadratic features of the MCGSM (RIDE: 32).
        num_classes: class-conditional model: a learned gate bias per class
            in the first spatial LSTM.
    """

    #: XLA cannot compile the training step: the gradient of the spatial LSTM's tf.while_loop
    #: transposes a Tensordot with a permutation known only at run time ("Input 1 to node
    #: .../while/Tensordot/transpose_grad/transpose with op Transpose must be a compile-time
    #: constant"; tests/test_throughput.py).
    supports_jit_training = False
    jit_training_note = (
        "the spatial LSTM's while-loop gradient has a Tensordot transpose whose "
        "permutation XLA needs at compile time"
    )

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=None,
        hidden_dim=64,
        num_layers=1,
        neighbourhood_size=5,
        head="categorical",
        output_dim=64,
        num_mixtures=32,
        num_scales=4,
        num_mixture_features=32,
        num_classes=None,
        **kwargs,
    ):
        checks.check_choice(head, "head", HEADS)
        if head == "mcgsm":
            if num_levels is not None:
                raise ValueError(
                    "head='mcgsm' models continuous (dequantised) pixels: num_levels must be None, "
                    f"got {num_levels!r}. Use head='categorical' for integer levels."
                )
            super().__init__(num_classes=num_classes, event=FloatImageEvent(image_shape), **kwargs)
        else:
            super().__init__(image_shape, 17 if num_levels is None else num_levels, num_classes, **kwargs)
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {self.image_shape}.")
        for name, value in (
            ("hidden_dim", hidden_dim),
            ("num_layers", num_layers),
            ("output_dim", output_dim),
        ):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}.")
        n = neighbourhood_size
        if isinstance(n, bool) or int(n) != n or n < 3 or n % 2 == 0:
            raise ValueError(
                f"neighbourhood_size must be an odd integer >= 3 (the window's width, centred on the "
                f"pixel's column; RIDE: 5), got {n!r}."
            )
        self.head_name = head
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.neighbourhood_size = int(neighbourhood_size)
        self.output_dim = int(output_dim)
        self.num_mixtures = int(num_mixtures)
        self.num_scales = int(num_scales)
        self.num_mixture_features = int(num_mixture_features)
        H, W, C = self.image_shape
        U, F = self.hidden_dim, self.output_dim

        self.neighbourhood = CausalNeighbourhood(self.neighbourhood_size, name="neighbourhood")
        Q = self.neighbourhood.num_positions * C  # neighbourhood features
        self.lstms = [SpatialLSTM(U, name=f"slstm_{l}") for l in range(self.num_layers)]
        self.class_bias = (
            keras.layers.Embedding(self.num_classes, 5 * U, name="class_bias") if self.num_classes else None
        )
        # Channel k sees channels < k of its own pixel (strictly lower triangular).
        self._channel_mask = np.triu(np.ones([C, C], np.float32), k=1)  # [c_in, k]: c_in < k
        if head == "categorical":
            self.head = Categorical(self.num_levels)
            K = self.head.num_params
            init = keras.initializers.VarianceScaling(1.0, "fan_in", "truncated_normal")
            self.out_hidden = self.add_weight(name="out_hidden", shape=(U, C, F), initializer=init)
            self.out_hidden_bias = self.add_weight(name="out_hidden_bias", shape=(C, F), initializer="zeros")
            self.out_channels = (
                self.add_weight(name="out_channels", shape=(C, C, F), initializer=init) if C > 1 else None
            )
            self.out_logits = self.add_weight(
                name="out_logits",
                shape=(C, F, K),
                initializer=keras.initializers.VarianceScaling(1.0, "fan_in", "truncated_normal"),
            )
            self.out_logits_bias = self.add_weight(name="out_logits_bias", shape=(C, K), initializer="zeros")
        else:
            self.head = MCGSM(self.num_mixtures, self.num_scales)
            self.mcgsms = [
                MCGSMParameters(
                    self.num_mixtures, self.num_scales, self.num_mixture_features, name=f"mcgsm_{k}"
                )
                for k in range(C)
            ]
            for k, layer in enumerate(self.mcgsms):
                layer.build((None, U + k))
            fixed = dict(trainable=False)
            self.in_mean = self.add_weight(name="in_mean", shape=(Q,), initializer="zeros", **fixed)
            self.in_whiten = self.add_weight(name="in_whiten", shape=(Q, Q), initializer="identity", **fixed)
            self.out_mean = self.add_weight(name="out_mean", shape=(C,), initializer="zeros", **fixed)
            self.out_regress = self.add_weight(name="out_regress", shape=(Q, C), initializer="zeros", **fixed)
            self.out_regress_channels = self.add_weight(
                name="out_regress_channels", shape=(C, C), initializer="zeros", **fixed
            )
            self.out_scale = self.add_weight(name="out_scale", shape=(C,), initializer="ones", **fixed)
        self._finish_init()

    @classmethod
    def overrides_from_data(cls, info):
        """``python -m train``: integer image datasets (the softmax head)."""
        kind = info.kind
        if kind != "image":
            raise ValueError(
                f"python -m train fits spatial_lstm's softmax head to integer images; dataset "
                f"{info.name!r} holds {kind} data. For RIDE's MCGSM on continuous pixels build "
                "ark.models.get('spatial_lstm', head='mcgsm', num_levels=None, image_shape=...) "
                "in Python, call fit_whitening(train_images), then fit."
            )
        return super().overrides_from_data(info)

    # ------------------------------------------------------------------ pieces
    def _scaled(self, x):
        """Data -> the values the network reads: levels to [-1, 1]; floats as they are."""
        x = tf.cast(x, self.compute_dtype)
        if self.head_name == "categorical":
            return x * (2.0 / (self.num_levels - 1)) - 1.0
        return x

    def _lstm_input(self, nb):
        if self.head_name == "mcgsm":
            return tf.tensordot(nb - self.in_mean, self.in_whiten, axes=[[-1], [0]])
        return nb

    def _gate_bias(self, conditional):
        return None if self.class_bias is None else self.class_bias(conditional)

    def _pixel_params(self, h, nb, pixel):
        """Top state ``h [..., U]``, neighbourhood ``nb [..., Q]``, the pixel's values
        ``pixel [..., C]`` (only channels < k are read for channel k) -> ``[..., C, P]``."""
        if self.head_name == "categorical":
            a = tf.einsum("...u,ucf->...cf", h, self.out_hidden) + self.out_hidden_bias
            if self.out_channels is not None:
                masked = self.out_channels * self._channel_mask[:, :, None]
                a = a + tf.einsum("...i,icf->...cf", pixel, masked)
            return tf.einsum("...cf,cfk->...ck", tf.nn.relu(a), self.out_logits) + self.out_logits_bias
        # MCGSM on the whitened value y'_k = (y_k - shift_k) / s_k, mapped back to data space.
        shift = (
            self.out_mean
            + tf.tensordot(nb, self.out_regress, axes=[[-1], [0]])
            + tf.tensordot(pixel, self.out_regress_channels * self._channel_mask, axes=[[-1], [0]])
        )  # [..., C]
        white = (pixel - shift) / self.out_scale  # [..., C]
        params = []
        for k, layer in enumerate(self.mcgsms):
            feats = tf.concat([h, white[..., :k]], axis=-1)  # [..., U + k]
            params.append(self.head.affine(layer(feats), shift[..., k], self.out_scale[k]))
        return tf.stack(params, axis=-2)  # C x [..., P] -> [..., C, P]

    # ----------------------------------------------------------------- network
    @no_autograph
    def network(self, x, conditional=None, training=False):
        s = self._scaled(x)  # [B, H, W, C]
        nb = self.neighbourhood(s)  # [B, H, W, Q]
        h = self._lstm_input(nb)
        bias = self._gate_bias(conditional)
        for l, lstm in enumerate(self.lstms):
            h = lstm(h, bias=bias if l == 0 else None)  # [B, H, W, U]
        return self._pixel_params(h, nb, s)  # [B, H, W, C, P]

    # ---------------------------------------------------------- cached sampler
    @no_autograph
    def init_cache(self, batch, conditional=None):
        W = self.image_shape[1]
        cache = {lstm.name: lstm.init_cache(batch, W) for lstm in self.lstms}
        cache["h"] = tf.zeros(tf.stack([batch, self.hidden_dim]), self.compute_dtype)
        cache["nb"] = tf.zeros(
            tf.stack([batch, self.neighbourhood.num_positions * self.image_shape[2]]), self.compute_dtype
        )
        return cache

    def _advance(self, image, cache, i, j, conditional):
        """Channel 0 of pixel (i, j): read its neighbourhood, step every LSTM one pixel."""
        cache = dict(cache)
        nb = self.neighbourhood.step(image, i, j)  # [n, Q]
        h = self._lstm_input(nb)
        bias = self._gate_bias(conditional)
        for l, lstm in enumerate(self.lstms):
            h, cache[lstm.name] = lstm.step(h, cache[lstm.name], j, bias=bias if l == 0 else None)
        cache["h"], cache["nb"] = h, nb
        return cache

    @no_autograph
    def step(self, x, cache, index, conditional=None):
        H, W, C = self.image_shape
        pixel, channel = index // C, index % C
        i, j = pixel // W, pixel % W
        image = self._scaled(tf.reshape(x, [-1, H, W, C]))  # [n, D] -> [n, H, W, C]
        if C == 1:
            cache = self._advance(image, cache, i, j, conditional)
        else:
            cache = tf.cond(
                tf.equal(channel, 0),
                lambda: self._advance(image, cache, i, j, conditional),
                lambda: dict(cache),
            )
        values = tf.gather(tf.reshape(image, [-1, H * W, C]), pixel, axis=1)  # [n, H W, C] -> [n, C]
        params = self._pixel_params(cache["h"], cache["nb"], values)  # [n, C, P]
        return tf.gather(params, channel, axis=1), cache  # [n, P]

    # ------------------------------------------------------ RIDE's evaluation
    def reachable_region(self):
        """``(rows, cols)`` slices of the pixels RIDE scores (whole causal window inside)."""
        return reachable_region(self.image_shape, self.neighbourhood_size)

    def ride_log_likelihood(self, x, conditional=None):
        """Log-likelihood of each reachable pixel in nats, channels summed: ``[B, H_r, W_r]``.

        ``log p(x_ij | x_<ij)`` over the pixels whose causal window lies inside
        the image (see the module docstring); with the MCGSM head the
        whitening's log-Jacobian ``-sum_k log s_k`` is included.
        """
        rows, cols = self.reachable_region()
        clp = self.conditional_log_probs(x, conditional)  # [B, H, W, C]
        return tf.reduce_sum(clp[:, rows, cols], axis=-1)

    def ride_bits_per_pixel(self, x, conditional=None):
        """RIDE's ``evaluate``: ``-mean(ride_log_likelihood) / (C ln 2)`` (bits per pixel and channel)."""
        ll = self.ride_log_likelihood(x, conditional)
        return -tf.reduce_mean(ll) / (self.image_shape[2] * math.log(2.0))

    # -------------------------------------------------------------- whitening
    def fit_whitening(self, images, max_pixels=500_000, epsilon=1e-6):
        """Estimates RIDE's conditional whitening from float images ``[N, H, W, C]`` (numpy).

        Uses the reachable pixels (all pixels when an image has none), at most
        ``max_pixels`` of them: ``m_in``, ``W_in`` (the symmetric inverse
        square root of the neighbourhoods' covariance), and per channel the
        least-squares regression of the value on its neighbourhood and
        earlier channels (``m_k, r_k``) and its residual standard deviation
        ``s_k``.  Returns ``self``.
        """
        if self.head_name != "mcgsm":
            raise ValueError(
                "fit_whitening is for head='mcgsm' (RIDE's continuous pixels); the "
                "categorical head reads the levels scaled to [-1, 1]."
            )
        x = self.event.check(images)
        nb = self.neighbourhood(x).numpy().astype(np.float64)  # [N, H, W, Q]
        y = x.numpy().astype(np.float64)
        try:
            rows, cols = self.reachable_region()
            nb, y = nb[:, rows, cols], y[:, rows, cols]
        except ValueError:
            pass
        Q, C = nb.shape[-1], y.shape[-1]
        nb, y = nb.reshape(-1, Q), y.reshape(-1, C)  # [.., Q] -> [M, Q]
        if len(nb) > max_pixels:
            keep = np.random.RandomState(0).choice(len(nb), max_pixels, replace=False)
            nb, y = nb[keep], y[keep]
        mean = nb.mean(0)
        cov = np.cov(nb - mean, rowvar=False).reshape(Q, Q)
        values, vectors = np.linalg.eigh(cov)
        whiten = vectors @ np.diag(1.0 / np.sqrt(np.maximum(values, 0.0) + epsilon)) @ vectors.T
        out_mean, regress = np.zeros(C), np.zeros([Q, C])
        regress_channels, scale = np.zeros([C, C]), np.ones(C)
        for k in range(C):
            design = np.concatenate([nb, y[:, :k], np.ones([len(nb), 1])], axis=1)
            coef, *_ = np.linalg.lstsq(design, y[:, k], rcond=None)
            residual = y[:, k] - design @ coef
            regress[:, k], regress_channels[:k, k], out_mean[k] = coef[:Q], coef[Q : Q + k], coef[-1]
            scale[k] = max(float(np.std(residual)), 1e-3)
        for var, value in (
            (self.in_mean, mean),
            (self.in_whiten, whiten),
            (self.out_mean, out_mean),
            (self.out_regress, regress),
            (self.out_regress_channels, regress_channels),
            (self.out_scale, scale),
        ):
            var.assign(value.astype(np.float32))
        return self

    # ------------------------------------------------------------- image size
    def with_image_shape(self, image_shape):
        """The same model (same weights) for images of another ``(H, W, C)`` with the same C."""
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) != 3 or image_shape[2] != self.image_shape[2]:
            raise ValueError(
                f"image_shape must be (H, W, {self.image_shape[2]}) (the channels fix "
                f"the weights), got {image_shape!r}."
            )
        config = self.get_config()
        config.pop("name", None)
        config["image_shape"] = list(image_shape)
        other = type(self)(**config)
        other.set_weights(self.get_weights())
        return other
