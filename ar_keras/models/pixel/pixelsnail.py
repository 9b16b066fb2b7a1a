"""PixelSNAIL: causal convolutions interleaved with causal self-attention.

Chen, Mishra, Rohaninejad & Abbeel, "PixelSNAIL: An Improved Autoregressive
Generative Model", ICML 2018 (2.85 bits/dim on CIFAR-10); reference code
neocxi/pixelsnail-public (``h12_noup_smallkey``).

Architecture
------------
One ``ul`` stream of ``F`` maps (PixelCNN++'s above-and-left stream, no u
stream and no down-sampling):
``ul_0 = down_shift(conv_1x3(x)) + right_shift(conv_2x1(x))``, then
``num_blocks`` blocks, each

1. ``num_layers`` `GatedResNet` layers with down-right-shifted 2x2 convs
   (receptive field above-left, with a blind spot to the upper right);
2. an attention block: keys and values from a 1x1 gated ResNet on
   ``[x, ul, background]`` then a 1x1 projection to ``key_dim + value_dim``;
   queries from a 1x1 gated ResNet on ``[ul, background]`` then a 1x1
   projection to ``key_dim``; `PatternAttention` (dense, strict) where pixel i reads pixels
   ``j < i`` (the key of j contains x_j, so strictly earlier); the
   ``background`` is two constant maps of the row and column position
   ``((i - H/2) / H, (j - W/2) / W)``, so attention can locate its keys;
3. a 1x1 gated ResNet on ``ul`` with the attention output as auxiliary input.

Attention reaches every earlier pixel, so there is no blind spot.  The head is
PixelCNN++'s discretized logistic mixture with channel coupling (channels of
the current pixel never enter the network; each channel's conditional is
exact).  Class-conditional (``num_classes``): every block adds ``V h``.

Cached sampling: the convolutional stream runs pixel by pixel from two-row
buffers (`ar_keras.layers.shifted_conv`), and each attention layer keeps a
key/value cache of the pixels already drawn (the key of pixel p - 1 is added
once its channels are all drawn); a step costs ``O(layers)`` for the
convolutions and ``O(pixels so far)`` for attention, instead of a whole pass,
and gives the same samples as the full recompute.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("pixelsnail", preset="digits")
    >>> model.compile(optimizer="adam")
    >>> model.sample(4, seed=0).shape
    TensorShape([4, 8, 8, 1])
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, no_autograph
from ar_keras.distributions.logistic_mixture import DiscretizedLogisticMixture
from ar_keras.layers.attention import PatternAttention
from ar_keras.layers.gated_resnet import GatedResNet
from ar_keras.layers.shifted_conv import (
    DownRightShiftedConv2D,
    DownShiftedConv2D,
    down_shift,
    right_shift,
)
from ar_keras.models.pixel.mixture_stream import (
    class_conditioning,
    mixture_step,
    network_inputs,
    padded_inputs,
    ul_init_at,
)
from ar_keras.models.registry import register

__all__ = ["PixelSNAIL"]

#: The gated ResNets' non-linearities (`ar_keras.layers.gated_resnet.get_nonlinearity`).
ACTIVATIONS = ("elu", "concat_elu", "relu")


@register("pixelsnail")
class PixelSNAIL(AutoregressiveModel):
    """PixelSNAIL (Chen et al., ICML 2018), unconditional or class-conditional.

    Args:
        image_shape: ``(H, W, C)``.
        num_levels: K.
        hidden_dim: F (paper: 256).
        num_blocks: residual + attention blocks (paper: 12).
        num_layers: gated ResNet layers per block (paper: 4).
        key_dim: query/key features (reference: 16).
        value_dim: value features (reference: F / 2 = 128).
        num_mixtures: logistic components (paper: 10).
        dropout: dropout in every gated ResNet during training (paper: 0.5).
        activation: of the gated ResNets: ``"elu"`` (the reference run's
            default), ``"concat_elu"`` or ``"relu"``.
        num_classes: optional class-conditional model.
    """

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=17,
        hidden_dim=32,
        num_blocks=2,
        num_layers=2,
        key_dim=8,
        value_dim=16,
        num_mixtures=5,
        dropout=0.0,
        activation="elu",
        num_classes=None,
        **kwargs,
    ):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        checks.check_image_rank(self.image_shape)
        self.hidden_dim = checks.check_positive_int(hidden_dim, "hidden_dim")
        self.num_blocks = checks.check_positive_int(num_blocks, "num_blocks")
        self.num_layers = checks.check_positive_int(num_layers, "num_layers")
        self.key_dim = checks.check_positive_int(key_dim, "key_dim")
        self.value_dim = checks.check_positive_int(value_dim, "value_dim")
        self.num_mixtures = checks.check_positive_int(num_mixtures, "num_mixtures")
        checks.check_choice(activation, "activation", ACTIVATIONS)
        self.dropout = float(dropout)
        self.activation = activation
        H, W, C = self.image_shape
        F, nb, nr = self.hidden_dim, self.num_blocks, self.num_layers
        self.head = DiscretizedLogisticMixture(self.num_levels, self.num_mixtures, C)
        cond = self.num_classes is not None

        def block(conv, aux, name):
            return GatedResNet(
                conv=conv,
                nonlinearity=self.activation,
                dropout=self.dropout,
                auxiliary=aux,
                conditional=cond,
                name=name,
            )

        self.ul_init_above = DownShiftedConv2D(F, (1, 3), name="ul_init_above")
        self.ul_init_left = DownRightShiftedConv2D(F, (2, 1), name="ul_init_left")
        # Block b, layer k at index b * nr + k.
        self.resnets = [
            block("down_right_shifted", False, f"resnet_{b}_{k}") for b in range(nb) for k in range(nr)
        ]
        self.key_resnets = [block("nin", False, f"key_resnet_{b}") for b in range(nb)]
        self.key_value = [
            keras.layers.Dense(self.key_dim + self.value_dim, name=f"key_value_{b}") for b in range(nb)
        ]
        self.query_resnets = [block("nin", False, f"query_resnet_{b}") for b in range(nb)]
        self.queries = [keras.layers.Dense(self.key_dim, name=f"query_{b}") for b in range(nb)]
        self.attention = PatternAttention(pattern="dense", strict=True, name="attention")
        self.mix_resnets = [block("nin", True, f"mix_resnet_{b}") for b in range(nb)]
        # Random bias: breaks the mixture's symmetry (see pixelcnn_pp).
        self.out = keras.layers.Dense(
            self.head.num_pixel_params,
            name="out",
            bias_initializer=keras.initializers.RandomNormal(stddev=0.5),
        )
        rows = (np.arange(H, dtype=np.float32) - H / 2) / H
        cols = (np.arange(W, dtype=np.float32) - W / 2) / W
        self._background = np.stack(np.broadcast_arrays(rows[:, None], cols[None, :]), axis=-1)  # [H, W, 2]
        self._finish_init()

    # ------------------------------------------------------------ full network
    @no_autograph
    def network(self, x, conditional=None, training=False):
        nr = self.num_layers
        h = class_conditioning(self.num_classes, conditional)
        x_in = network_inputs(self.head, x)  # [B, H, W, C + 1]
        v = x_in[..., :-1]  # [B, H, W, C] in [-1, 1]
        v = tf.cast(v, self.compute_dtype)
        background = tf.zeros_like(v[..., :1]) + tf.cast(self._background, v.dtype)  # [B, H, W, 2]
        ul = down_shift(self.ul_init_above(x_in)) + right_shift(self.ul_init_left(x_in))
        for b in range(self.num_blocks):
            for k in range(nr):
                ul = self.resnets[b * nr + k](ul, conditioning=h, training=training)
            content = tf.concat([v, ul, background], axis=-1)
            kv = self.key_value[b](self.key_resnets[b](content, conditioning=h, training=training))
            key, value = tf.split(kv, [self.key_dim, self.value_dim], axis=-1)
            query = self.queries[b](
                self.query_resnets[b](tf.concat([ul, background], axis=-1), conditioning=h, training=training)
            )
            mixed = self.attention(query, key, value)  # [B, H, W, value_dim]
            ul = self.mix_resnets[b](ul, aux=mixed, conditioning=h, training=training)
        pixel = self.out(tf.nn.elu(ul))  # [B, H, W, R]
        return self.head.element_params(pixel, x)  # [B, H, W, C, 3M]

    # ----------------------------------------------------------- cached sampler
    @no_autograph
    def init_cache(self, batch, conditional=None):
        H, W, C = self.image_shape
        F, nb, nr = self.hidden_dim, self.num_blocks, self.num_layers
        pixels = H * W
        cache = {"pixel": tf.zeros(tf.stack([batch, self.head.num_pixel_params]), self.compute_dtype)}
        for b in range(nb):
            for k in range(nr):
                cache[f"resnet_{b}_{k}"] = self.resnets[b * nr + k].init_cache(batch, W)
            cache[f"attention_{b}"] = self.attention.init_cache(batch, pixels, self.key_dim, self.value_dim)
            # ul entering block b's attention at the last pixel: its key is
            # added at the next pixel, once all its channels are drawn.
            cache[f"ul_{b}"] = tf.zeros(tf.stack([batch, 1, 1, F]), self.compute_dtype)
        return cache

    def _new_pixel(self, cache, pixel, h):
        H, W, C = self.image_shape
        nr = self.num_layers
        cache = dict(cache)
        r, c = pixel // W, pixel % W
        x = tf.reshape(cache["x"], [-1, H, W, C])  # [B, D] -> [B, H, W, C]
        v = tf.cast(self.head.scale_levels(x), self.compute_dtype)
        xp = padded_inputs(self.head, x)  # [B, H + 2, W + 2, C + 1]
        background = tf.constant(self._background.reshape(H * W, 2), self.compute_dtype)

        # Keys and values of the previous pixel, now complete (nothing at pixel 0).
        prev = tf.maximum(pixel - 1, 0)
        v_prev = tf.gather(tf.reshape(v, [-1, H * W, C]), tf.reshape(prev, [1]), axis=1)  # [B, 1, C]
        bg_prev = tf.zeros_like(v_prev[..., :1]) + tf.gather(background, tf.reshape(prev, [1]))
        for b in range(self.num_blocks):
            content = tf.concat([v_prev, cache[f"ul_{b}"][:, 0], bg_prev], axis=-1)  # [B, 1, C+F+2]
            content, _ = self.key_resnets[b].step(content[:, None], {}, conditioning=h)
            kv = self.key_value[b](content[:, 0])  # [B, 1, dk + dv]
            key, value = tf.split(kv, [self.key_dim, self.value_dim], axis=-1)
            # At pixel 0, position -1 writes nothing.
            cache[f"attention_{b}"] = self.attention.write(cache[f"attention_{b}"], key, value, pixel - 1)

        # The convolutional stream at (r, c).
        ul = ul_init_at(self.ul_init_above, self.ul_init_left, xp, r, c)  # [B, 1, 1, F]
        bg_here = tf.zeros_like(ul[..., :1]) + tf.reshape(
            tf.gather(background, tf.reshape(pixel, [1])), [1, 1, 1, 2]
        )  # [B, 1, 1, 2]
        first = tf.equal(c, 0)
        for b in range(self.num_blocks):
            for k in range(nr):
                key, layer = f"resnet_{b}_{k}", self.resnets[b * nr + k]
                state = tf.nest.map_structure(
                    lambda new, old: tf.where(first, new, old), layer.start_row(cache[key]), cache[key]
                )
                ul, cache[key] = layer.step(ul, state, column=c, conditioning=h)
            cache[f"ul_{b}"] = ul
            query = self.queries[b](
                self.query_resnets[b].step(tf.concat([ul, bg_here], axis=-1), {}, conditioning=h)[0]
            )  # [B, 1, 1, dk]
            mixed = self.attention.step(query[:, 0, 0], cache[f"attention_{b}"], pixel)  # [B, dv]
            ul, _ = self.mix_resnets[b].step(ul, {}, aux=mixed[:, None, None, :], conditioning=h)
        cache["pixel"] = self.out(tf.nn.elu(ul))[:, 0, 0]  # [B, R]
        return cache

    @no_autograph
    def step(self, x, cache, index, conditional=None):
        C = self.image_shape[-1]
        h = class_conditioning(self.num_classes, conditional)
        return mixture_step(
            self.head, x, cache, index, C, lambda state: self._new_pixel(state, index // C, h)
        )
