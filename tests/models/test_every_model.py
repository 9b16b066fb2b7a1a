"""The training contract, parametrised over every registered model (`ark.models.names()`).

Whatever its kind, each model's ``tiny`` preset must survive a `.keras` round trip (same class,
config, log_prob and samples), have every trainable weight changed by one `fit` step with
``bits_per_dim`` reported, and take the same step under `MirroredStrategy` on two logical CPUs
as on one device.  `harness.training_checks` supplies each kind's data; the kind's own
properties (causality, normalisation, samples against log_prob, ...) are in its suite module.
"""

import harness
import pytest

import ar_keras as ark

NAMES = ark.models.names()


def tiny(name):
    return ark.models.get(name, preset="tiny")


def checks(name):
    suite = harness.suite_for(ark.models.model_class(name))
    assert suite is not None, f"{name} falls under no contract suite (tests/harness.py)"
    return harness.training_checks(suite)


@pytest.mark.parametrize("name", NAMES)
def test_keras_round_trip(name, tmp_path):
    serialization, _, _ = checks(name)
    serialization(tiny(name), str(tmp_path / f"{name}.keras"))


@pytest.mark.parametrize("name", NAMES)
def test_one_fit_step_changes_every_weight(name):
    _, fit, _ = checks(name)
    fit(tiny(name))


@pytest.mark.parametrize("name", NAMES)
def test_mirrored_strategy_equals_single_device(name):
    _, _, mirrored = checks(name)
    mirrored(lambda: tiny(name))
