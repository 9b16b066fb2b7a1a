"""The contract of the latent-variable image models (tests/harness.py: suite "latent").

Their log_prob is an importance-weighted bound, so the exact-model checks
(normalisation, samples against log_prob) do not apply; these do, for every
model of the suite: seeded sampling equal on both paths, the bound at least the
ELBO, the bound against the exact law of a tiny model (every image enumerated), bad
input refused.  The `.keras` round trip, the fit step and
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


@pytest.mark.parametrize("name", NAMES)
def test_bound_against_the_exact_law_of_every_2x2_binary_image(name):
    """``exp`` of the importance-weighted bound with S samples is an unbiased estimate of
    ``p(x)`` (Burda et al. 2016: ``(1/S) sum_s p(x, z_s) / q(z_s | x)``, ``z_s ~ q``), so over
    every image of an enumerable shape it sums to 1 (up to the estimate's noise, small at
    S = 1024), and a few-sample bound is on average at most the large-S ``log p(x)``.
    The ELBO's sum is at most 1.  A wrong posterior density, a missing ``log S`` or a
    decoder that does not normalise breaks one of these; Jensen alone does not."""
    model = tiny(name, image_shape=(2, 2, 1), num_levels=2)
    x = tc.configurations((2, 2, 1), 2)  # [16, 2, 2, 1]

    def law(num_samples, seeds):  # [len(seeds), 16]: exp of the bound
        return np.stack([np.exp(model.log_prob(x, num_samples=num_samples, seed=s).numpy()) for s in seeds])

    p = law(1024, (0, 1)).astype(np.float64).mean(0)  # [16] ~ p(x)
    assert abs(p.sum() - 1.0) < 0.12, f"exp(bound) sums to {p.sum():.3f} over every image, not 1"
    few = np.log(law(4, range(8)).astype(np.float64)).mean(0)  # [16] ~ E[bound with S = 4]
    gap = float(np.mean(few - np.log(p)))  # <= 0 up to the estimates' noise
    assert gap <= 0.03, f"the 4-sample bound is {gap:.3f} nats above log p(x) on average"
    elbo = np.exp(model.elbo(x, num_samples=4).numpy().astype(np.float64)).sum()
    assert elbo <= 1.0 + 0.02, f"exp(ELBO) sums to {elbo:.3f} over every image"
