"""Top-k and top-p: the kept sets by enumeration, and every discrete head's draws inside them.

`Truncation.kept` is checked against a NumPy reference written from the definitions (the k
most probable levels; the smallest set of most probable levels with mass >= p, after top-k),
and each discrete head's ``sample`` over many noise draws: no value outside the kept set of
its tempered conditional, every kept level drawn, and a truncation that keeps every level
giving the untruncated draw bit for bit.
"""

import numpy as np
import pytest
import tensorflow as tf

from ar_keras.distributions import (
    Bernoulli,
    Categorical,
    DiscretizedLogisticMixture,
    DualSoftmax,
    SigmoidCrossEntropy,
)
from ar_keras.distributions.truncation import Truncation, truncation


def reference_kept(logits, top_k=None, top_p=None):
    """The kept levels of each row of ``logits [N, K]``, from the definitions (no ties)."""
    keep = np.ones(logits.shape, bool)
    for i, row in enumerate(logits):
        order = np.argsort(-row)
        if top_k is not None:
            keep[i, order[top_k:]] = False
        if top_p is not None:
            p = np.exp(row - row.max()) * keep[i]
            p /= p.sum()
            mass = 0.0
            for j in order:
                if not keep[i, j]:
                    continue
                if mass >= top_p:
                    keep[i, j] = False
                mass += p[j]
    return keep


@pytest.mark.parametrize("top_k", [None, 1, 2, 5, 6, 9])
@pytest.mark.parametrize("top_p", [None, 0.05, 0.5, 0.9, 1.0])
def test_kept_sets_match_the_definitions(top_k, top_p):
    logits = np.random.RandomState(0).normal(scale=2.0, size=(300, 6)).astype(np.float32)
    t = truncation(top_k, top_p)
    if t is None:
        return
    got = t.kept(logits).numpy()
    np.testing.assert_array_equal(got, reference_kept(logits.astype(np.float64), top_k, top_p))
    assert got.any(axis=1).all()  # never empty: the most probable level is always kept


def test_ties_at_the_boundary_are_kept():
    logits = np.log(np.array([[0.4, 0.4, 0.2], [0.25, 0.25, 0.5]], np.float32))
    assert truncation(top_k=1).kept(logits).numpy().tolist() == [[True, True, False], [False, False, True]]
    assert truncation(top_p=0.3).kept(logits).numpy().tolist() == [[True, True, False], [False, False, True]]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"top_k": 0}, "top_k must be an int >= 1"),
        ({"top_k": 2.5}, "top_k must be an int >= 1"),
        ({"top_k": True}, "top_k must be an int >= 1"),
        ({"top_p": 0.0}, r"top_p must be a number in \(0, 1\]"),
        ({"top_p": 1.5}, r"top_p must be a number in \(0, 1\]"),
        ({"top_p": float("nan")}, r"top_p must be a number in \(0, 1\]"),
        ({"top_p": "0.9"}, r"top_p must be a number in \(0, 1\]"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        truncation(**kwargs)


# ------------------------------------------------------------------- the heads' draws
def _categorical_levels(head, params, temperature):
    """The tempered level logits of a head whose ``sample`` is a Gumbel-max over levels."""
    if isinstance(head, DiscretizedLogisticMixture):
        return head.level_log_probs(params) / temperature
    return tf.cast(params, tf.float32) / temperature


HEADS = {
    "categorical": (Categorical(5), 5),
    "logistic_mixture": (DiscretizedLogisticMixture(num_levels=6, num_mixtures=2), 6),
}


@pytest.mark.parametrize("name", sorted(HEADS))
@pytest.mark.parametrize("t", [Truncation(top_k=2), Truncation(top_p=0.6), Truncation(3, 0.7)])
def test_level_heads_draw_inside_the_kept_set(name, t):
    head, K = HEADS[name]
    rng = np.random.RandomState(1)
    params = tf.constant(rng.normal(scale=1.5, size=(4, head.num_params)), tf.float32)
    n, temperature = 4000, 0.7
    p = tf.repeat(params, n // 4, axis=0)  # [n, P]
    u = tf.constant(rng.uniform(1e-6, 1 - 1e-6, size=(n, head.noise_depth)), tf.float32)
    draws = head.sample(p, u, temperature, truncation=t).numpy()  # [n]
    kept = t.kept(_categorical_levels(head, p, temperature)).numpy()  # [n, K]
    assert kept[np.arange(n), draws].all(), "a draw fell outside the kept set"
    for row in range(4):  # and every kept level is drawn
        rows = slice(row * (n // 4), (row + 1) * (n // 4))
        assert set(np.unique(draws[rows])) == set(np.flatnonzero(kept[rows.start]))
    everything = Truncation(top_k=K, top_p=1.0)
    np.testing.assert_array_equal(
        head.sample(p, u, temperature, truncation=everything).numpy(), head.sample(p, u, temperature).numpy()
    )


@pytest.mark.parametrize("head, upper", [(Bernoulli(), 1), (SigmoidCrossEntropy(num_levels=4), 3)])
def test_binary_heads_draw_the_more_probable_value_when_the_other_is_cut(head, upper):
    rng = np.random.RandomState(2)
    n = 2000
    logit = tf.constant(np.repeat([[-1.0], [0.4], [2.0]], n, axis=0), tf.float32)  # p1 0.27, 0.6, 0.88
    u = tf.constant(rng.uniform(1e-6, 1 - 1e-6, size=(3 * n, 1)), tf.float32)
    plain = head.sample(logit, u).numpy().reshape(3, n)
    assert all(len(np.unique(r)) == 2 for r in plain)
    greedy = head.sample(logit, u, truncation=Truncation(top_k=1)).numpy().reshape(3, n)
    assert greedy.tolist() == [[0] * n, [upper] * n, [upper] * n]
    nucleus = head.sample(logit, u, truncation=Truncation(top_p=0.7)).numpy().reshape(3, n)
    np.testing.assert_array_equal(nucleus[0], 0)  # p(0) = 0.73 >= 0.7: only 0 kept
    np.testing.assert_array_equal(nucleus[1], plain[1])  # p(1) = 0.6 < 0.7: both kept
    np.testing.assert_array_equal(nucleus[2], upper)
    np.testing.assert_array_equal(
        head.sample(logit, u, truncation=Truncation(top_k=2)).numpy(), plain.ravel()
    )


def test_dual_softmax_truncates_coarse_and_fine():
    head = DualSoftmax(num_levels=64)  # 8 coarse x 8 fine
    rng = np.random.RandomState(3)
    n, t = 3000, Truncation(top_k=2)
    params = tf.constant(np.repeat(rng.normal(scale=2.0, size=(1, head.num_params)), n, 0), tf.float32)
    u = tf.constant(rng.uniform(1e-6, 1 - 1e-6, size=(n, head.noise_depth)), tf.float32)
    v = head.sample(params, u, truncation=t)
    c, f = v // head.num_fine, v % head.num_fine
    coarse_kept = t.kept(head._coarse_logits(params)).numpy()
    fine_kept = t.kept(head._fine_logits(params, c)).numpy()
    assert coarse_kept[np.arange(n), c.numpy()].all() and fine_kept[np.arange(n), f.numpy()].all()
    assert len(np.unique(c.numpy())) == 2
