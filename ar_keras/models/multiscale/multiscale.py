"""Parallel Multiscale PixelCNN: O(log N) sampling by conditionally independent pixel groups.

Reed, van den Oord, Kalchbrenner, Gomez Colmenarejo, Wang, Chen, Belov & de
Freitas, "Parallel Multiscale Autoregressive Density Estimation", ICML 2017
(ImageNet 32x32: 3.95 bits/dim, 64x64: 3.70 bits/dim).

Factorisation
-------------
Let the image be ``S x S x C`` with ``S = b 2^L`` (``b`` = ``base_size``).  The
image at scale ``l`` is the subsampled ``x^(l) = x[::2^(L-l), ::2^(L-l)]``
(side ``s_l = b 2^l``; ``x^(L) = x``).  Tile ``x^(l)`` with 2x2 blocks; their
four corners are four pixel groups: the upper-left corners are ``x^(l-1)``,
the previous scale, and the other three are generated in the paper's order
(Reed et al. 2017, sec. 3 and Fig. 2; ⚠ the order is recalled, not checked
against the paper's text)::

    1 2        1 = upper-left  (the previous scale)
    3 4        2 = upper-right, 3 = lower-left, 4 = lower-right

so that::

    p(x) = p(x^(0)) prod_{l=1..L} prod_{q=2,3,4} prod_{c<C} prod_{pixels p of corner q}
               p(x^(l)_{p,c} | x^(l-1), corners < q of x^(l), channels < c of corner q)

* ``p(x^(0))``, the ``b x b`` base, is a small Gated PixelCNN in raster order
  (channels innermost), one element per step.  A 1x1 base has no spatial
  context: there the base is one masked 1x1 convolution over the channels
  (``p(R) p(G | R) p(B | R, G)``), since a PixelCNN's stacks would see nothing.
* Within a corner group, the pixels are conditionally independent given the
  earlier groups, and R -> G -> B inside a pixel.  A step of the sampler is one
  channel of one corner set (``(s_l / 2)^2`` elements drawn at once), so the
  sampler takes ``b^2 C + 3 C L`` steps with one network evaluation each:
  ``const x log2(side)``, against ``S^2 C`` for a raster PixelCNN.

Upscaling network (group ``q``, channel ``c`` of scale ``l``)
-------------------------------------------------------------
* **ResNet** over ``x^(l)`` with the pixels of the groups not yet generated
  zeroed, plus a mask channel (1 where known): ``[B, s_l, s_l, C + 1]``, a
  3x3 input convolution, a learned per-scale bias (and a class bias), then
  residual blocks ``h + conv(relu(conv(relu(h))))`` with dilations ``1, 2, 4,
  8, 1, ...``; weights are shared by every scale and corner (the mask tells
  the corner).  Its features at the pixels of corner ``q`` are kept:
  ``[B, s_l/2, s_l/2, F]``.
* **Shallow PixelCNN head** over the channels of the corner's own values
  ``[B, s_l/2, s_l/2, C]``: a 3x3 `ChannelMaskedConv2D` masked A (channel
  ``c`` reads channels ``< c`` of every pixel of the corner, all of which are
  known at that step), plus the ResNet features through a 1x1 convolution,
  then two 1x1 convolutions masked B to ``C x K`` logits (a softmax per
  channel, `ar_keras.distributions.Categorical`).

The ResNet does not see the corner being generated at all, so one pass of it
per corner scores every channel (training costs ``3 L`` ResNet passes, as the
paper's); the head carries the R -> G -> B dependence.

Sampling (``sample(cache=True)``)
---------------------------------
`step` evaluates only the network of its step's scale: the base PixelCNN on
the ``b x b`` base, or the upscaling network at side ``s_l`` (a
nested `tf.cond` over scales), never the whole model.  The cache carries two
counters, ``cache["evaluations"] [L + 1]`` (network evaluations per scale)
and ``cache["pixels"]`` (input pixels those evaluations read), so a test can
drive the protocol and count; `network_evaluations` is the formula.

Groups
------
`groups` (a property) is the list of the S groups, each an int array of
flattened element indices (``(i W + j) C + c``), in generation order; `ordering`
is their concatenation.  The core's ``sampling_groups(D) -> [S, G]`` (the
`ar_keras.core.sampler` protocol, which needs a rectangular tensor) is the same
list padded to the largest group ``G`` (the last group's size) with elements of
the last group.  The sampler then writes provisional draws into those elements;
no conditional reads an element of a later group (the causality checks), and
the last group overwrites them with its own draws, so the samples are exact.
(Repeating a group's own element instead would write one index twice, which
TFLite's scatter sums.)

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("multiscale", preset="digits")        # 8x8, 2x2 base
    >>> model.num_network_evaluations                                  # 4 + 3 + 3, not 64
    10
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=20)
    >>> model.sample(4, seed=0).shape
    TensorShape([4, 8, 8, 1])
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, no_autograph
from ar_keras.distributions import Categorical
from ar_keras.layers import ChannelMaskedConv2D, GatedPixelCNNBlock, MaskedConv2D
from ar_keras.models.multiscale.multiscale_groups import (
    CORNERS,
    corner_sets,
    generation_steps,
    interleave,
    known_table,
    num_doublings,
)
from ar_keras.models.registry import register

__all__ = ["MultiscalePixelCNN", "CORNERS"]


def _switch(index, branches):
    """``branches[index]()`` through nested `tf.cond` (TFLite freezes the weights read inside
    ``If`` branches, not inside `tf.switch_case`'s ``Case``); only the taken branch runs."""
    if len(branches) == 1:
        return branches[0]()
    return tf.cond(tf.equal(index, 0), branches[0], lambda: _switch(index - 1, branches[1:]))


@register("multiscale")
class MultiscalePixelCNN(AutoregressiveModel):
    """Parallel Multiscale PixelCNN (Reed et al., ICML 2017), optionally class-conditional.

    Args:
        image_shape: ``(S, S, C)`` with ``S = base_size * 2^k`` (square).
        num_levels: K.
        base_size: b, the side of the base image (raster PixelCNN).
        base_dim: features of the base Gated PixelCNN's stacks.
        num_base_layers: its gated layers (unused for a 1x1 base).
        hidden_dim: F, features of the upscaling ResNet.
        num_blocks: its residual blocks (dilations 1, 2, 4, 8, 1, ...).
        output_dim: features of the shallow PixelCNN heads (base and upscaling).
        num_classes: optional class-conditional model (a class bias in every network).
    """

    @classmethod
    def contract_shape(cls, shape):
        """The shared image suite's stand-in for ``shape`` (see `AutoregressiveModel.contract_shape`).

        A side must be ``base_size x 2^k`` (tiny: 1, 2, 4, ...) and the image square, so the
        sides are rounded up to the smallest such square; the channels stay:
        (3, 3, 1) -> (4, 4, 1), (1, 2, 3) -> (2, 2, 3).
        """
        height, width, channels = shape
        side = int(cls.PRESETS["tiny"]["base_size"])
        while side < max(height, width):
            side *= 2
        return (side, side, channels)

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=17,
        base_size=2,
        base_dim=32,
        num_base_layers=4,
        hidden_dim=64,
        num_blocks=4,
        output_dim=64,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        H, W, C = checks.check_image_rank(self.image_shape)
        self.base_size = checks.check_positive_int(base_size, "base_size")
        L = num_doublings(H, self.base_size)
        if H != W or L is None:
            raise ValueError(
                f"multiscale needs a square image whose side is base_size x 2^k "
                f"(base_size={self.base_size}: sides {[self.base_size * 2**k for k in range(5)]}"
                f"...), got image_shape {tuple(self.image_shape)}."
            )
        for name, v in (("num_base_layers", num_base_layers), ("num_blocks", num_blocks)):
            if int(v) < 0:
                raise ValueError(f"{name} must be >= 0, got {v}.")
        if self.base_size > 1 and int(num_base_layers) < 1:
            raise ValueError(
                f"a {self.base_size}x{self.base_size} base needs num_base_layers >= 1, got {num_base_layers}."
            )
        self.num_doublings = L
        self.base_dim = checks.check_channel_width(base_dim, "base_dim", C)
        self.num_base_layers = int(num_base_layers)
        self.hidden_dim = checks.check_channel_width(hidden_dim, "hidden_dim", C)
        self.num_blocks = int(num_blocks)
        self.output_dim = checks.check_channel_width(output_dim, "output_dim", C)
        self.head = Categorical(self.num_levels)
        K = self.head.num_params
        conditional = self.num_classes is not None

        # Base: a Gated PixelCNN over the b x b image (b >= 2), or a masked 1x1 conv (b = 1).
        self.base_blocks = []
        if self.base_size > 1:
            self.base_blocks = [
                GatedPixelCNNBlock(
                    self.base_dim,
                    3,
                    data_channels=C,
                    first=(i == 0),
                    vertical_output=(i < self.num_base_layers - 1),
                    conditional=conditional,
                    name=f"base_block_{i}",
                )
                for i in range(self.num_base_layers)
            ]
        if self.base_blocks:
            self.base_hidden = MaskedConv2D(
                self.output_dim, 1, mask_type="B", data_channels=C, name="base_hidden"
            )
            self.base_logits = MaskedConv2D(C * K, 1, mask_type="B", data_channels=C, name="base_logits")
        else:
            # p(R) p(G | R) p(B | R, G) over one pixel; with C = 1 the kernel would be all
            # masked (and never trained), so only the bias (the logits of p(x)) is kept.
            self.base_hidden = None
            self.base_logits = (
                MaskedConv2D(C * K, 1, mask_type="A", data_channels=C, name="base_logits") if C > 1 else None
            )
            self.base_bias = (
                self.add_weight(name="base_bias", shape=(C * K,), initializer="zeros") if C == 1 else None
            )
        self.base_class = (
            keras.layers.Dense(C * K, use_bias=False, name="base_class")
            if conditional and not self.base_blocks
            else None
        )

        # Upscaling network, shared by every scale and corner.
        if L > 0:
            self.up_in = keras.layers.Conv2D(self.hidden_dim, 3, padding="same", name="up_in")
            self.up_scale = keras.layers.Embedding(L, self.hidden_dim, name="up_scale")
            self.up_class = (
                keras.layers.Dense(self.hidden_dim, use_bias=False, name="up_class") if conditional else None
            )
            self.up_blocks = [
                (
                    keras.layers.Conv2D(
                        self.hidden_dim, 3, padding="same", dilation_rate=2 ** (i % 4), name=f"up_block_{i}_a"
                    ),
                    keras.layers.Conv2D(
                        self.hidden_dim, 3, padding="same", dilation_rate=2 ** (i % 4), name=f"up_block_{i}_b"
                    ),
                )
                for i in range(self.num_blocks)
            ]
            self.up_features = keras.layers.Conv2D(self.output_dim, 1, name="up_features")
            self.up_values = (
                ChannelMaskedConv2D(self.output_dim, 3, mask_type="A", data_channels=C, name="up_values")
                if C > 1
                else None
            )
            self.up_hidden = ChannelMaskedConv2D(
                self.output_dim, 1, mask_type="B", data_channels=C, name="up_hidden"
            )
            self.up_logits = ChannelMaskedConv2D(C * K, 1, mask_type="B", data_channels=C, name="up_logits")
        self._groups, self._step_scale, self._step_corner, self._step_channel, self._step_element = (
            generation_steps(self.image_shape, L)
        )
        self._max_group = max(len(g) for g in self._groups)
        self._known = known_table()
        self._finish_init()

    # --------------------------------------------------------------- structure
    @staticmethod
    def network_evaluations(image_shape, base_size):
        """Network evaluations (= sampler steps) to sample one image: ``b^2 C + 3 C L``.

        Needs no model (so 64x64 or 512x512 can be counted without weights); checked
        against the cache's counter in tests/models/test_multiscale.py.
        """
        H, W, C = image_shape
        L = num_doublings(H, base_size)
        if H != W or L is None:
            raise ValueError(
                f"image side must be base_size x 2^k, got {image_shape} with base_size={base_size}."
            )
        return base_size**2 * C + 3 * C * L

    @property
    def num_network_evaluations(self):
        """This model's `network_evaluations` (= ``len(self.groups)``)."""
        return len(self.groups)

    @property
    def groups(self):
        """The pixel groups, in generation order: a list of int arrays of flattened element
        indices (``(i W + j) C + c``), one per sampler step and network evaluation."""
        return [g.copy() for g in self._groups]

    @property
    def ordering(self):
        """``[D]``: the elements in generation order (the groups concatenated)."""
        return np.concatenate(self._groups)

    def sampling_groups(self, num_elements):
        """The core protocol's ``[S, G]`` form of `groups`: each group padded to the largest
        (``G``, the last group's size) with elements of the last group (see the module
        docstring: their provisional draws are never read and are overwritten)."""
        del num_elements  # fixed event size
        G, last = self._max_group, self._groups[-1]
        padded = np.stack([np.concatenate([g, last[: G - len(g)]]) for g in self._groups])
        return tf.constant(padded, tf.int32)  # [S, G]

    # ----------------------------------------------------------------- networks
    def _scaled(self, x):
        return tf.cast(x, self.compute_dtype) * (2.0 / (self.num_levels - 1)) - 1.0

    def _base_params(self, x, cond):
        """``x [B, S, S, C]`` ints -> params of the base ``[B, b, b, C, K]``."""
        C, K, b = self.image_shape[-1], self.head.num_params, self.base_size
        t = 2**self.num_doublings
        base = self._scaled(x[:, ::t, ::t, :])  # [B, b, b, C]
        if self.base_blocks:
            v, h = base, base
            for block in self.base_blocks:
                v, h = block(v, h, conditioning=cond)
            logits = self.base_logits(tf.nn.relu(self.base_hidden(tf.nn.relu(h))))
        else:
            logits = (
                self.base_logits(base)
                if self.base_logits is not None
                else tf.zeros_like(base[..., :1]) + self.base_bias
            )  # [B, 1, 1, C*K]
            if self.base_class is not None:
                logits = logits + self.base_class(cond)[:, None, None, :]
        return tf.reshape(logits, tf.stack([-1, b, b, C, K]))  # [B, b, b, C*K] -> [B, b, b, C, K]

    def _corner_params(self, x_l, scale, q, cond):
        """Upscaling network of ``scale`` (1..L), corner ``q`` (1..3): ``x_l [B, s, s, C]``
        ints (the image at that scale; unknown pixels are masked here) -> params of the corner's
        pixels ``[B, s/2, s/2, C, K]`` and the input pixels the evaluation read (``s^2``)."""
        C, K = self.image_shape[-1], self.head.num_params
        s = tf.shape(x_l)[1]
        known = tf.tile(tf.gather(tf.constant(self._known), q), tf.stack([s // 2, s // 2]))  # [s, s]
        known = tf.cast(known[None, :, :, None], self.compute_dtype)  # [1, s, s, 1]
        scaled = self._scaled(x_l)
        inputs = tf.concat([scaled * known, known + tf.zeros_like(scaled[..., :1])], -1)  # [B,s,s,C+1]
        level = tf.reshape(scale - 1, [1])  # [] -> [1]
        h = self.up_in(inputs) + self.up_scale(level)[:, None, None, :]  # + [1, 1, 1, F]
        if self.up_class is not None:
            h = h + self.up_class(cond)[:, None, None, :]
        for conv_a, conv_b in self.up_blocks:
            h = h + conv_b(tf.nn.relu(conv_a(tf.nn.relu(h))))
        features = tf.gather(corner_sets(h), q, axis=1)  # [B, s/2, s/2, F]
        a = self.up_features(tf.nn.relu(features))
        if self.up_values is not None:
            values = tf.gather(corner_sets(scaled), q, axis=1)  # [B, s/2, s/2, C]
            a = a + self.up_values(values)
        logits = self.up_logits(tf.nn.relu(self.up_hidden(tf.nn.relu(a))))  # [B, s/2, s/2, C*K]
        shape = tf.shape(logits)
        params = tf.reshape(logits, tf.stack([shape[0], shape[1], shape[2], C, K]))  # -> [.., C, K]
        return params, s * s

    def _cond(self, conditional):
        return None if conditional is None else tf.one_hot(conditional, self.num_classes)

    @no_autograph
    def network(self, x, conditional=None, training=False):
        cond = self._cond(conditional)
        params = self._base_params(x, cond)  # [B, b, b, C, K]
        L = self.num_doublings
        for l in range(1, L + 1):
            t = 2 ** (L - l)
            x_l = x[:, ::t, ::t, :]  # [B, s_l, s_l, C]
            corners = [params] + [
                self._corner_params(x_l, tf.constant(l), tf.constant(q), cond)[0] for q in range(1, 4)
            ]
            params = interleave(corners)  # [B, s_l, s_l, C, K]
        return params

    # ------------------------------------------------------------ cached sampler
    def init_cache(self, batch, conditional=None):
        """The counters (nothing else is carried: a step reads the partial sample)."""
        return {"evaluations": tf.zeros([self.num_doublings + 1], tf.int32), "pixels": tf.zeros([], tf.int32)}

    @no_autograph
    def step(self, x, cache, index, conditional=None):
        """Params ``[n, G, K]`` of group ``index`` (its own elements first; the padding
        columns repeat the last one, for provisional draws only), from one evaluation of that
        group's network only."""
        H, W, C = self.image_shape
        L, G = self.num_doublings, self._max_group
        cond = self._cond(conditional)
        image = tf.reshape(x, [-1, H, W, C])  # [n, D] -> [n, H, W, C]
        scale = tf.gather(self._step_scale, index)

        def base():
            params = self._base_params(image, cond)  # [n, b, b, C, K]
            flat = tf.reshape(params, [tf.shape(params)[0], -1, params.shape[-1]])  # -> [n, b b C, K]
            one = tf.gather(flat, tf.gather(self._step_element, index), axis=1)  # [n, K]
            b = self.base_size
            return tf.tile(one[:, None, :], [1, G, 1]), tf.constant(b * b, tf.int32)  # [n, G, K]

        def upscale(l):
            def run():
                t = 2 ** (L - l)
                params, pixels = self._corner_params(
                    image[:, ::t, ::t, :], tf.constant(l), tf.gather(self._step_corner, index), cond
                )
                params = tf.gather(params, tf.gather(self._step_channel, index), axis=3)
                # [n, s/2, s/2, C, K] -> [n, s/2, s/2, K]
                shape = tf.shape(params)
                flat = tf.reshape(params, tf.stack([shape[0], -1, shape[3]]))  # -> [n, (s/2)^2, K]
                size = (self.base_size * 2**l // 2) ** 2
                pad = np.minimum(np.arange(G), size - 1).astype(np.int32)
                return tf.gather(flat, pad, axis=1), pixels  # [n, G, K]

            return run

        params, pixels = _switch(scale, [base] + [upscale(l) for l in range(1, L + 1)])
        cache = {
            "evaluations": cache["evaluations"] + tf.one_hot(scale, L + 1, dtype=tf.int32),
            "pixels": cache["pixels"] + pixels,
        }
        return params, cache
