"""Multi-head causal self-attention with a choice of pattern, blockwise, with a key/value cache.

For input ``x [B, n, d]`` (in generation order) and memory ``m [B, n, d_m]``
(default ``x``), head ``h`` computes ``q_i = x_i W_q^h``, ``k_j = m_j W_k^h``,
``v_j = m_j W_v^h`` and::

    o_i^h = sum_{j in S(i)} softmax_j(q_i . k_j / sqrt(d_k)) v_j
    y_i   = [o_i^1, ..., o_i^H] W_o + b_o

with ``S(i)`` the pattern's set (`ar_keras.layers.attention.patterns`):
``dense``; ``local_1d`` and ``local_2d`` (Parmar, Vaswani, Uszkoreit, Kaiser,
Shazeer, Ku & Tran, "Image Transformer", ICML 2018); ``strided`` and
``fixed`` with their halves ``strided_local`` / ``strided_stride`` and
``fixed_block`` / ``fixed_summary`` to interleave across layers (Child,
Gray, Radford & Sutskever, "Generating Long Sequences with Sparse
Transformers", arXiv 2019).  The sparse patterns are computed blockwise
(`blockwise`): ``O(n sqrt(n))`` time and memory with ``l ~ sqrt(n)``, never
an ``[n, n]`` score matrix.

Streaming: ``cache = init_cache(B, L)`` holds time-major key and value
buffers ``[L, B, h, d]``; ``step(x_t, cache, t)`` projects position ``t``,
writes its key and value, and attends to the pattern's keys of ``t``
gathered from the buffers (``O(K)``, K the pattern's key count, not L).

Example:
    >>> attention = CausalSelfAttention(num_heads=2, key_dim=8, pattern="strided",
    ...                                 block_length=4)
    >>> x = tf.random.normal([2, 10, 16])
    >>> y = attention(x)                                       # [2, 10, 16]
    >>> cache = attention.init_cache(2, 10)
    >>> for t in range(10):
    ...     y_t, cache = attention.step(x[:, t], cache, tf.constant(t))   # == y[:, t]
"""

import numbers

import keras
import tensorflow as tf

from ar_keras import checks
from ar_keras.layers.attention import blockwise
from ar_keras.layers.attention.patterns import make_spec

__all__ = ["CausalSelfAttention"]


@keras.saving.register_keras_serializable(package="ar_keras")
class CausalSelfAttention(keras.layers.Layer):
    """Multi-head causal attention (projections inside) over one of the patterns.

    Args:
        num_heads: H.
        key_dim: d_k per head (queries and keys).
        value_dim: d_v per head (default ``key_dim``).
        output_dim: width of ``y`` (default the input width d).
        pattern: ``"dense" | "local_1d" | "local_2d" | "strided" |
            "strided_local" | "strided_stride" | "fixed" | "fixed_block" |
            "fixed_summary"``.
        block_length: l (local_1d query block; strided stride; fixed block).
        num_summary: c (fixed patterns: summary positions per block).
        grid_shape, block_shape, flange: local_2d's ``(rows, cols)`` grid,
            query block ``(bh, bw)`` (must divide the grid) and memory
            flange ``(fh, fw)``.
        strict: ``j < i`` (True) or ``j <= i``.
        dropout: on the attention weights, in training.
        output_initializer: of ``W_o`` (e.g. scaled for deep residual stacks).
        use_bias: biases on the four projections.

    Call arguments:
        x: ``[B, n, d]`` in generation order (local_2d: block-raster order,
            `patterns.block_raster_order`); n need not be a multiple of l.
        memory: optional ``[B, n, d_m]``, the source of keys and values.
        training: dropout on or off.

    Returns:
        ``[B, n, output_dim]``.

    Raises:
        ValueError: unknown pattern, missing/invalid block arguments, a
            local_2d block that does not divide the grid, or (at call) a
            sequence that does not fit ``grid_shape``.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        output_dim=None,
        pattern="dense",
        block_length=None,
        num_summary=None,
        grid_shape=None,
        block_shape=None,
        flange=None,
        strict=False,
        dropout=0.0,
        output_initializer="glorot_uniform",
        use_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("num_heads", num_heads),
            ("key_dim", key_dim),
            ("value_dim", key_dim if value_dim is None else value_dim),
            ("output_dim", 1 if output_dim is None else output_dim),
        ):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        checks.check_rate(dropout, "dropout")
        self.spec = make_spec(pattern, block_length, num_summary, grid_shape, block_shape, flange, strict)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(key_dim if value_dim is None else value_dim)
        self.output_dim = None if output_dim is None else int(output_dim)
        self.dropout = float(dropout)
        self.output_initializer = keras.initializers.get(output_initializer)
        self.use_bias = bool(use_bias)
        h, policy = self.num_heads, self.dtype_policy
        self.query = keras.layers.Dense(h * self.key_dim, use_bias=use_bias, dtype=policy, name="query")
        self.key = keras.layers.Dense(h * self.key_dim, use_bias=use_bias, dtype=policy, name="key")
        self.value = keras.layers.Dense(h * self.value_dim, use_bias=use_bias, dtype=policy, name="value")
        self.weights_dropout = keras.layers.Dropout(self.dropout, dtype=policy)
        self.out = None

    # ------------------------------------------------------------------ build
    def build(self, x_shape, memory_shape=None):
        d = int(x_shape[-1])
        d_m = d if memory_shape is None else int(memory_shape[-1])
        self.query.build((None, d))
        self.key.build((None, d_m))
        self.value.build((None, d_m))
        self.out = keras.layers.Dense(
            self.output_dim or d,
            use_bias=self.use_bias,
            kernel_initializer=self.output_initializer,
            dtype=self.dtype_policy,
            name="output",
        )
        self.out.build((None, self.num_heads * self.value_dim))
        self.built = True

    def _heads(self, x, depth):
        """``[B, n, H*depth] -> [B, H, n, depth]``."""
        n = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]  # static when known
        x = tf.reshape(x, [-1, n, self.num_heads, depth])  # [B, n, H*dh] -> [B, n, H, dh]
        return tf.transpose(x, [0, 2, 1, 3])  # -> [B, H, n, dh]

    def _compute(self, value):
        return None if value is None else tf.cast(value, self.compute_dtype)

    def call(self, x, memory=None, training=False):
        x, memory = self._compute(x), self._compute(memory)
        source = x if memory is None else memory
        self.spec.check_length(x.shape[1])
        q = self._heads(self.query(x), self.key_dim)
        k = self._heads(self.key(source), self.key_dim)
        v = self._heads(self.value(source), self.value_dim)
        dropout = None
        if self.dropout > 0:
            dropout = lambda w: self.weights_dropout(w, training=training)  # noqa: E731
        o = blockwise.attend(q, k, v, self.spec, dropout)  # [B, H, n, dv]
        o = tf.transpose(o, [0, 2, 1, 3])  # -> [B, n, H, dv]
        n = o.shape[1] if o.shape[1] is not None else tf.shape(o)[1]
        o = tf.reshape(o, [-1, n, self.num_heads * self.value_dim])  # -> [B, n, H dv]
        return self.out(o)

    # -------------------------------------------------------------- streaming
    def init_cache(self, batch, max_length, dtype=None):
        """Empty buffers ``{"keys": [L, B, H, d_k], "values": [L, B, H, d_v]}``."""
        dtype = dtype or self.compute_dtype
        if isinstance(max_length, bool) or not isinstance(max_length, numbers.Integral) or max_length < 1:
            raise ValueError(
                f"max_length must be a positive Python int (the buffers' static length), got {max_length!r}."
            )
        max_length = int(max_length)
        self.spec.check_length(max_length)
        h = self.num_heads
        return {
            "keys": tf.zeros(tf.stack([max_length, batch, h, self.key_dim]), dtype),
            "values": tf.zeros(tf.stack([max_length, batch, h, self.value_dim]), dtype),
        }

    def step(self, x_t, cache, t, memory_t=None):
        """Position ``t``: ``x_t [B, d]`` (and ``memory_t [B, d_m]``) -> ``(y_t [B, out], cache)``.

        Equals ``self(x)[:, t]`` once positions ``0 .. t-1`` were stepped
        (with the same memory).  ``t`` is a scalar int (tensor).
        """
        x_t, memory_t = self._compute(x_t), self._compute(memory_t)
        source = x_t if memory_t is None else memory_t
        h = self.num_heads
        q = tf.reshape(self.query(x_t), [-1, h, self.key_dim])  # [B, H dk] -> [B, H, dk]
        k = tf.reshape(self.key(source), [-1, h, self.key_dim])  # [B, H dk] -> [B, H, dk]
        v = tf.reshape(self.value(source), [-1, h, self.value_dim])  # [B, H dv] -> [B, H, dv]
        cache = {
            "keys": blockwise.write(cache["keys"], k, t),
            "values": blockwise.write(cache["values"], v, t),
        }
        o = blockwise.attend_step(q, cache["keys"], cache["values"], t, self.spec)  # [B, H, dv]
        o = tf.reshape(o, [-1, h * self.value_dim])  # [B, H, dv] -> [B, H dv]
        return self.out(o), cache

    def compute_output_shape(self, x_shape, memory_shape=None):
        return (*x_shape[:-1], self.output_dim or x_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "output_dim": self.output_dim,
                **self.spec.get_config(),
                "dropout": self.dropout,
                "output_initializer": keras.initializers.serialize(self.output_initializer),
                "use_bias": self.use_bias,
            }
        )
        return config
