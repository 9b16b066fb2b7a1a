"""The training contract, parametrised over every registered model's test presets (`harness.cases()`).

Whatever its kind, each model's ``tiny`` preset (and ``tiny_<kind>`` for a model of several
kinds, e.g. sparse_transformer's ``tiny_sequence``) must survive a `.keras` round trip (same class,
config, log_prob and samples), have every trainable weight reached by ``log_prob`` and changed
by one `fit` step with ``bits_per_dim`` reported, and take the same step under
`MirroredStrategy` on two logical CPUs as on one device.  The checks are written once
(tests/contract.py) and read each model's data from its event and conditioning specs; the
kind's own properties (causality, normalisation, samples against log_prob, ...) are in its
suite module.
"""

import contract
import harness
import pytest

import ar_keras as ark

CASES = harness.cases()


def tiny(name, preset):
    return ark.models.get(name, preset=preset)


def test_every_registered_name_has_a_case_in_a_suite():
    assert {name for name, _ in CASES} == set(ark.models.names())
    for name, preset in CASES:
        suite = harness.suite_for(ark.models.model_class(name), preset)
        assert suite is not None, f"{name} ({preset}) falls under no contract suite (tests/harness.py)"


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_keras_round_trip(name, preset, tmp_path):
    model = tiny(name, preset)
    contract.perturb(model, 0.2)  # no weight left at its initial value
    contract.check_serialization(model, str(tmp_path / f"{name}-{preset}.keras"))


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_one_fit_step_changes_every_weight(name, preset):
    contract.check_fit_changes_every_weight(tiny(name, preset))


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_mirrored_strategy_equals_single_device(name, preset):
    contract.check_mirrored_equals_single(lambda: tiny(name, preset))
