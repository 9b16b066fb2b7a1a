"""Truncated sampling: top-k and nucleus (top-p) draws from a discrete conditional.

Both act on the distribution after the temperature, ``p_k ∝ exp(l_k / T)``, and keep a
set of levels, renormalising over it (the draw is the Gumbel-max of the kept logits):

* top-k (Fan, Lewis & Dauphin, "Hierarchical Neural Story Generation", ACL 2018) keeps
  the ``k`` most probable levels: every level whose probability is at least the k-th
  largest (ties at the k-th value are all kept);
* top-p (Holtzman et al., "The Curious Case of Neural Text Degeneration", ICLR 2020)
  keeps the nucleus, the smallest set of most probable levels whose mass is at least
  ``p``: level k is kept when the levels more probable than it hold less than ``p``
  (ties at the boundary are all kept, so the most probable level always is).

With both, top-k comes first and top-p is taken on the renormalised top-k distribution.
A binary head truncates its two levels the same way: ``top_k=1`` (or a ``top_p`` below
the larger probability) draws the more probable value.

Example:
    >>> t = truncation(top_k=2)
    >>> t.kept(tf.math.log([[0.5, 0.1, 0.3, 0.1]])).numpy().tolist()
    [[True, False, True, False]]
    >>> truncation(top_p=0.85).kept(tf.math.log([[0.5, 0.1, 0.3, 0.1]])).numpy().tolist()
    [[True, True, True, True]]
    >>> truncation(top_p=0.75).kept(tf.math.log([[0.5, 0.1, 0.3, 0.1]])).numpy().tolist()
    [[True, False, True, False]]
    >>> truncation() is None
    True
"""

import dataclasses
import math
import numbers

import numpy as np
import tensorflow as tf

__all__ = ["Truncation", "truncation"]


@dataclasses.dataclass(frozen=True)
class Truncation:
    """Which levels of a discrete conditional a draw may take (module docstring)."""

    top_k: int = None
    top_p: float = None

    def kept(self, logits):
        """``logits [..., K]`` (after the temperature) -> bool ``[..., K]``: the kept levels."""
        logits = tf.cast(logits, tf.float32)
        keep = tf.ones_like(logits, tf.bool)
        if self.top_k is not None and self.top_k < logits.shape[-1]:
            kth = tf.math.top_k(logits, self.top_k).values[..., -1:]  # [..., 1]
            keep = logits >= kth
        if self.top_p is not None and self.top_p < 1.0:
            log_p = tf.nn.log_softmax(tf.where(keep, logits, -np.inf), axis=-1)  # [..., K]
            ranked = tf.sort(log_p, axis=-1, direction="DESCENDING")  # [..., K]
            before = tf.math.cumsum(tf.exp(ranked), axis=-1, exclusive=True)  # mass above each
            last = tf.reduce_sum(tf.cast(before < self.top_p, tf.int32), axis=-1, keepdims=True)
            boundary = tf.gather(ranked, last - 1, batch_dims=ranked.shape.rank - 1)  # [..., 1]
            keep = tf.logical_and(keep, log_p >= boundary)
        return keep

    def apply(self, logits):
        """``logits [..., K]`` with ``-inf`` at the levels a draw may not take."""
        logits = tf.cast(logits, tf.float32)
        return tf.where(self.kept(logits), logits, tf.constant(-np.inf, tf.float32))

    def binary(self, logit, draw):
        """A binary head's draw ``draw [...]`` (bool, True: the upper level) from ``logit
        [...]`` (after the temperature), truncated: the more probable value where the other
        is not kept."""
        kept = self.kept(tf.stack([tf.zeros_like(logit), logit], axis=-1))  # [..., 2]
        return tf.where(kept[..., 0], tf.where(kept[..., 1], draw, False), True)


def truncation(top_k=None, top_p=None):
    """A checked `Truncation` (None when neither is given): ``top_k`` an int >= 1, ``top_p``
    a number in ``(0, 1]``."""
    if top_k is not None:
        if isinstance(top_k, bool | np.bool_) or not isinstance(top_k, numbers.Integral) or top_k < 1:
            raise ValueError(f"top_k must be an int >= 1 (the levels kept), got {top_k!r}.")
        top_k = int(top_k)
    if top_p is not None:
        if isinstance(top_p, bool | np.bool_) or not isinstance(top_p, numbers.Real):
            raise ValueError(f"top_p must be a number in (0, 1] (the mass kept), got {top_p!r}.")
        top_p = float(top_p)
        if not (math.isfinite(top_p) and 0.0 < top_p <= 1.0):
            raise ValueError(f"top_p must be a number in (0, 1] (the mass kept), got {top_p}.")
    if top_k is None and top_p is None:
        return None
    return Truncation(top_k, top_p)
