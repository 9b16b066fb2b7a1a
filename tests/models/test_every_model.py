"""The training contract, parametrised over every registered model's test presets (`harness.cases()`).

Whatever its kind, each model's ``tiny`` preset (and ``tiny_<kind>`` for a model of several
kinds, e.g. sparse_transformer's ``tiny_sequence``) must survive a `.keras` round trip (same class,
config, log_prob and samples), have every trainable weight changed by one `fit` step with
``bits_per_dim`` reported, and take the same step under `MirroredStrategy` on two logical CPUs
as on one device.  `harness.training_checks` supplies each kind's data; the kind's own
properties (causality, normalisation, samples against log_prob, ...) are in its suite module.
"""

import harness
import pytest

import ar_keras as ark

CASES = harness.cases()


def tiny(name, preset):
    return ark.models.get(name, preset=preset)


def checks(name, preset):
    suite = harness.suite_for(ark.models.model_class(name), preset)
    assert suite is not None, f"{name} ({preset}) falls under no contract suite (tests/harness.py)"
    return harness.training_checks(suite)


def test_every_registered_name_has_a_case():
    assert {name for name, _ in CASES} == set(ark.models.names())


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_keras_round_trip(name, preset, tmp_path):
    serialization, _, _ = checks(name, preset)
    serialization(tiny(name, preset), str(tmp_path / f"{name}-{preset}.keras"))


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_one_fit_step_changes_every_weight(name, preset):
    _, fit, _ = checks(name, preset)
    fit(tiny(name, preset))


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_mirrored_strategy_equals_single_device(name, preset):
    _, _, mirrored = checks(name, preset)
    mirrored(lambda: tiny(name, preset))
