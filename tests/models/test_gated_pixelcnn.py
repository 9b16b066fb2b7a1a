"""Gated PixelCNN's cached sampler: exact across kernel sizes, channels and conditioning."""

import inspect

import pixel_case
import pytest

import ar_keras as ark
from ar_keras.core import vocabulary


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


@pytest.mark.parametrize("old,new", sorted(vocabulary.RENAMED["gated_pixelcnn"].items()))
def test_old_argument_name_is_an_error_naming_the_new_one(old, new):
    cls = ark.models.model_class("gated_pixelcnn")
    value = cls.PRESETS["tiny"].get(new, inspect.signature(cls.__init__).parameters[new].default)
    with pytest.raises(TypeError, match=new):
        ark.models.get("gated_pixelcnn", preset="tiny", **{old: value})
    with pytest.raises(TypeError, match=new):
        cls(**{old: value})
    model = ark.models.get("gated_pixelcnn", preset="tiny")
    assert getattr(model, new) == model.get_config()[new] == value
    assert old not in model.get_config() and not hasattr(model, old)
