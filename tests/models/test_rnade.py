"""The rnade model: NADE weight sharing, mixture-of-Gaussian conditionals, cached sampling."""

import numpy as np
import pytest
from scipy import stats

import ar_keras as ark
import continuous_case as cc


def tiny(**overrides):
    return ark.models.get("rnade", preset="tiny", **overrides)


def reference_log_probs(model, x):
    """RNADE's conditionals written out in numpy, step by step (Uria et al. 2013, eqs. 3-6)."""
    w, c, rho, v, b = (t.numpy().astype(np.float64) for t in (model.w, model.c, model.rho, model.v, model.b))
    C = model.num_components
    out = np.zeros(x.shape)
    for i, row in enumerate(x.astype(np.float64)):
        a = c.copy()
        for t, d in enumerate(model.ordering):
            h = np.maximum(rho[t] * a, 0.0)                                 # ReLU
            p = h @ v[t] + b[t]
            logits, mu, raw = p[:C], p[C:2 * C], p[2 * C:]
            log_sigma = 7.0 * np.tanh(raw / 7.0)
            weights = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            out[i, d] = np.log((weights * stats.norm.pdf(row[d], mu, np.exp(log_sigma))).sum())
            a = a + row[d] * w[t]
    return out


@pytest.mark.parametrize("ordering", ["natural", "random", [2, 0, 1]])
def test_conditionals_match_a_step_by_step_reference(ordering):
    model = tiny(event_size=3, ordering=ordering, seed=1)
    cc.perturb(model, 0.3)
    x = np.random.RandomState(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(model.conditional_log_probs(x).numpy(), reference_log_probs(model, x),
                               rtol=1e-4, atol=1e-4)


def test_cached_and_recomputed_sampling_agree_in_higher_dimensions():
    model = tiny(event_size=6, ordering="random", seed=3)
    cc.perturb(model, 0.3)
    a = model.sample(20, seed=5, cache=True).numpy()
    b = model.sample(20, seed=5, cache=False).numpy()
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all()


def test_head_mixture_matches_tfp():
    model = tiny()
    params = np.random.RandomState(2).standard_normal((5, 2, model.head.num_params)).astype(np.float32)
    x = np.random.RandomState(3).standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_allclose(model.head.log_prob(params, x).numpy(),
                               model.head.distribution(params).log_prob(x).numpy(), rtol=1e-5, atol=1e-5)


def test_presets():
    presets = ark.models.model_class("rnade").PRESETS
    assert presets["paper"] == dict(event_size=63, hidden_units=100, num_components=10)
    assert tiny().count_params() < 10_000
