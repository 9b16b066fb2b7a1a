"""Dual softmax head: a level v = c Kf + f as a coarse and a fine softmax (WaveRNN).

Kalchbrenner, Elsen, Simonyan, Noury, Casagrande, Lockhart, Stimberg, van den
Oord, Dieleman & Kavukcuoglu, "Efficient Neural Audio Synthesis", ICML 2018,
sec. 3.1: a 16-bit sample is split into its coarse (high) and fine (low)
bytes, ``v = c * Kf + f`` with ``Kc = Kf = 256``, and::

    P(v | past) = P(c | past) * P(f | c, past)
    log P(v)    = log_softmax(l_c)[c] + log_softmax(l_f)[f]

where ``l_c [Kc]`` are the coarse logits (they must not depend on c) and
``l_f [Kf]`` the fine logits computed **given the same c** (teacher forcing:
the network reads the current coarse value).  Two softmaxes of 256 replace
one of 65,536.

Levels that do not fill the grid: with ``K < Kc Kf`` (e.g. K = 5 as 3 x 2)
the joint values ``v >= K`` are masked out, coarse levels with no valid value
get probability 0 and ``P(f | c)`` puts no mass on ``c Kf + f >= K``, so
``sum_{v < K} P(v) = 1`` exactly.  With ``K = Kc Kf`` nothing is masked.

The params of one element are ``[Kc + Kf]`` floats: ``[l_c, l_f]``.  Sampling
is two-stage: `sample_coarse` draws c from ``l_c`` with the first ``Kc``
uniforms of the element's noise, the model then computes ``l_f`` for that c
and `sample_fine` draws f with the last ``Kf`` uniforms (Gumbel-max, like
`Categorical`).  `sample(params, noise)` draws both from params that already
hold the fine logits of the c it draws (i.e. the params the model's step
returns after its second stage).

Example:
    >>> head = DualSoftmax(num_levels=16)                # 4 x 4
    >>> params = tf.zeros([2, 3, 8])                     # [B, T, Kc + Kf]
    >>> head.log_prob(params, tf.zeros([2, 3], tf.int32)).shape
    TensorShape([2, 3])
"""

import math

import tensorflow as tf

from ar_keras.distributions.categorical import gumbel_max

__all__ = ["DualSoftmax", "split_levels"]

_MASKED = -1e9


def split_levels(num_levels, coarse_levels=None):
    """``K`` -> ``(Kc, Kf)`` with ``Kc Kf >= K``, or a `ValueError`.

    ``coarse_levels=None``: K must be a perfect square, ``Kc = Kf = sqrt(K)``
    (the paper's 65,536 = 256 x 256).  ``"ceil"``: ``Kc = ceil(sqrt K)``,
    ``Kf = ceil(K / Kc)`` (any K >= 2; non-squares masked).  An int: that Kc,
    ``Kf = ceil(K / Kc)``.
    """
    K = int(num_levels)
    if coarse_levels is None:
        root = math.isqrt(K)
        if root * root != K or root < 2:
            raise ValueError(
                f"num_levels={K} does not split into coarse x fine levels: the dual softmax needs "
                "a perfect square (65,536 = 256 x 256 for 16-bit audio, 256 = 16 x 16, 16 = 4 x 4, "
                "4 = 2 x 2), or pass coarse_levels=Kc (or 'ceil') to mask the levels beyond K."
            )
        return root, root
    if coarse_levels == "ceil":
        coarse = math.isqrt(K - 1) + 1 if K > 1 else 1
    elif isinstance(coarse_levels, bool) or not isinstance(coarse_levels, int):
        raise ValueError(f"coarse_levels must be None, 'ceil' or an int, got {coarse_levels!r}.")
    else:
        coarse = int(coarse_levels)
    if coarse < 1 or coarse > K:
        raise ValueError(f"coarse_levels must be in [1, num_levels={K}], got {coarse}.")
    fine = -(-K // coarse)
    if (coarse - 1) * fine >= K:
        raise ValueError(
            f"num_levels={K} does not split into {coarse} coarse levels of {fine} "
            f"fine levels: coarse level {coarse - 1} would be empty."
        )
    return coarse, fine


class DualSoftmax:
    """``P(c) P(f | c)`` over ``v = c Kf + f < K`` (module docstring).

    Args:
        num_levels: K.
        coarse_levels: see `split_levels` (None: K a perfect square).

    Attributes:
        num_params: ``Kc + Kf``; noise_depth: ``Kc + Kf`` uniforms per element.
    """

    def __init__(self, num_levels, coarse_levels=None):
        self.num_levels = int(num_levels)
        self.coarse_levels_arg = coarse_levels
        self.num_coarse, self.num_fine = split_levels(num_levels, coarse_levels)
        self.num_params = self.num_coarse + self.num_fine
        self.noise_depth = self.num_coarse + self.num_fine
        self.sample_dtype = tf.int32
        self.truncatable = True  # `sample` takes a top-k / top-p truncation
        self.full_grid = self.num_coarse * self.num_fine == self.num_levels

    # ------------------------------------------------------------------ levels
    def split(self, v):
        """``v`` int -> ``(c, f)``: ``c = v // Kf``, ``f = v % Kf``."""
        v = tf.cast(v, tf.int32)
        return v // self.num_fine, v % self.num_fine

    def join(self, c, f):
        return tf.cast(c, tf.int32) * self.num_fine + tf.cast(f, tf.int32)

    def _coarse_logits(self, params):
        logits = tf.cast(params[..., : self.num_coarse], tf.float32)
        if self.full_grid:
            return logits
        valid = tf.range(self.num_coarse) * self.num_fine < self.num_levels  # [Kc]
        return tf.where(valid, logits, _MASKED)

    def _fine_logits(self, params, c):
        logits = tf.cast(params[..., self.num_coarse :], tf.float32)
        if self.full_grid:
            return logits
        v = tf.expand_dims(tf.cast(c, tf.int32), -1) * self.num_fine + tf.range(self.num_fine)  # [..., Kf]
        return tf.where(v < self.num_levels, logits, _MASKED)

    # ----------------------------------------------------------------- density
    def coarse_log_probs(self, params):
        """``log P(c | past)`` for every c: ``[..., Kc]``."""
        return tf.nn.log_softmax(self._coarse_logits(params), axis=-1)

    def fine_log_probs(self, params, c):
        """``log P(f | c, past)`` for every f: ``[..., Kf]`` (params computed for this c)."""
        return tf.nn.log_softmax(self._fine_logits(params, c), axis=-1)

    def log_prob(self, params, x):
        """``log P(c) + log P(f | c)`` in float32, ``x``'s shape; params ``[..., Kc + Kf]``."""
        c, f = self.split(x)
        # One-hot sums rather than gathers: the same ops as Categorical, which TFLite lowers.
        lc = tf.reduce_sum(self.coarse_log_probs(params) * tf.one_hot(c, self.num_coarse), -1)
        lf = tf.reduce_sum(self.fine_log_probs(params, c) * tf.one_hot(f, self.num_fine), -1)
        return lc + lf

    # ---------------------------------------------------------------- sampling
    def sample_coarse(self, params, noise, temperature=1.0, truncation=None):
        """c from ``params[..., :Kc]`` and ``noise[..., :Kc]``: int32 ``[...]`` (``truncation``:
        a top-k / top-p `Truncation` of the coarse softmax)."""
        return gumbel_max(self._coarse_logits(params), noise[..., : self.num_coarse], temperature, truncation)

    def sample_fine(self, params, c, noise, temperature=1.0, truncation=None):
        """f from ``params[..., Kc:]`` (computed for c) and ``noise[..., Kc:]`` (``truncation``
        of the fine softmax given c)."""
        return gumbel_max(
            self._fine_logits(params, c), noise[..., self.num_coarse :], temperature, truncation
        )

    def sample(self, params, noise, temperature=1.0, truncation=None):
        """``v = c Kf + f`` from params whose fine logits belong to the c drawn here; a
        ``truncation`` applies to the coarse and to the fine softmax."""
        c = self.sample_coarse(params, noise, temperature, truncation)
        return self.join(c, self.sample_fine(params, c, noise, temperature, truncation))

    def sample_staged(self, params, noise, temperature, refine, truncation=None):
        """Coarse then fine: the sampler's draw (`SamplingProtocol.draw_group`) of a model whose
        fine logits read the current coarse value.

        c is drawn from ``params`` (computed with c unknown: its coarse logits do not read it),
        then f from ``refine(join(c, 0))``, the parameters recomputed with c written in.

        Args:
            params: ``[n, G, Kc + Kf]``; noise: ``[n, G, Kc + Kf]`` uniforms.
            temperature: scalar > 0.
            refine: ``values [n, G] -> params [n, G, Kc + Kf]``.
            truncation: None, or a `Truncation` of the coarse and of the fine softmax.

        Returns:
            int32 ``[n, G]`` levels.
        """
        c = self.sample_coarse(params, noise, temperature, truncation)  # [n, G]
        fine_params = refine(self.join(c, tf.zeros_like(c)))  # [n, G, Kc + Kf], given c
        return self.join(c, self.sample_fine(fine_params, c, noise, temperature, truncation))

    def get_config(self):
        return {"num_levels": self.num_levels, "coarse_levels": self.coarse_levels_arg}
