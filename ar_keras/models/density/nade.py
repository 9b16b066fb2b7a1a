"""NADE: the Neural Autoregressive Distribution Estimator.

Larochelle & Murray, "The Neural Autoregressive Distribution Estimator",
AISTATS 2011; K-level outputs as in Uria et al., "Neural Autoregressive
Distribution Estimation", JMLR 2016, sec. 3.

For element ``d`` (in raster order) with value embedding ``W[i, x_i] in R^H``::

    a_d = c + sum_{i < d} W[i, x_i]          (the running pre-activation)
    h_d = sigmoid(a_d)
    p(x_d | x_<d) = softmax(V[d] h_d + b[d])  (Bernoulli for K = 2)

The hidden weights are shared across the D conditionals, so ``a_{d+1} =
a_d + W[d, x_d]``: all conditionals cost O(DH) (an exclusive cumulative sum in
the parallel pass), not O(D^2 H) as D separate networks would.  The same
recurrence is the sampling cache: each step adds one row, O(H K) per element.
For K = 2 the output head is a single logit (the paper's binary NADE); the
input embedding ``W[i, x_i]`` generalises the paper's ``W[:, i] x_i`` (set
``W[i, 0] = 0`` to recover it).

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("nade", preset="digits")      # 8x8x1, 17 levels
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ark.data.load("digits", "train").batch(64), epochs=10)
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras.distributions import head_for_levels
from ar_keras.core import AutoregressiveModel
from ar_keras.models.registry import register

__all__ = ["NADE"]


@register("nade")
class NADE(AutoregressiveModel):
    """Shared-weight NADE with categorical (or Bernoulli) conditionals.

    Args:
        image_shape: event shape, ``(H, W, C)`` or ``(D,)``.
        num_levels: K >= 2.
        hidden_units: H, the one hidden layer's width (an int; a one-element list, the form
            multi-layer models such as `made` take, is accepted).
        num_classes: optional class conditioning (a learned hidden bias per class).
    """

    PRESETS = {
        "tiny": dict(image_shape=(2, 2, 1), num_levels=4, hidden_units=8),
        "digits": dict(image_shape=(8, 8, 1), num_levels=17, hidden_units=256),
        # Larochelle & Murray 2011, binarized MNIST: 500 sigmoid hidden units,
        # test NLL 88.86 nats.
        "paper": dict(image_shape=(28, 28, 1), num_levels=2, hidden_units=500),
    }

    def __init__(self, image_shape=(8, 8, 1), num_levels=17, hidden_units=256,
                 num_classes=None, **kwargs):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        units = np.atleast_1d(hidden_units)
        if units.size != 1:
            raise ValueError(f"NADE has one hidden layer: hidden_units must be an int (or a one-element "
                             f"list, as multi-layer models take), got {hidden_units!r}.")
        self.hidden_units = int(units[0])
        self.head = head_for_levels(self.num_levels)
        D, K, H, P = self.event_size, self.num_levels, self.hidden_units, self.head.num_params
        self.W = self.add_weight(name="W", shape=(D * K, H),
                                 initializer=keras.initializers.RandomNormal(stddev=0.05))
        self.c = self.add_weight(name="c", shape=(H,), initializer="zeros")
        self.V = self.add_weight(name="V", shape=(D, H, P),
                                 initializer=keras.initializers.RandomNormal(stddev=0.05))
        self.b = self.add_weight(name="b", shape=(D, P), initializer="zeros")
        self.class_bias = (keras.layers.Embedding(self.num_classes, H, name="class_bias")
                           if self.num_classes else None)
        self._finish_init()


    def _hidden_bias(self, conditional, batch):
        bias = tf.broadcast_to(self.c, [batch, self.hidden_units])  # [B, H]
        if self.class_bias is not None:
            bias = bias + self.class_bias(conditional)
        return bias

    def _embed(self, x_flat, positions):
        """``W[position, x]`` rows: ``x_flat [...]`` ints at ``positions [...]`` -> ``[..., H]``."""
        return tf.gather(self.W, positions * self.num_levels + x_flat)

    def network(self, x, conditional=None, training=False):
        batch = tf.shape(x)[0]
        D = self.event_size
        x_flat = tf.reshape(x, [batch, D])                            # [B, *shape] -> [B, D]
        e = self._embed(x_flat, tf.range(D)[None, :])                # [B, D, H]
        # a_d = c + sum_{i<d} e_i: an exclusive cumulative sum.
        a = tf.cumsum(e, axis=1, exclusive=True) + self._hidden_bias(conditional, batch)[:, None]
        h = tf.sigmoid(a)                                             # [B, D, H]
        params = tf.einsum("bdh,dhp->bdp", h, self.V) + self.b        # [B, D, P]
        return tf.reshape(params, tf.concat([[batch], self.image_shape, [-1]], 0))  # [B, D, P] -> [B, *shape, P]

    def init_cache(self, batch, conditional=None):
        return {"a": self._hidden_bias(conditional, batch)}          # [n, H]

    def step(self, x, cache, index, conditional=None):
        x_prev = self.previous_value(x, index)                        # [n]
        a = cache["a"]
        # Element index-1 has just been drawn: add its row (nothing at index 0).
        a = tf.cond(index > 0,
                    lambda: a + self._embed(x_prev, tf.fill(tf.shape(x_prev), index - 1)),
                    lambda: a)
        h = tf.sigmoid(a)                                             # [n, H]
        params = tf.matmul(h, self.V[index]) + self.b[index]          # [n, P]
        return params, {"a": a}

    def get_config(self):
        config = super().get_config()
        config["hidden_units"] = self.hidden_units
        return config
