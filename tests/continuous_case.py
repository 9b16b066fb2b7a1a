"""Property checks for the continuous density models (maf, iaf, rnade): the
continuous counterparts of test_case.py's discrete checks.

* normalisation: ``exp(log_prob)`` integrates to 1 over a fine 2-d grid;
* samples agree with ``log_prob``: a 2-d histogram of many samples against
  the density integrated over the same cells (total variation), and moments;
* exact conditionals: they sum to ``log_prob``, respect the ordering
  (causality) and each is a normalised 1-d density;
* seeded, prefix-stable sampling, ``cache=True == cache=False``;
* (the training checks every model is held to: tests/contract.py).
"""

import numpy as np
import test_case as tc
from contract import perturb  # noqa: F401  (the kinds' modules perturb as cc.perturb)


def grid(lim, n):
    """Cell centres ``[n*n, 2]`` of an n x n grid on ``[-lim, lim]^2`` and the cell area."""
    edges = np.linspace(-lim, lim, n + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    xx, yy = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32), (edges[1] - edges[0]) ** 2


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
