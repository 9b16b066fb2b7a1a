"""The iaf model: one-pass sampling with log-densities, D-pass density of outside points."""

import continuous_case as cc
import numpy as np
import pytest
import tensorflow as tf

import ar_keras as ark


def tiny(**overrides):
    return ark.models.get("iaf", preset="tiny", **overrides)


@pytest.mark.parametrize("gated", [False, True])
def test_sample_and_log_prob_matches_the_d_pass_log_prob(gated):
    model = tiny(gated=gated, num_layers=3, permutation="random")
    cc.perturb(model, 0.3)
    x, log_p = model.sample_and_log_prob(6, seed=4)
    np.testing.assert_array_equal(x.numpy(), model.sample(6, seed=4).numpy())
    np.testing.assert_allclose(model.log_prob(x.numpy()).numpy(), log_p.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        model.distribution().log_prob(x.numpy()).numpy(), log_p.numpy(), rtol=1e-4, atol=1e-4
    )


def test_gated_variant_is_normalised():
    model = tiny(gated=True)
    cc.perturb(model, 0.3)
    cc.check_integrates_to_one(model)


def test_model_uses_its_tfp_bijector_and_temperature_scales_the_base():
    model = tiny()
    cc.perturb(model, 0.3)
    noise = ark.sampling.seeded_noise(3, 5, 2, 1).numpy()
    z = ark.distributions.inverse_normal.uniform_to_normal(noise[..., 0]).numpy()
    np.testing.assert_allclose(
        model.bijector().forward(z).numpy(), model.sample(5, seed=3).numpy(), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        model.bijector().forward(0.5 * z).numpy(),
        model.sample(5, seed=3, temperature=0.5).numpy(),
        rtol=1e-5,
        atol=1e-5,
    )


def test_presets():
    presets = ark.models.model_class("iaf").PRESETS
    assert presets["digits"]["event_size"] == 64 and presets["paper"]["event_size"] == 784
    with pytest.raises(ValueError, match="unconditional"):
        tiny(num_classes=2).distribution()
    assert isinstance(tiny().bijector(), tf.Module)
