"""MCGSM head: normalised (quadrature), the cmt formula, the affine map, sampling."""

import math

import numpy as np
import pytest

from ar_keras.distributions import MCGSM, MCGSMParameters


def _random_params(head, n, seed=0, spread=2.0):
    """Gate logits and means ~ N(0, spread^2); log-precisions uniform in [-3, 5] (standard
    deviations from 0.08 to 4.5, so that [-40, 40] holds all the mass)."""
    rng = np.random.RandomState(seed)
    params = rng.normal(scale=spread, size=(n, head.num_params))
    cs = head.num_components * head.num_scales
    params[:, cs + head.num_components :] = rng.uniform(-3, 5, size=(n, cs))
    return params.astype(np.float32)


@pytest.mark.parametrize("components,scales", [(1, 1), (3, 2), (8, 4)])
def test_normalised_by_quadrature(components, scales):
    head = MCGSM(components, scales)
    params = _random_params(head, 6, seed=components)
    y = np.linspace(-40.0, 40.0, 160001).astype(np.float32)  # step 5e-4
    p = np.exp(head.log_prob(params[:, None, :], y[None, :]).numpy().astype(np.float64))
    total = np.trapezoid(p, y, axis=1) if hasattr(np, "trapezoid") else np.trapz(p, y, axis=1)
    np.testing.assert_allclose(total, 1.0, atol=2e-4)


def test_layer_output_is_normalised_and_matches_the_cmt_formula():
    C, S, F, N = 3, 2, 4, 5
    layer = MCGSMParameters(C, S, F, log_precision_bound=None)
    head = MCGSM(C, S)
    x = np.random.RandomState(1).normal(size=(7, N)).astype(np.float32)
    layer(x)
    rng = np.random.RandomState(2)
    for w in layer.weights:
        w.assign(rng.normal(scale=0.5, size=w.shape).astype(np.float32))
    params = layer(x)
    yv = np.random.RandomState(3).normal(size=7).astype(np.float32)
    got = head.log_prob(params, yv).numpy()
    # The formula of the module docstring, in numpy.
    eta, alpha, beta, b, w, A, u, logl = (
        v.numpy().astype(np.float64)
        for v in (
            layer.priors,
            layer.scales,
            layer.weights_,
            layer.features,
            layer.linear_features,
            layer.predictors,
            layer.means,
            layer.log_cholesky,
        )
    )
    for k in range(7):
        xk = x[k].astype(np.float64)
        quad = ((beta**2) * ((xk @ b) ** 2)[None]).sum(1)  # [C]
        gate = eta - 0.5 * np.exp(alpha) * quad[:, None] + np.exp(alpha) * (xk @ w)[:, None]
        log_pcs = gate - np.log(np.exp(gate).sum())
        prec = np.exp(alpha) * np.exp(2 * logl)[:, None]
        mean = (xk @ A + u)[:, None]
        log_n = 0.5 * np.log(prec) - 0.5 * prec * (yv[k] - mean) ** 2 - 0.5 * math.log(2 * math.pi)
        want = np.log(np.exp(log_pcs + log_n).sum())
        np.testing.assert_allclose(got[k], want, rtol=1e-4, atol=1e-4)
    grid = np.linspace(-60, 60, 120001).astype(np.float32)
    p = np.exp(head.log_prob(params[:, None, :], grid[None]).numpy().astype(np.float64))
    np.testing.assert_allclose(p.sum(1) * (grid[1] - grid[0]), 1.0, atol=2e-3)


def test_affine_is_a_change_of_variables():
    head = MCGSM(4, 3)
    params = _random_params(head, 5, seed=4, spread=1.0)
    y = np.random.RandomState(5).normal(size=5).astype(np.float32)
    shift = np.float32([0.3, -1.0, 2.0, 0.0, 5.0])
    scale = np.float32([0.5, 2.0, 0.1, 1.0, 3.0])
    moved = head.affine(params, shift, scale)
    np.testing.assert_allclose(
        head.log_prob(moved, shift + scale * y).numpy(),
        head.log_prob(params, y).numpy() - np.log(scale),
        rtol=1e-5,
        atol=1e-5,
    )


def test_samples_follow_the_density():
    head = MCGSM(3, 2)
    params = np.tile(_random_params(head, 1, seed=6, spread=1.0), [40000, 1])
    noise = np.random.RandomState(7).uniform(size=(40000, 2)).astype(np.float32)
    samples = head.sample(params, noise).numpy()
    assert samples.dtype == np.float32
    # Compare the histogram with the density integrated over each bin.
    edges = np.quantile(samples, np.linspace(0, 1, 21))
    fine = np.linspace(edges[0], edges[-1], 20001).astype(np.float32)
    dens = np.exp(head.log_prob(params[:1], fine[None]).numpy()[0].astype(np.float64))
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(fine))])
    mass = np.diff(np.interp(edges, fine, cdf))
    np.testing.assert_allclose(mass, 0.05, atol=0.01)
    # Temperature shrinks the spread around the chosen component's mean.
    cold = head.sample(params[:2000], noise[:2000], temperature=0.01).numpy()
    assert np.std(cold) < np.std(samples[:2000])


def test_bad_configuration():
    with pytest.raises(ValueError, match="num_components"):
        MCGSM(0, 2)
    with pytest.raises(ValueError, match="num_features"):
        MCGSMParameters(2, 2, 0)


def test_layer_soft_clamps_the_log_precisions():
    layer = MCGSMParameters(2, 3, 2, log_precision_bound=4.0)
    x = np.ones([1, 3], np.float32)
    layer(x)
    layer.log_cholesky.assign([50.0, -50.0])
    lam = layer(x).numpy()[0, 2 * 3 + 2 :]
    assert np.all(np.abs(lam) <= 4.0) and lam[:3].min() > 3.9 and lam[3:].max() < -3.9
