"""MADE: Masked Autoencoder for Distribution Estimation.

Germain, Gregor, Murray & Larochelle, ICML 2015.

An autoencoder whose weight matrices are multiplied by binary masks so that
output ``d`` depends only on inputs earlier in an ordering (the layer:
`ar_keras.layers.MADELayer`; degrees and masks: `ar_keras.layers.masking`).
One pass gives every conditional::

    h^l = act(b^l + (W^l * M^l) h^{l-1}),     h^0 = x (one-hot for K > 2)
    logits = c + (V * M^V) h^L  [+ (A * M^A) x   with direct_connection]

**Mask ensembles.**  With ``num_masks = M > 1`` the model holds M mask sets
(fresh hidden degrees each: *connectivity-agnostic*; with
``order_agnostic=True`` also a fresh random input ordering each; the layer
selects one by index) and training
cycles through them, one per step (the paper's finite set of masks, sec. 4.2).
Mask 0 always uses ``ordering``; it defines `log_prob`,
`conditional_log_probs` and `sample`.  The paper's test-time ensemble averages
the *probabilities* of the M models, not their logits::

    log p_ens(x) = log (1/M) sum_m p_m(x)      (ensemble_log_prob)

which is a mixture and therefore still normalised.

**Sampling cache.**  A MADE needs D passes to sample.  Its first layer's
pre-activation is a sum over inputs, so the cache keeps it and adds one
input's row per step, as in NADE; the deeper layers are recomputed.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("made", preset="digits", num_masks=8)
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ds.batch(64)); model.ensemble_log_prob(x_test)
"""

import math

import keras
import numpy as np
import tensorflow as tf

from ar_keras.core import AutoregressiveModel
from ar_keras.distributions import head_for_levels
from ar_keras.layers import MADELayer
from ar_keras.models.registry import register

__all__ = ["MADE"]


@register("made")
class MADE(AutoregressiveModel):
    """MADE for discrete vectors and images.

    Args:
        image_shape: event shape, ``(H, W, C)`` or ``(D,)``.
        num_levels: K >= 2 (K = 2: scalar inputs and one logit per element).
        hidden_units: list of hidden layer widths.
        ordering: ``"natural"``, ``"reversed"``, ``"random"`` or a permutation
            (``ordering[t]`` = element generated at step t) for mask 0.
        num_masks: M, the number of mask sets cycled during training.
        order_agnostic: masks 1..M-1 also draw a random input ordering.
        direct_connection: add the masked input -> output connection.
        activation: hidden activation.
        seed: seed for orderings and hidden degrees (masks are a pure
            function of the config, so a reloaded model has the same masks).
        num_classes: optional class conditioning (a first-layer bias per class).
    """

    def __init__(
        self,
        image_shape=(8, 8, 1),
        num_levels=17,
        hidden_units=(500,),
        ordering="natural",
        num_masks=1,
        order_agnostic=False,
        direct_connection=False,
        activation="relu",
        seed=0,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        self.hidden_units = [int(h) for h in np.atleast_1d(hidden_units)]
        if not self.hidden_units:
            raise ValueError("MADE needs at least one hidden layer.")
        self.ordering_spec = ordering if isinstance(ordering, str) else [int(o) for o in ordering]
        self.num_masks = int(num_masks)
        if self.num_masks < 1:
            raise ValueError(f"num_masks must be >= 1, got {num_masks}.")
        self.order_agnostic = bool(order_agnostic)
        self.direct_connection = bool(direct_connection)
        self.activation_name = (
            activation if isinstance(activation, str) else keras.activations.serialize(activation)
        )
        self.seed = int(seed)
        self.head = head_for_levels(self.num_levels)
        self._in_width = 1 if self.num_levels == 2 else self.num_levels  # per element
        # The one MADE layer holds the weights and the M mask sets.  Its set m
        # draws from seed `seed * 100003 + m`, the seeds this model always used.
        self.made = MADELayer(
            params=self.head.num_params,
            hidden_units=self.hidden_units,
            event_size=self.event_size,
            ordering=self.ordering_spec,
            hidden_degrees="random",
            activation=activation,
            conditional_size=self.num_classes,
            conditional_to_output=False,
            output="params",
            output_scale=None,
            seed=self.seed * 100003,
            num_masks=self.num_masks,
            order_agnostic=self.order_agnostic,
            direct_connection=self.direct_connection,
            input_width=self._in_width,
            name="made",
        )
        self._ordering = self.made.ordering  # mask 0: step -> element
        self._finish_init()

    @property
    def ordering(self):
        return self._ordering

    def _encode(self, x_flat):
        """``[B, D]`` ints -> ``[B, D]`` floats (K = 2) or one-hot ``[B, D, K]``."""
        if self._in_width == 1:
            return tf.cast(x_flat, tf.float32)
        return tf.one_hot(x_flat, self.num_levels)

    def _condition(self, conditional):
        """Class labels ``[B]`` -> one-hot ``[B, num_classes]``: a first-layer bias per class."""
        if self.num_classes is None:
            return None
        return tf.one_hot(tf.cast(conditional, tf.int32), self.num_classes)

    def _mask_index(self, training, mask_index):
        if mask_index is not None:
            return tf.convert_to_tensor(mask_index, tf.int32)
        if training and self.num_masks > 1 and getattr(self, "optimizer", None) is not None:
            # Cycle through the mask sets, one per training step (paper sec. 4.2).
            return tf.cast(self.optimizer.iterations % self.num_masks, tf.int32)
        return tf.constant(0, tf.int32)

    def network(self, x, conditional=None, training=False, mask_index=None):
        batch = tf.shape(x)[0]
        m = self._mask_index(training, mask_index)
        inputs = self._encode(tf.reshape(x, [batch, self.event_size]))  # [B, *shape] -> [B, D]
        params = self.made(inputs, conditional_input=self._condition(conditional), mask_index=m)
        return tf.reshape(
            params, tf.concat([[batch], self.image_shape, [-1]], 0)
        )  # [B, D, P] -> [B, *shape, P]

    # --------------------------------------------------------------- ensemble
    def ensemble_log_prob(self, x, conditional=None, num_masks=None):
        """``log (1/M) sum_m p_m(x)``: the paper's test-time mask ensemble, ``[B]`` nats."""
        x, c = self._check(x, conditional)
        count = self.num_masks if num_masks is None else int(num_masks)
        if not 1 <= count <= self.num_masks:
            raise ValueError(f"num_masks must be in [1, {self.num_masks}], got {num_masks}.")
        per_mask = []
        for m in range(count):
            lp = self.head.log_prob(self.network(x, c, mask_index=m), x)  # [B, *shape]
            per_mask.append(tf.reduce_sum(tf.reshape(lp, [tf.shape(lp)[0], -1]), axis=1))
        stacked = tf.stack(per_mask, axis=0)  # [M, B]
        return tf.reduce_logsumexp(stacked, axis=0) - math.log(count)

    # ------------------------------------------------------------------ cache
    def init_cache(self, batch, conditional=None):
        a = tf.broadcast_to(self.made.hidden_layers[0].bias, [batch, self.hidden_units[0]])  # [n, H1]
        if self.num_classes is not None:
            a = a + self.made.conditional_layer(self._condition(conditional))
        P = self.head.num_params
        direct = tf.zeros([batch, self.event_size * P])
        return {"a": a, "direct": direct}

    def step(self, x, cache, index, conditional=None):
        x_prev = self.previous_value(x, index)  # [n]
        made = self.made
        masks, out_mask, direct_mask = made.mask_tensors(0)
        order = tf.constant(self._ordering, tf.int32)
        P, K_in = self.head.num_params, self._in_width

        def add_previous():
            d = order[index - 1]  # element just drawn
            if K_in == 1:
                rows = tf.fill(tf.shape(x_prev), d)  # [n]
                scale = tf.cast(x_prev, tf.float32)[:, None]  # [n, 1]
            else:
                rows = d * K_in + x_prev  # one-hot row index [n]
                scale = 1.0
            w1 = made.hidden_layers[0].masked_kernel(masks[0])  # [D*K_in, H1]
            a = cache["a"] + scale * tf.gather(w1, rows)
            direct = cache["direct"]
            if made.direct_layer is not None:
                wd = made.direct_layer.masked_kernel(direct_mask)  # [D*K_in, D*P]
                direct = direct + scale * tf.gather(wd, rows)
            return a, direct

        a, direct = tf.cond(index > 0, add_previous, lambda: (cache["a"], cache["direct"]))
        h = made.activation(a)
        for layer, mask in zip(made.hidden_layers[1:], masks[1:]):
            h = made.activation(layer(h, kernel_mask=mask))
        d = order[index]
        cols = d * P + tf.range(P)  # output units of element d
        w_out = tf.gather(made.output_layer.masked_kernel(out_mask), cols, axis=1)  # [H_L, P]
        params = tf.matmul(h, w_out) + tf.gather(made.output_layer.bias, cols)  # [n, P]
        if made.direct_layer is not None:
            params = params + tf.gather(direct, cols, axis=1)
        return params, {"a": a, "direct": direct}
