"""Registering a model puts it under test: suites are chosen by kind, and a toy model proves it.

* every registered model's test presets fall under a contract suite
  (`harness.suite_for`), and every case under the export suite (tests/test_export.py);
* a toy model registered inside this test is picked up by the image suite's
  selection and passes its property checks (causality, normalisation by
  enumeration, samples against log_prob, cache equal to recompute, `.keras`
  round trip, one fit step changes every weight), with no list to edit.
"""

import contract
import harness
import keras
import pytest
import tensorflow as tf
import test_case as tc
import test_export

import ar_keras as ark
from ar_keras.core import AutoregressiveModel
from ar_keras.distributions import Categorical
from ar_keras.models import registry


def test_every_registered_model_is_under_a_contract_suite():
    for name in ark.models.names():
        presets = harness.suite_presets(name)
        assert "tiny" in presets, f"{name} has no tiny preset"
        for preset in presets:
            assert harness.suite_for(ark.models.model_class(name), preset) in harness.SUITES, (
                f"{name} (preset {preset!r}) falls under no contract suite: give it an event kind "
                "a suite covers (tests/harness.py) or add a suite"
            )


def test_a_model_of_two_kinds_has_a_case_in_each_suite():
    assert ("sparse_transformer", "tiny") in harness.cases("image")
    assert ("sparse_transformer", "tiny_sequence") in harness.cases("sequence")
    assert len(ark.models.names()) == 22


def test_every_registered_model_is_under_the_export_suite():
    exported = {name for name, _, _ in test_export.CASES}
    missing = set(ark.models.names()) - exported
    assert not missing, f"registered models with no export test: {sorted(missing)}"
    assert {(name, preset) for name, preset, _ in test_export.CASES} == set(harness.cases())


class ToyMarkov(AutoregressiveModel):
    """A toy: each element's logits from the element before it in raster order (a Markov chain)."""

    PRESETS = {"tiny": dict(image_shape=(2, 2, 1), num_levels=3), "digits": {}, "paper": {}}

    def __init__(self, image_shape=(2, 2, 1), num_levels=3, num_classes=None, **kwargs):
        super().__init__(image_shape, num_levels, num_classes, **kwargs)
        self.head = Categorical(self.num_levels)
        self.table = keras.layers.Embedding(self.num_levels + 1, self.num_levels, name="table")
        self._finish_init()

    def network(self, x, conditional=None, training=False):
        flat = tf.reshape(x, [tf.shape(x)[0], -1])  # [B, *S] -> [B, D]
        previous = tf.pad(flat + 1, [[0, 0], [1, 0]])[:, :-1]  # 0 = "no previous"
        logits = self.table(previous)  # [B, D, K]
        return tf.reshape(logits, tf.concat([tf.shape(x), [self.num_levels]], 0))  # -> [B, *S, K]

    def init_cache(self, batch, conditional=None):
        return {"unused": tf.zeros([batch])}

    def step(self, x, cache, index, conditional=None):
        previous = tf.where(index > 0, self.previous_value(x, index) + 1, 0)  # [n]
        return self.table(previous), cache  # [n, K]


@pytest.fixture
def toy_registered():
    registry.register("toy_markov_for_tests")(ToyMarkov)
    yield "toy_markov_for_tests"
    registry._MODELS.pop("toy_markov_for_tests")


def test_a_model_registered_here_is_picked_up_by_the_contract_suite(toy_registered, tmp_path):
    name = toy_registered
    assert name in harness.names_for("image")
    model = ark.models.get(name, preset="tiny")
    tc.sharpen(model)
    tc.check_causality(model, full_dependency=False)
    tc.check_normalization(model)
    tc.check_samples_match_log_prob(model, max_tv=0.05)
    tc.check_cache_equals_recompute(model)
    contract.check_serialization(model, str(tmp_path / "toy.keras"))
    contract.check_fit_changes_every_weight(model)


def test_a_broken_toy_fails_the_causality_check(toy_registered):
    """The harness can fail: a toy whose element d peeks at element d + 1 is caught."""
    model = ark.models.get(toy_registered, preset="tiny")
    tc.sharpen(model)

    def peeking(x, conditional=None, training=False):
        flat = tf.reshape(x, [tf.shape(x)[0], -1])  # [B, *S] -> [B, D]
        following = tf.pad(flat + 1, [[0, 0], [0, 1]])[:, 1:]  # element d + 1
        return tf.reshape(model.table(following), tf.concat([tf.shape(x), [3]], 0))

    model.network = peeking
    with pytest.raises(AssertionError, match="changed conditionals"):
        tc.check_causality(model, full_dependency=False)
