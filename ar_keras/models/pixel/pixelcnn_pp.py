"""PixelCNN++: shifted convolutions, two streams, down/up-sampling, logistic mixtures.

Salimans, Karpathy, Chen & Kingma, "PixelCNN++: Improving the PixelCNN with
Discretized Logistic Mixture Likelihood and Other Modifications", ICLR 2017
(2.92 bits/dim on CIFAR-10); fast cached generation after Ramachandran et al.,
"Fast Generation for Convolutional Autoregressive Models", ICLR 2017 workshop.

Architecture (paper Fig. 2, reference code ``pixel_cnn_pp/model.py``)
--------------------------------------------------------------------
Two streams of ``F`` feature maps:

* **u** sees the rows strictly above: ``u_0 = down_shift(conv_2x3(x))``, then
  `GatedResNet` blocks with down-shifted 2x3 convolutions;
* **ul** sees the pixels above and to the left:
  ``ul_0 = down_shift(conv_1x3(x)) + right_shift(conv_2x1(x))``, then blocks
  with down-right-shifted 2x2 convolutions that also read u (``nin`` aux).

The **up pass** runs ``num_hierarchies`` levels of ``num_layers`` blocks per
stream, separated by stride-2 down-sampling (shifted 2x3 / 2x2 convs), and
keeps every output.  The **down pass** climbs back with stride-2 shifted
transposed convolutions, ``num_layers`` blocks at the coarsest level and
``num_layers + 1`` at the others; each block takes the matching up-pass output
as a shortcut (u: ``aux = u_up``; ul: ``aux = [u, ul_up]``).  A 1x1 layer on
``elu(ul)`` gives ``M (1 + 2C + C(C-1)/2)`` numbers per pixel: the
discretized logistic mixture of `ar_keras.distributions.DiscretizedLogisticMixture`,
one component shared by the pixel's channels with the linear R -> G -> B
coupling.  The network never sees the current pixel, so each element's
conditional is exact: the head turns the pixel's mixture into per-channel
conditionals (posterior mixture weights after the earlier channels).  Inputs
are ``x`` in ``[-1, 1]`` plus a channel of ones that marks the image against
the zero padding.  Sizes that do not halve evenly (1, 3, 5, ...) are handled by
cropping the upsampled maps to their shortcut's size.

Class-conditional (``num_classes``): every block adds ``V h`` (h one-hot) to
its gate pre-activation.

Cached sampling (``sample(cache=True)``)
----------------------------------------
The u stream depends only on the rows above, so each level computes one whole
row when the sampler reaches a new row (``O(width)``); the ul stream depends
on pixels above-left, so each level computes the single pixel it needs when
the sampler reaches it (every pixel at full resolution, every 4th at half, ...).
Every causal conv keeps the last two rows of its input (row buffers of
`ar_keras.layers.shifted_conv`), so a step costs ``O(layers)`` for ul,
amortised ``O(layers)`` for u, instead of a whole network pass.  Channels after
the first reuse the pixel's mixture.  The result equals the full recompute
exactly (the tests check it).

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("pixelcnn_pp", preset="digits")
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=30)
    >>> model.sample(4, seed=0).shape                   # the cached path
    TensorShape([4, 8, 8, 1])
"""

import keras
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, no_autograph
from ar_keras.distributions.logistic_mixture import DiscretizedLogisticMixture
from ar_keras.layers.gated_resnet import GatedResNet
from ar_keras.layers.shifted_conv import (
    DownRightShiftedConv2D,
    DownRightShiftedConv2DTranspose,
    DownShiftedConv2D,
    DownShiftedConv2DTranspose,
    down_shift,
    right_shift,
)
from ar_keras.models.pixel.mixture_stream import (
    class_conditioning,
    cond_update,
    mixture_step,
    network_inputs,
    padded_inputs,
    ul_init_at,
)
from ar_keras.models.registry import register

__all__ = ["PixelCNNPP"]


def _column(row, j):
    """Column ``j`` of a row ``[B, 1, W, F]`` -> ``[B, 1, 1, F]``."""
    return tf.gather(row, tf.reshape(j, [1]), axis=2)


def _write_column(row, j, value):
    """``row[:, :, j] = value`` for ``row [B, 1, W, F]``, ``value [B, 1, 1, F]``."""
    hit = tf.equal(tf.range(row.shape[2]), j)[None, None, :, None]  # [1, 1, W, 1]
    return tf.where(hit, value, row)


@register("pixelcnn_pp")
class PixelCNNPP(AutoregressiveModel):
    """PixelCNN++ (Salimans et al., ICLR 2017), unconditional or class-conditional.

    Args:
        image_shape: ``(H, W, C)``; any sizes >= 1.
        num_levels: K (256 for 8-bit images).
        hidden_dim: F, features of both streams (paper: 160).
        num_layers: gated ResNet layers (`GatedResNet`) per level and stream in
            the up pass; the down pass has one more at every level but the
            coarsest (paper: 5, its "ResNet layers" per block).
        num_hierarchies: resolutions (paper: 3, i.e. 32, 16, 8 on CIFAR-10).
        num_mixtures: M logistic components per pixel (paper: 10).
        dropout: dropout in every block during training (paper: 0.5).
        num_classes: optional class-conditional model.

    The ``paper`` preset has 53,618,660 parameters (kernels and biases of the
    architecture of openai/pixel-cnn's ``model_spec``); the reference code's
    weight normalisation adds one gain per output feature, 40,420 more
    (53,659,080; the paper quotes no count).  No weight normalisation or
    data-dependent initialisation here: plain Glorot kernels, Adam.
    """

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=17,
        hidden_dim=32,
        num_layers=2,
        num_hierarchies=2,
        num_mixtures=5,
        dropout=0.0,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        checks.check_image_rank(self.image_shape)
        self.hidden_dim = checks.check_positive_int(hidden_dim, "hidden_dim")
        self.num_layers = checks.check_positive_int(num_layers, "num_layers")
        self.num_hierarchies = checks.check_positive_int(num_hierarchies, "num_hierarchies")
        self.num_mixtures = checks.check_positive_int(num_mixtures, "num_mixtures")
        self.dropout = float(dropout)
        H, W, C = self.image_shape
        F, L, nr = self.hidden_dim, self.num_hierarchies, self.num_layers
        self.head = DiscretizedLogisticMixture(self.num_levels, self.num_mixtures, C)
        # Level sizes: each stride-2 shifted conv gives ceil(size / 2).
        self._sizes = [(H, W)]
        for _ in range(L - 1):
            h, w = self._sizes[-1]
            self._sizes.append(((h + 1) // 2, (w + 1) // 2))
        cond = self.num_classes is not None

        def block(conv, aux, name):
            return GatedResNet(conv=conv, dropout=self.dropout, auxiliary=aux, conditional=cond, name=name)

        self.u_init = DownShiftedConv2D(F, (2, 3), name="u_init")
        self.ul_init_above = DownShiftedConv2D(F, (1, 3), name="ul_init_above")
        self.ul_init_left = DownRightShiftedConv2D(F, (2, 1), name="ul_init_left")
        # Up pass, level l block k at index l * nr + k.
        self.up_u = [block("down_shifted", False, f"up_u_{l}_{k}") for l in range(L) for k in range(nr)]
        self.up_ul = [
            block("down_right_shifted", True, f"up_ul_{l}_{k}") for l in range(L) for k in range(nr)
        ]
        self.u_downsample = [
            DownShiftedConv2D(F, (2, 3), strides=2, name=f"u_downsample_{l}") for l in range(L - 1)
        ]
        self.ul_downsample = [
            DownRightShiftedConv2D(F, (2, 2), strides=2, name=f"ul_downsample_{l}") for l in range(L - 1)
        ]
        # Down pass: nr blocks at the coarsest level, nr + 1 at the others.
        self._down_counts = [nr + 1] * (L - 1) + [nr]
        self._down_start = [sum(self._down_counts[:l]) for l in range(L)]
        self.down_u = [
            block("down_shifted", True, f"down_u_{l}_{k}")
            for l in range(L)
            for k in range(self._down_counts[l])
        ]
        self.down_ul = [
            block("down_right_shifted", True, f"down_ul_{l}_{k}")
            for l in range(L)
            for k in range(self._down_counts[l])
        ]
        self.u_upsample = [
            DownShiftedConv2DTranspose(F, (2, 3), strides=2, name=f"u_upsample_{l}") for l in range(L - 1)
        ]
        self.ul_upsample = [
            DownRightShiftedConv2DTranspose(F, (2, 2), strides=2, name=f"ul_upsample_{l}")
            for l in range(L - 1)
        ]
        # A random bias breaks the symmetry of the mixture components (and gives
        # the first pixel, whose inputs are all padding, a non-trivial channel
        # coupling); PixelCNN++'s data-dependent initialisation does the same.
        self.out = keras.layers.Dense(
            self.head.num_pixel_params,
            name="out",
            bias_initializer=keras.initializers.RandomNormal(stddev=0.5),
        )
        # Cache entries that a new row (`_rows`) / a new pixel (`_pixels`) at
        # level >= l updates.
        self._row_keys, self._pixel_keys = [], []
        for l in range(L):
            rows, pixels = [], []
            for m in range(l, L):
                for k in range(nr):
                    rows += [f"up_u_{m}_{k}", f"u_row_up_{m}_{k}", f"up_ul_{m}_{k}"]
                    pixels += [f"up_ul_{m}_{k}"]
                for k in range(self._down_counts[m]):
                    rows += [f"down_u_{m}_{k}", f"u_row_down_{m}_{k}", f"down_ul_{m}_{k}"]
                    pixels += [f"down_ul_{m}_{k}"]
                if m < L - 1:
                    rows += [f"u_last_{m}", f"ul_last_{m}"]
                    pixels += [f"ul_last_{m}"]
                if m > 0:
                    pixels += [f"ul_row_down_{m}"]
            self._row_keys.append(rows)
            self._pixel_keys.append(pixels)
        self._finish_init()

    # ------------------------------------------------------------ full network
    @no_autograph
    def network(self, x, conditional=None, training=False):
        L, nr = self.num_hierarchies, self.num_layers
        h = class_conditioning(self.num_classes, conditional)
        x_in = network_inputs(self.head, x)  # [B, H, W, C+1]
        u_list = [down_shift(self.u_init(x_in))]
        ul_list = [down_shift(self.ul_init_above(x_in)) + right_shift(self.ul_init_left(x_in))]
        for l in range(L):
            if l > 0:
                u_list.append(self.u_downsample[l - 1](u_list[-1]))
                ul_list.append(self.ul_downsample[l - 1](ul_list[-1]))
            for k in range(nr):
                u_list.append(self.up_u[l * nr + k](u_list[-1], conditioning=h, training=training))
                ul_list.append(
                    self.up_ul[l * nr + k](ul_list[-1], aux=u_list[-1], conditioning=h, training=training)
                )
        u, ul = u_list.pop(), ul_list.pop()
        for l in reversed(range(L)):
            if l < L - 1:
                u = self.u_upsample[l](u, output_size=self._sizes[l])
                ul = self.ul_upsample[l](ul, output_size=self._sizes[l])
            for k in range(self._down_counts[l]):
                i = self._down_start[l] + k
                u = self.down_u[i](u, aux=u_list.pop(), conditioning=h, training=training)
                ul = self.down_ul[i](
                    ul, aux=tf.concat([u, ul_list.pop()], axis=-1), conditioning=h, training=training
                )
        pixel = self.out(tf.nn.elu(ul))  # [B, H, W, R]
        return self.head.element_params(pixel, x)  # [B, H, W, C, 3M]

    # ----------------------------------------------------------- cached sampler
    @no_autograph
    def init_cache(self, batch, conditional=None):
        F, L, nr = self.hidden_dim, self.num_hierarchies, self.num_layers
        cache = {"pixel": tf.zeros(tf.stack([batch, self.head.num_pixel_params]), self.compute_dtype)}
        for l in range(L):
            width = self._sizes[l][1]
            row = tf.zeros(tf.stack([batch, 1, width, F]), self.compute_dtype)
            for k in range(nr):
                cache[f"up_u_{l}_{k}"] = self.up_u[l * nr + k].init_cache(batch, width)
                cache[f"up_ul_{l}_{k}"] = self.up_ul[l * nr + k].init_cache(batch, width)
                cache[f"u_row_up_{l}_{k}"] = row
            for k in range(self._down_counts[l]):
                i = self._down_start[l] + k
                cache[f"down_u_{l}_{k}"] = self.down_u[i].init_cache(batch, width)
                cache[f"down_ul_{l}_{k}"] = self.down_ul[i].init_cache(batch, width)
                cache[f"u_row_down_{l}_{k}"] = row
            if l < L - 1:
                cache[f"u_last_{l}"] = self.u_downsample[l].init_buffer(batch, width, F)
                cache[f"ul_last_{l}"] = self.ul_downsample[l].init_buffer(batch, width, F)
            if l > 0:
                cache[f"ul_row_down_{l}"] = row
        return cache

    @no_autograph
    def _rows(self, cache, level, row, xp, h):
        """A new row at ``level``: the u stream's row ``row`` (up pass, deeper levels,
        down pass), and an empty current row in the ul stream's buffers."""
        L, nr = self.num_hierarchies, self.num_layers
        cache = dict(cache)
        # The ul stream's current row becomes the row above.
        for k in range(nr):
            key = f"up_ul_{level}_{k}"
            cache[key] = self.up_ul[level * nr + k].start_row(cache[key])
        for k in range(self._down_counts[level]):
            key = f"down_ul_{level}_{k}"
            cache[key] = self.down_ul[self._down_start[level] + k].start_row(cache[key])
        if level < L - 1:
            key = f"ul_last_{level}"
            cache[key] = self.ul_downsample[level].start_row(cache[key])
        if level == 0:
            # u_0 = down_shift(conv_2x3(x)): row r reads input rows r-2, r-1
            # (rows r, r+1 of xp); row 0 is the zero row of down_shift.
            window = tf.gather(xp, row + tf.range(2), axis=1)  # [B, 2, W+2, C+1]
            u = self.u_init.call_padded(window) * tf.cast(row > 0, self.compute_dtype)
        else:
            u = self.u_downsample[level - 1].row_output(cache[f"u_last_{level - 1}"])
        skips = [u]
        for k in range(nr):
            u, cache[f"up_u_{level}_{k}"] = self.up_u[level * nr + k].step(
                u, cache[f"up_u_{level}_{k}"], conditioning=h
            )
            cache[f"u_row_up_{level}_{k}"] = u
            skips.append(u)
        if level < L - 1:
            cache[f"u_last_{level}"] = self.u_downsample[level].push_row(cache[f"u_last_{level}"], u)
            cache = cond_update(
                tf.equal(row % 2, 0),
                lambda c: self._rows(c, level + 1, row // 2, xp, h),
                cache,
                self._row_keys[level + 1],
            )
            above = cache[f"u_row_down_{level + 1}_{self._down_counts[level + 1] - 1}"]
            pair = self.u_upsample[level](above, output_size=(2, self._sizes[level][1]))
            u = tf.gather(pair, tf.reshape(row % 2, [1]), axis=1)  # -> [B, 1, W, F]
        else:
            u = skips.pop()
        for k in range(self._down_counts[level]):
            i = self._down_start[level] + k
            u, cache[f"down_u_{level}_{k}"] = self.down_u[i].step(
                u, cache[f"down_u_{level}_{k}"], aux=skips.pop(), conditioning=h
            )
            cache[f"u_row_down_{level}_{k}"] = u
        return cache

    @no_autograph
    def _pixels(self, cache, level, i, j, xp, h):
        """The ul stream of ``level`` at its pixel ``(i, j)``; returns (cache, ul [B, 1, 1, F])."""
        L, nr = self.num_hierarchies, self.num_layers
        cache = dict(cache)
        # (`_rows` opened this level's row when j == 0.)
        if level == 0:
            ul = ul_init_at(self.ul_init_above, self.ul_init_left, xp, i, j)
        else:
            ul = self.ul_downsample[level - 1].position_output(cache[f"ul_last_{level - 1}"], j)
        skips = [ul]
        for k in range(nr):
            key = f"up_ul_{level}_{k}"
            ul, cache[key] = self.up_ul[level * nr + k].step(
                ul, cache[key], column=j, aux=_column(cache[f"u_row_up_{level}_{k}"], j), conditioning=h
            )
            skips.append(ul)
        if level < L - 1:
            key = f"ul_last_{level}"
            cache[key] = self.ul_downsample[level].write_column(cache[key], j, ul)
            aligned = tf.logical_and(tf.equal(i % 2, 0), tf.equal(j % 2, 0))
            cache = cond_update(
                aligned,
                lambda c: self._pixels(c, level + 1, i // 2, j // 2, xp, h)[0],
                cache,
                self._pixel_keys[level + 1],
            )
            coarse = _column(cache[f"ul_row_down_{level + 1}"], j // 2)  # [B, 1, 1, F]
            block = self.ul_upsample[level](coarse, output_size=(2, 2))  # [B, 2, 2, F]
            ul = tf.gather(
                tf.gather(block, tf.reshape(i % 2, [1]), axis=1), tf.reshape(j % 2, [1]), axis=2
            )  # -> [B, 1, 1, F]
        else:
            ul = skips.pop()
        for k in range(self._down_counts[level]):
            key = f"down_ul_{level}_{k}"
            aux = tf.concat([_column(cache[f"u_row_down_{level}_{k}"], j), skips.pop()], axis=-1)
            ul, cache[key] = self.down_ul[self._down_start[level] + k].step(
                ul, cache[key], column=j, aux=aux, conditioning=h
            )
        if level > 0:
            key = f"ul_row_down_{level}"
            cache[key] = _write_column(cache[key], j, ul)
        return cache, ul

    @no_autograph
    def step(self, x, cache, index, conditional=None):
        H, W, C = self.image_shape
        h = class_conditioning(self.num_classes, conditional)
        pixel = index // C
        r, c = pixel // W, pixel % W

        def new_pixel(state):
            x_image = tf.reshape(state["x"], [-1, H, W, C])  # [B, D] -> [B, H, W, C]
            xp = padded_inputs(self.head, x_image)  # [B, H+2, W+2, C+1]
            state = cond_update(
                tf.equal(c, 0), lambda s: self._rows(s, 0, r, xp, h), state, self._row_keys[0]
            )
            state, ul = self._pixels(state, 0, r, c, xp, h)
            state["pixel"] = self.out(tf.nn.elu(ul))[:, 0, 0]  # [B, 1, 1, R] -> [B, R]
            return state

        keys = set(self._row_keys[0]) | set(self._pixel_keys[0]) | {"pixel"}
        return mixture_step(self.head, x, cache, index, C, new_pixel, keys)
