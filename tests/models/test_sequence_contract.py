"""The shared contract checks for sequence models (int [B, T], any T), on the sequence cases
``(name, preset)`` of `harness.cases` (a test preset of every registered model of sequences:
``tiny``, or ``tiny_sequence`` for sparse_transformer).  test_contract.py holds the image
counterparts."""

import contract
import harness
import numpy as np
import pytest
import sequence_case as sc
import test_case as tc

import ar_keras as ark

CASES = harness.cases("sequence")


def tiny(name, preset="tiny", **overrides):
    return ark.models.get(name, preset=preset, **overrides)


def test_there_are_sequence_models():
    assert ("wavenet", "tiny") in CASES and ("sparse_transformer", "tiny_sequence") in CASES


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_log_prob_is_sum_of_conditionals_at_any_length(name, preset):
    model = tiny(name, preset)
    assert model.image_shape == (None,) and model.event_size is None
    for length in (1, 5, 13):
        x = sc.random_sequences(model, 3, length)
        clp = model.conditional_log_probs(x).numpy()
        assert clp.shape == (3, length) and np.all(clp <= 0)
        np.testing.assert_allclose(model.log_prob(x).numpy(), clp.sum(1), rtol=1e-5)


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_causality_in_time(name, preset):
    model = tiny(name, preset, num_levels=3)
    tc.sharpen(model, 1.5)
    sc.check_causality(model, length=8, receptive_field=getattr(model, "receptive_field", None))


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_normalization_over_all_sequences_of_length_4(name, preset):
    model = tiny(name, preset, num_levels=4)  # 4^4 = 256 sequences
    tc.sharpen(model)
    sc.check_normalization(model, length=4)


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_samples_match_log_prob(name, preset):
    model = tiny(name, preset, num_levels=3)  # 27 sequences of 3
    tc.sharpen(model)
    sc.check_samples_match_log_prob(model, length=3, num_samples=6000, max_tv=0.05)


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_cache_equals_recompute_and_seeds(name, preset):
    model = tiny(name, preset, num_levels=5)
    tc.sharpen(model, 1.5)
    sc.check_cache_equals_recompute(model, length=24)


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_temperature(name, preset):
    model = tiny(name, preset)
    tc.sharpen(model)
    cold = model.sample(200, seed=1, temperature=0.05, length=6).numpy()
    assert len({tuple(r) for r in cold}) < 20


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_class_conditional_contract(name, preset, tmp_path):
    model = tiny(name, preset, num_levels=3, num_classes=3)
    tc.sharpen(model)
    configs = sc.configurations(4, 3)
    for label in range(3):
        lp = model.log_prob(configs, np.full(len(configs), label, np.int32)).numpy()
        np.testing.assert_allclose(np.exp(lp.astype(np.float64)).sum(), 1.0, atol=2e-4)
    x = sc.random_sequences(model, 3, 6)
    lp = [model.log_prob(x, np.full(3, c, np.int32)).numpy() for c in range(3)]
    assert not np.allclose(lp[0], lp[1]), "the label has no effect"
    sc.check_cache_equals_recompute(model, length=12)
    contract.check_fit_changes_every_weight(model)
    contract.check_serialization(model, str(tmp_path / "c.keras"))


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_bad_input_gets_clear_errors(name, preset):
    model = tiny(name, preset)
    good = sc.random_sequences(model, 2, 6)
    contract.check_level_errors(model, good, rank="rank 2")
    with pytest.raises(ValueError, match="rank 2"):
        model.log_prob(good[..., None])
    with pytest.raises(ValueError, match="at least one time step"):
        model.log_prob(np.zeros((2, 0), np.int32))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model.log_prob(good + model.num_levels)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model.conditional_log_probs(good - 1)
    tc.check_common_bad_input(model, good, tiny(name, preset, num_classes=2), length=3)
    with pytest.raises(ValueError, match="num_levels"):
        tiny(name, preset, num_levels=1)
