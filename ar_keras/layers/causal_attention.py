"""Causal dot-product attention over raster positions, with a key/value cache step.

Chen, Mishra, Rohaninejad & Abbeel, "PixelSNAIL: An Improved Autoregressive
Generative Model", ICML 2018, sec. 3 (the attention block); Vaswani et al.,
"Attention Is All You Need", NIPS 2017 (scaled dot products).

For queries ``q_i``, keys ``k_j`` and values ``v_j`` at the N positions of a
map (flattened in raster order)::

    out_i = sum_{j in S(i)} softmax_j(q_i . k_j / sqrt(d_k)) v_j

with ``S(i) = {j < i}`` (``strict=True``, PixelSNAIL: the key of pixel j is
computed from pixel j's value, so pixel i may only look at earlier pixels)
or ``{j <= i}``.  A position with no allowed key (``i = 0`` when strict) gets
zeros.  The layer has no weights: queries, keys and values come from the
model's own projections.

Streaming (the cached samplers): `init_cache` gives an empty key/value cache
of N positions, `write` stores the key and value of one position, and `step`
attends from one query to the cache: ``O(N)`` per position instead of
``O(N^2)`` per pass.

Example:
    >>> attention = CausalAttention()
    >>> q = k = tf.random.normal([2, 4, 4, 8]); v = tf.random.normal([2, 4, 4, 16])
    >>> attention(q, k, v).shape
    TensorShape([2, 4, 4, 16])
"""

import math

import keras
import tensorflow as tf

__all__ = ["CausalAttention", "masked_attention"]


def masked_attention(query, keys, values, mask):
    """Softmax attention restricted to ``mask``; rows with no allowed key give zeros.

    Args:
        query: ``[..., Q, d_k]``.
        keys: ``[..., N, d_k]``.
        values: ``[..., N, d_v]``.
        mask: bool, broadcastable to ``[..., Q, N]``.

    Returns:
        ``[..., Q, d_v]``.
    """
    scale = 1.0 / math.sqrt(int(query.shape[-1]))
    logits = tf.matmul(query, keys, transpose_b=True) * scale          # [..., Q, N]
    # A large finite fill (not -inf) keeps the row maximum finite when a row
    # has no allowed key; the mask then zeroes those exponentials exactly.
    logits = tf.where(mask, logits, -1e30)
    logits = logits - tf.stop_gradient(tf.reduce_max(logits, axis=-1, keepdims=True))
    weights = tf.exp(logits) * tf.cast(mask, logits.dtype)
    # A row with an allowed key sums to >= 1 (its maximum contributes exp(0));
    # an empty row sums to 0 and divides by 1, giving zeros instead of 0/0.
    weights = weights / tf.maximum(tf.reduce_sum(weights, axis=-1, keepdims=True), 1.0)
    return tf.matmul(weights, values)                                  # [..., Q, d_v]


@keras.saving.register_keras_serializable(package="ar_keras")
class CausalAttention(keras.layers.Layer):
    """Single-head causal attention over the positions of a map, in raster order.

    Args:
        strict: position i attends to ``j < i`` (True) or ``j <= i``.

    Call arguments:
        query: ``[B, H, W, d_k]`` (or ``[B, N, d_k]``).
        key: same positions, ``d_k`` features.
        value: same positions, ``d_v`` features.

    Returns:
        ``[B, H, W, d_v]`` (or ``[B, N, d_v]``).
    """

    def __init__(self, strict=True, **kwargs):
        super().__init__(**kwargs)
        self.strict = bool(strict)

    def call(self, query, key, value):
        spatial = query.shape[1:-1]
        n = 1
        for s in spatial:
            n *= int(s)
        q = tf.reshape(query, [-1, n, query.shape[-1]])                # [B, *S, dk] -> [B, N, dk]
        k = tf.reshape(key, [-1, n, key.shape[-1]])                    # [B, *S, dk] -> [B, N, dk]
        v = tf.reshape(value, [-1, n, value.shape[-1]])                # [B, *S, dv] -> [B, N, dv]
        i = tf.range(n)[:, None]
        j = tf.range(n)[None, :]
        mask = j < i if self.strict else j <= i                         # [N, N]
        out = masked_attention(q, k, v, mask)                           # [B, N, dv]
        return tf.reshape(out, [-1, *spatial, value.shape[-1]])        # [B, N, dv] -> [B, *S, dv]

    # --------------------------------------------------------------- streaming
    def init_cache(self, batch, length, key_size, value_size, dtype=tf.float32):
        """An empty cache of ``length`` positions: ``{"keys": [B, N, d_k], "values": [B, N, d_v]}``."""
        return {"keys": tf.zeros(tf.stack([batch, length, key_size]), dtype),
                "values": tf.zeros(tf.stack([batch, length, value_size]), dtype)}

    def write(self, cache, key, value, position):
        """The cache with position ``position`` set to ``key [B, 1, d_k]``, ``value [B, 1, d_v]``.

        A ``position`` outside ``[0, N)`` (e.g. -1) leaves the cache as it is.
        """
        n = cache["keys"].shape[1] if cache["keys"].shape[1] is not None else tf.shape(
            cache["keys"])[1]
        hit = tf.equal(tf.range(n), position)[None, :, None]           # [1, N, 1]
        return {"keys": tf.where(hit, key, cache["keys"]),
                "values": tf.where(hit, value, cache["values"])}

    def step(self, query, cache, position):
        """One query against the cache: ``query [B, d_k]``, int scalar ``position`` -> ``[B, d_v]``.

        Cache entries at and after ``position`` (strict; after it otherwise)
        may hold anything.
        """
        keys, values = cache["keys"], cache["values"]                   # [B, N, dk], [B, N, dv]
        n = keys.shape[1] if keys.shape[1] is not None else tf.shape(keys)[1]
        j = tf.range(n)
        mask = (j < position if self.strict else j <= position)[None, None, :]  # [1, 1, N]
        out = masked_attention(query[:, None, :], keys, values, mask)  # [B, 1, dv]
        return out[:, 0]

    def get_config(self):
        config = super().get_config()
        config["strict"] = self.strict
        return config
