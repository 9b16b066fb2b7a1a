"""Subscale Pixel Network: the slicing permutation, S = 1 is raster, the depth split adds up,
the conditioning network sees earlier slices only, bad input.  (The shared image suite runs on
the tiny preset through `Subscale.contract_shape`.)"""

import contract
import numpy as np
import pytest
import tensorflow as tf
import test_case as tc
from ai_edge_litert.interpreter import Interpreter

import ar_keras as ark
from ar_keras.models.multiscale.subscale import Subscale, slice_image, subscale_ordering, unslice_image


def tiny(**overrides):
    return ark.models.get("subscale", preset="tiny", **overrides)


@pytest.mark.parametrize("shape,S", [((4, 6, 3), 2), ((6, 6, 1), 3), ((4, 4, 2), 1), ((8, 4, 1), 4)])
def test_slicing_is_a_permutation(shape, S):
    x = np.random.RandomState(0).randint(0, 1000, (2,) + shape).astype(np.int32)
    slices = slice_image(x, S).numpy()
    H, W, C = shape
    assert slices.shape == (2, S * S, H // S, W // S, C)
    for a in range(S):
        for b in range(S):
            np.testing.assert_array_equal(slices[:, a * S + b], x[:, a::S, b::S])
    np.testing.assert_array_equal(unslice_image(slices, S).numpy(), x)
    # Trailing axes (per-element parameters) travel along.
    params = np.random.RandomState(1).standard_normal((2,) + shape + (5,)).astype(np.float32)
    np.testing.assert_array_equal(unslice_image(slice_image(params, S), S).numpy(), params)
    order = subscale_ordering(shape, S)
    np.testing.assert_array_equal(np.sort(order), np.arange(H * W * C))  # a permutation


def test_ordering_follows_the_slices():
    model = tiny()  # 4x4x1, S = 2
    np.testing.assert_array_equal(model.ordering, [0, 2, 8, 10, 1, 3, 9, 11, 4, 6, 12, 14, 5, 7, 13, 15])
    rgb = tiny(image_shape=(2, 4, 3))  # slices 1x2, channels inner
    np.testing.assert_array_equal(rgb.ordering[:6], [0, 1, 2, 6, 7, 8])
    x = tc.random_data(model, 3)
    np.testing.assert_array_equal(model.unslice_image(model.slice_image(x)).numpy(), x)


def test_s1_is_a_plain_raster_decoder():
    model = tiny(image_shape=(3, 3, 2), num_levels=3, subscale_factor=1)
    np.testing.assert_array_equal(model.ordering, np.arange(18))
    np.testing.assert_array_equal(
        model.ordering, ark.models.get("gated_pixelcnn", preset="tiny", image_shape=(3, 3, 2)).ordering
    )
    tc.check_causality(model, trials=2)  # raster order, every earlier element seen


def test_conditioning_network_sees_only_earlier_slices():
    model = tiny(image_shape=(4, 4, 2), num_levels=5)
    tc.sharpen(model)
    S2, per = 4, 2 * 2 * 2  # slices, elements per slice
    x = tc.random_data(model, 1)
    slices = model.slice_image(x).numpy()
    base = model.slice_image(model.conditional_log_probs(x)).numpy().reshape(S2, per)
    for later in range(1, S2):
        changed = slices.copy()
        changed[:, later] = (changed[:, later] + 1) % 5  # every element of slice `later`
        y = model.unslice_image(changed).numpy()
        clp = model.slice_image(model.conditional_log_probs(y)).numpy().reshape(S2, per)
        np.testing.assert_array_equal(clp[:later], base[:later])  # earlier slices untouched
        assert np.all(np.abs(clp[later + 1 :] - base[later + 1 :]).max(1) > 1e-6)  # later ones see it
    # The conditioning network alone: slices >= s never enter slice s's map.
    stage = model.stages[0]
    scaled = tf.random.normal([1, S2, 2, 2, 2])
    noise = tf.concat([scaled[:, :2], tf.random.normal([1, 2, 2, 2, 2])], axis=1)
    idx = tf.constant([2])
    np.testing.assert_array_equal(
        stage.conditioning(scaled, idx).numpy(), stage.conditioning(noise, idx).numpy()
    )


def test_depth_split_adds_up_and_normalises():
    model = tiny(image_shape=(2, 2, 1), num_levels=16, depth_upscaling=True, msb_bits=2)
    tc.sharpen(model)
    assert not model.exact_conditionals and model.noise_depth == 4 + 4
    configs = tc.configurations((2, 2, 1), 16)  # 65,536 images
    lp = model.log_prob(configs).numpy()
    msb_lp, lsb_lp = (p.numpy().reshape(len(configs), -1).sum(1) for p in model.depth_log_probs(configs))
    np.testing.assert_allclose(lp, msb_lp + lsb_lp, rtol=1e-6, atol=1e-5)
    total = float(np.exp(lp.astype(np.float64)).sum())
    assert abs(total - 1.0) < 2e-4, f"probabilities sum to {total}"
    # log p(msb) is a law over the 4^4 msb images alone (the lsb part sums out).
    msb = configs >> 2
    first = np.unique(msb.reshape(len(msb), -1) @ (4 ** np.arange(3, -1, -1)), return_index=True)[1]
    assert abs(np.exp(msb_lp[first].astype(np.float64)).sum() - 1.0) < 2e-4
    # The lsb stage reads the msb image: changing the msb of the last element moves the
    # lsb conditional of the first.
    x = np.array([[[[5], [9]], [[3], [14]]]], np.int32)
    y = x.copy()
    y[0, 1, 1, 0] = 2  # msb 3 -> 0, same lsb
    assert abs(model.depth_log_probs(x)[1][0, 0, 0, 0] - model.depth_log_probs(y)[1][0, 0, 0, 0]) > 1e-6
    with pytest.raises(NotImplementedError, match="conditionals are not exact"):
        model.conditional_log_probs(x)


def test_depth_sampling_matches_log_prob_and_cache(tmp_path):
    model = tiny(image_shape=(2, 2, 1), num_levels=4, depth_upscaling=True, msb_bits=1)
    tc.sharpen(model)
    tc.check_samples_match_log_prob(model, num_samples=6000, max_tv=0.06)
    tc.check_cache_equals_recompute(model)
    cond = tiny(image_shape=(2, 2, 1), num_levels=4, depth_upscaling=True, msb_bits=1, num_classes=2)
    tc.sharpen(cond)
    tc.check_cache_equals_recompute(cond)
    contract.check_serialization(cond, str(tmp_path / "deep.keras"))


def test_contract_shape_rounds_sides_to_multiples_of_s():
    assert Subscale.contract_shape((3, 3, 1)) == (4, 4, 1)
    assert Subscale.contract_shape((1, 2, 3)) == (2, 2, 3)
    assert Subscale.contract_shape((1, 1, 3)) == (2, 2, 1)
    assert Subscale.contract_shape((2, 2, 3)) == (2, 2, 3)
    assert ark.models.AutoregressiveModel.contract_shape((3, 3, 1)) == (3, 3, 1)


def test_bad_input():
    with pytest.raises(ValueError, match="subscale_factor S=2 must divide the image sides"):
        tiny(image_shape=(3, 4, 1))
    with pytest.raises(ValueError, match="subscale_factor S=3 must divide"):
        tiny(image_shape=(6, 4, 1), subscale_factor=3)
    with pytest.raises(ValueError, match="positive integer"):
        tiny(subscale_factor=0)
    with pytest.raises(ValueError, match="power of 2"):
        tiny(num_levels=17, depth_upscaling=True)
    with pytest.raises(ValueError, match=r"msb_bits must be in \[1, 1\]"):
        tiny(num_levels=4, depth_upscaling=True, msb_bits=2)
    with pytest.raises(ValueError, match="depth_upscaling=True"):
        tiny().depth_log_probs(np.zeros((1, 4, 4, 1), np.int32))
    deep = tiny(image_shape=(2, 2, 1), num_levels=8, depth_upscaling=True, msb_bits=1)
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        deep.log_prob(np.full((1, 2, 2, 1), 8, np.int32))


def test_depth_upscaled_model_converts_to_tflite(tmp_path):
    # The shared export suite holds the plain tiny preset; the two-pass model converts too.
    from ar_keras import export
    from ar_keras.core import noise as noise_lib

    model = tiny(image_shape=(2, 2, 1), num_levels=8, depth_upscaling=True, msb_bits=1)
    lite = Interpreter(model_path=str(export.tflite(model, tmp_path / "deep.tflite")))
    x = tc.random_data(model, 3)
    np.testing.assert_allclose(
        lite.get_signature_runner("log_prob")(x=x)["log_prob"],
        model.log_prob(x).numpy(),
        rtol=1e-5,
        atol=1e-5,
    )
    noise = noise_lib.seeded_noise(4, 2, model.event_size, model.noise_depth).numpy()
    samples = lite.get_signature_runner("sample_from_noise")(noise=noise, temperature=np.float32(1.0))[
        "samples"
    ]
    np.testing.assert_array_equal(samples, model.sample(2, seed=4).numpy())
