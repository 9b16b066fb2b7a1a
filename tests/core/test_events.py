"""Event specs: each kind's checks, shapes, noise layout and export spec, without a model."""

import numpy as np
import pytest
import tensorflow as tf

from ar_keras.core.events import (
    MODALITIES,
    EventSpec,
    FloatSequence,
    ImageEvent,
    SequenceEvent,
    VectorEvent,
    VideoEvent,
)


def test_image_event():
    spec = ImageEvent((2, 3, 1), num_levels=5)
    assert spec.kind == "image" and spec.discrete and spec.num_elements() == 6
    assert spec.check(np.zeros((4, 2, 3, 1), np.int64)).dtype == tf.int32
    with pytest.raises(ValueError, match="integer levels"):
        spec.check(np.zeros((4, 2, 3, 1), np.float32))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        spec.check(np.full((1, 2, 3, 1), 5, np.int32))
    with pytest.raises(ValueError, match="rank 4"):
        spec.check(np.zeros((2, 3, 1), np.int32))
    with pytest.raises(ValueError, match=r"shape \[batch, 2, 3, 1\]"):
        spec.check(np.zeros((1, 3, 2, 1), np.int32))
    assert spec.tensor_spec().shape.as_list() == [None, 2, 3, 1]
    with pytest.raises(ValueError, match="length= is"):
        spec.check_length(4)
    with pytest.raises(ValueError, match="num_levels"):
        ImageEvent((2, 2, 1), num_levels=1)


def test_sequence_event_has_a_free_length():
    spec = SequenceEvent(256)
    assert spec.free_length and spec.num_elements() is None and spec.num_elements(100) == 100
    assert spec.check(np.zeros((2, 7), np.int32)).shape == (2, 7)
    assert spec.tensor_spec().shape.as_list() == [None, None]
    with pytest.raises(ValueError, match="mu_law_encode"):
        spec.check(np.zeros((2, 7), np.float32))
    with pytest.raises(ValueError, match="at least one time step"):
        spec.check(np.zeros((2, 0), np.int32))
    with pytest.raises(ValueError, match="length=T"):
        spec.check_length(None)
    assert float(spec.elements_per_example(tf.zeros([3, 11], tf.int32))) == 11.0


def test_vector_and_float_sequence_events():
    spec = VectorEvent(3, support=(0.0, 1.0))
    assert spec.kind == "vector" and not spec.discrete and spec.dtype == tf.float32
    with pytest.raises(ValueError, match="floats"):
        spec.check(np.zeros((2, 3), np.int32))
    with pytest.raises(ValueError, match="NaN"):
        spec.check(np.array([[0.5, np.nan, 0.5]], np.float32))
    with pytest.raises(ValueError, match=r"must lie in \[0.0, 1.0\]"):
        spec.check(np.full((1, 3), 2.0, np.float32))
    with pytest.raises(ValueError, match="event_size=3"):
        spec.check(np.zeros((1, 4), np.float32))
    np.testing.assert_allclose(spec.zeros(2).numpy(), 0.5)  # the middle of the support
    seq = FloatSequence(num_features=4)
    assert seq.kind == "float_sequence" and seq.free_length and seq.num_elements(5) == 20
    assert seq.check(np.zeros((2, 9, 4), np.float32)).shape == (2, 9, 4)
    with pytest.raises(ValueError, match=r"shape \[batch, T, 4\]"):
        seq.check(np.zeros((2, 9, 3), np.float32))
    with pytest.raises(ValueError, match="finite"):
        seq.check(np.full((1, 2, 4), np.inf, np.float32))


def test_video_event():
    spec = VideoEvent((2, 1, 2, 1), num_levels=3)
    assert spec.kind == "video" and spec.num_elements() == 4
    assert spec.check(np.zeros((5, 2, 1, 2, 1), np.int32)).shape == (5, 2, 1, 2, 1)
    with pytest.raises(ValueError, match="rank 5"):
        spec.check(np.zeros((2, 1, 2, 1), np.int32))
    with pytest.raises(ValueError, match=r"video_shape must be \(T, H, W, C\)"):
        VideoEvent((2, 2, 1), num_levels=3)


def test_values_are_checked_inside_a_graph_too():
    spec = ImageEvent((2,), num_levels=3)
    checked = tf.function(lambda x: spec.check(x))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 3\)"):
        checked(tf.constant([[0, 3]]))


def test_every_spec_states_its_modality():
    assert ImageEvent((2, 2, 1), 3).modality == "image"
    assert VectorEvent(2).modality == "vector"
    assert FloatSequence(3).modality == "features"
    assert VideoEvent((2, 1, 1, 1), 3).modality == "video"
    text, audio = SequenceEvent(256), SequenceEvent(256, sample_rate=22050)
    assert (text.modality, text.sample_rate) == ("text", None)
    assert (audio.modality, audio.sample_rate, audio.kind) == ("audio", 22050, "sequence")
    assert "sample_rate=22050" in repr(audio)
    assert {"image", "audio", "text", "video", "vector", "features"} == set(MODALITIES)


def test_bad_modalities_and_sample_rates_are_refused():
    with pytest.raises(ValueError, match="modality must be one of"):
        EventSpec((3,), 4, modality="pictures")
    with pytest.raises(ValueError, match="audio needs one"):
        EventSpec((None,), 4, modality="audio")
    with pytest.raises(ValueError, match="sample_rate goes with audio"):
        EventSpec((None,), 4, modality="text", sample_rate=8000)
    with pytest.raises(ValueError, match="sample_rate"):
        SequenceEvent(256, sample_rate=0)
    assert EventSpec((None,), 4, modality="audio", sample_rate=8000.0).sample_rate == 8000
