"""Byte text: the embedded ``text`` corpus (fixed split, windows, byte range) and ``enwik8``
from a local file (standard split, a clear error when the file is missing)."""

import os
import sys

import numpy as np
import pytest

import ar_keras as ark
from ar_keras.data import text


def test_text_is_registered_as_bytes():
    meta = ark.data.info("text")
    assert meta.kind == "sequence" and meta.event_shape == (None,)
    assert meta.num_levels == 256 and meta.num_classes is None
    assert meta.example_length == text.DEFAULT_LENGTH == 256
    assert {"text", "enwik8"} <= set(ark.data.names())


def test_corpus_is_the_documented_one():
    data = text.corpus()
    assert data.dtype == np.uint8 and len(data) == 467_708
    decoded = bytes(data).decode("utf-8")  # valid UTF-8 all through
    assert decoded.startswith("=== assert ===") and 'The "if" statement' in decoded
    with pytest.raises(ValueError):
        data[0] = 1  # read-only: no caller can corrupt it


def test_split_sizes_match_the_info_and_the_90_5_5_bytes():
    meta = ark.data.info("text")
    n = len(text.corpus())
    sizes = {
        s: len(text.split_bytes(text.corpus(), s, (int(0.9 * n), int(0.95 * n))))
        for s in ("train", "validation", "test")
    }
    assert sizes == {"train": 420_937, "validation": 23_385, "test": 23_386}
    for split, count in meta.splits.items():
        x = ark.data.as_numpy("text", split)
        assert x.shape == (count, 256) and x.dtype == np.int32
        assert count == sizes[split] // 256


def test_splits_are_disjoint_contiguous_and_cover_the_corpus():
    data = text.corpus()
    n = len(data)
    bounds = (int(0.9 * n), int(0.95 * n))
    parts = [text.split_bytes(data, s, bounds) for s in ("train", "validation", "test")]
    np.testing.assert_array_equal(np.concatenate(parts), data)  # in order, nothing twice
    # Windows of each split are the split's own bytes, in order, without overlap.
    for split, part in zip(("train", "validation", "test"), parts):
        x = ark.data.as_numpy("text", split)
        np.testing.assert_array_equal(x.reshape(-1), part[: x.size])
    # Disjoint by offset; by content nearly so: no validation window and few test windows
    # occur verbatim in the training bytes (the docs repeat a few passages: 14 of 91 test windows).
    train = bytes(parts[0])
    seen = {
        s: sum(bytes(w.astype(np.uint8)) in train for w in ark.data.as_numpy("text", s))
        for s in ("validation", "test")
    }
    assert seen["validation"] == 0 and seen["test"] <= 91 // 5, seen


def test_windows_are_bytes_and_take_any_length():
    ds = ark.data.load("text", "validation")
    assert ds.element_spec.shape == (256,) and ds.element_spec.dtype.name == "int32"
    x = np.stack(list(ds.as_numpy_iterator()))
    assert x.min() >= 0 and x.max() < 256
    long = np.stack(list(text.windows("text", "test", length=1024).as_numpy_iterator()))
    assert long.shape == (23_386 // 1024, 1024)
    np.testing.assert_array_equal(
        long.reshape(-1), ark.data.as_numpy("text", "test").reshape(-1)[: long.size]
    )
    with pytest.raises(ValueError, match="length"):
        text.windows("text", "train", length=0)
    with pytest.raises(ValueError, match="split"):
        text.text_arrays("dev")
    with pytest.raises(ValueError, match="no labels"):
        ark.data.load("text", "train", with_labels=True)


def test_missing_enwik8_names_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # never reaches for tfds
    with pytest.raises(ark.data.DatasetNotFoundError) as e:
        ark.data.load("enwik8", "train", data_dir=str(tmp_path))
    message = str(e.value)
    assert str(tmp_path / "enwik8") in message and "enwik8.zip" in message
    assert "AR_KERAS_DATA_DIR" in message and "never downloads" in message
    monkeypatch.setenv("AR_KERAS_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="from \\$AR_KERAS_DATA_DIR"):
        ark.data.load("enwik8", "test")
    (tmp_path / "enwik8.zip").write_bytes(b"PK")
    with pytest.raises(FileNotFoundError, match="unzip"):
        ark.data.load("enwik8", "test")


def test_enwik8_standard_split_from_a_local_file(tmp_path, monkeypatch):
    # A scaled-down file (10,000 bytes, split 9,000 / 500 / 500) exercises the same code as
    # the 10^8-byte original with its 90M / 5M / 5M split.
    monkeypatch.setattr(text, "ENWIK8_SIZE", 10_000)
    monkeypatch.setattr(text, "ENWIK8_SPLIT", (9_000, 9_500))
    data = np.random.RandomState(0).randint(0, 256, 10_000).astype(np.uint8)
    (tmp_path / "enwik8").write_bytes(data.tobytes())
    got = {s: ark.data.as_numpy("enwik8", s, data_dir=str(tmp_path)) for s in ("train", "validation", "test")}
    assert {s: g.shape for s, g in got.items()} == {
        "train": (9_000 // 256, 256),
        "validation": (1, 256),
        "test": (1, 256),
    }
    np.testing.assert_array_equal(got["train"].reshape(-1), data[: 35 * 256])
    np.testing.assert_array_equal(got["validation"][0], data[9_000:9_256])
    np.testing.assert_array_equal(got["test"][0], data[9_500:9_756])
    (tmp_path / "enwik8").write_bytes(data[:-1].tobytes())
    with pytest.raises(ValueError, match="exactly 10,000 bytes"):
        ark.data.load("enwik8", "train", data_dir=str(tmp_path))
    assert os.path.getsize(tmp_path / "enwik8") == 9_999
