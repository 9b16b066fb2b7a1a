"""Subscale Pixel Network: interleaved slices, a conditioning network, depth upscaling.

Menick & Kalchbrenner, "Generating High Fidelity Images with Subscale Pixel
Networks and Multidimensional Upscaling", ICLR 2019 (ImageNet 64x64:
3.52 bits/dim; 32x32: 3.85).

Subscale ordering
-----------------
With subscale factor S, an ``H x W x C`` image (S dividing H and W) is cut
into ``S^2`` *slices* of ``h x w = H/S x W/S`` pixels, the slice of offset
``(a, b)`` being ``x[a::S, b::S]`` (index ``s = a S + b``).  The slices are
generated one after the other in raster order of their offsets, and each
slice in raster order inside, channels innermost::

    step t  ->  slice s = t // (h w C),  pixel (i, j) of the slice,  channel c
            ->  image element ((a + S i) W + (b + S j)) C + c          (``ordering[t]``)

    log p(x) = sum_s sum_{(i, j, c)} log p(x_s[i, j, c] | x_{<s}, x_s[<(i, j, c)])

`slice_image` (``[B, H, W, ...] -> [B, S^2, h, w, ...]``) and `unslice_image`
are each other's inverse (a permutation of the elements); ``S = 1`` is the
plain raster order of a PixelCNN.

Networks (one *stage*, `SubscaleStage`)
---------------------------------------
* **Conditioning network** (unmasked, ``num_conditioning_layers`` ``k x k`` convolutions
  with ReLUs, "same" padding, at the slice resolution): its input for slice
  ``s`` is every slice stacked as channels ``[B, h, w, S^2 C]`` with the
  slices ``>= s`` zeroed, plus the one-hot slice index ``s`` (the paper's
  "meta-position") broadcast over the positions, plus the class one-hot
  (``num_classes``) and, in the depth-upscaling stage, the whole
  most-significant-bits image, sliced and stacked the same way.  Its output
  ``c_s [B, h, w, E]`` is a map aligned with slice s.
* **Slice decoder**: a Gated PixelCNN (van den Oord et al., NIPS 2016;
  `GatedPixelCNNStack`, vertical + horizontal stacks, no blind spot) over the
  slice ``x_s`` alone, each gate taking ``c_s`` as a location-dependent bias
  (eq. 5 of that paper: ``tanh(W_f * x + V_f c_s) * sigmoid(W_g * x + V_g c_s)``);
  masked 1x1 convolutions to ``C x L`` logits (a softmax per channel, R -> G
  -> B through the channel groups).

The conditioning network sees earlier slices only (zeroing is exact: the
later slices' values never enter), and the decoder is causal in the slice's
raster order, so the model is autoregressive in the subscale ordering.  The
paper's decoder also has masked self-attention over the slice; this one is
convolutional only (gated blocks without a blind spot, whose reach inside
the slice grows with ``num_layers``), and its receptive field over the earlier slices is the
conditioning network's ``1 + num_conditioning_layers (k - 1)`` pixels of slice
resolution (k = ``conditioning_kernel_size``).

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

import keras
import numpy as np
import tensorflow as tf

from ar_keras.core import AutoregressiveModel, no_autograph, sampler
from ar_keras.distributions import Categorical
from ar_keras.layers import GatedActivation, GatedPixelCNNStack, MaskedConv2D
from ar_keras.models.registry import register

__all__ = ["Subscale", "SubscaleStage", "slice_image", "unslice_image", "subscale_ordering"]


# ------------------------------------------------------------------------------------ slicing
def slice_image(x, subscale_factor):
    """``x [B, H, W, *r]`` -> slices ``[B, S^2, H/S, W/S, *r]``, slice ``a S + b = x[:, a::S, b::S]``."""
    S = int(subscale_factor)
    x = tf.convert_to_tensor(x)
    shape = tf.shape(x)
    rest = x.shape[3:]
    H, W = x.shape[1], x.shape[2]
    h = H // S if H is not None else shape[1] // S
    w = W // S if W is not None else shape[2] // S
    y = tf.reshape(
        x, tf.concat([[-1, h, S, w, S], shape[3:]], 0)
    )  # [B, H, W, *r] -> [B, h, S(a), w, S(b), *r]
    perm = [0, 2, 4, 1, 3] + list(range(5, 5 + len(rest)))
    y = tf.transpose(y, perm)  # -> [B, S(a), S(b), h, w, *r]
    return tf.reshape(y, tf.concat([[-1, S * S, h, w], shape[3:]], 0))  # -> [B, S^2, h, w, *r]


def unslice_image(slices, subscale_factor):
    """The inverse of `slice_image`: ``[B, S^2, h, w, *rest]`` -> ``[B, h S, w S, *rest]``."""
    S = int(subscale_factor)
    slices = tf.convert_to_tensor(slices)
    shape = tf.shape(slices)
    rest = slices.shape[4:]
    h = slices.shape[2] if slices.shape[2] is not None else shape[2]
    w = slices.shape[3] if slices.shape[3] is not None else shape[3]
    y = tf.reshape(
        slices, tf.concat([[-1, S, S, h, w], shape[4:]], 0)
    )  # [B, S^2, h, w, *r] -> [B, S(a), S(b), h, w, *r]
    perm = [0, 3, 1, 4, 2] + list(range(5, 5 + len(rest)))
    y = tf.transpose(y, perm)  # -> [B, h, S(a), w, S(b), *r]
    return tf.reshape(y, tf.concat([[-1, h * S, w * S], shape[4:]], 0))  # -> [B, H, W, *r]


def subscale_ordering(image_shape, subscale_factor):
    """``[D]`` int64: ``ordering[t]`` = the raster (row-major ``H, W, C``) index generated at step t."""
    H, W, C = image_shape
    index = np.arange(H * W * C).reshape(1, H, W, C)  # raster element ids
    return slice_image(index, subscale_factor).numpy().reshape(-1)  # [1, S^2, h, w, C] -> [D]


def _check_factor(image_shape, S):
    if isinstance(S, bool) or int(S) != S or S < 1:
        raise ValueError(f"subscale_factor must be a positive integer, got {S!r}.")
    H, W = image_shape[0], image_shape[1]
    if H % S or W % S:
        raise ValueError(
            f"subscale_factor S={S} must divide the image sides: got image_shape "
            f"{tuple(image_shape)} (H={H}, W={W}); use sides that are multiples of {S}."
        )


# ------------------------------------------------------------------------------------ stage
@keras.saving.register_keras_serializable(package="ar_keras")
class SubscaleStage(keras.layers.Layer):
    """One Subscale Pixel Network: conditioning network + slice decoder, ``L`` levels.

    Args:
        num_levels: L, the levels of the values this stage models.
        channels: C.
        subscale_factor: S.
        hidden_dim: F, features of the decoder's stacks.
        num_layers: gated blocks of the decoder.
        kernel_size: k of the decoder (odd).
        output_dim: width of the decoder's 1x1 output layer.
        conditioning_dim: E, features of the conditioning network (and its map).
        num_conditioning_layers: convolutions of the conditioning network (>= 1).
        conditioning_kernel_size: their kernel size (odd).
        extra_channels: channels of an extra input of the conditioning network
            (the msb image's ``S^2 C`` stacked slices in the depth stage; 0 if none).
        num_classes: class one-hot width, or None.
        slice_size: ``(h, w)`` (needed by the streaming decoder).  A slice of
            one pixel (``(1, 1)``, e.g. a 2x2 image with S = 2) has no
            neighbours for the gated blocks' spatial taps to read (they would
            be dead weights): its decoder is then one gated unit
            ``gate(W_A * x + V c_s)`` (``W_A`` a 1x1 convolution masked A over
            the R -> G -> B groups, absent when C = 1) before the same output
            layers.

    Call arguments:
        slices: ``[B, S^2, h, w, C]`` float, the data sliced and scaled to
            [-1, 1] (slices not drawn yet may hold anything; they are zeroed).
        extra: ``[B, h, w, extra_channels]`` float or None.
        classes: ``[B, num_classes]`` one-hot or None.

    Returns:
        logits ``[B, S^2, h, w, C, L]``: slice s's from the slices ``< s`` and its
        own earlier elements.
    """

    def __init__(
        self,
        num_levels,
        channels,
        subscale_factor,
        hidden_dim=16,
        num_layers=2,
        kernel_size=3,
        output_dim=32,
        conditioning_dim=16,
        num_conditioning_layers=2,
        conditioning_kernel_size=3,
        extra_channels=0,
        num_classes=None,
        slice_size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.slice_size = None if slice_size is None else tuple(int(v) for v in slice_size)
        self.one_pixel = self.slice_size == (1, 1)
        self.num_levels = int(num_levels)
        self.channels = int(channels)
        self.subscale_factor = int(subscale_factor)
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.kernel_size = int(kernel_size)
        self.output_dim = int(output_dim)
        self.conditioning_dim = int(conditioning_dim)
        self.num_conditioning_layers = int(num_conditioning_layers)
        self.conditioning_kernel_size = int(conditioning_kernel_size)
        self.extra_channels = int(extra_channels)
        self.num_classes = None if num_classes is None else int(num_classes)
        C = self.channels
        self.cond_convs = [
            keras.layers.Conv2D(
                self.conditioning_dim, self.conditioning_kernel_size, padding="same", name=f"cond_{i}"
            )
            for i in range(self.num_conditioning_layers)
        ]
        self.stack, self.pixel_in, self.pixel_gate = None, None, None
        if self.one_pixel:
            if C > 1:
                self.pixel_in = MaskedConv2D(
                    2 * self.hidden_dim, 1, mask_type="A", data_channels=C, out_splits=2, name="pixel_in"
                )
            self.pixel_gate = GatedActivation(conditional=True, name="pixel_gate")
        else:
            self.stack = GatedPixelCNNStack(
                self.hidden_dim,
                self.num_layers,
                self.kernel_size,
                data_channels=C,
                conditional=True,
                name="stack",
            )
        self.out_hidden = MaskedConv2D(self.output_dim, 1, mask_type="B", data_channels=C, name="out_hidden")
        self.out_logits = MaskedConv2D(
            C * self.num_levels, 1, mask_type="B", data_channels=C, name="out_logits"
        )

    @property
    def num_slices(self):
        return self.subscale_factor**2

    def conditioning(self, slices, index, extra=None, classes=None):
        """The conditioning map of slice ``index[b]`` of example b: ``[B, h, w, E]``.

        Args:
            slices: ``[B, S^2, h, w, C]`` scaled slices.
            index: ``[B]`` int32, the slice each example is conditioned for.
            extra, classes: as in `call`.
        """
        n, C = self.num_slices, self.channels
        shape = tf.shape(slices)
        h, w = shape[2], shape[3]
        stacked = tf.transpose(slices, [0, 2, 3, 1, 4])  # [B, S^2, h, w, C] -> [B, h, w, S^2, C]
        visible = tf.cast(tf.range(n)[None, :] < index[:, None], slices.dtype)  # [B, S^2]: slices < index
        stacked = stacked * visible[:, None, None, :, None]  # later slices zeroed
        stacked = tf.reshape(stacked, [-1, h, w, n * C])  # -> [B, h, w, S^2 C]
        ones = tf.ones_like(stacked[..., :1])  # [B, h, w, 1]
        slice_index = tf.one_hot(index, n, dtype=ones.dtype)[:, None, None, :]  # [B, 1, 1, S^2]
        parts = [stacked, ones * slice_index]  # + slice index [B, h, w, S^2]
        if self.extra_channels:
            parts.append(extra)
        if self.num_classes is not None:
            parts.append(ones * classes[:, None, None, :])  # + class [B, h, w, N]
        y = tf.concat(parts, axis=-1)
        for i, conv in enumerate(self.cond_convs):
            y = conv(y)
            if i < self.num_conditioning_layers - 1:
                y = tf.nn.relu(y)
        return y  # [B, h, w, E]

    def decode(self, slice_x, cond):
        """Slice decoder: ``slice_x [B, h, w, C]``, ``cond [B, h, w, E]`` -> logits ``[B, h, w, C, L]``."""
        shape = tf.shape(slice_x)
        if self.one_pixel:
            # No neighbours in the slice: the pixel's earlier channels (mask A) and c_s.
            pre = (
                self.pixel_in(slice_x)
                if self.pixel_in is not None
                else tf.zeros(tf.concat([shape[:3], [2 * self.hidden_dim]], 0))
            )  # [B, 1, 1, 2F]
            h = self.pixel_gate(pre, cond)  # [B, 1, 1, F]
        else:
            h = self.stack(slice_x, conditioning=cond)  # [B, h, w, F]
        out = self.out_hidden(tf.nn.relu(h))
        logits = self.out_logits(tf.nn.relu(out))  # [B, h, w, C L]
        return tf.reshape(
            logits, [shape[0], shape[1], shape[2], self.channels, self.num_levels]
        )  # -> [B, h, w, C, L]

    # ------------------------------------------------------------- streaming
    def init_decoder_cache(self, batch):
        """The decoder's cache before pixel (0, 0) of a slice (`GatedPixelCNNStack`; empty for one pixel)."""
        if self.one_pixel:
            return {}
        return self.stack.init_cache(batch, self.slice_size[1])

    def decode_step(self, slice_x, cond, cache, index):
        """Logits ``[B, L]`` of element ``index`` (raster, channels inner) of the slice.

        ``slice_x [B, h, w, C]``: the slice drawn so far (later elements zero);
        ``cond [B, h, w, E]``: its conditioning map; ``cache``: the stack's
        cache (`init_decoder_cache` at the slice's first element).  Entering
        row ``i >= 1`` feeds row ``i - 1`` through every vertical stack, then
        the pixel goes through every horizontal stack (`GatedPixelCNNStack.step`,
        the map read at the row and the pixel): ``O(layers)`` per element (plus
        ``O(layers w)`` per row) instead of a decoder pass over the slice.
        Returns ``(logits, cache)``.
        """
        C, L = self.channels, self.num_levels
        if self.one_pixel:
            logits = tf.reshape(self.decode(slice_x, cond), [-1, C, L])  # [B, 1, 1, C, L] -> [B, C, L]
            return tf.gather(logits, index % C, axis=1), cache
        w = self.slice_size[1]
        pixel, channel = index // C, index % C
        i, j = pixel // w, pixel % w
        h, cache = self.stack.step(slice_x, cache, i, j, channel, conditioning=cond)  # [B, 1, 1, F]
        out = self.out_hidden(tf.nn.relu(h))
        logits = tf.reshape(self.out_logits(tf.nn.relu(out)), [-1, C, L])  # [B, 1, 1, C L] -> [B, C, L]
        return tf.gather(logits, channel, axis=1), cache  # [B, L]

    def call(self, slices, extra=None, classes=None):
        n = self.num_slices
        shape = tf.shape(slices)
        B, h, w = shape[0], shape[2], shape[3]
        # Every slice in one batch: example b's slice s is row b S^2 + s.
        rep = tf.repeat(slices, n, axis=0)  # [B S^2, S^2, h, w, C]
        index = tf.tile(tf.range(n), [B])  # [B S^2]
        extra = None if extra is None else tf.repeat(extra, n, axis=0)  # [B S^2, h, w, X]
        classes = None if classes is None else tf.repeat(classes, n, axis=0)  # [B S^2, N]
        cond = self.conditioning(rep, index, extra, classes)  # [B S^2, h, w, E]
        own = tf.reshape(slices, [-1, h, w, self.channels])  # [B, S^2, h, w, C] -> [B S^2, h, w, C]
        logits = self.decode(own, cond)  # [B S^2, h, w, C, L]
        return tf.reshape(logits, [B, n, h, w, self.channels, self.num_levels])  # -> [B, S^2, h, w, C, L]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_levels": self.num_levels,
                "channels": self.channels,
                "subscale_factor": self.subscale_factor,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "kernel_size": self.kernel_size,
                "output_dim": self.output_dim,
                "conditioning_dim": self.conditioning_dim,
                "num_conditioning_layers": self.num_conditioning_layers,
                "conditioning_kernel_size": self.conditioning_kernel_size,
                "extra_channels": self.extra_channels,
                "num_classes": self.num_classes,
                "slice_size": None if self.slice_size is None else list(self.slice_size),
            }
        )
        return config


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
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {self.image_shape}.")
        _check_factor(self.image_shape, subscale_factor)
        for name, k in (("kernel_size", kernel_size), ("conditioning_kernel_size", conditioning_kernel_size)):
            if k < 1 or k % 2 == 0:
                raise ValueError(f"{name} must be odd and >= 1, got {k}.")
        if num_layers < 1 or num_conditioning_layers < 1:
            raise ValueError(
                f"num_layers and num_conditioning_layers must be >= 1, got {num_layers} and "
                f"{num_conditioning_layers}."
            )
        self.subscale_factor = int(subscale_factor)
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.kernel_size = int(kernel_size)
        self.output_dim = int(output_dim)
        self.conditioning_dim = int(conditioning_dim)
        self.num_conditioning_layers = int(num_conditioning_layers)
        self.conditioning_kernel_size = int(conditioning_kernel_size)
        self.depth_upscaling = bool(depth_upscaling)
        self.msb_bits = int(msb_bits)
        K, C = self.num_levels, self.image_shape[-1]
        if self.hidden_dim < C:
            raise ValueError(f"hidden_dim ({hidden_dim}) must be at least the channel count ({C}).")
        self.head = Categorical(K)
        self._ordering = subscale_ordering(self.image_shape, self.subscale_factor)
        common = dict(
            channels=C,
            subscale_factor=self.subscale_factor,
            hidden_dim=self.hidden_dim,
            num_layers=self.num_layers,
            kernel_size=self.kernel_size,
            output_dim=self.output_dim,
            conditioning_dim=self.conditioning_dim,
            num_conditioning_layers=self.num_conditioning_layers,
            conditioning_kernel_size=self.conditioning_kernel_size,
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
        self, noise, num_samples, num_elements, conditional=None, temperature=1.0, cache=True
    ):
        if not self.depth_upscaling:
            return super().sample_elements(noise, num_samples, num_elements, conditional, temperature, cache)
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
        )
        lsb = sampler.run(
            _StageSampler(self, lsb_stage, classes, msb),
            _NoisePart(noise, m, lsb_stage.num_levels),
            num_samples,
            num_elements,
            None,
            temperature,
            cache=bool(cache),
        )
        return msb * (2**self.lsb_bits) + lsb  # [n, D]
