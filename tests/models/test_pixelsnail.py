"""PixelSNAIL beyond the shared contract: several attention blocks, the key/value cache, the paper's size."""

import pixel_case
import pytest
import test_case as tc

import ar_keras as ark


def snail(**overrides):
    return ark.models.get("pixelsnail", preset="tiny", **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(image_shape=(3, 4, 3), num_levels=5, num_blocks=2, hidden_dim=6),
        dict(
            image_shape=(4, 3, 1),
            num_levels=6,
            num_blocks=3,
            num_layers=2,
            num_classes=2,
            activation="concat_elu",
        ),
    ],
)
def test_cached_sampling_equals_full_recompute(overrides):
    pixel_case.check_cached_sampling_equals_full(snail(**overrides), [1, 0, 1, 0], seed=5, sharpness=1.2)


def test_attention_removes_the_blind_spot():
    # The 2x2 convolutions alone never see the upper right; attention does.
    model = snail(image_shape=(3, 4, 1), num_levels=3, num_blocks=2)
    tc.check_causality(model, full_dependency=True, trials=2)


def test_presets_and_paper_size():
    paper = ark.models.get("pixelsnail", preset="paper")
    assert paper.image_shape == (32, 32, 3) and paper.num_levels == 256
    # Chen et al. 2018 CIFAR-10: about 46M parameters.
    assert paper.count_params() == 45_951_540
    assert ark.models.get("pixelsnail", preset="digits").image_shape == (8, 8, 1)


def test_bad_configuration():
    with pytest.raises(ValueError, match="key_dim"):
        snail(key_dim=0)
    with pytest.raises(ValueError, match="activation"):
        snail(activation="tanh")
