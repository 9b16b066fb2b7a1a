"""NADE: the Neural Autoregressive Distribution Estimator.

Larochelle & Murray, "The Neural Autoregressive Distribution Estimator",
AISTATS 2011; K-level outputs as in Uria et al., "Neural Autoregressive
Distribution Estimation", JMLR 2016, sec. 3.

For element ``d`` (in raster order) with value embedding ``W[i, x_i] in R^H``::

    a_d = c + sum_{i < d} W[i, x_i]          (the running pre-activation)
    h_d = sigmoid(a_d)
    p(x_d | x_<d) = softmax(V[d] h_d + b[d])  (Bernoulli for K = 2)

The hidden weights are shared across the D conditionals, so ``a_{d+1} =
a_d + W[d, x_d]``: all conditionals share one running sum, O(DH) additions per
example, not the O(D^2 H) of D separate networks.  The same recurrence is the
sampling cache: each step adds one row, O(H K) per element.

The parallel pass (training, `log_prob`) computes every ``a_d`` at once,
dimension-major: with ``e_0 = c`` and ``e_d = W[d-1, x_{d-1}]`` (one gather
from ``W``), ``a = L e`` for the inclusive lower-triangular ones ``L``
(`prefix_sum`; blocked for D > 128), then ``h = sigmoid(a)`` and the ``D``
heads as one batched product ``[D, B, H] x [D, H, P]``.  On a 2-core CPU this
trains several times faster per step than the ``[B, D, H]`` `tf.cumsum` pass it
replaces (8x8 binary digits, H = 500, batch 64: about 160 steps/s with
``python -m train``'s 20 steps per execution and 195 with XLA too, against
17 and 23 before and pytorch-generative's 113; benchmarks/train_throughput.py),
the cumsum's CPU kernel and XLA lowering being the slow part, with the same
log-probabilities and gradients to float tolerance (tests/models/test_nade.py),
the same weights and the same `.keras` files.  Its memory is one ``[D, B, H]``
activation (and its gradient), as any batched autodiff pass of the recurrence holds.
For K = 2 the output head is a single logit (the paper's binary NADE); the
input embedding ``W[i, x_i]`` generalises the paper's ``W[:, i] x_i`` (set
``W[i, 0] = 0`` to recover it).

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("nade", preset="digits")      # 8x8x1, 17 levels
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=10)
"""

import math

import keras
import numpy as np
import tensorflow as tf

from ar_keras.core import AutoregressiveModel
from ar_keras.distributions import head_for_levels
from ar_keras.models.registry import register

__all__ = ["NADE", "prefix_sum"]

#: Up to this many elements `prefix_sum` is one matmul; beyond, two levels of blocks.
_ONE_MATMUL_MAX = 128


def prefix_sum(e):
    """Inclusive prefix sum over the first axis: ``e [D, ...]`` -> ``s_d = sum_{i<=d} e_i``.

    By matrix products instead of `tf.cumsum`, whose CPU kernel is slow (about 7 ns an
    element, 15 ms for NADE's ``[64, 64, 500]`` pre-activations; XLA lowers it to a
    quadratic reduce-window): for ``D <= 128`` one ``[D, D] x [D, n]`` product with the
    lower-triangular ones ``L`` (``2 D^2 n`` flops that the matmul kernel runs near peak),
    beyond that in blocks of ``s = ceil(sqrt(D))``: ``L_s`` within each block, then
    the exclusive prefix sum of the block totals added to every row of the next blocks
    (``2 D s n + 2 (D/s)^2 n`` flops).  The gradient is the same product transposed
    (a suffix sum), so autodiff needs no special case.
    """
    D = e.shape[0]
    rest = tf.shape(e)[1:]
    flat = tf.reshape(e, [D, -1])  # [D, ...] -> [D, n]
    if D <= _ONE_MATMUL_MAX:
        out = tf.matmul(tf.constant(np.tril(np.ones((D, D))), e.dtype), flat)
        return tf.reshape(out, tf.concat([[D], rest], 0))  # [D, n] -> [D, ...]
    s = int(math.ceil(math.sqrt(D)))
    blocks = -(-D // s)
    padded = tf.pad(flat, [[0, blocks * s - D], [0, 0]])
    padded = tf.reshape(padded, [blocks, s, -1])  # [blocks*s, n] -> [blocks, s, n]
    inner = tf.matmul(tf.constant(np.tril(np.ones((s, s))), e.dtype), padded)  # [s, s] x [blocks, s, n]
    totals = inner[:, -1]  # [blocks, n]
    offsets = tf.matmul(tf.constant(np.tril(np.ones((blocks, blocks)), -1), e.dtype), totals)
    out = tf.reshape(inner + offsets[:, None], [blocks * s, -1])[:D]  # [blocks, s, n] -> [D, n]
    return tf.reshape(out, tf.concat([[D], rest], 0))  # [D, n] -> [D, ...]


@register("nade")
class NADE(AutoregressiveModel):
    """Shared-weight NADE with categorical (or Bernoulli) conditionals.

    Args:
        image_shape: event shape, ``(H, W, C)`` or ``(D,)``.
        num_levels: K >= 2.
        hidden_dim: H, the width of the one hidden layer (an int, or a one-element list).
        num_classes: optional class conditioning (a learned hidden bias per class).
    """

    def __init__(self, image_shape=(8, 8, 1), num_levels=17, hidden_dim=256, num_classes=None, **kwargs):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        units = np.atleast_1d(hidden_dim)
        if units.size != 1:
            raise ValueError(
                f"NADE has one hidden layer: hidden_dim must be its width, an int (or a one-element "
                f"list), got {hidden_dim!r}."
            )
        self.hidden_dim = int(units[0])
        self.head = head_for_levels(self.num_levels)
        D, K, H, P = self.event_size, self.num_levels, self.hidden_dim, self.head.num_params
        self.W = self.add_weight(
            name="W", shape=(D * K, H), initializer=keras.initializers.RandomNormal(stddev=0.05)
        )
        self.c = self.add_weight(name="c", shape=(H,), initializer="zeros")
        self.V = self.add_weight(
            name="V", shape=(D, H, P), initializer=keras.initializers.RandomNormal(stddev=0.05)
        )
        self.b = self.add_weight(name="b", shape=(D, P), initializer="zeros")
        self.class_bias = (
            keras.layers.Embedding(self.num_classes, H, name="class_bias") if self.num_classes else None
        )
        self._finish_init()

    def _hidden_bias(self, conditional, batch):
        bias = tf.broadcast_to(self.c, [batch, self.hidden_dim])  # [B, H]
        if self.class_bias is not None:
            bias = bias + self.class_bias(conditional)
        return bias

    def _embed(self, x_flat, positions):
        """``W[position, x]`` rows: ``x_flat [...]`` ints at ``positions [...]`` -> ``[..., H]``."""
        return tf.gather(self.W, positions * self.num_levels + x_flat)

    def hidden_preactivations(self, x_flat, conditional=None):
        """``a_d`` for every element, dimension-major: ``x_flat [B, D]`` -> ``[D, B, H]``.

        ``a = L e``: ``e_0 = c`` and ``e_d = W[d-1, x_{d-1}]`` (one gather from ``W``),
        ``L`` the inclusive lower-triangular ones (`prefix_sum`).  ``c`` is joined after
        the gather, not into a table gathered from: a TFLite export would fold such a
        table into a second copy of ``W``.
        """
        batch = tf.shape(x_flat)[0]
        D, K = self.event_size, self.num_levels
        # Row i*K + k of W is W[i, k]; the last element's rows never feed an a_d.
        rows = tf.range(D - 1)[:, None] * K + tf.transpose(x_flat[:, : D - 1])  # [B, D-1] -> [D-1, B]
        first = tf.broadcast_to(self.c[None, None], [1, batch, self.hidden_dim])  # [H] -> [1, B, H]
        e = tf.concat([tf.cast(first, self.W.dtype), tf.gather(self.W, rows)], axis=0)  # [D, B, H]
        a = prefix_sum(e)  # [D, B, H]
        if self.class_bias is not None:
            a = a + self.class_bias(conditional)[None]  # + [1, B, H]
        return a

    def network(self, x, conditional=None, training=False):
        batch = tf.shape(x)[0]
        D = self.event_size
        x_flat = tf.reshape(x, [batch, D])  # [B, *shape] -> [B, D]
        h = tf.sigmoid(self.hidden_preactivations(x_flat, conditional))  # [D, B, H]
        params = tf.matmul(h, self.V) + self.b[:, None]  # [D, B, H] x [D, H, P] -> [D, B, P]
        params = tf.transpose(params, [1, 0, 2])  # [D, B, P] -> [B, D, P]
        return tf.reshape(
            params, tf.concat([[batch], self.image_shape, [-1]], 0)
        )  # [B, D, P] -> [B, *shape, P]

    def init_cache(self, batch, conditional=None):
        return {"a": self._hidden_bias(conditional, batch)}  # [n, H]

    def step(self, x, cache, index, conditional=None):
        x_prev = self.previous_value(x, index)  # [n]
        a = cache["a"]
        # Element index-1 has just been drawn: add its row (nothing at index 0).
        a = tf.cond(
            index > 0, lambda: a + self._embed(x_prev, tf.fill(tf.shape(x_prev), index - 1)), lambda: a
        )
        h = tf.sigmoid(a)  # [n, H]
        params = tf.matmul(h, self.V[index]) + self.b[index]  # [n, P]
        return params, {"a": a}
