"""Weightless pattern attention over given queries, keys and values (single head), with a cache.

The core that `CausalSelfAttention` wraps, for models that compute their own
queries, keys and values: PixelSNAIL (Chen, Mishra, Rohaninejad & Abbeel,
"PixelSNAIL: An Improved Autoregressive Generative Model", ICML 2018, sec. 3)
builds keys from ``[x, ul, background]`` and queries from ``[ul, background]``
with its own networks and reads strictly earlier pixels (``strict=True``: the
key of pixel j contains x_j).  For the N positions of a map, flattened in
raster (generation) order::

    out_i = sum_{j in S(i)} softmax_j(q_i . k_j / sqrt(d_k)) v_j

with ``S(i)`` the pattern's set (`patterns`); no allowed key gives zeros.

Streaming: `init_cache` gives empty time-major buffers of N positions,
`write` stores one position's key and value, `step` attends from one query
to the cache (the pattern's K keys, ``O(K)``; K = N for dense).

Example:
    >>> attention = PatternAttention(strict=True)
    >>> q = k = tf.random.normal([2, 4, 4, 8]); v = tf.random.normal([2, 4, 4, 16])
    >>> attention(q, k, v).shape
    TensorShape([2, 4, 4, 16])
"""

import keras
import tensorflow as tf

from ar_keras.layers.attention import blockwise
from ar_keras.layers.attention.patterns import make_spec

__all__ = ["PatternAttention"]


@keras.saving.register_keras_serializable(package="ar_keras")
class PatternAttention(keras.layers.Layer):
    """Single-head, weightless attention over one pattern (default: dense causal).

    Args:
        pattern, block_length, num_summary, grid_shape, block_shape, flange,
        strict: as in `CausalSelfAttention` (``strict`` defaults to True here).

    Call arguments:
        query: ``[B, *S, d_k]`` (any spatial shape S, flattened in raster order).
        key: ``[B, *S, d_k]``.
        value: ``[B, *S, d_v]``.

    Returns:
        ``[B, *S, d_v]``.
    """

    def __init__(
        self,
        pattern="dense",
        block_length=None,
        num_summary=None,
        grid_shape=None,
        block_shape=None,
        flange=None,
        strict=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.spec = make_spec(pattern, block_length, num_summary, grid_shape, block_shape, flange, strict)

    @property
    def strict(self):
        return self.spec.strict

    def build(self, query_shape, key_shape, value_shape):
        """Weightless: checks that the three inputs have the same positions."""
        if not (tuple(query_shape[1:-1]) == tuple(key_shape[1:-1]) == tuple(value_shape[1:-1])):
            raise ValueError(
                "PatternAttention needs query, key and value over the same positions [B, *S, d]; got "
                f"shapes {tuple(query_shape)}, {tuple(key_shape)} and {tuple(value_shape)}."
            )
        if query_shape[-1] != key_shape[-1]:
            raise ValueError(
                f"PatternAttention needs queries and keys of one width d_k; got {query_shape[-1]} "
                f"and {key_shape[-1]}."
            )
        self.built = True

    def call(self, query, key, value):
        query, key, value = (tf.cast(t, self.compute_dtype) for t in (query, key, value))
        spatial = query.shape[1:-1]
        n = 1
        for s in spatial:
            n *= int(s)
        self.spec.check_length(n)
        q = tf.reshape(query, [-1, 1, n, query.shape[-1]])  # [B, *S, dk] -> [B, 1, N, dk]
        k = tf.reshape(key, [-1, 1, n, key.shape[-1]])  # [B, *S, dk] -> [B, 1, N, dk]
        v = tf.reshape(value, [-1, 1, n, value.shape[-1]])  # [B, *S, dv] -> [B, 1, N, dv]
        out = blockwise.attend(q, k, v, self.spec)  # [B, 1, N, dv]
        return tf.reshape(out, [-1, *spatial, value.shape[-1]])  # [B, 1, N, dv] -> [B, *S, dv]

    # --------------------------------------------------------------- streaming
    def init_cache(self, batch, length, key_size, value_size, dtype=None):
        """Empty buffers ``{"keys": [N, B, 1, d_k], "values": [N, B, 1, d_v]}`` (time-major)."""
        dtype = dtype or self.compute_dtype
        self.spec.check_length(length)
        return {
            "keys": tf.zeros(tf.stack([length, batch, 1, key_size]), dtype),
            "values": tf.zeros(tf.stack([length, batch, 1, value_size]), dtype),
        }

    def write(self, cache, key, value, position):
        """The cache with ``position`` set to ``key [B, 1, d_k]``, ``value [B, 1, d_v]``.

        A ``position`` outside ``[0, N)`` (e.g. -1) leaves the cache as it is.
        """
        return {
            "keys": blockwise.write(cache["keys"], key, position),
            "values": blockwise.write(cache["values"], value, position),
        }

    def step(self, query, cache, position):
        """One query against the cache: ``query [B, d_k]``, int scalar ``position`` -> ``[B, d_v]``.

        Cache entries the pattern does not allow (strict: at and after
        ``position``) may hold anything.
        """
        query = tf.cast(query, self.compute_dtype)
        out = blockwise.attend_step(
            query[:, None, :], cache["keys"], cache["values"], position, self.spec
        )  # [B, 1, dv]
        return out[:, 0]

    def compute_output_shape(self, query_shape, key_shape, value_shape):
        return (*query_shape[:-1], value_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(self.spec.get_config())
        return config
