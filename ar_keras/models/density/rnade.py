"""RNADE: the real-valued neural autoregressive density estimator.

Uria, Murray & Larochelle, "RNADE: The real-valued neural autoregressive
density-estimator", NIPS 2013.

NADE's weight sharing (Larochelle & Murray 2011) with a mixture of C
Gaussians per conditional.  In the ordering ``o`` (step t models ``x_{o(t)}``)::

    a_1 = c,      a_{t+1} = a_t + x_{o(t)} W_{o(t)}           (one shared [D, H] matrix)
    h_t = act(rho_t a_t)                                     (per-step rescaling rho)
    [logits, mu, log sigma]_t = h_t V_t + b_t                ([H, 3C] per step)
    log p(x_{o(t)} | x_{o(<t)}) = log sum_c pi_c N(x_{o(t)}; mu_c, sigma_c)

All D conditionals come from one pass (an exclusive cumulative sum over the
ordering), so `conditional_log_probs` is exact and sums to `log_prob`.

**Sampling** goes through `ar_keras.core.sampler.run` (the model is an
`ar_keras.core.AutoregressiveDensity`).  ``cache=True`` runs ``step``: it keeps
``a_t`` and adds one row of ``W`` per step, O(DH) per sample, as in NADE.
``cache=False`` runs ``element_params``, which recomputes every pre-activation
from the partial sample at each step (O(D^2 H)).  Both accumulate ``a_t`` in
the same order with the same elementwise ops and end in per-step products of
one shape, ``[n, H] x [H, 3C]``: for one seed they return identical samples.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("rnade", preset="tiny")
    >>> x = model.sample(100, seed=0)                 # float32 [100, 2]
    >>> model.conditional_log_probs(x).shape          # exact conditionals
    TensorShape([100, 2])
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras.core import AutoregressiveDensity, ContinuousModel
from ar_keras.distributions import GaussianMixture
from ar_keras.layers import masking
from ar_keras.models.registry import register

__all__ = ["RNADE", "add_nade_mixture_weights"]


def add_nade_mixture_weights(layer, D, H, P):
    """``(W [D, H], c [H], rho [D], V [D, H, P], b [D, P])``, RNADE's parameters, added to
    ``layer``: the shared input matrix and bias, the per-step rescaling, and the per-step
    hidden-to-mixture weights and biases (``P`` mixture parameters per step)."""
    w = layer.add_weight(
        name="w", shape=(D, H), initializer=keras.initializers.RandomNormal(stddev=1.0 / np.sqrt(max(D, 1)))
    )
    c = layer.add_weight(name="c", shape=(H,), initializer="zeros")
    rho = layer.add_weight(name="rho", shape=(D,), initializer="ones")
    v = layer.add_weight(
        name="v",
        shape=(D, H, P),
        initializer=keras.initializers.VarianceScaling(
            scale=0.1, mode="fan_in", distribution="truncated_normal"
        ),
    )
    b = layer.add_weight(name="b", shape=(D, P), initializer=keras.initializers.RandomNormal(stddev=0.5))
    return w, c, rho, v, b


@register("rnade")
class RNADE(AutoregressiveDensity, ContinuousModel):
    """RNADE with mixture-of-Gaussian conditionals.

    Args:
        event_size: D.
        hidden_dim: H, the width of the shared hidden layer.
        num_mixtures: C, the Gaussian components of each conditional's mixture.
        activation: hidden activation (the paper: sigmoid; ReLU in its
            deep/order-agnostic follow-ups).
        ordering: ``"natural"``, ``"reversed"``, ``"random"`` or a permutation
            (``ordering[t]`` = dimension at step t).
        log_scale_bound: soft clamp of the component log-scales.
        num_classes: class conditioning (a learned hidden bias per class).
        seed: seed of ``ordering="random"``.
    """

    noise_depth = 2

    def __init__(
        self,
        event_size=2,
        hidden_dim=50,
        num_mixtures=5,
        activation="relu",
        ordering="natural",
        log_scale_bound=7.0,
        num_classes=None,
        seed=0,
        **kwargs,
    ):
        super().__init__(event_size, num_classes=num_classes, **kwargs)
        self.hidden_dim = int(hidden_dim)
        self.num_mixtures = int(num_mixtures)
        self.activation_name = activation
        self.activation = keras.activations.get(activation)
        self.ordering_spec = ordering if isinstance(ordering, str) else [int(o) for o in ordering]
        self.log_scale_bound = None if log_scale_bound is None else float(log_scale_bound)
        self.seed = int(seed)
        D, H = self.event_size, self.hidden_dim
        self.head = GaussianMixture(self.num_mixtures, self.log_scale_bound)
        P = self.head.num_params
        degrees = masking.input_ordering(D, self.ordering_spec, seed=self.seed)
        self._order = np.argsort(degrees, kind="stable")  # step -> dimension
        # Weights are stored in *step* order: row t belongs to dimension order[t].
        self.w, self.c, self.rho, self.v, self.b = add_nade_mixture_weights(self, D, H, P)
        self.class_bias = (
            keras.layers.Embedding(self.num_classes, H, name="class_bias") if self.num_classes else None
        )
        if self.class_bias is not None:
            self.class_bias.build((None,))
        self._finish_init()

    @property
    def ordering(self):
        return self._order

    def _initial(self, batch, c):
        """``a_1 = c (+ class bias)``: ``[B, H]``."""
        a = tf.broadcast_to(self.c, [batch, self.hidden_dim])
        if self.class_bias is not None:
            a = a + self.class_bias(c)
        return a

    def _pre_activations(self, x_steps, c):
        """``x`` in step order ``[B, D]`` -> ``a_t`` for every step ``[B, D, H]``.

        ``a_t = ((a_1 + x_0 W_0) + x_1 W_1) + ...``: a cumulative sum whose
        first term is ``a_1``, so the association matches the cached sampler.
        """
        batch = tf.shape(x_steps)[0]
        a1 = self._initial(batch, c)[:, None, :]  # [B, 1, H]
        contributions = x_steps[:, :-1, None] * self.w[None, :-1, :]  # [B, D-1, H]
        return tf.cumsum(tf.concat([a1, contributions], axis=1), axis=1)  # [B, D, H]

    def _params(self, a):
        """``a [B, D, H]`` -> head parameters ``[B, D, 3C]``."""
        h = self.activation(self.rho[None, :, None] * a)
        return tf.einsum("bth,thp->btp", h, self.v) + self.b[None]

    def _step_params(self, a_t, t):
        """One step: ``a_t [n, H]`` -> ``[n, 3C]`` (the sampler's op for both paths)."""
        h = self.activation(self.rho[t] * a_t)
        return tf.matmul(h, self.v[t]) + self.b[t]

    def _conditional_log_probs(self, x, c):
        x_steps = tf.gather(x, self._order, axis=1)  # [B, D] in step order
        lp = self.head.log_prob(self._params(self._pre_activations(x_steps, c)), x_steps)
        return tf.gather(lp, np.argsort(self._order), axis=1)  # step order -> data order

    def _log_prob(self, x, c, training=False):
        return tf.reduce_sum(self._conditional_log_probs(x, c), axis=1)

    # ----------------------------------------------------------------- sampling
    # `AutoregressiveDensity`: `ar_keras.core.sampler.run` draws step t from
    # ``element_params`` (full recompute) or ``step`` (the running ``a_t``).
    def element_params(self, x, conditional=None):
        """``x [n, D]`` -> ``[n, D, 3C]``, data order: every ``a_t`` recomputed (O(D^2 H) a sample)."""
        x_steps = tf.gather(x, self._order, axis=1)  # [n, D] in step order
        params = self._params(self._pre_activations(x_steps, conditional))  # [n, D, 3C] step order
        return tf.gather(params, np.argsort(self._order), axis=1)  # step order -> data order

    def init_cache(self, batch, conditional=None):
        return self._initial(batch, conditional)  # a_1 [n, H]

    def step(self, x, a, index, conditional=None):
        """Adds the dimension drawn at step ``index - 1`` to ``a``: O(H), then step ``index``'s params."""
        previous = tf.maximum(index - 1, 0)
        value = tf.gather(x, tf.gather(self._order, previous), axis=1)  # x_{o(t-1)} [n]
        a = tf.where(index > 0, a + value[:, None] * tf.gather(self.w, previous), a)
        return self._step_params(a, index), a
