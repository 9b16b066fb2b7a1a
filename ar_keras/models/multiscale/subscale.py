"""Subscale Pixel Network: interleaved slices, a conditioning network, depth upscaling.

Menick & Kalchbrenner, "Generating High Fidelity Images with Subscale Pixel
Networks and Multidimensional Upscaling", ICLR 2019 (ImageNet 64x64:
3.52 bits/dim; 32x32: 3.85).

With subscale factor S the image is cut into ``S^2`` interleaved slices
``x[a::S, b::S]``, generated one after the other, each in raster order
(`ar_keras.models.multiscale.subscale_order`)::

    log p(x) = sum_s sum_{(i, j, c)} log p(x_s[i, j, c] | x_{<s}, x_s[<(i, j, c)])

One *stage* (`SubscaleStage`) models that: a conditioning network reads the
earlier slices and a Gated PixelCNN decodes the slice given its map.

Depth upscaling (``depth_upscaling=True``, ``msb_bits=m``)
---------------------------------------------------------
With ``K = 2^n`` levels, each value splits as ``x = 2^(n-m) msb + lsb``:
first the whole ``m``-bit image ``msb`` is generated (every slice) by one
stage with ``2^m`` levels, then the ``(n - m)``-bit image ``lsb`` by a second
stage with ``2^(n-m)`` levels whose conditioning network also sees the
*whole* msb image.  The split is a bijection, so exactly::

    NLL(x) = NLL(msb) + NLL(lsb | msb)        (`depth_log_probs` gives both parts)

K must be a power of 2 (``ValueError`` otherwise: the bit split of a
non-power-of-2 range would leave unreachable codes).  With depth upscaling the
per-element terms are not chain-rule conditionals in one element ordering
(element d's lsb term sees every msb), so ``exact_conditionals`` is False and
`conditional_log_probs` raises; `depth_log_probs` and `log_prob` are exact.
Sampling draws the msb pass then the lsb pass (each in the subscale ordering);
its noise has ``2^m + 2^(n-m)`` uniforms per element (msb first).

Cached sampling (``sample(cache=True)``, exact)
-----------------------------------------------
A full pass runs both networks on all ``S^2`` slices.  The cache keeps the
conditioning map of the current slice, computed once at the first step of the
slice (every earlier slice is then complete: ``S^2`` conditioning-network
passes per image in all), and the slice decoder's streaming state: the
`GatedPixelCNNStack` keeps its blocks' row buffers (the vertical stacks once
per row of the slice with the map's row, the horizontal stacks per element
with the map's pixel), so a
step costs ``O(layers)`` instead of a pass of both networks over the whole
image, and the samples are identical to the recompute's.

Example:
    >>> import numpy as np, tensorflow as tf
    >>> import ar_keras as ark
    >>> model = ark.models.get("subscale", preset="digits")        # 8x8x1, S = 2
    >>> model.ordering[:4]                                          # x[0::2, 0::2] first
    array([0, 2, 4, 6])
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=20)
    >>> model.sample(2, seed=0).shape
    TensorShape([2, 8, 8, 1])
    >>> deep = ark.models.get("subscale", preset="tiny", num_levels=16,
    ...                       depth_upscaling=True, msb_bits=2)
    >>> x = deep.sample(2, seed=0)
    >>> msb_lp, lsb_lp = deep.depth_log_probs(x)                    # nats per element
    >>> msb_lp.shape, lsb_lp.shape
    (TensorShape([2, 4, 4, 1]), TensorShape([2, 4, 4, 1]))
    >>> total = tf.reduce_sum(msb_lp, [1, 2, 3]) + tf.reduce_sum(lsb_lp, [1, 2, 3])
    >>> bool(np.allclose(total, deep.log_prob(x), atol=1e-4))      # the two parts sum to log p(x)
    True
"""

import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, no_autograph, sampler
from ar_keras.distributions import Categorical
from ar_keras.models.multiscale.subscale_order import (
    check_subscale_factor,
    slice_image,
    subscale_ordering,
    unslice_image,
)
from ar_keras.models.multiscale.subscale_stage import SubscaleStage
from ar_keras.models.registry import register

__all__ = ["Subscale", "SubscaleStage", "slice_image", "unslice_image", "subscale_ordering"]


# ------------------------------------------------------------------------------ sampling
class _NoisePart:
    """Uniforms ``[start, start + depth)`` of each element's noise (msb / lsb passes)."""

    def __init__(self, noise, start, depth):
        self.noise, self.start, self.depth = noise, int(start), int(depth)

    def at(self, elements):
        return self.noise.at(elements)[..., self.start : self.start + self.depth]  # [n, G, depth]


class _StageSampler(sampler.SamplingProtocol):
    """One stage of a `Subscale` model seen through the sampler's protocol."""

    def __init__(self, model, stage, classes, extra_values=None):
        self.model, self.stage, self.classes = model, stage, classes
        self.extra_values = extra_values  # [n, D] msb ints or None
        self.head = Categorical(stage.num_levels)

    @property
    def ordering(self):
        return self.model.ordering

    def _extra(self):
        if self.extra_values is None:
            return None
        return self.model._stacked(self.extra_values, self.model.stages[0].num_levels)

    def element_params(self, x, conditional=None):
        del conditional
        return self.model._stage_params(self.stage, x, self.classes, self._extra())

    def init_cache(self, batch, conditional=None):
        del conditional
        h, w = self.model._slice_size
        return {
            "cond": tf.zeros(tf.stack([batch, h, w, self.stage.conditioning_dim]), self.stage.compute_dtype),
            "decoder": self.stage.init_decoder_cache(batch),
        }

    def step(self, x, cache, index, conditional=None):
        del conditional
        return self.model._stage_step(self.stage, x, cache, index, self.classes, self._extra())


# ------------------------------------------------------------------------------------ model
@register("subscale")
class Subscale(AutoregressiveModel):
    """Subscale Pixel Network (slices in subscale order; optional depth upscaling).

    Args:
        image_shape: ``(H, W, C)``; S must divide H and W.
        num_levels: K (a power of 2 with ``depth_upscaling``).
        subscale_factor: S; ``S^2`` slices ``x[a::S, b::S]``; 1 is raster order.
        hidden_dim, num_layers, kernel_size, output_dim: the slice decoder
            (Gated PixelCNN blocks).
        conditioning_dim, num_conditioning_layers, conditioning_kernel_size: the conditioning network.
        depth_upscaling: generate the ``msb_bits`` most significant bits of
            every element first, then the rest given them.
        msb_bits: m (used with ``depth_upscaling``), ``1 <= m < log2 K``.
        num_classes: optional class-conditional model.
    """

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=17,
        subscale_factor=2,
        hidden_dim=64,
        num_layers=5,
        kernel_size=3,
        output_dim=128,
        conditioning_dim=64,
        num_conditioning_layers=3,
        conditioning_kernel_size=3,
        depth_upscaling=False,
        msb_bits=3,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        checks.check_image_rank(self.image_shape)
        self.subscale_factor = check_subscale_factor(self.image_shape, subscale_factor)
        self.depth_upscaling = bool(depth_upscaling)
        self.msb_bits = int(msb_bits)
        K, C = self.num_levels, self.image_shape[-1]
        self.head = Categorical(K)
        self._ordering = subscale_ordering(self.image_shape, self.subscale_factor)
        common = dict(
            channels=C,
            subscale_factor=self.subscale_factor,
            hidden_dim=hidden_dim,
            num_layers=num_layers,
            kernel_size=kernel_size,
            output_dim=output_dim,
            conditioning_dim=conditioning_dim,
            num_conditioning_layers=num_conditioning_layers,
            conditioning_kernel_size=conditioning_kernel_size,
            num_classes=self.num_classes,
            slice_size=self._slice_size,
        )
        if self.depth_upscaling:
            bits = K.bit_length() - 1
            if K != 2**bits:
                raise ValueError(
                    f"depth_upscaling needs num_levels a power of 2 (the bits of "
                    f"each value are split), got num_levels={K}."
                )
            if not 1 <= self.msb_bits < bits:
                raise ValueError(
                    f"msb_bits must be in [1, {bits - 1}] for num_levels={K} ({bits} bits), got {msb_bits}."
                )
            self.lsb_bits = bits - self.msb_bits
            S2 = self.subscale_factor**2
            self.stages = [
                SubscaleStage(2**self.msb_bits, name="msb_stage", **common),
                SubscaleStage(2**self.lsb_bits, extra_channels=S2 * C, name="lsb_stage", **common),
            ]
        else:
            self.lsb_bits = 0
            self.stages = [SubscaleStage(K, name="stage", **common)]
        self._finish_init()

    # ----------------------------------------------------------------- structure
    @classmethod
    def contract_shape(cls, shape):
        """The shape the shared contract suite uses for ``shape`` on the tiny preset.

        A side that the tiny preset's S does not divide is impossible for this
        model, so each side is rounded up to a multiple of S.  The channels are
        kept unless that more than doubles the element count (the enumeration
        checks cost ``K^D``): then as many channels as fit in the original count
        (at least one).  ``(3, 3, 1) -> (4, 4, 1)``, ``(1, 2, 3) -> (2, 2, 3)``,
        ``(1, 1, 3) -> (2, 2, 1)``, ``(2, 2, 3)`` unchanged.
        """
        S = cls.PRESETS["tiny"]["subscale_factor"]
        H, W, C = shape
        H2, W2 = -(-H // S) * S, -(-W // S) * S
        if H2 * W2 * C > 2 * H * W * C:
            C = max(1, (H * W * C) // (H2 * W2))
        return (H2, W2, C)

    @property
    def ordering(self):
        """``[D]``: ``ordering[t]`` is the raster element index generated at step t (the
        subscale order; with depth upscaling, the order of each of the two passes)."""
        return self._ordering

    @property
    def exact_conditionals(self):
        return not self.depth_upscaling

    @property
    def noise_depth(self):
        return sum(stage.num_levels for stage in self.stages)

    @property
    def _slice_size(self):
        H, W, _ = self.image_shape
        return H // self.subscale_factor, W // self.subscale_factor

    def slice_image(self, x):
        """``[B, H, W, ...]`` -> ``[B, S^2, H/S, W/S, ...]`` with this model's S."""
        return slice_image(x, self.subscale_factor)

    def unslice_image(self, slices):
        """The inverse of `slice_image`."""
        return unslice_image(slices, self.subscale_factor)

    # ------------------------------------------------------------------- network
    def _classes(self, conditional):
        return None if conditional is None else tf.one_hot(conditional, self.num_classes)

    def _scaled_slices(self, x, levels):
        """Int ``[B, H, W, C]`` (or ``[B, D]``) in [0, levels) -> scaled slices ``[B, S^2, h, w, C]``."""
        H, W, C = self.image_shape
        x = tf.reshape(x, [-1, H, W, C])  # [B, D] -> [B, H, W, C]
        scaled = tf.cast(x, self.compute_dtype) * (2.0 / (levels - 1)) - 1.0
        return slice_image(scaled, self.subscale_factor)

    def _stacked(self, values, levels):
        """The msb image as the depth stage's extra input: ``[B, h, w, S^2 C]``."""
        slices = self._scaled_slices(values, levels)  # [B, S^2, h, w, C]
        h, w = self._slice_size
        stacked = tf.transpose(slices, [0, 2, 3, 1, 4])  # -> [B, h, w, S^2, C]
        return tf.reshape(
            stacked, [-1, h, w, self.subscale_factor**2 * self.image_shape[-1]]
        )  # -> [B, h, w, S^2 C]

    def _stage_logits(self, stage, x, classes, extra=None):
        """``x`` int ``[B, H, W, C]`` in [0, L) -> logits ``[B, H, W, C, L]``."""
        H, W, C = self.image_shape
        h, w = self._slice_size
        L = stage.num_levels
        logits = stage(self._scaled_slices(x, L), extra, classes)  # [B, S^2, h, w, C, L]
        # C and L merged so that unslicing stays within TFLite's 6-D transposes.
        logits = tf.reshape(logits, [-1, self.subscale_factor**2, h, w, C * L])  # -> [B, S^2, h, w, C L]
        logits = unslice_image(logits, self.subscale_factor)  # -> [B, H, W, C L]
        return tf.reshape(logits, [-1, H, W, C, L])  # -> [B, H, W, C, L]

    def _stage_params(self, stage, x_flat, classes, extra=None):
        """Flattened: ``x [n, D]`` -> ``[n, D, L]``."""
        logits = self._stage_logits(stage, x_flat, classes, extra)
        return tf.reshape(logits, [tf.shape(x_flat)[0], self.event_size, stage.num_levels])  # -> [n, D, L]

    def _split(self, x):
        """``x = 2^lsb_bits msb + lsb``."""
        x = tf.cast(x, tf.int32)
        # floordiv / floormod rather than bit ops: TFLite has no builtin bitwise kernels.
        return tf.math.floordiv(x, 2**self.lsb_bits), tf.math.floormod(x, 2**self.lsb_bits)

    @no_autograph
    def network(self, x, conditional=None, training=False):
        if self.depth_upscaling:
            raise NotImplementedError(
                "with depth_upscaling the model has two networks (msb, then lsb given msb): use "
                "log_prob or depth_log_probs."
            )
        return self._stage_logits(self.stages[0], x, self._classes(conditional))

    def _depth_parts(self, x, conditional):
        msb, lsb = self._split(x)
        classes = self._classes(conditional)
        msb_stage, lsb_stage = self.stages
        msb_lp = Categorical(msb_stage.num_levels).log_prob(
            self._stage_logits(msb_stage, msb, classes), msb
        )  # [B, H, W, C]
        extra = self._stacked(msb, msb_stage.num_levels)
        lsb_lp = Categorical(lsb_stage.num_levels).log_prob(
            self._stage_logits(lsb_stage, lsb, classes, extra), lsb
        )  # [B, H, W, C]
        return msb_lp, lsb_lp

    def _conditional_log_probs(self, x, conditional, training=False):
        if not self.depth_upscaling:
            return super()._conditional_log_probs(x, conditional, training=training)
        msb_lp, lsb_lp = self._depth_parts(x, conditional)
        return msb_lp + lsb_lp  # per element; sums to log p(msb) + log p(lsb | msb)

    def depth_log_probs(self, x, conditional=None):
        """``(log p(msb_d | ...), log p(lsb_d | msb, ...))``, each x's shape (depth upscaling).

        ``log_prob(x) = sum(msb part) + sum(lsb part)`` exactly.
        """
        if not self.depth_upscaling:
            raise ValueError("depth_log_probs needs a model built with depth_upscaling=True.")
        x, c = self._check(x, conditional)
        return self._depth_parts(x, c)

    # ------------------------------------------------------------------ sampling
    @no_autograph
    def _stage_step(self, stage, x, cache, index, classes, extra=None):
        """Params ``[n, L]`` of step ``index`` of a stage's pass: the conditioning map is
        computed at the first step of each slice, and the slice decoder streams through
        the slice (`SubscaleStage.decode_step`)."""
        h, w = self._slice_size
        per_slice = h * w * self.image_shape[-1]
        s, r = index // per_slice, index % per_slice
        slices = self._scaled_slices(x, stage.num_levels)  # [n, S^2, h, w, C]
        # The static batch where known, so the fresh caches keep init_cache's shapes
        # (a while_loop's state must not change shape across iterations).
        n = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]

        def new_slice():
            cond = stage.conditioning(slices, tf.fill([n], s), extra, classes)  # [n, h, w, E]
            return {"cond": cond, "decoder": stage.init_decoder_cache(n)}

        cache = tf.cond(tf.equal(r, 0), new_slice, lambda: dict(cache))
        own = tf.gather(slices, s, axis=1)  # [n, h, w, C]
        params, decoder = stage.decode_step(own, cache["cond"], cache["decoder"], r)
        return params, {"cond": cache["cond"], "decoder": decoder}

    def init_cache(self, batch, conditional=None):
        if self.depth_upscaling:
            raise NotImplementedError("depth upscaling samples in two passes (sample_elements).")
        return _StageSampler(self, self.stages[0], self._classes(conditional)).init_cache(batch)

    def step(self, x, cache, index, conditional=None):
        if self.depth_upscaling:
            raise NotImplementedError("depth upscaling samples in two passes (sample_elements).")
        return self._stage_step(self.stages[0], x, cache, index, self._classes(conditional))

    def sample_elements(
        self, noise, num_samples, num_elements, conditional=None, temperature=1.0, cache=True, truncation=None
    ):
        if not self.depth_upscaling:
            return super().sample_elements(
                noise, num_samples, num_elements, conditional, temperature, cache, truncation=truncation
            )
        classes = self._classes(conditional)
        msb_stage, lsb_stage = self.stages
        m = msb_stage.num_levels
        msb = sampler.run(
            _StageSampler(self, msb_stage, classes),
            _NoisePart(noise, 0, m),
            num_samples,
            num_elements,
            None,
            temperature,
            cache=bool(cache),
            truncation=truncation,
        )
        lsb = sampler.run(
            _StageSampler(self, lsb_stage, classes, msb),
            _NoisePart(noise, m, lsb_stage.num_levels),
            num_samples,
            num_elements,
            None,
            temperature,
            cache=bool(cache),
            truncation=truncation,
        )
        return msb * (2**self.lsb_bits) + lsb  # [n, D]
