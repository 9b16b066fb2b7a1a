"""ar_keras.core.conditioning: each part's checks, examples and export names, and the spec's protocol."""

import numpy as np
import pytest
import tensorflow as tf

from ar_keras.core import conditioning as cond
from ar_keras.core.events import ImageEvent

PARTS = {
    "labels": lambda: cond.ClassLabels(3),
    "features": lambda: cond.LocalFeatures(channels=2, hop=4),
    "low_resolution": lambda: cond.LowResolution(ImageEvent((2, 2, 1), num_levels=5)),
    "source": lambda: cond.SourceSequence(num_levels=7),
    "context": lambda: cond.ContextFrames((4, 3, 3, 1), num_levels=5),
}
LENGTH = 8


@pytest.mark.parametrize("key", sorted(PARTS))
def test_part_examples_pass_their_own_check_and_spec(key):
    part = PARTS[key]()
    assert part.key == key
    length = 2 if key == "context" else LENGTH
    for value in (part.zeros(3, length), part.random(3, length, seed=1)):
        checked = part.check(value, batch=3, length=LENGTH)
        assert part.tensor_spec().is_compatible_with(tf.TensorSpec.from_tensor(tf.convert_to_tensor(checked)))
        assert part.tensor_spec().name == part.export_name
    # A batch of another size is refused.
    with pytest.raises(ValueError):
        part.check(part.zeros(2, length), batch=3, length=LENGTH)


def test_random_examples_are_seeded_and_cover_the_range():
    part = cond.ClassLabels(3)
    np.testing.assert_array_equal(part.random(50, seed=4), part.random(50, seed=4))
    assert set(part.random(50, seed=4)) == {0, 1, 2}


@pytest.mark.parametrize(
    "key, bad, match",
    [
        ("labels", np.array([0, 3]), r"\[0, 3\)"),
        ("labels", np.array([0.0, 1.0]), "integer class ids"),
        ("features", np.zeros([2, 3, 2], np.float32), "expected 2 frames for T = 8, got 3"),
        ("features", np.zeros([2, 2, 5], np.float32), r"\[batch, frames, 2\]"),
        ("features", np.full([2, 2, 2], np.nan, np.float32), "NaN"),
        ("features", np.zeros([2, 2, 2], np.int32), "must be floats"),
        ("low_resolution", np.zeros([2, 3, 3, 1], np.int32), "low-resolution"),
        ("source", np.zeros([2, 3], np.float32), "integer symbols"),
        ("source", np.full([2, 3], 7), r"\[0, 7\)"),
        ("context", np.zeros([2, 4, 3, 3, 1], np.int32), "1 <= T0 < 4"),
        ("context", np.zeros([2, 3], np.int32), "context frames"),
    ],
)
def test_bad_values_get_a_clear_error(key, bad, match):
    with pytest.raises(ValueError, match=match):
        PARTS[key]().check(bad, batch=2, length=LENGTH)


def test_unconditional_spec_refuses_a_conditional():
    spec = cond.ConditioningSpec.labels(None, owner="nade")
    assert not spec.required and spec.tensor_specs() == [] and spec.zeros(2) is None
    assert spec.check(None) is None
    with pytest.raises(ValueError, match="unconditional"):
        spec.check(np.zeros([2], np.int32))


def test_one_part_is_the_bare_value():
    spec = cond.ConditioningSpec.labels(3, owner="made")
    assert spec.required
    np.testing.assert_array_equal(spec.check(np.array([2, 0]), batch=2), [2, 0])
    with pytest.raises(ValueError, match=r"class-conditional \(num_classes=3\)"):
        spec.check(None, batch=2)
    assert spec.to_named(tf.constant([1, 2])).keys() == {"conditional"}


def test_several_parts_are_a_dict_and_round_trip_through_the_named_inputs():
    spec = cond.ConditioningSpec([cond.ClassLabels(3), cond.LocalFeatures(2, 4)], owner="wavenet")
    c = spec.random(2, LENGTH, seed=3)
    checked = spec.check(c, batch=2, length=LENGTH)
    assert set(checked) == {"labels", "features"}
    named = spec.to_named(checked)
    assert set(named) == {"conditional", "features"} == {s.name for s in spec.tensor_specs()}
    back = spec.from_named(named)
    for key in ("labels", "features"):
        np.testing.assert_array_equal(back[key], checked[key])
    with pytest.raises(ValueError, match="locally conditioned"):
        spec.check(None, batch=2, length=LENGTH)
    with pytest.raises(ValueError, match='"labels"'):
        spec.check(c["features"], batch=2, length=LENGTH)
    with pytest.raises(ValueError, match="distinct keys"):
        cond.ConditioningSpec([cond.ClassLabels(2), cond.ClassLabels(3)])


def test_an_optional_part_may_be_left_out_and_is_not_an_export_input():
    spec = cond.ConditioningSpec([cond.ContextFrames((4, 3, 3, 1), 5)], owner="vpn")
    assert (
        not spec.required and spec.check(None) is None and spec.tensor_specs() == [] and spec.zeros(2) is None
    )
    assert spec.check(np.zeros([1, 2, 3, 3, 1], np.int32), batch=1).shape == (1, 2, 3, 3, 1)
