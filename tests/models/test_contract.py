"""The shared contract checks, run on every registered model's tiny preset.

The checks below are written for fixed-shape models (image_shape overrides) and run on
the image cases ``(name, preset)`` of `harness.cases`; the suite of every other kind is
chosen by `harness.suite_for`.
"""

import contract
import harness
import numpy as np
import pytest
import test_case as tc

import ar_keras as ark

NAMES = ark.models.names()
# (name, preset) of the exact autoregressive models of integer images (or vectors): every
# check below but the presets one.  The other kinds have their suites (tests/harness.py).
IMAGE_CASES = harness.cases("image")


def tiny(name, preset="tiny", **overrides):
    """A test preset (``tiny`` unless given); an ``image_shape`` override goes through the
    class's `AutoregressiveModel.contract_shape` hook (identity unless the model cannot take it)."""
    cls = ark.models.model_class(name)
    if "image_shape" in overrides and hasattr(cls, "contract_shape"):
        overrides["image_shape"] = cls.contract_shape(overrides["image_shape"])
    return ark.models.get(name, preset=preset, **overrides)


@pytest.mark.parametrize("name", NAMES)
def test_presets_exist_and_tiny_is_tiny(name):
    assert {"tiny", "paper"} <= set(ark.models.presets(name))
    assert any(p in ark.models.presets(name) for p in ("digits", "speech", "text"))
    assert tiny(name).count_params() < 10_000


@pytest.mark.parametrize("name,preset", IMAGE_CASES, ids=harness.case_ids(IMAGE_CASES))
def test_log_prob_is_sum_of_conditionals(name, preset):
    model = tiny(name, preset)
    x = tc.random_data(model, 5)
    clp = model.conditional_log_probs(x).numpy()
    assert clp.shape == x.shape
    assert np.all(clp <= 0)
    np.testing.assert_allclose(model.log_prob(x).numpy(), clp.reshape(5, -1).sum(1), rtol=1e-5)


@pytest.mark.parametrize("name,preset", IMAGE_CASES, ids=harness.case_ids(IMAGE_CASES))
def test_causality_raster_order(name, preset):
    model = tiny(name, preset, image_shape=(3, 3, 1), num_levels=3)
    tc.check_causality(model, full_dependency=(name != "made"))


@pytest.mark.parametrize("name,preset", IMAGE_CASES, ids=harness.case_ids(IMAGE_CASES))
def test_causality_rgb_channels(name, preset):
    # G sees R, B sees R and G, within the same pixel.
    model = tiny(name, preset, image_shape=(2, 2, 3), num_levels=3)
    tc.check_causality(model, full_dependency=(name != "made"))


@pytest.mark.parametrize("name,preset", IMAGE_CASES, ids=harness.case_ids(IMAGE_CASES))
@pytest.mark.parametrize("shape,levels", [((2, 2, 1), 4), ((1, 2, 3), 2)])
def test_normalization_by_enumeration(name, preset, shape, levels):
    model = tiny(name, preset, image_shape=shape, num_levels=levels)
    tc.sharpen(model)
    tc.check_normalization(model)


@pytest.mark.parametrize("name,preset", IMAGE_CASES, ids=harness.case_ids(IMAGE_CASES))
@pytest.mark.parametrize("shape,levels", [((2, 2, 1), 2), ((1, 1, 3), 3)])
def test_samples_match_log_prob(name, preset, shape, levels):
    model = tiny(name, preset, image_shape=shape, num_levels=levels)
    tc.sharpen(model)
    tc.check_samples_match_log_prob(model, max_tv=0.05)


@pytest.mark.parametrize("name,preset", IMAGE_CASES, ids=harness.case_ids(IMAGE_CASES))
def test_cache_equals_recompute_and_seeds(name, preset):
    model = tiny(name, preset, image_shape=(3, 3, 2), num_levels=5)
    tc.sharpen(model, 1.5)
    tc.check_cache_equals_recompute(model)


@pytest.mark.parametrize("name,preset", IMAGE_CASES, ids=harness.case_ids(IMAGE_CASES))
def test_temperature(name, preset):
    model = tiny(name, preset)
    tc.sharpen(model)
    cold = model.sample(200, seed=1, temperature=0.05).numpy().reshape(200, -1)
    # Near zero temperature every element is (almost always) its conditional mode,
    # so samples collapse onto very few configurations.
    assert len({tuple(r) for r in cold}) < 20


@pytest.mark.parametrize("name,preset", IMAGE_CASES, ids=harness.case_ids(IMAGE_CASES))
def test_class_conditional_contract(name, preset, tmp_path):
    model = tiny(name, preset, image_shape=(2, 2, 1), num_levels=3, num_classes=3)
    tc.sharpen(model)
    for c in range(3):
        tc.check_normalization(model, conditional=c)
    x = tc.random_data(model, 3)
    lp = [model.log_prob(x, np.full(3, c, np.int32)).numpy() for c in range(3)]
    assert not np.allclose(lp[0], lp[1]), "the label has no effect"
    tc.check_cache_equals_recompute(model)
    contract.check_fit_changes_every_weight(model)
    contract.check_serialization(model, str(tmp_path / "c.keras"))


@pytest.mark.parametrize("name,preset", IMAGE_CASES, ids=harness.case_ids(IMAGE_CASES))
def test_bad_input_gets_clear_errors(name, preset):
    model = tiny(name, preset)
    good = tc.random_data(model, 2)
    contract.check_level_errors(model, good)
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((2, 5, 5, 1), np.int32))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model.log_prob(good + model.num_levels)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model.conditional_log_probs(good - 1)
    tc.check_common_bad_input(model, good, tiny(name, preset, num_classes=2))
    with pytest.raises(ValueError, match="num_levels"):
        tiny(name, preset, num_levels=1)


def test_unknown_model_and_preset_list_the_valid_ones():
    with pytest.raises(ValueError, match="gated_pixelcnn"):
        ark.models.get("pixel_cnn_typo")
    with pytest.raises(ValueError, match="tiny"):
        ark.models.get("nade", preset="huge")
