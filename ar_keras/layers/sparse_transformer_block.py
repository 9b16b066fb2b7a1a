"""The Sparse Transformer's pre-norm residual block, with a key/value cache step.

Child, Gray, Radford & Sutskever, "Generating Long Sequences with Sparse
Transformers", arXiv:1904.10509, 2019, sec. 5.2-5.4.  With ``H [B, n, d]`` the
block input (the residual stream) and ``attend`` one causal self-attention of
a sparse pattern (`ar_keras.layers.attention.CausalSelfAttention`)::

    a = dropout(attend(norm_1(H)))                               [B, n, d]
    b = dropout(W_2 gelu(W_1 norm_2(H + a) + b_1) + b_2)          [B, n, d]
    H' = H + a + b

with ``gelu(x) = x * sigmoid(1.702 x)`` (the paper's approximation) and
layer normalisation ``norm``.  Initialisation (paper sec. 5.4): every kernel
``N(0, (0.125 / sqrt(d_in))^2)``, and the two kernels that write into the
residual stream (the attention's output projection ``W_p`` and ``W_2``)
scaled by ``output_scale`` (the model passes ``1 / sqrt(2 N)`` for N
blocks), so that the stream's variance does not grow with depth.

**Recomputation** (``recompute=True``, paper sec. 5.4): in training the block
runs under `tf.recompute_grad`: its activations are not kept for the backward
pass but recomputed from ``H``, trading one more forward pass for memory that
no longer grows with the layers' intermediate tensors.  Dropout draws its masks
from a stateless seed taken before the block runs, so the recomputation sees
the same masks.

**Streaming**: everything but the attention is pointwise in position, so
`step` maps ``H_t [B, d]`` and the attention's key/value cache to
``(H'_t, cache)``, equal to the full call at position t when positions
``< t`` were stepped before.

Example:
    >>> block = SparseTransformerBlock(64, num_heads=2, pattern="strided", block_length=8)
    >>> h = block(tf.random.normal([2, 64, 64]))                   # [2, 64, 64]
    >>> cache = block.init_cache(2, 64)
    >>> h_0, cache = block.step(tf.random.normal([2, 64]), cache, tf.constant(0))
"""

import math

import keras
import tensorflow as tf

from ar_keras import checks
from ar_keras.layers.attention import CausalSelfAttention

__all__ = ["SparseTransformerBlock", "gelu"]


def gelu(x):
    """The paper's GELU approximation ``x * sigmoid(1.702 x)`` (Hendrycks & Gimpel 2016)."""
    return x * tf.sigmoid(1.702 * x)


def _normal(fan_in, scale=1.0):
    """``N(0, (scale * 0.125 / sqrt(fan_in))^2)``: the paper's initialisation."""
    return keras.initializers.RandomNormal(stddev=scale * 0.125 / math.sqrt(fan_in))


@keras.saving.register_keras_serializable(package="ar_keras")
class SparseTransformerBlock(keras.layers.Layer):
    """Pre-norm residual attention + feed-forward block of the Sparse Transformer.

    Args:
        width: d, channels of the residual stream (input and output).
        num_heads: attention heads.
        key_dim: query/key channels per head (default ``d / num_heads``).
        value_dim: value channels per head (default ``d / num_heads``).
        ff_dim: hidden width of the feed-forward layer (default ``4 d``).
        pattern: the attention pattern (`CausalSelfAttention`: ``"dense"``,
            ``"strided"``, ``"strided_local"``, ``"strided_stride"``,
            ``"fixed"``, ``"fixed_block"``, ``"fixed_summary"``, ...).
        block_length: l, the stride or block of the pattern.
        num_summary: c, the fixed pattern's summary positions per block.
        dropout: rate on ``a`` and ``b`` (the paper's residual dropout).
        output_scale: factor on the initial scale of ``W_p`` and ``W_2``
            (``1 / sqrt(2 N)`` in the paper).
        recompute: recompute the block's activations in the backward pass.

    Call arguments:
        inputs: ``[B, n, d]`` in generation order.
        training: dropout and recomputation are on only in training.

    Returns:
        ``[B, n, d]``.
    """

    def __init__(
        self,
        width,
        num_heads=1,
        key_dim=None,
        value_dim=None,
        ff_dim=None,
        pattern="dense",
        block_length=None,
        num_summary=None,
        dropout=0.0,
        output_scale=1.0,
        recompute=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.width = int(width)
        self.num_heads = int(num_heads)
        if self.width < 1 or self.num_heads < 1:
            raise ValueError(f"width and num_heads must be positive, got {width!r}, {num_heads!r}.")
        if (key_dim is None or value_dim is None) and self.width % self.num_heads:
            raise ValueError(
                f"width {self.width} must be a multiple of num_heads {self.num_heads} "
                "(or pass key_dim= and value_dim=)."
            )
        self.key_dim = int(key_dim or self.width // self.num_heads)
        self.value_dim = int(value_dim or self.width // self.num_heads)
        self.ff_dim = int(ff_dim or 4 * self.width)
        self.pattern = pattern
        self.block_length = None if block_length is None else int(block_length)
        self.num_summary = None if num_summary is None else int(num_summary)
        checks.check_rate(dropout, "dropout")
        self.dropout = float(dropout)
        self.output_scale = float(output_scale)
        self.recompute = bool(recompute)
        d, policy = self.width, self.dtype_policy
        self.norm_attention = keras.layers.LayerNormalization(
            epsilon=1e-5, dtype=policy, name="norm_attention"
        )
        self.attention = CausalSelfAttention(
            self.num_heads,
            self.key_dim,
            value_dim=self.value_dim,
            output_dim=d,
            pattern=pattern,
            block_length=self.block_length,
            num_summary=self.num_summary,
            output_initializer=_normal(self.num_heads * self.value_dim, self.output_scale),
            dtype=policy,
            name="attention",
        )
        self.norm_ff = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="norm_ff")
        self.ff_in = keras.layers.Dense(
            self.ff_dim, kernel_initializer=_normal(d), dtype=policy, name="ff_in"
        )
        self.ff_out = keras.layers.Dense(
            d, kernel_initializer=_normal(self.ff_dim, self.output_scale), dtype=policy, name="ff_out"
        )
        self.seed_generator = keras.random.SeedGenerator(0) if self.dropout else None

    def build(self, input_shape):
        d = self.width
        self.norm_attention.build(input_shape)
        self.attention.build(input_shape)
        self.norm_ff.build(input_shape)
        self.ff_in.build(input_shape[:-1] + (d,))
        self.ff_out.build(input_shape[:-1] + (self.ff_dim,))

    def _feed_forward(self, h):
        return self.ff_out(gelu(self.ff_in(h)))

    def _drop(self, x, seed, training):
        if not (training and self.dropout):
            return x
        return tf.nn.experimental.stateless_dropout(x, self.dropout, seed)

    def _residual(self, h, seeds, training):
        a = self._drop(self.attention(self.norm_attention(h), training=training), seeds[0], training)
        b = self._drop(self._feed_forward(self.norm_ff(h + a)), seeds[1], training)
        return h + a + b

    def call(self, inputs, training=False):
        h = tf.cast(inputs, self.compute_dtype)
        if h.shape[-1] != self.width:
            raise ValueError(
                f"SparseTransformerBlock expects [batch, n, {self.width}], got {h.shape.as_list()}."
            )
        training = bool(training)
        if training and self.dropout:
            seeds = tf.reshape(
                tf.cast(keras.random.randint([4], 0, 2**31 - 1, seed=self.seed_generator), tf.int64), [2, 2]
            )  # [4] -> [2, 2]
        else:
            seeds = tf.zeros([2, 2], tf.int64)
        if training and self.recompute:
            return tf.recompute_grad(lambda x, s: self._residual(x, s, True))(h, seeds)
        return self._residual(h, seeds, training)

    # ----------------------------------------------------------------- streaming
    def init_cache(self, batch, max_length):
        """The attention's key/value cache for sequences of up to ``max_length`` positions."""
        return self.attention.init_cache(batch, max_length)

    def step(self, h_t, cache, index):
        """``H_t [B, d]`` at position ``index`` -> ``(H'_t [B, d], cache)`` (inference: no dropout)."""
        h_t = tf.cast(h_t, self.compute_dtype)
        a = self.attention.step(self.norm_attention(h_t), cache, index)
        a, cache = a
        b = self._feed_forward(self.norm_ff(h_t + a))
        return h_t + a + b, cache

    def get_config(self):
        config = super().get_config()
        config.update(
            width=self.width,
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            value_dim=self.value_dim,
            ff_dim=self.ff_dim,
            pattern=self.pattern,
            block_length=self.block_length,
            num_summary=self.num_summary,
            dropout=self.dropout,
            output_scale=self.output_scale,
            recompute=self.recompute,
        )
        return config
