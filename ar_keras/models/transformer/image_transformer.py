"""Image Transformer: a decoder-only Transformer over the channels of an image, with local attention.

Parmar, Vaswani, Uszkoreit, Kaiser, Shazeer, Ku & Tran, "Image Transformer",
ICML 2018 (CIFAR-10 2.90 bits/dim with 1-D local attention; ImageNet 32x32
3.77).  The configuration facts follow tensor2tensor's
``imagetransformer_cifar10_base`` and ``image_transformer_2d.py``; the code is
our own.

Positions and ordering
----------------------
Every channel of every pixel is its own position: an ``H x W x C`` image is a
sequence of ``D = H W C`` elements, laid out as the ``H x (W C)`` grid of
positions (row ``r``, grid column ``w C + c``).  The model generates the
elements in a **generation order** ``o`` (``ordering``; ``o(t)`` is the raster
index of the element drawn at step t):

* ``attention="local_1d"``: raster order, channels innermost (R, G, B of a
  pixel in turn);
* ``attention="local_2d"``: **block-raster** order over the ``H x (W C)`` grid:
  query blocks of ``bh x bw`` positions taken in raster order of the blocks,
  raster order inside a block (`ar_keras.layers.attention.patterns.block_raster_order`).
  Training, `log_prob`, causality and sampling all use this order.

Factorisation: ``p(x) = prod_t p(x_{o(t)} | x_{o(<t)})``.

Network
-------
With width ``d``, for the element at generation position ``t``::

    e_t   = E_{c(o(t))}[x_{o(t)}]                    a K x d value table per channel index c
    h0_t  = e_{t-1} + P(row, col, chan of o(t)) [+ y(class)] [+ U(low-res image) at o(t)]
    h0_0  = s + P(...)                               s: a learned start vector
    h^l   = LN(a + Dropout(FFN(a))),  a = LN(h^{l-1} + Dropout(Attn(h^{l-1})))   (post-norm "dan")
    FFN(a) = W2 relu(W1 a + b1) + b2
    params_t = W_out h^L_t + b_out

``P`` is the sinusoidal timing signal over the three coordinates (row,
column, channel), each coordinate taking ``d // 6`` sine/cosine pairs at
timescales from 1 to 10^4 (tensor2tensor's ``add_timing_signal_nd``, with the
channel a coordinate of its own), or (``positions="learned"``) the sum of
three learned tables, one per coordinate.  The channel index is part of the
position, so the three channels of a pixel never share a position vector.

``Attn`` is multi-head causal self-attention in generation order
(`ar_keras.layers.attention.CausalSelfAttention`), restricted to a local
memory:

* ``local_1d`` (the default, the paper's best CIFAR-10 model): query blocks of
  ``l = block_length`` positions; a query reads its own block up to itself and
  the whole block before (``2l`` keys at most);
* ``local_2d``: query blocks of ``block_shape = (bh, bw)`` grid positions; a
  query reads the positions of its memory region (its block extended by
  ``flange = (fh, fw)``: ``fh`` rows above, ``fw`` columns left and right)
  that come before it in block-raster order (every flange position above, the
  left flange, its own block up to itself; never the right flange of its own
  block rows).

**The right shift.**  Position ``t`` carries the element generated at ``t - 1``
(``e_{t-1}``), so the attention's "``j <= t``" never shows a query its own
element.  The shift is done in generation order: for ``local_2d`` that means
inside each query block (tensor2tensor's ``right_shift_blockwise``), *not* a
global raster shift, which would hand the first column of a block's second row
the last element of the row above, an element of a block that is generated
later (a leak; tests/models/test_image_transformer.py shows the causality
check catching it).  At a block's first position ``right_shift="sequence"``
(the default) carries the last element of the previous block;
``right_shift="blockwise"`` carries the start vector, exactly as
tensor2tensor does, which means the last element of every query block is never
an input (its value reaches no later conditional: the model is still exact and
causal, but blind to those elements).

Heads
-----
* ``head="categorical"``: a K-way softmax per element (the paper's best
  results);
* ``head="dmol"``: a mixture of ``num_mixtures`` discretized logistics per
  element (Salimans et al., ICLR 2017; `ar_keras.distributions.DiscretizedLogisticMixture`
  with one channel).  PixelCNN++'s mixture ties the channels of a pixel through
  one component choice and linear mean coupling; here each channel is its own
  position, and the network already conditions G on R and B on R, G, so every
  position carries its own one-channel mixture.  (tensor2tensor's ``_dmol``
  configuration instead makes whole pixels the positions.)

Conditioning (``conditional=``)
-------------------------------
* ``num_classes=N``: labels ``[B]``; a learned embedding added to every
  position;
* ``low_resolution=(h, w)`` (super-resolution): a low-resolution image ``[B,
  h, w, C]`` of levels in ``[0, K)`` (``H / h`` and ``W / w`` integers).  A small
  encoder (per-channel value embeddings of the low-resolution pixels, a 3x3
  convolution and a 1x1 projection, both over the low-resolution grid) gives
  one ``d``-vector per low-resolution pixel, repeated over the ``H/h x W/w``
  pixels it covers and added to all their channel positions.  The paper's
  super-resolution model attends to a Transformer encoder instead; adding the
  encoding is the simplest version that conditions every position on the
  low-resolution image around it;
* both: ``{"labels": [B], "low_resolution": [B, h, w, C]}``.

Cached sampling
---------------
``init_cache`` gives every attention layer a key/value cache of the ``D``
positions; ``step`` embeds the element drawn at the step before, adds its
position, and runs one query through every layer (``CausalSelfAttention.step``):
``O(layers x memory)`` per element instead of a pass over the whole image.
Both paths give the same samples for a seed.

Example:
    >>> import ar_keras as ark, keras
    >>> model = ark.models.get("image_transformer", preset="digits")
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=20)
    >>> model.sample(4, seed=0).shape
    TensorShape([4, 8, 8, 1])
    >>> two_d = ark.models.get("image_transformer", preset="digits", attention="local_2d",
    ...                        block_shape=(4, 4), flange=(4, 4))
    >>> two_d.ordering[:6]                                        # block-raster: first 4x4 block
    array([0, 1, 2, 3, 8, 9], dtype=int32)
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, conditioning, no_autograph
from ar_keras.core.events import ImageEvent
from ar_keras.distributions import Categorical
from ar_keras.distributions.logistic_mixture import DiscretizedLogisticMixture
from ar_keras.layers.attention import CausalSelfAttention, patterns, timing_signal
from ar_keras.models.registry import register

__all__ = ["ImageTransformer"]

_ATTENTION = ("local_1d", "local_2d")
_POSITIONS = ("sinusoidal", "learned")
_HEADS = ("categorical", "dmol")
_SHIFTS = ("sequence", "blockwise")


@register("image_transformer")
class ImageTransformer(AutoregressiveModel):
    """Image Transformer (Parmar et al., ICML 2018): local 1-D or 2-D attention.

    Args:
        image_shape: ``(H, W, C)``.
        num_levels: K.
        hidden_dim: d, the features of every position (the paper's d_model: 512).
        num_layers: attention + feed-forward layers (paper: 12).
        num_heads: attention heads; ``d`` must be a multiple (paper: 4).
        intermediate_dim: hidden units of the feed-forward layers (the paper's
            filter size: 2048).
        attention: ``"local_1d"`` (default) or ``"local_2d"``.
        block_length: l, the 1-D query block (paper: 256).
        block_shape: ``(bh, bw)``, the 2-D query block over the ``H x (W C)``
            grid of positions; must divide it (tensor2tensor: (8, 16)).
        flange: ``(fh, fw)``, the 2-D memory flange: rows above, columns each
            side (tensor2tensor: (8, 16)).
        positions: ``"sinusoidal"`` (default) or ``"learned"``.
        head: ``"categorical"`` (default) or ``"dmol"``.
        num_mixtures: logistic components per element for ``head="dmol"``.
        right_shift: ``"sequence"`` (default) or ``"blockwise"`` (see the
            module docstring).
        dropout: residual dropout of every sublayer in training (paper: 0.3 on
            CIFAR-10).
        num_classes: optional class-conditional model.
        low_resolution: optional ``(h, w)``: a super-resolution model
            conditioned on ``[B, h, w, C]`` images.
    """

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=17,
        hidden_dim=64,
        num_layers=4,
        num_heads=4,
        intermediate_dim=256,
        attention="local_1d",
        block_length=16,
        block_shape=(4, 4),
        flange=(4, 4),
        positions="sinusoidal",
        head="categorical",
        num_mixtures=5,
        right_shift="sequence",
        dropout=0.0,
        num_classes=None,
        low_resolution=None,
        **kwargs,
    ):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        checks.check_image_rank(self.image_shape)
        for name, value in (
            ("hidden_dim", hidden_dim),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("intermediate_dim", intermediate_dim),
            ("num_mixtures", num_mixtures),
        ):
            checks.check_positive_int(value, name)
        for name, value, allowed in (
            ("attention", attention, _ATTENTION),
            ("positions", positions, _POSITIONS),
            ("head", head, _HEADS),
            ("right_shift", right_shift, _SHIFTS),
        ):
            checks.check_choice(value, name, allowed)
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim ({hidden_dim}) must be a multiple of num_heads ({num_heads}).")
        H, W, C = self.image_shape
        K = self.num_levels
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.intermediate_dim = int(intermediate_dim)
        self.attention = attention
        self.block_length = checks.check_positive_int(block_length, "block_length")
        self.block_shape = checks.check_pair(block_shape, "block_shape", 1)
        self.flange = checks.check_pair(flange, "flange", 0)
        self.positions = positions
        self.head_name = head
        self.num_mixtures = int(num_mixtures)
        self.right_shift = right_shift
        self.dropout = checks.check_rate(dropout, "dropout")
        self.low_resolution = (
            None if low_resolution is None else checks.check_pair(low_resolution, "low_resolution", 1)
        )
        D, d = H * W * C, self.hidden_dim
        grid = (H, W * C)

        # ----------------------------------------------------------- ordering
        order, block, pattern = patterns.local_layout(
            attention, grid, self.block_length, self.block_shape, self.flange
        )
        self._order = order.astype(np.int32)  # step t -> raster index
        self._rank = np.argsort(order).astype(np.int32)  # raster index -> step
        self._block_start = np.arange(D) % block == 0  # [D], generation order
        rows, cols, chans = order // (W * C), (order // C) % W, order % C
        self._coordinates = np.stack([rows, cols, chans], axis=1).astype(np.int32)  # [D, 3]

        # --------------------------------------------------------------- layers
        if head == "dmol":
            self.head = DiscretizedLogisticMixture(K, self.num_mixtures, num_channels=1)
            num_out = self.head.num_pixel_params
            # A random bias breaks the symmetry of the mixture components (as in pixelcnn_pp).
            out_bias = keras.initializers.RandomNormal(stddev=0.5)
        else:
            self.head = Categorical(K)
            num_out, out_bias = K, "zeros"
        # tensor2tensor's embedding initialiser: normal with standard deviation d^-1/2.
        embed_init = keras.initializers.RandomNormal(stddev=d**-0.5)
        # One K x d table per channel index, stored as rows c * K + k of one table.
        self.value_embedding = keras.layers.Embedding(
            C * K, d, embeddings_initializer=embed_init, name="value_embedding"
        )
        self.start = keras.layers.Embedding(1, d, embeddings_initializer=embed_init, name="start")
        if positions == "sinusoidal":
            self._timing = timing_signal(self._coordinates, d)  # [D, d], generation order
        else:
            self.row_embedding = keras.layers.Embedding(
                H, d, embeddings_initializer=embed_init, name="row_embedding"
            )
            self.column_embedding = keras.layers.Embedding(
                W, d, embeddings_initializer=embed_init, name="column_embedding"
            )
            self.channel_embedding = keras.layers.Embedding(
                C, d, embeddings_initializer=embed_init, name="channel_embedding"
            )
        if self.num_classes is not None:
            self.class_embedding = keras.layers.Embedding(
                self.num_classes, d, embeddings_initializer=embed_init, name="class_embedding"
            )
        if self.low_resolution is not None:
            h, w = self.low_resolution
            if H % h or W % w:
                raise ValueError(
                    f"low_resolution {self.low_resolution} must divide the image's "
                    f"(H, W) = {(H, W)} (each low-resolution pixel covers an "
                    "H/h x W/w patch)."
                )
            self._low_event = ImageEvent((h, w, C), K)
            self.low_embedding = keras.layers.Embedding(
                C * K, d, embeddings_initializer=embed_init, name="low_embedding"
            )
            self.low_conv = keras.layers.Conv2D(d, 3, padding="same", activation="relu", name="low_conv")
            self.low_out = keras.layers.Dense(d, name="low_out")
        self.attention_layers = [
            CausalSelfAttention(self.num_heads, d // self.num_heads, name=f"attention_{i}", **pattern)
            for i in range(self.num_layers)
        ]
        self.attention_norms = [
            keras.layers.LayerNormalization(name=f"attention_norm_{i}") for i in range(self.num_layers)
        ]
        self.ffn_hidden = [
            keras.layers.Dense(self.intermediate_dim, activation="relu", name=f"ffn_hidden_{i}")
            for i in range(self.num_layers)
        ]
        self.ffn_out = [keras.layers.Dense(d, name=f"ffn_out_{i}") for i in range(self.num_layers)]
        self.ffn_norms = [
            keras.layers.LayerNormalization(name=f"ffn_norm_{i}") for i in range(self.num_layers)
        ]
        self.residual_dropout = keras.layers.Dropout(self.dropout, name="residual_dropout")
        # A small output projection (the 0.02 normal of GPT/BERT-style Transformer inits): the
        # logits start near uniform, whatever the scale of the layer-normalised states.
        self.out = keras.layers.Dense(
            num_out,
            bias_initializer=out_bias,
            name="out",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )
        self.conditioning = conditioning.ConditioningSpec.labels(
            self.num_classes,
            [] if self.low_resolution is None else [conditioning.LowResolution(self._low_event)],
            owner="image_transformer",
        )
        self._finish_init()

    # --------------------------------------------------------------- structure
    @property
    def ordering(self):
        """``[D]``: the raster index of the element generated at each step (block-raster for 2-D)."""
        return self._order.copy()

    # ------------------------------------------------------------ conditioning
    def _conditioning_terms(self, conditional):
        """``(class term [B, d] or None, low-resolution term [B, D, d] in generation order or None)``."""
        labels, low = self.conditioning.values(conditional, "labels", "low_resolution")
        class_term = None if labels is None else self.class_embedding(labels)  # [B, d]
        low_term = None
        if low is not None:
            H, W, C = self.image_shape
            h, w = self.low_resolution
            K, d = self.num_levels, self.hidden_dim
            index = low + tf.range(C) * K  # channel c's table
            e = self.low_embedding(index)  # [B, h, w, C, d]
            e = tf.reduce_sum(e, axis=3)  # [B, h, w, C, d] -> [B, h, w, d]
            e = self.low_out(self.low_conv(e))  # [B, h, w, d]
            e = tf.repeat(tf.repeat(e, H // h, axis=1), W // w, axis=2)  # [B, h, w, d] -> [B, H, W, d]
            pixel = self._coordinates[:, 0] * W + self._coordinates[:, 1]  # [D] pixel of step t
            e = tf.reshape(e, [-1, H * W, d])  # [B, H, W, d] -> [B, HW, d]
            low_term = tf.gather(e, pixel, axis=1)  # [B, D, d], generation order
        return class_term, low_term

    # ---------------------------------------------------------------- network
    def _position_signal(self, steps=None):
        """Positions of the generation steps ``steps`` (all when None): ``[S, d]``."""
        coords = self._coordinates if steps is None else tf.gather(self._coordinates, steps)
        if self.positions == "sinusoidal":
            timing = tf.constant(self._timing)
            return timing if steps is None else tf.gather(timing, steps)
        coords = tf.convert_to_tensor(coords)
        return (
            self.row_embedding(coords[:, 0])
            + self.column_embedding(coords[:, 1])
            + self.channel_embedding(coords[:, 2])
        )

    def _embed(self, values, steps):
        """``E_{c}[x]`` of ``values`` drawn at generation ``steps`` (same shape) -> ``[..., d]``."""
        channel = tf.gather(self._coordinates[:, 2], steps)
        return self.value_embedding(values + channel * self.num_levels)

    def _layer(self, i, h, attended, training):
        """Post-norm ("dan") residuals around the attention output and the feed-forward net."""
        a = self.attention_norms[i](h + self.residual_dropout(attended, training=training))
        f = self.ffn_out[i](self.ffn_hidden[i](a))
        return self.ffn_norms[i](a + self.residual_dropout(f, training=training))

    def _params(self, h):
        """Final states ``[..., d]`` -> head parameters ``[..., P]``."""
        out = self.out(h)
        if self.head_name == "dmol":
            # One channel per element: log-weights (normalised), means, clamped log-scales.
            # With one channel the element's own value is never read (no coupling, no evidence).
            out = self.head.element_params(out, tf.zeros_like(out[..., :1], tf.int32))  # [..., 1, 3M]
            out = out[..., 0, :]  # [..., 1, 3M] -> [..., 3M]
        return out

    def _shift_sources(self):
        """``[D]``: the step whose element position t carries (-1: the start vector)."""
        source = np.arange(self.event_size) - 1
        if self.right_shift == "blockwise":
            source[self._block_start] = -1
        return source

    def sequence_inputs(self, x_flat, conditional=None):
        """The first layer's inputs ``h0 [B, D, d]`` in generation order from ``x [B, D]`` (raster)."""
        D, d = self.event_size, self.hidden_dim
        batch = tf.shape(x_flat)[0]
        x_gen = tf.gather(x_flat, self._order, axis=1)  # [B, D], generation order
        e = self._embed(x_gen, tf.range(D))  # [B, D, d]
        source = self._shift_sources()
        shifted = tf.gather(e, np.maximum(source, 0), axis=1)  # [B, D, d]: e_{t-1}
        start = tf.broadcast_to(self.start(tf.zeros([1], tf.int32)), [batch, D, d])
        h = tf.where((source < 0)[None, :, None], start, shifted)
        h = h + tf.cast(self._position_signal(), h.dtype)[None]
        class_term, low_term = self._conditioning_terms(conditional)
        if class_term is not None:
            h = h + class_term[:, None, :]
        if low_term is not None:
            h = h + low_term
        return h

    @no_autograph
    def network(self, x, conditional=None, training=False):
        H, W, C = self.image_shape
        batch = tf.shape(x)[0]
        x_flat = tf.reshape(x, [batch, -1])  # [B, H, W, C] -> [B, D]
        h = self.sequence_inputs(x_flat, conditional)
        h = self.residual_dropout(h, training=training)
        for i in range(self.num_layers):
            h = self._layer(i, h, self.attention_layers[i](h, training=training), training)
        params = self._params(h)  # [B, D, P], generation order
        params = tf.gather(params, self._rank, axis=1)  # -> raster order
        return tf.reshape(params, [batch, H, W, C, -1])  # [B, D, P] -> [B, H, W, C, P]

    # ---------------------------------------------------------- cached sampler
    @no_autograph
    def init_cache(self, batch, conditional=None):
        D = self.event_size
        cache = {
            f"attention_{i}": layer.init_cache(batch, D) for i, layer in enumerate(self.attention_layers)
        }
        class_term, low_term = self._conditioning_terms(conditional)
        if class_term is not None:
            cache["class"] = class_term  # [n, d]
        if low_term is not None:
            cache["low_resolution"] = low_term  # [n, D, d]
        return cache

    @no_autograph
    def step(self, x, cache, index, conditional=None):
        """Head parameters ``[n, P]`` of the element generated at step ``index``."""
        cache = dict(cache)
        n = tf.shape(x)[0]
        source = tf.gather(tf.constant(self._shift_sources(), tf.int32), index)
        previous = tf.gather(x, tf.gather(self._order, tf.maximum(source, 0)), axis=1)  # [n]
        e = self._embed(previous, tf.fill([n], tf.maximum(source, 0)))  # [n, d]
        start = tf.broadcast_to(self.start(tf.zeros([1], tf.int32)), tf.shape(e))
        h = tf.where(source < 0, start, e)
        h = h + tf.cast(self._position_signal(tf.reshape(index, [1])), h.dtype)  # + [1, d]
        if "class" in cache:
            h = h + cache["class"]
        if "low_resolution" in cache:
            h = h + tf.gather(cache["low_resolution"], index, axis=1)  # [n, D, d] -> [n, d]
        for i, layer in enumerate(self.attention_layers):
            key = f"attention_{i}"
            attended, cache[key] = layer.step(h, cache[key], index)
            h = self._layer(i, h, attended, False)
        return self._params(h), cache  # [n, P]
