"""The contract of the latent-variable image models (tests/harness.py: suite "latent").

Their log_prob is an importance-weighted bound, so the exact-model checks
(normalisation, samples against log_prob) do not apply; these do, for every
model of the suite: seeded sampling equal on both paths, the bound at least the
ELBO, bad input refused.  The `.keras` round trip, the fit step and
MirroredStrategy are in test_every_model.py, for every registered model.
"""

import harness
import numpy as np
import pytest
import test_case as tc

import ar_keras as ark

NAMES = harness.names_for("latent")


def tiny(name, **overrides):
    return ark.models.get(name, preset="tiny", **overrides)


@pytest.mark.parametrize("name", NAMES)
def test_sampling_is_seeded_and_in_range(name):
    model = tiny(name)
    tc.sharpen(model, 1.5)
    a = model.sample(6, seed=2).numpy()
    assert a.dtype == np.int32 and a.shape == (6,) + model.image_shape
    assert 0 <= a.min() and a.max() < model.num_levels
    np.testing.assert_array_equal(a, model.sample(6, seed=2, cache=False).numpy())
    np.testing.assert_array_equal(a[:2], model.sample(2, seed=2).numpy())
    assert not np.array_equal(a, model.sample(6, seed=3).numpy())
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, temperature=-1.0)


@pytest.mark.parametrize("name", NAMES)
def test_bound_and_bad_input(name):
    model = tiny(name)
    x = tc.random_data(model, 4)
    iw, elbo = model.log_prob(x, num_samples=8).numpy(), model.elbo(x, num_samples=8).numpy()
    assert np.all(iw >= elbo - 1e-4), "the importance-weighted bound is below the ELBO"
    assert model.monitor == "val_loss"
    with pytest.raises(ValueError, match="integer levels"):
        model.log_prob(x.astype(np.float32))
    with pytest.raises(ValueError, match="rank"):
        model.log_prob(x[0])
    tc.check_common_bad_input(model, x)
