"""PixelCNN++ beyond the shared contract: every resolution layout, the paper's size, the pieces."""

import numpy as np
import pixel_case
import pytest
import tensorflow as tf
import test_case as tc

import ar_keras as ark


def pcnn(**overrides):
    return ark.models.get("pixelcnn_pp", preset="tiny", **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        # three resolutions on odd sizes (5 -> 3 -> 2 rows, 3 -> 2 -> 1 columns), RGB
        dict(image_shape=(5, 3, 3), num_levels=6, num_hierarchies=3),
        # one resolution, two blocks per stream, class-conditional
        dict(image_shape=(4, 4, 1), num_levels=5, num_hierarchies=1, num_layers=2, num_classes=2),
        # a single row and a single pixel
        dict(image_shape=(1, 5, 2), num_levels=4, num_hierarchies=2),
    ],
)
def test_cached_sampling_equals_full_recompute(overrides):
    pixel_case.check_cached_sampling_equals_full(pcnn(**overrides), [0, 1, 1, 0], seed=11)


def test_no_blind_spot_and_causal_with_three_resolutions():
    model = pcnn(image_shape=(5, 5, 1), num_levels=3, num_hierarchies=3)
    tc.check_causality(model, full_dependency=True, trials=2)


def test_log_prob_is_the_pixelcnn_pp_joint_likelihood():
    """Summing the element conditionals over a pixel's channels gives PixelCNN++'s pixel law."""
    model = pcnn(image_shape=(2, 3, 3), num_levels=7)
    tc.sharpen(model, 1.5)
    x = tc.random_data(model, 3)
    # The network's per-pixel mixture, recovered by running the layers up to `out`.
    captured = {}
    original = model.out.call

    def spy(inputs):
        captured["pixel"] = original(inputs)
        return captured["pixel"]

    model.out.call = spy
    try:
        lp = model.log_prob(x).numpy()
    finally:
        model.out.call = original
    joint = model.head.joint_log_prob(captured["pixel"], x).numpy()  # [B, H, W]
    np.testing.assert_allclose(lp, joint.reshape(3, -1).sum(1), rtol=1e-5, atol=1e-4)


def test_dropout_acts_in_training_only():
    model = pcnn(image_shape=(3, 3, 1), dropout=0.5)
    x = tc.random_data(model, 2)
    a = model(x, training=False).numpy()
    np.testing.assert_array_equal(a, model(x, training=False).numpy())
    assert not np.allclose(a, model(x, training=True).numpy())


def test_presets_and_paper_size():
    digits = ark.models.get("pixelcnn_pp", preset="digits")
    assert digits.image_shape == (8, 8, 1) and digits.num_levels == 17
    paper = ark.models.get("pixelcnn_pp", preset="paper")
    assert paper.image_shape == (32, 32, 3) and paper.num_levels == 256
    # 6 blocks of 5 gated ResNet layers per stream, 160 filters, 10 logistics
    # (Salimans et al. 2017): about 53M parameters (see the class docstring).
    assert paper.count_params() == 53_618_660
    assert paper.head.num_pixel_params == 100


def test_bad_configuration():
    with pytest.raises(ValueError, match="num_hierarchies"):
        pcnn(num_hierarchies=0)
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        pcnn(image_shape=(4, 4))
    with pytest.raises(ValueError, match="dropout"):
        pcnn(dropout=1.0)


def test_upsampled_maps_are_cropped_to_odd_sizes():
    model = pcnn(image_shape=(3, 5, 1), num_hierarchies=3)
    assert model._sizes == [(3, 5), (2, 3), (1, 2)]
    params = model.network(tf.zeros([2, 3, 5, 1], tf.int32))
    assert params.shape == (2, 3, 5, 1, 3 * model.num_mixtures)
