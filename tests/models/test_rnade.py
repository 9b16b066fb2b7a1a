"""The rnade model: NADE weight sharing, mixture-of-Gaussian conditionals, cached sampling."""

import continuous_case as cc
import numpy as np
import pytest
from scipy import stats

import ar_keras as ark


def tiny(**overrides):
    return ark.models.get("rnade", preset="tiny", **overrides)


def reference_log_probs(model, x):
    """RNADE's conditionals written out in numpy, step by step (Uria et al. 2013, eqs. 3-6)."""
    w, c, rho, v, b = (t.numpy().astype(np.float64) for t in (model.w, model.c, model.rho, model.v, model.b))
    C = model.num_mixtures
    out = np.zeros(x.shape)
    for i, row in enumerate(x.astype(np.float64)):
        a = c.copy()
        for t, d in enumerate(model.ordering):
            h = np.maximum(rho[t] * a, 0.0)  # ReLU
            p = h @ v[t] + b[t]
            logits, mu, raw = p[:C], p[C : 2 * C], p[2 * C :]
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
    np.testing.assert_allclose(
        model.conditional_log_probs(x).numpy(), reference_log_probs(model, x), rtol=1e-4, atol=1e-4
    )


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
    np.testing.assert_allclose(
        model.head.log_prob(params, x).numpy(),
        model.head.distribution(params).log_prob(x).numpy(),
        rtol=1e-5,
        atol=1e-5,
    )


def test_presets():
    presets = ark.models.model_class("rnade").PRESETS
    assert presets["paper"] == dict(event_size=63, hidden_dim=100, num_mixtures=10)
    assert tiny().count_params() < 10_000


def _counting_sampler(monkeypatch):
    """Wraps `ar_keras.core.sampler.run`: returns the list of ``cache`` flags it was traced with."""
    from ar_keras.core import sampler

    calls, run = [], sampler.run

    def counting(
        model, noise, num_samples, num_elements=None, conditional=None, temperature=1.0, cache=True, **kw
    ):
        calls.append(cache)
        return run(model, noise, num_samples, num_elements, conditional, temperature, cache, **kw)

    monkeypatch.setattr(sampler, "run", counting)
    return calls


def test_sampling_goes_through_the_one_sampler(monkeypatch):
    model = tiny(event_size=4, ordering="random", seed=2, num_classes=3)
    cc.perturb(model, 0.3)
    assert isinstance(model, ark.core.AutoregressiveDensity) and model.supports_cache
    assert "_sample_from_noise" not in type(model).__dict__  # no loop of its own
    calls = _counting_sampler(monkeypatch)
    c = np.array([0, 2, 1], np.int32)
    a = model.sample(3, conditional=c, seed=4, cache=True).numpy()
    b = model.sample(3, conditional=c, seed=4, cache=False).numpy()
    assert calls == [True, False]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.sort(model.sampling_groups(4).numpy()[:, 0]), np.arange(4))
    np.testing.assert_array_equal(model.sampling_groups(4).numpy()[:, 0], model.ordering)


def test_cached_steps_equal_the_full_pass():
    """The cache protocol: stepping through x in the ordering gives element_params(x), in data order."""
    import tensorflow as tf

    model = tiny(event_size=5, ordering="random", seed=4, num_classes=2)
    cc.perturb(model, 0.3)
    x = tf.constant(np.random.RandomState(1).standard_normal((3, 5)).astype(np.float32))
    c = tf.constant([1, 0, 1], tf.int32)
    full = model.element_params(x, c).numpy()  # [3, 5, 3C]
    assert full.shape == (3, 5, model.head.num_params)
    cache = model.init_cache(3, c)
    for t, d in enumerate(model.ordering):
        # The partial sample: only the dimensions before step t are drawn.
        drawn = np.isin(np.arange(5), model.ordering[:t])
        params, cache = model.step(tf.where(drawn[None], x, 0.0), cache, tf.constant(t), c)
        np.testing.assert_allclose(params.numpy(), full[:, d], rtol=1e-5, atol=1e-5)
    # The head's log-probabilities of the full pass are the model's exact conditionals.
    np.testing.assert_allclose(
        model.head.log_prob(full, x).numpy(), model.conditional_log_probs(x, c).numpy(), rtol=1e-5, atol=1e-5
    )


def test_sample_from_noise_equals_seeded_sampling_and_temperature_scales_components():
    model = tiny(event_size=3)
    cc.perturb(model, 0.3)
    noise = ark.sampling.seeded_noise(9, 5, 3, model.noise_depth)
    for cache in (True, False):
        np.testing.assert_array_equal(
            model.sample_from_noise(noise, cache=cache).numpy(), model.sample(5, seed=9, cache=cache).numpy()
        )
    # Temperature -> 0 concentrates each conditional on its component means: samples stay
    # finite and their spread shrinks with T.
    spread = [model.sample(300, seed=1, temperature=t).numpy().std(0).max() for t in (0.05, 1.0)]
    assert spread[0] < spread[1]
