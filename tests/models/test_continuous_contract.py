"""The contract of the continuous density models (maf, iaf, rnade), on their tiny presets
(2-d events): the continuous counterpart of test_contract.py."""

import continuous_case as cc
import contract
import harness
import numpy as np
import pytest
import tensorflow as tf
import test_case as tc

import ar_keras as ark

NAMES = harness.names_for("vector")
# Variants whose map x -> noise is triangular in one ordering: exact conditionals.
EXACT = {"maf": dict(permutation="none"), "iaf": dict(permutation="none"), "rnade": dict(ordering="reversed")}


def tiny(name, **overrides):
    return ark.models.get(name, preset="tiny", **overrides)


def test_continuous_models_are_registered_and_not_discrete():
    for name in NAMES:
        cls = ark.models.model_class(name)
        assert issubclass(cls, ark.models.ContinuousModel)
        assert not issubclass(cls, ark.models.AutoregressiveModel)
        assert tiny(name).monitor == "val_loss"
    info = ark.data.info("two_moons")
    assert ark.models.model_class("maf").overrides_from_data(info) == {"event_size": 2}
    with pytest.raises(ValueError, match="continuous"):
        ark.models.model_class("maf").overrides_from_data(ark.data.info("digits"))


@pytest.mark.parametrize("name", NAMES)
def test_density_integrates_to_one_and_samples_agree(name):
    model = tiny(name)
    cc.perturb(model, 0.3)
    cc.check_integrates_to_one(model)
    cc.check_samples_match_density(model)


@pytest.mark.parametrize("name", NAMES)
def test_exact_conditionals(name):
    model = tiny(name, **EXACT[name])
    assert model.exact_conditionals
    cc.perturb(model, 0.3, seed=1)
    cc.check_exact_conditionals(model)


@pytest.mark.parametrize("name", ["iaf", "maf"])
def test_stacks_with_reversals_have_no_exact_conditionals(name):
    model = tiny(name)
    assert not model.exact_conditionals
    x = np.zeros([2, 2], np.float32)
    with pytest.raises(NotImplementedError, match="permut"):
        model.conditional_log_probs(x)
    # The per-dimension terms of the change of variables still sum to log_prob.
    terms = model.dimension_log_probs(x).numpy()
    np.testing.assert_allclose(terms.sum(1), model.log_prob(x).numpy(), rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_sampling_is_seeded_and_cache_free(name):
    model = tiny(name)
    cc.perturb(model, 0.2)
    cc.check_sampling_determinism(model)


@pytest.mark.parametrize("name", NAMES)
def test_class_conditional(name, tmp_path):
    model = tiny(name, num_classes=3)
    cc.perturb(model, 0.3)
    for label in range(3):
        cc.check_integrates_to_one(model, conditional=label, lim=14.0, n=280)
    x = np.random.RandomState(0).standard_normal((3, 2)).astype(np.float32)
    lp = [model.log_prob(x, np.full(3, k, np.int32)).numpy() for k in range(3)]
    assert not np.allclose(lp[0], lp[1]), "the label has no effect"
    cc.check_sampling_determinism(model)
    contract.check_fit_changes_every_weight(model)
    with pytest.raises(ValueError, match="class-conditional"):
        model.log_prob(x)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_gets_clear_errors(name):
    model = tiny(name)
    good = np.zeros((2, 2), np.float32)
    model.log_prob(good.astype(np.float64))  # float64 is fine
    with pytest.raises(ValueError, match="floats"):
        model.log_prob(good.astype(np.int32))
    with pytest.raises(ValueError, match="floats"):
        model.log_prob(good.astype(bool))
    with pytest.raises(ValueError, match="NaN"):
        model.log_prob(np.array([[0.0, np.nan]], np.float32))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.log_prob(np.array([[np.inf, 0.0]], np.float32))
    with pytest.raises(ValueError, match=r"event_size=2"):
        model.log_prob(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="rank"):
        model.log_prob(np.zeros((2,), np.float32))
    with pytest.raises(ValueError, match="numeric"):
        model.log_prob([["a", "b"]])
    tc.check_common_bad_input(model, good, tiny(name, num_classes=2))
    with pytest.raises(ValueError, match="event_size"):
        tiny(name, event_size=0)


def test_nan_inside_fit_is_an_error():
    model = tiny("maf")
    model.compile(optimizer="adam")
    bad = np.array([[0.0, np.nan]] * 4, np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="finite"):
        model.fit(tf.data.Dataset.from_tensor_slices(bad).batch(4), epochs=1, verbose=0)
