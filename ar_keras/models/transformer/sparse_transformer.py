"""The Sparse Transformer: a decoder-only transformer with strided or fixed sparse attention.

Child, Gray, Radford & Sutskever, "Generating Long Sequences with Sparse
Transformers", arXiv:1904.10509, 2019 (CIFAR-10 2.80 bits/dim, enwik8 0.99
bits/byte, ImageNet 64x64 3.44 bits/dim).

An example is a sequence of n discrete elements generated left to right:
bytes ``[T]`` (``max_length=`` T_max, any T <= T_max) or an image ``[H, W, C]``
taken as ``n = H W C`` positions in raster order with the channels innermost
(``image_shape=``)::

    p(x) = prod_i softmax(f(x_<i))[x_i]

**Network** (paper sec. 5).  The input of position i is the embedding of the
element before it, shifted right by one, with a learned start vector at i = 0,
plus a factorised learned position embedding (sec. 5.4: images ``R[row] +
W[column] + Ch[channel]``; sequences the row and column of a grid of width l,
``R[i // l] + W[i mod l]``), plus a class embedding when class-conditional::

    H^0_i = (E[x_{i-1}] if i > 0 else s) + pos(i) [+ V[y]]         [B, n, d]
    H^k   = SparseTransformerBlock_k(H^{k-1})                      k = 1..N
    logits = W_o norm(H^N) + b_o                                   [B, n, K]

Each block (`ar_keras.layers.SparseTransformerBlock`) is pre-norm:
``a = attend(norm(H)); b = ff(norm(H + a)); H += a + b`` with the paper's
GELU, kernels ``N(0, 0.125 / sqrt(d_in))`` and the two projections into the
residual stream scaled by ``1 / sqrt(2 N)``; the logits layer starts at zero
(``zero_init_logits``, sec. 5.4), so an untrained model is uniform.

**Attention** (`ar_keras.layers.attention.CausalSelfAttention`), with the
stride/block ``l`` (``block_length``) defaulting to one image row ``W C`` for
images and to ``round(sqrt(T_max))`` for sequences, which makes the cost
``O(n sqrt n)``:

* ``"strided"``: position i reads ``{i-l, ..., i}`` (local) and ``{j : (i - j)
  mod l = 0}`` (stride), merged in one layer (the paper's A = A1 u A2);
* ``"fixed"``: ``{j : floor(j / l) = floor(i / l)}`` (its own block) and the
  last ``c = num_summary`` positions of every block (the summaries);
* ``"dense"``: every ``j <= i``.

``layer_pattern`` interleaves the two halves across layers instead of
merging them: a tuple of the attention layer's pattern names, cycled over the
N layers.  The paper's CIFAR-10 model (its reference hyper-parameters,
``c10-58m``: layer pattern ``bT, b, b, b``) reads, as taken here,
`CIFAR_LAYER_PATTERN`: one stride layer then three local layers, repeated;
after one stride layer and one local layer every earlier position is
reachable.

**Sampling.**  ``cache=True`` runs the network one position at a time: each
block keeps its attention's key/value cache, so a step costs one position's
projections plus the attention over the positions its pattern allows, instead
of a pass over all n; both paths draw the same noise and give identical
samples.

Figures measured here (cached against full-recompute sampling, the ``digits`` and ``text``
presets trained): docs/benchmarks.md.

**Images or sequences.**  One class, one registry name: ``image_shape=``
builds a model of images (``model.event.kind == "image"``), ``max_length=``
one of sequences (``"sequence"``: ``[B, T]`` ints, any ``T <= max_length``,
``sample(n, length=T)``).  The presets say which: ``tiny``, ``digits`` and
``paper`` (CIFAR-10) are images; ``tiny_sequence``, ``text``, ``speech`` and
``enwik8`` are sequences.  An override of the other kind wins over the
preset (`SparseTransformer.resolve_preset`): ``get("sparse_transformer",
preset="tiny", max_length=64)`` is a model of sequences.

Example:
    >>> import ar_keras as ark, keras
    >>> model = ark.models.get("sparse_transformer", preset="digits")     # 8x8x1, 17 levels
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=20)
    >>> x = model.sample(4, seed=0)
    >>> x.dtype.name, x.shape
    ('int32', TensorShape([4, 8, 8, 1]))
    >>> text = ark.models.get("sparse_transformer", preset="text")       # bytes, T <= 256
    >>> text.sample(2, length=64, seed=0).shape
    TensorShape([2, 64])
    >>> small = ark.models.get("sparse_transformer", preset="tiny", max_length=64)  # sequences
    >>> paper = ark.models.model_class("sparse_transformer").PRESETS["paper"]
    >>> paper["image_shape"], paper["num_layers"], paper["hidden_dim"]  # CIFAR-10
    ((32, 32, 3), 128, 256)

The ``paper`` preset builds the network of 59,197,184 parameters (``count_params``);
``ark.models.get("sparse_transformer", preset="paper")`` is slow to build on a CPU.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, SequenceEvent, no_autograph
from ar_keras.distributions import Categorical
from ar_keras.layers.attention.sparse_layout import (
    ATTENTIONS,
    CIFAR_LAYER_PATTERN,
    LAYER_PATTERNS,
    sparse_layout,
)
from ar_keras.layers.sparse_transformer_block import SparseTransformerBlock
from ar_keras.models.registry import register

__all__ = ["SparseTransformer", "CIFAR_LAYER_PATTERN", "ATTENTIONS", "LAYER_PATTERNS"]


@register("sparse_transformer")
class SparseTransformer(AutoregressiveModel):
    """Sparse Transformer (Child et al. 2019) over images (`image_shape=`) or sequences (`max_length=`).

    Give exactly one of ``image_shape`` and ``max_length``: the event kind
    (``model.event.kind``) follows from it, ``"image"`` or ``"sequence"``.

    Presets, by the data they are for:

    =================  ========  ===============================================
    preset             kind      for
    =================  ========  ===============================================
    ``tiny``           image     tests: 4x4x1 images, 4 levels
    ``digits``         image     the embedded 8x8 digits, 17 levels
    ``paper``          image     CIFAR-10 32x32x3 (the paper's c10-58m, 59M)
    ``tiny_sequence``  sequence  tests: sequences of up to 32 steps, 4 levels
    ``text``           sequence  the embedded text, 256-byte windows
    ``speech``         sequence  the embedded speech, 10,240 mu-law codes
    ``enwik8``         sequence  enwik8, 12,288-byte contexts (the paper's, 95M)
    =================  ========  ===============================================

    Args:
        image_shape: ``(H, W, C)`` for images, modelled in raster order over
            the ``H W C`` positions, channels innermost.
        num_levels: K, levels of every element (256 for bytes and 8-bit pixels).
        max_length: T_max for sequences ``[B, T]``, ``T <= T_max`` (bytes or
            audio codes); give either this or ``image_shape``.
        num_layers: N, the blocks.
        hidden_dim: d, the features of the residual stream (the paper's d).
        num_heads: attention heads.
        key_dim: query/key channels per head (default ``d / num_heads``).
        value_dim: value channels per head (default ``d / num_heads``).
        intermediate_dim: hidden units of the feed-forward layers (default ``4 d``).
        attention: ``"strided"``, ``"fixed"`` or ``"dense"``.
        block_length: l, stride (strided) or block (fixed); default one row
            ``W C`` for images, ``round(sqrt(T_max))`` for sequences.  For
            images it must divide ``H W C``.
        num_summary: c, the fixed pattern's summary positions per block,
            ``1 <= c <= l`` (default ``l / 4``).
        layer_pattern: None (every layer uses the merged ``attention``
            pattern) or a tuple of per-layer patterns of the same family,
            cycled over the layers, e.g. `CIFAR_LAYER_PATTERN`.
        dropout: residual dropout on the attention and feed-forward outputs.
        recompute: `tf.recompute_grad` every block in training.
        zero_init_logits: start the logits layer at zero (the paper).
        num_classes: class-conditional model (a learned class embedding added
            at every position), or None.
        sample_rate: sequences of audio: Hz (metadata for WAV files and
            TensorBoard audio, `ar_keras.callbacks.SampleLogger`); None for
            bytes, whose samples are logged as text.

    Call arguments:
        inputs: ``x`` or ``(x, conditional)``; returns ``[B, 2]`` (objective,
        log-likelihood) as every ar_keras model.

    Example:
        >>> import ar_keras as ark
        >>> images = ark.models.get("sparse_transformer", preset="tiny")
        >>> images.event.kind, images.sample(2, seed=0).shape
        ('image', TensorShape([2, 4, 4, 1]))
        >>> text = ark.models.get("sparse_transformer", preset="tiny_sequence")
        >>> text.event.kind, text.sample(2, length=10, seed=0).shape
        ('sequence', TensorShape([2, 10]))
        >>> ark.models.get("sparse_transformer", preset="tiny", max_length=64).event.kind
        'sequence'
    """

    #: The preset arguments that describe the data of one kind: an override of the other
    #: kind's data argument makes them moot (`resolve_preset`).  ``block_length`` and
    #: ``num_summary`` are sized to the preset's data (a row of its images, about the
    #: square root of its length).
    _KIND_ARGUMENTS = {
        "image": ("image_shape",),
        "sequence": ("max_length", "sample_rate"),
    }
    _GEOMETRY_ARGUMENTS = ("block_length", "num_summary")

    @classmethod
    def event_kind_of(cls, kwargs):
        """The event kind that constructor arguments ``kwargs`` make: ``"sequence"`` where
        ``max_length`` is given, else ``"image"``.

        Example:
            >>> SparseTransformer.event_kind_of(SparseTransformer.PRESETS["text"])
            'sequence'
        """
        return "sequence" if kwargs.get("max_length") is not None else "image"

    @classmethod
    def resolve_preset(cls, preset, overrides):
        """The preset's arguments that stand beside ``overrides``: an override wins.

        * ``max_length=`` on an image preset drops its ``image_shape`` (a model of
          sequences), ``image_shape=`` on a sequence preset its ``max_length`` and
          ``sample_rate`` (a model of images); either switch of kind also drops the
          preset's ``block_length`` and ``num_summary``, sized to the preset's data,
          unless they are overridden too;
        * ``attention=`` without ``layer_pattern=`` drops the preset's
          ``layer_pattern`` (the patterns of one attention family do not fit another).

        Args:
            preset: the preset's constructor arguments.
            overrides: the caller's constructor arguments.

        Returns:
            The preset's arguments to keep (a new dict).

        Example:
            >>> tiny = SparseTransformer.PRESETS["tiny"]
            >>> "image_shape" in SparseTransformer.resolve_preset(tiny, {"max_length": 64})
            False
        """
        kept = dict(preset)
        for kind, data_argument in (("sequence", "max_length"), ("image", "image_shape")):
            switched = overrides.get(data_argument) is not None and cls.event_kind_of(preset) != kind
            if switched:
                other = "image" if kind == "sequence" else "sequence"
                for key in cls._KIND_ARGUMENTS[other] + cls._GEOMETRY_ARGUMENTS:
                    if key not in overrides:
                        kept.pop(key, None)
        if "attention" in overrides and "layer_pattern" not in overrides:
            kept.pop("layer_pattern", None)
        return kept

    def __init__(
        self,
        image_shape=None,
        num_levels=256,
        max_length=None,
        num_layers=4,
        hidden_dim=64,
        num_heads=2,
        key_dim=None,
        value_dim=None,
        intermediate_dim=None,
        attention="strided",
        block_length=None,
        num_summary=None,
        layer_pattern=None,
        dropout=0.0,
        recompute=False,
        zero_init_logits=True,
        num_classes=None,
        sample_rate=None,
        **kwargs,
    ):
        if image_shape is not None and max_length is not None:
            raise ValueError(
                "a Sparse Transformer takes image_shape=(H, W, C) for images or max_length=T for "
                f"sequences [B, T], not both (got image_shape={image_shape!r}, max_length={max_length!r})."
            )
        if image_shape is None and max_length is None:
            raise ValueError(
                "a Sparse Transformer takes image_shape=(H, W, C) for images or "
                "max_length=T for sequences [B, T]; got neither."
            )
        sequence = max_length is not None
        if sequence:
            self.max_length = checks.check_positive_int(max_length, "max_length")
            super().__init__(num_classes=num_classes, event=SequenceEvent(num_levels, sample_rate), **kwargs)
            self.sample_rate = self.event.sample_rate
        else:
            if len(np.atleast_1d(image_shape)) != 3:
                raise ValueError(f"image_shape must be (H, W, C), got {image_shape!r}.")
            if sample_rate is not None:
                raise ValueError("sample_rate= is for sequences of audio (max_length=T), not images.")
            super().__init__(image_shape, num_levels, num_classes, **kwargs)
            self.max_length = None
            self.sample_rate = None
        self.num_layers = checks.check_positive_int(num_layers, "num_layers")
        self.hidden_dim = checks.check_positive_int(hidden_dim, "hidden_dim")
        self.num_heads = checks.check_positive_int(num_heads, "num_heads")
        if (key_dim is None or value_dim is None) and self.hidden_dim % self.num_heads:
            raise ValueError(
                f"hidden_dim {self.hidden_dim} must be a multiple of num_heads {self.num_heads} "
                "(or give key_dim= and value_dim=)."
            )
        self.key_dim = checks.check_positive_int(key_dim or self.hidden_dim // self.num_heads, "key_dim")
        self.value_dim = checks.check_positive_int(
            value_dim or self.hidden_dim // self.num_heads, "value_dim"
        )
        self.intermediate_dim = checks.check_positive_int(
            intermediate_dim or 4 * self.hidden_dim, "intermediate_dim"
        )
        self.attention = attention
        layout = sparse_layout(
            attention,
            self.num_layers,
            num_positions=None if sequence else self.event_size,
            # one row W C for images, round(sqrt T_max) for sequences
            default_block=(
                max(1, int(round(math.sqrt(self.max_length))))
                if sequence
                else self.image_shape[1] * self.image_shape[2]
            ),
            block_length=block_length,
            num_summary=num_summary,
            layer_pattern=layer_pattern,
            row_length=None if sequence else self.image_shape[1] * self.image_shape[2],
        )
        self.block_length, self.num_summary, self.layer_pattern, self._patterns = layout
        self.dropout = checks.check_rate(dropout, "dropout")
        self.recompute = bool(recompute)
        self.zero_init_logits = bool(zero_init_logits)
        self.head = Categorical(self.num_levels)

        d, K = self.hidden_dim, self.num_levels
        init = keras.initializers.RandomNormal(stddev=0.125 / math.sqrt(d))
        self.value_embedding = keras.layers.Embedding(
            K, d, embeddings_initializer=init, name="value_embedding"
        )
        self.start = self.add_weight(shape=(d,), initializer=init, name="start")
        if sequence:
            rows = -(-self.max_length // self.block_length)
            self.position_factors = ((rows, self.block_length), (self.block_length, 1))
        else:
            H, W, C = self.image_shape
            self.position_factors = ((H, W * C), (W, C), (C, 1))
        # One embedding per factor: factor k of position i is (i // stride_k) mod size_k.
        self.position_embeddings = [
            keras.layers.Embedding(size, d, embeddings_initializer=init, name=f"position_{k}")
            for k, (size, _) in enumerate(self.position_factors)
        ]
        self.class_embedding = (
            None
            if self.num_classes is None
            else keras.layers.Embedding(
                self.num_classes, d, embeddings_initializer=init, name="class_embedding"
            )
        )
        scale = 1.0 / math.sqrt(2.0 * self.num_layers)
        self.blocks = [
            SparseTransformerBlock(
                d,
                self.num_heads,
                self.key_dim,
                self.value_dim,
                self.intermediate_dim,
                pattern=p,
                block_length=None if p == "dense" else self.block_length,
                num_summary=self.num_summary if p.startswith("fixed") else None,
                dropout=self.dropout,
                output_scale=scale,
                recompute=self.recompute,
                name=f"block_{i}",
            )
            for i, p in enumerate(self.layer_patterns)
        ]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.logits = keras.layers.Dense(
            K, kernel_initializer="zeros" if self.zero_init_logits else init, name="logits"
        )
        self._finish_init()

    # ----------------------------------------------------------------- structure
    @property
    def layer_patterns(self):
        """The attention pattern of each of the N layers (`sparse_layout`)."""
        return list(self._patterns)

    @classmethod
    def overrides_from_data(cls, info):
        """Images: ``image_shape``, ``num_levels``; sequences: ``max_length`` (the dataset's
        example length), ``num_levels`` (`resolve_preset` then drops the preset's argument
        of the other kind)."""
        return cls.data_arguments(info, ("image", "sequence"))

    # ------------------------------------------------------------------- network
    def _positions(self, index):
        """Position embedding of positions ``index`` (int32, any shape) -> ``[..., d]``."""
        total = 0.0
        for embedding, (size, stride) in zip(self.position_embeddings, self.position_factors):
            total = total + embedding((index // stride) % size)
        return total

    def _inputs(self, previous, index, conditional, first):
        """Embedded inputs: ``E[previous]`` (or the start vector where ``first``) + positions
        (+ class).  ``previous``/``index``/``first`` broadcast to ``[B, n]`` or ``[B]``."""
        e = self.value_embedding(previous)  # [..., d]
        e = tf.where(first[..., None], tf.broadcast_to(self.start, tf.shape(e)), e)
        h = e + self._positions(index)
        if self.class_embedding is not None:
            c = self.class_embedding(conditional)  # [B, d]
            h = h + (c if h.shape.rank == 2 else c[:, None])
        return h

    def _run(self, x_flat, conditional, training):
        """``x [B, n]`` int -> logits ``[B, n, K]``."""
        n = tf.shape(x_flat)[1]
        previous = tf.pad(x_flat, [[0, 0], [1, 0]])[:, :-1]  # [B, n]: x_{i-1}
        index = tf.range(n)  # [n]
        h = self._inputs(previous, index[None], conditional, (index == 0)[None])  # [B, n, d]
        for block in self.blocks:
            h = block(h, training=training)
        return self.logits(self.final_norm(h))  # [B, n, K]

    @no_autograph
    def network(self, x, conditional=None, training=False):
        """``x [B, *event]`` -> logits ``[B, *event, K]``; element i sees ``x_<i`` (raster)."""
        batch = tf.shape(x)[0]
        flat = tf.reshape(x, [batch, -1])  # [B, *event] -> [B, n]
        logits = self._run(flat, conditional, training)  # [B, n, K]
        return tf.reshape(logits, tf.concat([tf.shape(x), [self.num_levels]], 0))  # -> [B, *event, K]

    # ---------------------------------------------------- cache (fast sampling)
    def _cache_length(self):
        return self.max_length if self.max_length is not None else self.event_size

    def init_cache(self, batch, conditional=None):
        """Every block's key/value cache for ``n`` positions (``T_max`` for sequences)."""
        return [block.init_cache(batch, self._cache_length()) for block in self.blocks]

    def init_cache_for(self, batch, num_elements, conditional=None):
        """The caches sized by the request: ``T`` positions for a sample of a static length
        ``T`` (the keys and values of one sequence grow with it), ``T_max`` where the length
        is a tensor (the SavedModel's ``length`` input)."""
        length = tf.get_static_value(num_elements)
        if self.max_length is None or length is None:
            return self.init_cache(batch, conditional)
        return [block.init_cache(batch, int(length)) for block in self.blocks]

    @no_autograph
    def step(self, x, cache, index, conditional=None):
        """Logits ``[n, K]`` of position ``index`` from the partial sample ``x [n, D]``."""
        previous = self.previous_value(x, index)  # [n]
        first = tf.fill(tf.shape(previous), tf.equal(index, 0))  # [n]
        h = self._inputs(previous, index, conditional, first)  # [n, d]
        new_cache = []
        for block, block_cache in zip(self.blocks, cache):
            h, block_cache = block.step(h, block_cache, index)
            new_cache.append(block_cache)
        return self.logits(self.final_norm(h)), new_cache
