"""Audio data: the mu-law codec, WAV files, the embedded speech, real audio through tfds (offline)."""

import os
import shutil
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from ar_keras import data
from ar_keras.data import real_audio, speech
from ar_keras.data.mu_law import float_to_pcm16, mu_law_decode, mu_law_encode, pcm16_to_float
from ar_keras.data.wav import read_wav, write_wav

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def no_tfds(monkeypatch):
    """Makes `import tensorflow_datasets` fail, to prove a path never imports it."""
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)


# ------------------------------------------------------------------- mu-law codec
@pytest.mark.parametrize("k", [2, 3, 16, 256])
def test_codes_round_trip_exactly(k):
    codes = np.arange(k)
    audio = mu_law_decode(codes, k).numpy()
    np.testing.assert_array_equal(mu_law_encode(audio, k).numpy(), codes)
    assert audio[0] == -1.0 and audio[-1] == 1.0 and np.all(np.diff(audio) > 0)


def test_audio_round_trip_within_the_mu_law_bound():
    mu = 255
    x = np.concatenate(
        [
            np.random.RandomState(0).uniform(-1, 1, 20000),
            np.random.RandomState(1).normal(0, 0.01, 20000).clip(-1, 1),
            [0.0, 1.0, -1.0],
        ]
    )
    err = np.abs(mu_law_decode(mu_law_encode(x)).numpy().astype(np.float64) - x)
    bound = (np.abs(x) + 1 / mu) * ((1 + mu) ** (1 / mu) - 1)
    assert np.all(err <= bound * (1 + 1e-5) + 1e-7)
    # Fine steps for quiet samples: at |x| ~ 0.001 the error is ~100x below the loud one.
    assert err[np.abs(x) < 1e-3].max() < 2e-4 < 1e-2 < err[np.abs(x) > 0.9].max()


def test_known_values_symmetry_and_graph_mode():
    np.testing.assert_array_equal(mu_law_encode([-1.0, 0.0, 0.01, 1.0]).numpy(), [0, 128, 157, 255])
    x = np.linspace(-1, 1, 100)  # 0 is a tie: left out
    codes = mu_law_encode(x).numpy()
    np.testing.assert_array_equal(codes + codes[::-1], 255)  # odd symmetry
    assert np.all(np.diff(codes) >= 0)
    encode = tf.function(lambda v: mu_law_encode(v))
    np.testing.assert_array_equal(encode(tf.constant(x)).numpy(), codes)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[-1, 1\]"):
        encode(tf.constant([0.0, 1.5]))
    decode = tf.function(lambda c: mu_law_decode(c))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 256\)"):
        decode(tf.constant([0, 256]))


def test_codec_rejects_bad_input():
    with pytest.raises(ValueError, match="int16 PCM"):
        mu_law_encode(np.zeros(3, np.int16))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        mu_law_encode([0.5, -1.01])
    with pytest.raises(ValueError, match="NaN"):
        mu_law_encode([np.nan])
    with pytest.raises(ValueError, match="num_levels"):
        mu_law_encode([0.0], num_levels=1)
    with pytest.raises(ValueError, match="integer codes"):
        mu_law_decode([0.5])
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        mu_law_decode([16], num_levels=16)
    with pytest.raises(ValueError, match="int16"):
        pcm16_to_float([0.5])


def test_pcm16_and_wav_round_trip(tmp_path):
    pcm = np.array([-32768, -1, 0, 1, 32767], np.int16)
    x = pcm16_to_float(pcm).numpy()
    np.testing.assert_array_equal(x, pcm / 32768.0)
    np.testing.assert_array_equal(
        float_to_pcm16([-2.0, 0.0, 0.5, 2.0]).numpy(), [-32768, 0, 16384, 32767]
    )  # clipped
    audio = np.sin(np.linspace(0, 100, 1600)) * 0.7
    path = write_wav(tmp_path / "a" / "x.wav", audio, 8000)
    back, rate = read_wav(path)
    assert rate == 8000 and back.dtype == np.float32 and back.shape == (1600,)
    np.testing.assert_allclose(back, audio, atol=1e-4)
    with pytest.raises(ValueError, match="mono"):
        write_wav(tmp_path / "y.wav", np.zeros((2, 5)), 8000)


# -------------------------------------------------------------- embedded speech
def test_speech_info_and_asset():
    meta = data.info("speech")
    assert isinstance(meta, data.AudioDatasetInfo) and isinstance(meta, data.DatasetInfo)
    assert (meta.kind, meta.event_shape, meta.num_levels, meta.num_classes) == ("sequence", (None,), 256, 5)
    assert meta.sample_rate == 16000 and meta.example_length == 10240
    assert meta.splits == {"train": 40, "validation": 5, "test": 5} and meta.event_size is None
    assert len(meta.label_names) == 5
    hash(meta)
    assert os.path.getsize(speech.SPEECH_FILE) < 600 * 1024  # a few hundred KB
    assert "ar_keras.data = assets/*.npz" in open(os.path.join(ROOT, "setup.cfg")).read().replace(
        "\n    ", " "
    )


def test_speech_splits_are_disjoint_and_cover_every_speaker_and_word():
    seen = set()
    for split in data.SPLITS:
        u = speech.utterances(split)
        pairs = set(zip(u["speaker"].tolist(), u["word"].tolist()))
        assert len(pairs) == data.info("speech").splits[split] and not pairs & seen
        seen |= pairs
        if split == "train":
            assert set(u["speaker"]) == set(range(5)) and set(u["word"]) == set(range(10))
        else:
            assert sorted(u["speaker"]) == list(range(5))  # one each
    assert len(seen) == 50
    assert speech.utterances()["words"][7] == "seven"


def test_speech_examples_are_the_clips_in_mu_law_then_silence():
    codes, speakers = data.as_numpy("speech", "validation", with_labels=True)
    assert codes.shape == (5, 10240) and codes.dtype == np.int32
    assert codes.min() >= 0 and codes.max() < 256
    u = speech.utterances("validation")
    np.testing.assert_array_equal(speakers, u["speaker"])
    for row, clip in zip(codes, u["clips"]):
        n = len(clip)
        assert 0.2 * 16000 < n <= 10240
        np.testing.assert_array_equal(row[:n], mu_law_encode(clip / 32768.0).numpy())
        assert np.all(row[n:] == 128)  # silence
        assert np.abs(clip).max() > 0.7 * 32767  # peak-normalised
    ds = data.load("speech", "train", with_labels=True)
    assert ds.element_spec == (tf.TensorSpec([10240], tf.int32), tf.TensorSpec([], tf.int32))
    assert len(list(ds)) == 40


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_the_script_regenerates_the_stored_clips():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        import make_speech
    finally:
        sys.path.pop(0)
    stored = speech.utterances()
    if make_speech.espeak_version() != str(np.load(speech.SPEECH_FILE)["espeak"]):
        pytest.skip("another espeak-ng version makes slightly different waveforms")
    for u in (0, 27, 49):  # a few, for speed
        voice, wpm = make_speech.SPEAKERS[stored["speaker"][u]]
        clip = make_speech.utterance(make_speech.WORDS[stored["word"][u]], voice, wpm)
        np.testing.assert_array_equal(clip, stored["clips"][u])


# ----------------------------------------------------------- real audio (offline)
@pytest.mark.parametrize(
    "name,folder",
    [
        ("ljspeech", "ljspeech/1.1.1"),
        ("vctk", "vctk/mic1/1.0.1"),
        ("speech_commands", "speech_commands/0.0.3"),
    ],
)
def test_missing_real_audio_raises_at_once(name, folder, tmp_path, no_tfds, at_once):
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load(name, "train", data_dir=tmp_path)
    assert err.value.__cause__ is None  # tfds never imported
    message = str(err.value)
    for part in (
        f"Dataset {name!r}",
        f"{tmp_path}/{folder}/",
        f"tfds build {name} --data_dir DIR",
        "download=False",
        "AR_KERAS_DATA_DIR",
    ):
        assert part in message
    meta = data.info(name)
    assert meta.kind == "sequence" and meta.num_levels == 256 and meta.sample_rate in (16000, 22050)


def _fake_tfds(monkeypatch, tmp_path, name, folder, examples):
    (tmp_path / folder).mkdir(parents=True)
    (tmp_path / folder / "dataset_info.json").write_text("{}")
    calls = []

    def load(tfds_name, split, data_dir, download):
        calls.append((tfds_name, split, download))
        return tf.data.Dataset.from_generator(
            lambda: iter(examples),
            output_signature={
                k: tf.TensorSpec([None] if np.ndim(v) else [], tf.as_dtype(np.asarray(v).dtype))
                for k, v in examples[0].items()
            },
        )

    module = types.ModuleType("tensorflow_datasets")
    module.load = load
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", module)
    return calls


def test_speech_commands_clips_are_padded_to_one_second(tmp_path, monkeypatch):
    clip = (np.sin(np.arange(12000) * 0.05) * 8000).astype(np.int16)
    calls = _fake_tfds(
        monkeypatch,
        tmp_path,
        "speech_commands",
        "speech_commands/0.0.3",
        [{"audio": clip, "label": np.int64(7)}],
    )
    codes, labels = data.as_numpy("speech_commands", "validation", with_labels=True, data_dir=tmp_path)
    assert calls == [("speech_commands", "validation", False)]
    assert codes.shape == (1, 16000) and labels.tolist() == [7]
    np.testing.assert_array_equal(codes[0, :12000], mu_law_encode(clip / 32768.0).numpy())
    assert np.all(codes[0, 12000:] == 128)


def test_ljspeech_is_cut_into_one_second_windows(tmp_path, monkeypatch):
    clips = [np.full(22050 * 2 + 100, 1000, np.int16), np.full(300, -1000, np.int16)]
    calls = _fake_tfds(monkeypatch, tmp_path, "ljspeech", "ljspeech/1.1.1", [{"speech": c} for c in clips])
    codes = data.as_numpy("ljspeech", "test", data_dir=tmp_path)
    assert calls == [("ljspeech", "train[95%:]", False)]
    assert codes.shape == (4, 22050)  # 3 windows + 1
    loud, quiet = mu_law_encode([1000 / 32768.0, -1000 / 32768.0]).numpy()
    assert np.all(codes[:2] == loud) and np.all(codes[2, :100] == loud) and np.all(codes[2, 100:] == 128)
    assert np.all(codes[3, :300] == quiet) and np.all(codes[3, 300:] == 128)
    with pytest.raises(ValueError, match="no labels"):
        data.load("ljspeech", with_labels=True, data_dir=tmp_path)


def test_vctk_is_decimated_to_16_khz_with_speaker_labels(tmp_path, monkeypatch):
    t = np.arange(48000 * 2) / 48000.0
    low = np.sin(2 * np.pi * 1000 * t)  # kept
    high = np.sin(2 * np.pi * 12000 * t)  # above 8 kHz: removed
    clip = ((low + high) * 0.3 * 32767).astype(np.int16)
    _fake_tfds(monkeypatch, tmp_path, "vctk", "vctk/mic1/1.0.1", [{"speech": clip, "speaker": np.int64(42)}])
    codes, labels = data.as_numpy("vctk", "train", with_labels=True, data_dir=tmp_path)
    assert codes.shape == (2, 16000) and labels.tolist() == [42, 42]
    audio = mu_law_decode(codes).numpy().reshape(-1)[1000:-1000]  # away from the edges
    want = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(32000) / 16000.0)[1000:-1000]
    assert np.abs(audio - want).max() < 0.015  # 12 kHz aliasing gone


def test_decimation_filter_response():
    for freq, gain in ((500.0, 1.0), (6000.0, 1.0), (10000.0, 0.0), (20000.0, 0.0)):
        x = np.sin(2 * np.pi * freq * np.arange(48000) / 48000.0).astype(np.float32)
        y = real_audio.decimate(tf.constant(x), 3).numpy()[500:-500]
        assert y.shape[0] == 16000 - 1000
        assert abs(np.abs(y).max() - gain) < 0.1, (freq, np.abs(y).max())


def test_prepared_tfds_folder_end_to_end(tmp_path):
    """A real (tiny) prepared tfds 'speech_commands' folder, written offline, read back by tfds."""
    tfds = pytest.importorskip("tensorflow_datasets")
    clips = [(np.sin(np.arange(n) * 0.03) * 5000).astype(np.int16) for n in (16000, 9000)]
    features = tfds.features.FeaturesDict(
        {
            "audio": tfds.features.Audio(file_format="wav", sample_rate=16000, dtype=np.int16),
            "label": tfds.features.ClassLabel(num_classes=12),
        }
    )

    def split(labels):
        return tf.data.Dataset.from_generator(
            lambda: ({"audio": c, "label": l} for c, l in zip(clips, labels)),
            output_signature={"audio": tf.TensorSpec([None], tf.int16), "label": tf.TensorSpec([], tf.int64)},
        )

    tfds.dataset_builders.store_as_tfds_dataset(
        name="speech_commands",
        version="0.0.3",
        data_dir=str(tmp_path),
        features=features,
        split_datasets={"train": split([1, 2]), "validation": split([3, 4]), "test": split([5, 6])},
        disable_shuffling=True,
    )
    codes, labels = data.as_numpy("speech_commands", "test", with_labels=True, data_dir=tmp_path)
    assert codes.shape == (2, 16000) and labels.tolist() == [5, 6]
    np.testing.assert_array_equal(codes[1, :9000], mu_law_encode(clips[1] / 32768.0).numpy())
    assert np.all(codes[1, 9000:] == 128)
