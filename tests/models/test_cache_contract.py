"""The cache protocol against the full network, for every registered model that has one.

`ar_keras.core.sampler.run` draws each group of elements from parameters given either by
the full network on the partial sample (``cache=False``) or by the model's ``init_cache`` /
``step`` (``cache=True``).  Equal samples on both paths (each kind's cache check) say little
when a few draws are compared, so here the parameters themselves are compared at every step
(`test_case.check_step_equals_network`), and every model that implements the protocol must
declare it, so that ``cache=True`` cannot fall back to full recompute unnoticed
(`test_case.sample_on_path` checks the path a sample takes).
"""

import harness
import numpy as np
import pytest
import sequence_case as sc
import test_case as tc

import ar_keras as ark

NAMES = ark.models.names()
CACHED = [(n, p) for n, p in harness.cases() if tc.declares_cache(ark.models.model_class(n))]


def test_the_cached_models_are_found():
    names = {n for n, _ in CACHED}
    assert {"nade", "gated_pixelcnn", "wavenet", "wavernn", "vpn", "rnade", "trajectory_rnade"} <= names


@pytest.mark.parametrize("name", NAMES)
def test_a_model_that_implements_a_cache_declares_it(name):
    cls = ark.models.model_class(name)
    if tc.declares_cache(cls):
        assert cls.init_cache is not ark.core.sampler.SamplingProtocol.init_cache, (
            f"{name}: step without init_cache"
        )
        assert cls.step is not ark.core.sampler.SamplingProtocol.step, f"{name}: init_cache without step"
        assert ark.models.get(name, preset="tiny").supports_cache, (
            f"{name} implements init_cache/step but supports_cache is False: cache=True would recompute"
        )


def _length_and_conditional(model, suite, n):
    """The kind's event length for a short check, and random conditioning for ``n`` examples."""
    if suite == "sequence":
        return 9, sc.conditional_for(model, n, 9)
    if suite == "float_sequence":
        return model.window + 2, None if model.num_classes is None else np.arange(n) % model.num_classes
    return None, tc.labels_for(model, n) if suite == "image" else None


@pytest.mark.parametrize("name, preset", CACHED, ids=harness.case_ids(CACHED))
def test_step_equals_the_full_network_at_every_step(name, preset):
    # Image and sequence models with labels: the conditioning enters every step.
    suite = harness.suite_for(ark.models.model_class(name), preset)
    labels = {"num_classes": 3} if suite in ("image", "sequence") else {}
    model = ark.models.get(name, preset=preset, **labels)
    tc.sharpen(model, 1.5)
    length, c = _length_and_conditional(model, suite, 2)
    assert (c is not None) or not labels
    tc.check_step_equals_network(model, conditional=c, length=length)
