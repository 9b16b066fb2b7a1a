"""Property checks for density models of float trajectories ``[B, T, F]`` (event kind
``float_sequence``: `trajectory_rnade`), the counterpart of continuous_case.py's checks
for vectors, written for any T and F:

* exact conditionals ``[B, T, F]`` sum to ``log_prob``; causality in the row-major
  order ``(t, f)`` (changing one feature changes no earlier conditional, and changes
  its own);
* each conditional integrates to 1 (1-d quadrature over one element, the others
  fixed); the joint integrates to 1 on a grid (F = 1, T = 3: a 3-d grid);
* samples agree with ``log_prob``: 2-d histograms of pairs of consecutive frames
  against the grid density's marginals, in total variation;
* seeded sampling, ``cache=True == cache=False``, prefixes stable in ``n`` and ``T``.

The training checks (round trip, fit step, MirroredStrategy) are tests/contract.py's.
"""

import continuous_case as cc
import numpy as np
import test_case as tc


def random_data(model, batch, length, seed=0):
    return np.random.RandomState(seed).standard_normal((batch, length, model.num_features)).astype(np.float32)


def labels(model, n, seed=0):
    return cc.labels(model, n, seed=seed)


def check_exact_conditionals(model, length=5, seed=0):
    """Conditionals ``[B, T, F]`` sum to log_prob; element (t, f) changes no earlier one."""
    x = random_data(model, 3, length, seed)
    c = labels(model, 3)
    clp = model.conditional_log_probs(x, c).numpy()
    assert clp.shape == x.shape
    np.testing.assert_allclose(clp.sum((1, 2)), model.log_prob(x, c).numpy(), rtol=1e-5, atol=1e-4)
    F = model.num_features
    flat = clp.reshape(3, -1)  # [B, T, F] -> [B, T F]
    for d in range(length * F):
        changed = x.copy()
        changed[:, d // F, d % F] += 0.7
        diff = np.abs(model.conditional_log_probs(changed, c).numpy().reshape(3, -1) - flat)  # -> [B, T F]
        assert np.all(diff[:, :d] < 1e-5), f"changing element {d} changed earlier conditionals"
        assert np.all(diff[:, d] > 1e-6), f"changing element {d} left its own conditional unchanged"


def check_conditionals_integrate_to_one(model, length=4, elements=None, lim=40.0, n=8000, seed=0):
    """``exp(conditional)`` of element (t, f), as a function of its value, integrates to 1."""
    x = random_data(model, 1, length, seed)
    c = labels(model, 1)
    F = model.num_features
    values = np.linspace(-lim, lim, n).astype(np.float32)
    elements = elements or [(0, 0), (length - 1, F - 1), (length // 2, F // 2)]
    for t, f in elements:
        probe = np.repeat(x, n, axis=0)
        probe[:, t, f] = values
        cn = None if c is None else np.repeat(c, n)
        dens = np.exp(model.conditional_log_probs(probe, cn).numpy()[:, t, f].astype(np.float64))
        total = dens.sum() * (values[1] - values[0])
        assert abs(total - 1.0) < 0.01, f"conditional of element ({t}, {f}) integrates to {total}"


def grid3(lim, n):
    """Cell centres ``[n^3, 3]`` of an n x n x n grid on ``[-lim, lim]^3`` and the cell volume."""
    edges = np.linspace(-lim, lim, n + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    mesh = np.meshgrid(centres, centres, centres, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1).astype(np.float32), (edges[1] - edges[0]) ** 3


def density_grid3(model, lim, n, conditional=None):
    """``p`` on the 3-d grid of F = 1, T = 3 trajectories: ``[n, n, n]`` and the cell volume."""
    pts, volume = grid3(lim, n)
    c = None if conditional is None else np.full(len(pts), conditional, np.int32)
    lp = model.log_prob(pts[:, :, None], c).numpy().astype(np.float64)  # [n^3, 3] -> [n^3, 3, 1]
    return np.exp(lp).reshape(n, n, n), volume  # [n^3] -> [n, n, n]


def check_joint_integrates_to_one(model, lim=10.0, n=64, atol=0.02, conditional=None):
    """F = 1, T = 3: the joint integrates to 1 over ``[-lim, lim]^3``."""
    assert model.num_features == 1
    p, volume = density_grid3(model, lim, n, conditional)
    total = p.sum() * volume
    assert abs(total - 1.0) < atol, f"the trajectory density integrates to {total}"
    return total


def check_samples_match_density(model, lim=6.0, bins=12, fine=4, num_samples=4000, seed=0, max_tv=0.06):
    """F = 1, T = 3: histograms of (x_0, x_1) and (x_1, x_2) against the density's marginals."""
    assert model.num_features == 1
    n = bins * fine
    p, volume = density_grid3(model, lim, n)
    mass = p * volume  # [n, n, n]
    x = model.sample(num_samples, seed=seed, length=3).numpy()
    assert x.dtype == np.float32 and x.shape == (num_samples, 3, 1)
    tvs = []
    for axes, keep in (((2,), (0, 1)), ((0,), (1, 2))):
        marginal = mass.sum(axis=axes)  # [n, n]
        cell = marginal.reshape(bins, fine, bins, fine).sum(axis=(1, 3))  # [bins f, bins f] -> [bins, bins]
        hist, _, _ = np.histogram2d(
            x[:, keep[0], 0], x[:, keep[1], 0], bins=bins, range=[[-lim, lim], [-lim, lim]]
        )
        freq = hist / num_samples
        tv = 0.5 * (np.abs(freq - cell).sum() + abs((1 - cell.sum()) - (1 - freq.sum())))
        uniform_tv = 0.5 * np.abs(cell - cell.sum() / cell.size).sum()
        assert uniform_tv > 2 * max_tv, f"density too flat ({uniform_tv}) for a meaningful check"
        assert tv < max_tv, f"samples of frames {keep} are {tv:.3f} from the density in TV"
        tvs.append(tv)
    return tvs


def check_sampling(model, length=5, seed=7):
    """Seeded; cache == recompute; prefixes stable in n and in T; temperature narrows."""
    c = labels(model, 6)
    a = tc.sample_on_path(model, True, num_samples=6, conditional=c, seed=seed, length=length).numpy()
    assert a.shape == (6, length, model.num_features) and a.dtype == np.float32
    np.testing.assert_array_equal(a, model.sample(6, conditional=c, seed=seed, length=length).numpy())
    np.testing.assert_array_equal(
        a, tc.sample_on_path(model, False, num_samples=6, conditional=c, seed=seed, length=length).numpy()
    )
    assert not np.allclose(a, model.sample(6, conditional=c, seed=seed + 1, length=length).numpy())
    fewer = model.sample(2, conditional=None if c is None else c[:2], seed=seed, length=length).numpy()
    np.testing.assert_allclose(fewer, a[:2], rtol=1e-5, atol=1e-5)  # sample i keyed (seed, i)
    longer = model.sample(6, conditional=c, seed=seed, length=length + 3).numpy()
    np.testing.assert_allclose(longer[:, :length], a, rtol=1e-5, atol=1e-5)  # element t F + f keyed
    cold = model.sample(300, conditional=labels(model, 300), seed=1, temperature=0.1, length=length)
    warm = model.sample(300, conditional=labels(model, 300), seed=1, length=length)
    assert cold.numpy().std(0).max() < warm.numpy().std(0).max()
