"""Property checks for the continuous density models (maf, iaf, rnade): the
continuous counterparts of test_case.py's discrete checks.

* normalisation: ``exp(log_prob)`` integrates to 1 over a fine 2-d grid;
* samples agree with ``log_prob``: a 2-d histogram of many samples against
  the density integrated over the same cells (total variation), and moments;
* exact conditionals: they sum to ``log_prob``, respect the ordering
  (causality) and each is a normalised 1-d density;
* seeded, prefix-stable sampling, ``cache=True == cache=False``;
* ``.keras`` round trip; one fit step changes every trainable weight;
  every variable the loss touches is a tracked Keras 3 weight;
* MirroredStrategy on two logical CPUs == single device.
"""

import keras
import numpy as np
import tensorflow as tf
import test_case as tc


def grid(lim, n):
    """Cell centres ``[n*n, 2]`` of an n x n grid on ``[-lim, lim]^2`` and the cell area."""
    edges = np.linspace(-lim, lim, n + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    xx, yy = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32), (edges[1] - edges[0]) ** 2


def perturb(model, scale=0.3, seed=0):
    """Adds fixed noise to every trainable weight so that the law is far from the init's."""
    rng = np.random.RandomState(seed)
    for w in model.trainable_weights:
        w.assign(w.numpy() + scale * rng.standard_normal(w.shape).astype(np.float32))


def labels(model, n, value=None, seed=0):
    if model.num_classes is None:
        return None
    if value is not None:
        return np.full(n, value, np.int32)
    return np.random.RandomState(seed).randint(0, model.num_classes, n).astype(np.int32)


def density_on_grid(model, lim, n, conditional=None):
    pts, area = grid(lim, n)
    c = None if conditional is None else np.full(len(pts), conditional, np.int32)
    return pts, area, np.exp(model.log_prob(pts, c).numpy().astype(np.float64))


def check_integrates_to_one(model, lim=8.0, n=320, atol=0.02, conditional=None):
    _, area, p = density_on_grid(model, lim, n, conditional)
    total = p.sum() * area
    assert abs(total - 1.0) < atol, f"density integrates to {total} over [-{lim}, {lim}]^2"
    return total


def check_samples_match_density(model, lim=6.0, bins=12, num_samples=4000, seed=0, max_tv=0.06):
    """Histogram of samples vs the density's cell masses (fine grid), in total variation."""
    fine = 8  # density points per cell side
    pts, area, p = density_on_grid(model, lim, bins * fine)
    cell = (p * area).reshape(bins, fine, bins, fine).sum(axis=(1, 3))  # [bins*f, bins*f] -> [bins, bins]
    x = model.sample(num_samples, seed=seed).numpy()
    assert x.dtype == np.float32 and x.shape == (num_samples, model.event_size)
    hist, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=bins, range=[[-lim, lim], [-lim, lim]])
    freq = hist / num_samples
    outside_model, outside_samples = 1.0 - cell.sum(), 1.0 - freq.sum()
    tv = 0.5 * (np.abs(freq - cell).sum() + abs(outside_model - outside_samples))
    uniform_tv = 0.5 * np.abs(cell - cell.sum() / cell.size).sum()
    assert uniform_tv > 2 * max_tv, f"density too flat ({uniform_tv}) for a meaningful check"
    assert tv < max_tv, f"sample histogram is {tv:.3f} from the density in total variation"
    # First moments against the density's, both over the grid's window: E[x 1{x in window}]
    # (heavy-tailed mixtures put a few percent of their mass outside it).
    mean = (p[:, None] * pts).sum(0) * area
    inside = np.all(np.abs(x) <= lim, axis=1)
    np.testing.assert_allclose(x[inside].sum(0) / num_samples, mean, atol=0.15)
    return tv


def check_exact_conditionals(model, seed=0, lim=40.0, n=8000):
    """Conditionals sum to log_prob, respect the ordering, and are normalised in 1-d."""
    rng = np.random.RandomState(seed)
    D = model.event_size
    x = rng.standard_normal((4, D)).astype(np.float32)
    c = labels(model, 4)
    clp = model.conditional_log_probs(x, c).numpy()
    assert clp.shape == (4, D)
    np.testing.assert_allclose(clp.sum(1), model.log_prob(x, c).numpy(), rtol=1e-5, atol=1e-4)
    order = np.asarray(model.ordering)
    rank = np.empty(D, np.int64)
    rank[order] = np.arange(D)
    for j in range(D):
        changed = x.copy()
        changed[:, j] += 0.7
        diff = np.abs(model.conditional_log_probs(changed, c).numpy() - clp)
        earlier = rank < rank[j]
        assert np.all(diff[:, earlier] < 1e-5), f"changing dim {j} changed earlier conditionals"
        assert np.all(diff[:, j] > 1e-6), f"changing dim {j} left its own conditional unchanged"
    # The last dimension's conditional, as a function of its value, integrates to 1.
    last = order[-1]
    values = np.linspace(-lim, lim, n).astype(np.float32)
    probe = np.repeat(x[:1], n, axis=0)
    probe[:, last] = values
    cc = None if c is None else np.repeat(c[:1], n)
    dens = np.exp(model.conditional_log_probs(probe, cc).numpy()[:, last].astype(np.float64))
    total = dens.sum() * (values[1] - values[0])
    assert abs(total - 1.0) < 0.01, f"conditional of dim {last} integrates to {total}"


def check_sampling_determinism(model, seed=7):
    c = labels(model, 6)
    a = tc.sample_on_path(model, True, num_samples=6, conditional=c, seed=seed).numpy()
    np.testing.assert_array_equal(a, model.sample(6, conditional=c, seed=seed).numpy())
    np.testing.assert_array_equal(
        a, tc.sample_on_path(model, False, num_samples=6, conditional=c, seed=seed).numpy()
    )
    assert not np.allclose(a, model.sample(6, conditional=c, seed=seed + 1).numpy())
    fewer = model.sample(2, conditional=None if c is None else c[:2], seed=seed).numpy()
    np.testing.assert_allclose(fewer, a[:2], rtol=1e-5, atol=1e-5)  # sample i keyed (seed, i)
    cold = model.sample(400, conditional=labels(model, 400), seed=1, temperature=0.1).numpy()
    warm = model.sample(400, conditional=labels(model, 400), seed=1).numpy()
    assert cold.std(0).max() < warm.std(0).max()


def check_serialization(model, path):
    x = np.random.RandomState(0).standard_normal((4, model.event_size)).astype(np.float32)
    c = labels(model, 4)
    tc.check_serialization(
        model, path, x, c, sample=dict(num_samples=3, conditional=None if c is None else c[:3], seed=2)
    )


def dataset(model, batch, seed=0, x=None):
    rng = np.random.RandomState(seed)
    x = rng.standard_normal((batch, model.event_size)).astype(np.float32) if x is None else x
    c = labels(model, len(x), seed=seed)
    return tf.data.Dataset.from_tensor_slices(x if c is None else (x, c)).batch(len(x))


def check_fit_changes_every_weight(model, batch=8, x=None):
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(dataset(model, batch, x=x), epochs=1, verbose=0)
    nll = history.history["loss"][0]
    assert np.isfinite(nll)
    np.testing.assert_allclose(
        history.history["bits_per_dim"][0], nll / (model.event_size * np.log(2.0)), rtol=1e-4, atol=1e-6
    )
    unchanged = [w.path for w, b in zip(model.trainable_weights, before) if np.array_equal(w.numpy(), b)]
    assert not unchanged, f"weights not updated by a fit step: {unchanged}"


def check_weights_tracked(model, x):
    """Every variable the loss touches is one of the model's Keras 3 weights, and vice versa."""
    backing = {id(getattr(w, "value", w)) for w in model.trainable_weights}
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(x, labels(model, len(x))))
    watched = tape.watched_variables()
    assert watched and loss.dtype == tf.float32
    stray = [v.name for v in watched if id(v) not in backing]
    assert not stray, f"variables outside the Keras model: {stray}"
    grads = tape.gradient(loss, watched)
    assert len(watched) == len(model.trainable_weights)
    assert all(g is not None for g in grads)


def check_mirrored_equals_single(build, batch=8, x=None):
    single = build()
    init = [w.numpy() for w in single.weights]
    single.compile(optimizer=keras.optimizers.SGD(0.1))
    single.fit(dataset(single, batch, x=x), epochs=1, verbose=0)
    with tc.mirrored_strategy().scope():
        mirrored = build()
        for w, v in zip(mirrored.weights, init):
            w.assign(v)
        mirrored.compile(optimizer=keras.optimizers.SGD(0.1))
    mirrored.fit(dataset(mirrored, batch, x=x), epochs=1, verbose=0)
    moved = False
    for a, b, v in zip(single.weights, mirrored.weights, init):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
        moved |= not np.allclose(a.numpy(), v)
    assert moved
