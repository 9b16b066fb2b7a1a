"""The contract of the models of float trajectories ``[B, T, F]`` (event kind ``float_sequence``:
trajectory_rnade), on their tiny presets with small overrides: the counterpart of
test_continuous_contract.py for sequences of feature frames (tests/float_sequence_case.py)."""

import continuous_case as cc
import float_sequence_case as fsc
import harness
import keras
import numpy as np
import pytest
import test_case as tc

import ar_keras as ark

NAMES = harness.names_for("float_sequence")


def tiny(name, **overrides):
    return ark.models.get(name, preset="tiny", **overrides)


def test_the_suite_holds_the_float_sequence_models():
    assert "trajectory_rnade" in NAMES
    for name in NAMES:
        model = tiny(name)
        assert model.event.kind == "float_sequence" and model.event.free_length
        assert model.monitor == "val_loss" and model.exact_conditionals
        assert model.count_params() < 10_000


@pytest.mark.parametrize("name", NAMES)
def test_exact_conditionals_are_causal_and_normalised(name):
    model = tiny(name)
    cc.perturb(model, 0.3, seed=1)
    fsc.check_exact_conditionals(model, length=4)
    fsc.check_conditionals_integrate_to_one(model, length=4)


@pytest.mark.parametrize("name", NAMES)
def test_joint_integrates_to_one_and_samples_agree(name):
    # Scales in [e^-1, e^1]: the mass stays inside the grid and its cells resolve every component.
    keras.utils.set_random_seed(0)
    model = tiny(name, num_features=1, log_scale_bound=1.0)
    cc.perturb(model, 0.3)
    fsc.check_joint_integrates_to_one(model, atol=2e-3)
    fsc.check_samples_match_density(model)


@pytest.mark.parametrize("name", NAMES)
def test_sampling_is_seeded_cache_equals_recompute_and_prefix_stable(name):
    model = tiny(name)
    cc.perturb(model, 0.2)
    fsc.check_sampling(model)


@pytest.mark.parametrize("name", NAMES)
def test_class_conditional(name):
    model = tiny(name, num_classes=3)
    cc.perturb(model, 0.3)
    x = fsc.random_data(model, 3, 4)
    lp = [model.log_prob(x, np.full(3, k, np.int32)).numpy() for k in range(3)]
    assert not np.allclose(lp[0], lp[1]), "the label has no effect"
    fsc.check_conditionals_integrate_to_one(model, length=4, elements=[(3, 1)])
    c = np.array([0, 2, 1], np.int32)
    a = model.sample(3, conditional=c, seed=3, length=4).numpy()
    np.testing.assert_array_equal(a, model.sample(3, conditional=c, seed=3, length=4, cache=False).numpy())
    assert not np.allclose(a, model.sample(3, conditional=c[::-1], seed=3, length=4).numpy())
    keras.utils.set_random_seed(1)
    one = tiny(name, num_features=1, num_classes=2, log_scale_bound=1.0)
    cc.perturb(one, 0.3)
    fsc.check_joint_integrates_to_one(one, atol=2e-3, conditional=1)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_gets_clear_errors(name):
    model = tiny(name)
    W, F = model.window, model.num_features
    good = np.zeros((2, W + 1, F), np.float32)
    model.log_prob(good.astype(np.float64))  # float64 is fine
    with pytest.raises(ValueError, match="floats"):
        model.log_prob(good.astype(np.int32))
    bad = good.copy()
    bad[0, 1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.log_prob(bad)
    with pytest.raises(ValueError, match=rf"\[batch, T, {F}\]"):
        model.log_prob(np.zeros((2, W + 1, F + 1), np.float32))
    with pytest.raises(ValueError, match="rank"):
        model.log_prob(np.zeros((2, W + 1), np.float32))
    with pytest.raises(ValueError, match=rf"at least window={W} frames"):
        model.log_prob(np.zeros((2, W - 1, F), np.float32))
    with pytest.raises(ValueError, match=rf"at least window={W} frames"):
        model.sample(2, length=W - 1)
    tc.check_common_bad_input(model, good, tiny(name, num_classes=2), length=W)
