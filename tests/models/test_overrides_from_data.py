"""One `overrides_from_data` on the base: a dataset's event spec names the constructor arguments.

* the kind a class is classified by without building it (``event_kind_of`` of a preset's
  arguments, what tests/harness.py reads) is the kind of the model it builds;
* every registered class takes the arguments of a dataset of its kind (each argument a
  constructor parameter; the shape, levels and, for audio, the sample rate of the data)
  and refuses a dataset of another kind, naming what it models.
"""

import inspect

import harness
import pytest

import ar_keras as ark
from ar_keras.core.events import MODALITIES

#: A dataset of each event kind.
DATA = {
    "image": "digits",
    "sequence": "speech",
    "vector": "two_moons",
    "float_sequence": "speech_features",
    "video": "moving_digits",
}
SEQUENCE_MODALITIES = {"bytenet": "text", "wavenet": "audio", "samplernn": "audio", "wavernn": "audio"}


@pytest.mark.parametrize("name,preset", harness.cases(), ids=harness.case_ids(harness.cases()))
def test_the_kind_classified_without_building_is_the_kind_built(name, preset):
    cls = ark.models.model_class(name)
    model = ark.models.get(name, preset=preset)
    assert cls.event_kind_of(cls.PRESETS[preset]) == model.event.kind
    assert model.event.modality in MODALITIES
    if name in SEQUENCE_MODALITIES:
        assert model.event.modality == SEQUENCE_MODALITIES[name]
    assert (model.event.modality == "audio") == (model.event.sample_rate is not None)


@pytest.mark.parametrize("name", ark.models.names())
def test_a_dataset_of_the_class_kind_gives_its_arguments(name):
    cls = ark.models.model_class(name)
    kind = cls.event_kind_of({})
    info = ark.data.info(DATA[kind])
    overrides = cls.overrides_from_data(info)
    taken = inspect.signature(cls.__init__).parameters
    assert set(overrides) <= set(taken), (name, overrides)
    if info.event.discrete:
        assert overrides["num_levels"] == info.num_levels
    shape_argument = {
        "image": "image_shape",
        "video": "video_shape",
        "vector": "event_size",
        "float_sequence": "num_features",
    }
    if kind in shape_argument:
        assert shape_argument[kind] in overrides, (name, overrides)
    if kind == "sequence":
        assert ("sample_rate" in overrides) == ("sample_rate" in taken)
        assert overrides.get("sample_rate", 16000) == 16000
    other = "two_moons" if kind != "vector" else "digits"
    with pytest.raises(ValueError, match=f"holds {ark.data.info(other).kind} data"):
        cls.overrides_from_data(ark.data.info(other))


def test_audio_data_give_their_sample_rate_and_text_none():
    wavenet, bytenet = ark.models.model_class("wavenet"), ark.models.model_class("bytenet")
    assert wavenet.overrides_from_data(ark.data.info("ljspeech"))["sample_rate"] == 22050
    assert bytenet.overrides_from_data(ark.data.info("text")) == {"num_levels": 256}
    sparse = ark.models.model_class("sparse_transformer")
    assert sparse.overrides_from_data(ark.data.info("speech"))["sample_rate"] == 16000
    assert "sample_rate" not in sparse.overrides_from_data(ark.data.info("text"))
