"""Gated PixelCNN's cached sampler: exact across kernel sizes, channels and conditioning."""

import pixel_case
import pytest

import ar_keras as ark


@pytest.mark.parametrize(
    "overrides",
    [
        dict(image_shape=(5, 4, 3), num_levels=5, first_kernel_size=7, kernel_size=5, num_layers=4),
        dict(image_shape=(4, 6, 1), num_levels=6, num_classes=3),
        dict(image_shape=(1, 3, 2), num_levels=4, first_kernel_size=1, kernel_size=1),
    ],
)
def test_cached_sampling_equals_full_recompute(overrides):
    model = ark.models.get("gated_pixelcnn", preset="tiny", **overrides)
    assert model.supports_cache
    pixel_case.check_cached_sampling_equals_full(model, [0, 2, 1, 2], seed=3)
