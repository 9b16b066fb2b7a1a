"""Property checks for sequence models (data int ``[B, T]``, any T): the sequence
counterparts of test_case.py's image checks (docs/architecture.md, section 8).

1. causality in time (and, given a receptive field r, dependence on exactly
   the r previous elements);
2. normalisation by enumeration of every sequence of a short length;
3. sample frequencies agree with exp(log_prob);
4. cache == recompute for a seed, seeded determinism, prefix stability in n.

The training checks (round trip, fit step, MirroredStrategy) are tests/contract.py's.

Conditional models get random labels and/or local features through the
model.s ``make_conditional`` (labels ``[B]`` if ``num_classes``, features
``[B, T / hop, E]`` if ``local_channels``).
"""

import itertools

import numpy as np
import tensorflow as tf
import test_case as tc


def configurations(length, num_levels):
    """Every sequence of ``length`` values in ``[0, K)``: int32 ``[K^T, T]``."""
    return np.array(list(itertools.product(range(num_levels), repeat=length)), np.int32)


def random_sequences(model, batch, length, seed=0):
    return np.random.RandomState(seed).randint(0, model.num_levels, (batch, length)).astype(np.int32)


def conditional_for(model, batch, length, seed=0, rows=None):
    """Random conditioning for ``batch`` sequences (or ``rows`` repeated to fill it)."""
    if rows is not None:  # one conditioning for every row: draw one, repeat it
        batch = 1
    rng = np.random.RandomState(seed + 1)
    labels = features = None
    if model.num_classes is not None:
        labels = rng.randint(0, model.num_classes, batch).astype(np.int32)
    local = getattr(model, "local_channels", None)
    if local:
        features = rng.normal(size=(batch, length // model.local_hop, local)).astype(np.float32)
    if labels is None and features is None:
        return None
    if rows is not None:
        labels = None if labels is None else np.repeat(labels[:1], rows)
        features = None if features is None else np.repeat(features[:1], rows, axis=0)
    return model.make_conditional({"conditional": labels, "features": features})


def take(conditional, index):
    """Rows ``index`` of a conditional (None, an array or a dict of arrays)."""
    if conditional is None:
        return None
    if isinstance(conditional, dict):
        return {k: np.asarray(v)[index] for k, v in conditional.items()}
    return np.asarray(conditional)[index]


def check_causality(model, length=7, receptive_field=None, trials=4, seed=0):
    """Changing x_j never changes log p(x_t | x_<t) for t < j, and changes the conditionals
    that depend on it: with a receptive field r every t in (j, j + r] and no t > j + r;
    without one (``receptive_field=None``: a recurrent state or attention over the whole
    past) every t > j."""
    T = length
    depends = np.zeros((T, T), bool)  # depends[t, j]: conditional t changed when x_j changed
    c1 = conditional_for(model, 1, T, seed)
    for trial in range(trials):
        x = random_sequences(model, 1, T, seed + trial)  # [1, T]
        changed = np.repeat(x, T, axis=0)  # row j changes x_j
        changed[np.arange(T), np.arange(T)] = (
            changed[np.arange(T), np.arange(T)] + 1 + trial
        ) % model.num_levels
        batch = np.concatenate([x, changed])  # [T + 1, T]
        c = None if c1 is None else take(c1, np.zeros(T + 1, int))
        clp = model.conditional_log_probs(batch, c).numpy()
        diff = np.abs(clp[1:] - clp[:1])  # [j, t]
        for j in range(T):
            # Conditional j scores x_j itself: it changes; those before it must not.
            assert np.all(diff[j, :j] < 1e-6), (
                f"changing x_{j} changed conditionals at t < {j}: "
                f"{np.flatnonzero(diff[j, :j] >= 1e-6).tolist()}"
            )
        depends |= (diff > 1e-7).T
    r = T if receptive_field is None else receptive_field
    for t in range(T):
        for j in range(T):
            if t == j:
                continue  # conditional t scores x_t itself
            expected = j < t <= j + r
            if receptive_field is None and not expected:
                continue  # t < j: asserted above (exact zero); no receptive field to end at
            assert depends[t, j] == expected, (
                f"x_{t}'s conditional {'ignores' if expected else 'depends on'} x_{j} "
                f"(receptive field {receptive_field or 'the whole past'})"
            )


def check_normalization(model, length=4, atol=2e-4, seed=0):
    """``sum_x exp(log_prob(x)) == 1`` over every sequence of ``length``."""
    configs = configurations(length, model.num_levels)
    c = conditional_for(model, len(configs), length, seed, rows=len(configs))
    total = float(np.exp(model.log_prob(configs, c).numpy().astype(np.float64)).sum())
    assert abs(total - 1.0) < atol, f"probabilities sum to {total}"
    return total


def check_samples_match_log_prob(model, length=3, num_samples=6000, seed=0, max_tv=0.05):
    configs = configurations(length, model.num_levels)
    c = conditional_for(model, len(configs), length, seed, rows=len(configs))
    probs = np.exp(model.log_prob(configs, c).numpy().astype(np.float64))
    cs = conditional_for(model, num_samples, length, seed, rows=num_samples)
    samples = model.sample(num_samples, conditional=cs, seed=seed, length=length).numpy()
    return tc.check_frequencies(samples, probs, model.num_levels, max_tv)


def check_cache_equals_recompute(model, length=24, num_samples=5, seed=7):
    c = conditional_for(model, num_samples, length)
    kwargs = dict(num_samples=num_samples, conditional=c, seed=seed, length=length)
    cached = tc.sample_on_path(model, True, **kwargs).numpy()
    full = tc.sample_on_path(model, False, **kwargs).numpy()
    np.testing.assert_array_equal(cached, full)
    np.testing.assert_array_equal(
        cached, model.sample(num_samples, conditional=c, seed=seed, length=length).numpy()
    )
    other = model.sample(num_samples, conditional=c, seed=seed + 1, length=length).numpy()
    assert not np.array_equal(cached, other), "different seeds gave the same samples"
    fewer = model.sample(2, conditional=take(c, slice(0, 2)), seed=seed, length=length).numpy()
    np.testing.assert_array_equal(fewer, cached[:2])
    assert cached.dtype == np.int32 and cached.shape == (num_samples, length)
    assert cached.min() >= 0 and cached.max() < model.num_levels
    return cached


def dataset(model, batch, length, seed=0):
    x = random_sequences(model, batch, length, seed)
    c = conditional_for(model, batch, length, seed)
    return tf.data.Dataset.from_tensor_slices(x if c is None else (x, c)).batch(batch)
