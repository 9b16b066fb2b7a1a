"""spatial_lstm (RIDE) beyond the shared contract: receptive field, MCGSM head, RIDE's scoring."""

import math

import numpy as np
import pixel_case
import pytest
import tensorflow as tf

import ar_keras as ark


def ride(**overrides):
    return ark.models.get("spatial_lstm", preset="tiny", **overrides)


def perturb(model, scale=0.5, seed=0):
    rng = np.random.RandomState(seed)
    for w in model.trainable_weights:
        w.assign(rng.normal(scale=scale, size=w.shape).astype(np.float32))
    return model


def dependencies(model, trials=2):
    """``dep[k, j]``: the conditional of pixel k changed when pixel j was flipped (8x8x1)."""
    H, W, _ = model.image_shape
    D = H * W
    dep = np.zeros((D, D), bool)
    for t in range(trials):
        x = np.random.RandomState(t).randint(0, model.num_levels, (1, D))
        changed = np.repeat(x, D, 0)  # row j flips pixel j
        changed[np.arange(D), np.arange(D)] = (x[0] + 1 + t) % model.num_levels
        batch = np.concatenate([x, changed]).reshape(D + 1, H, W, 1).astype(np.int32)
        clp = model.conditional_log_probs(batch).numpy().reshape(D + 1, D)
        dep |= (np.abs(clp[1:] - clp[:1]) > 0).T
    np.fill_diagonal(dep, False)  # a pixel's own value
    return dep


def ride_region(H, W, neighbourhood_size):
    """What RIDE's recurrence sees: rows above up to column j + nb//2, the row to the left."""
    want = np.zeros((H * W, H * W), bool)
    for i, j, r, c in np.ndindex(H, W, H, W):
        want[i * W + j, r * W + c] = (r < i and c <= j + neighbourhood_size // 2) or (r == i and c < j)
    return want


def test_receptive_field_on_8x8_with_a_full_width_window_sees_every_earlier_pixel():
    model = perturb(ride(image_shape=(8, 8, 1), num_levels=4, neighbourhood_size=15))
    dep = dependencies(model)
    assert not np.triu(dep, 1).any(), "a conditional depends on a later pixel"
    assert dep.sum() == 2016, f"{dep.sum()} of 2,016 dependencies"


def test_receptive_field_of_rides_5_wide_window_is_exactly_its_region():
    # RIDE's neighbourhood_size 5: the states flow right and down, so pixel (i, j) sees the rows above
    # only up to column j + 2: 1,596 of the 2,016 earlier pixels on 8x8.
    model = perturb(ride(image_shape=(8, 8, 1), num_levels=4, neighbourhood_size=5))
    dep = dependencies(model)
    want = ride_region(8, 8, 5)
    assert want.sum() == 1596
    np.testing.assert_array_equal(dep, want)


def test_cached_sampling_equals_full_recompute_rgb_two_layers_conditional():
    model = ride(image_shape=(3, 4, 3), num_levels=5, num_layers=2, num_classes=2)
    pixel_case.check_cached_sampling_equals_full(model, [1, 0, 1, 0], seed=5, sharpness=1.2)


def test_any_image_size_with_the_same_weights():
    model = perturb(ride(image_shape=(8, 8, 1), num_levels=4), 0.3)
    small = model.with_image_shape((5, 7, 1))
    assert small.image_shape == (5, 7, 1) and small.count_params() == model.count_params()
    big = np.random.RandomState(1).randint(0, 4, (3, 8, 8, 1)).astype(np.int32)
    lp = small.log_prob(big[:, :5, :7]).numpy()
    assert lp.shape == (3,) and np.all(np.isfinite(lp))
    # Pixels whose window stays inside column 6 have the same conditional in both.
    np.testing.assert_allclose(
        small.conditional_log_probs(big[:, :5, :7]).numpy()[:, :, :5],
        model.conditional_log_probs(big).numpy()[:, :5, :5],
        rtol=1e-5,
        atol=1e-5,
    )
    assert small.sample(2, seed=0).shape == (2, 5, 7, 1)
    with pytest.raises(ValueError, match="channels"):
        model.with_image_shape((5, 7, 3))


def test_presets():
    paper = ark.models.get("spatial_lstm", preset="paper")
    assert (paper.head_name, paper.num_layers, paper.hidden_dim, paper.neighbourhood_size) == (
        "mcgsm",
        2,
        64,
        5,
    )
    assert (paper.num_mixtures, paper.num_scales, paper.num_mixture_features) == (32, 4, 32)
    assert paper.num_levels is None and paper.image_shape == (22, 22, 1)
    digits = ark.models.get("spatial_lstm", preset="digits")
    assert digits.image_shape == (8, 8, 1) and digits.num_levels == 17


def test_bad_configuration():
    with pytest.raises(ValueError, match="head"):
        ride(head="logistic")
    with pytest.raises(ValueError, match="neighbourhood_size must be an odd"):
        ride(neighbourhood_size=4)
    with pytest.raises(ValueError, match="num_levels must be None"):
        ride(head="mcgsm")
    with pytest.raises(ValueError, match="hidden_dim"):
        ride(hidden_dim=0)
    with pytest.raises(ValueError, match="fit_whitening is for head='mcgsm'"):
        ride().fit_whitening(np.zeros([2, 3, 3, 1], np.float32))


# ----------------------------------------------------------------- MCGSM head
def mcgsm(**overrides):
    kw = dict(
        image_shape=(8, 8, 1),
        num_levels=None,
        head="mcgsm",
        num_mixtures=3,
        num_scales=2,
        num_mixture_features=4,
    )
    kw.update(overrides)
    return ride(**kw)


def images(n, shape=(8, 8, 1), seed=0):
    """Smooth random float images (correlated neighbours, so the whitening has work to do)."""
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n,) + shape).cumsum(1).cumsum(2)
    return (x / x.std()).astype(np.float32)


def test_mcgsm_conditional_integrates_to_one_through_the_whitening():
    model = perturb(mcgsm(), 0.3).fit_whitening(images(20))
    x = images(1, seed=1)
    grid = np.linspace(-30, 30, 6001).astype(np.float32)
    for i, j in [(0, 0), (3, 4), (7, 7)]:
        batch = np.repeat(x, len(grid), 0)
        batch[:, i, j, 0] = grid
        p = np.exp(model.conditional_log_probs(batch).numpy()[:, i, j, 0].astype(np.float64))
        np.testing.assert_allclose(p.sum() * (grid[1] - grid[0]), 1.0, atol=2e-3)


def test_whitening_log_jacobian_is_included():
    # Whitening is invariant to scaling the data by a: the MCGSM sees the same whitened values,
    # so the densities differ by exactly the Jacobian, log p(a x) = log p(x) - D log a.
    x = images(16)
    a = 3.0
    model = perturb(mcgsm(), 0.3, seed=2).fit_whitening(x)
    scaled = mcgsm()
    scaled.set_weights(model.get_weights())
    scaled.fit_whitening(a * x)
    np.testing.assert_allclose(
        scaled.log_prob(a * x[:4]).numpy(),
        model.log_prob(x[:4]).numpy() - 64 * math.log(a),
        rtol=1e-4,
        atol=2e-3,
    )
    np.testing.assert_allclose(
        scaled.ride_log_likelihood(a * x[:4]).numpy(),
        model.ride_log_likelihood(x[:4]).numpy() - math.log(a),
        atol=2e-3,
    )
    np.testing.assert_allclose(model.out_scale.numpy() * a, scaled.out_scale.numpy(), rtol=1e-4)


def test_ride_scoring_covers_the_reachable_pixels_only():
    model = perturb(mcgsm(), 0.3).fit_whitening(images(16))
    x = images(4, seed=3)
    ll = model.ride_log_likelihood(x).numpy()
    assert ll.shape == (4, 6, 4)  # (8 - 2) x (8 - 4) for neighbourhood_size 5
    clp = model.conditional_log_probs(x).numpy()
    np.testing.assert_allclose(ll, clp[:, 2:, 2:6, 0], rtol=1e-6)
    want = -ll.mean() / math.log(2.0)
    np.testing.assert_allclose(model.ride_bits_per_pixel(x).numpy(), want, rtol=1e-5)
    # Changing a border pixel outside the region changes no scored term of its own.
    y = x.copy()
    y[:, 7, 7] += 5.0
    np.testing.assert_allclose(model.ride_log_likelihood(y).numpy(), ll, rtol=1e-6)
    np.testing.assert_allclose(model.log_prob(x).numpy(), clp.reshape(4, -1).sum(1), rtol=1e-5)


def test_mcgsm_rgb_cache_equals_recompute_and_round_trip(tmp_path):
    model = perturb(mcgsm(image_shape=(3, 4, 3), num_layers=2), 0.3)
    model.fit_whitening(images(12, (3, 4, 3)))
    cached = model.sample(3, seed=4, cache=True).numpy()
    full = model.sample(3, seed=4, cache=False).numpy()
    assert cached.dtype == np.float32 and cached.shape == (3, 3, 4, 3)
    np.testing.assert_allclose(cached, full, rtol=1e-4, atol=1e-4)
    assert np.all(np.isfinite(model.log_prob(cached).numpy()))
    # Causality by flipping each element (all 36 flips scored in one batch): earlier
    # conditionals never move, the pixel's later channels always do.
    x = images(1, (3, 4, 3), seed=5).reshape(1, -1)
    flipped = np.repeat(x, 36, 0) + np.eye(36, dtype=np.float32)  # row d moves element d
    clp = model.conditional_log_probs(np.concatenate([x, flipped]).reshape(37, 3, 4, 3)).numpy()
    diff = np.abs(clp.reshape(37, -1)[1:] - clp.reshape(37, -1)[:1])  # [d, element]
    for d in range(36):
        assert np.all(diff[d, :d] == 0), f"element {d} changed earlier conditionals"
        assert np.all(diff[d, d + 1 : d - d % 3 + 3] > 0), f"element {d}: later channels blind"
    path = str(tmp_path / "ride.keras")
    model.save(path)
    import keras

    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.log_prob(cached).numpy(), model.log_prob(cached).numpy(), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_array_equal(loaded.out_scale.numpy(), model.out_scale.numpy())


def test_mcgsm_fit_step_and_bad_input():
    model = mcgsm(image_shape=(4, 5, 1))
    x = images(8, (4, 5, 1))
    model.fit_whitening(x)
    model.compile(optimizer="adam")
    history = model.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="NaN|finite"):
        model.log_prob(np.full((2, 4, 5, 1), np.nan, np.float32))
    with pytest.raises(ValueError, match="floats"):
        model.log_prob(np.zeros((2, 4, 5, 1), np.int32))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((2, 5, 5, 1), np.float32))
