"""Tests of ar_keras.data: embedded digits, offline real datasets, quantization.

No test touches the network: real datasets are read from small fixtures the
tests write themselves (mnist.npz, cifar-10-batches-py/, .amat files, a tiny
prepared tfds folder) or from an empty directory, which must fail at once.
"""

import dataclasses
import hashlib
import os
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from ar_keras import data
from ar_keras.data import real

# The image datasets of this file; audio and continuous datasets are tested beside it.
ALL_NAMES = ["binarized_mnist", "binary_digits", "cifar10", "digits", "mnist"]
EMBEDDED = ["digits", "binary_digits"]


def _hashes(images, labels):
    return [hashlib.sha1(x.tobytes() + bytes([int(y)])).hexdigest() for x, y in zip(images, labels)]


def _collect(ds):
    """All elements of an unbatched dataset as numpy (a tuple for (image, label))."""
    return next(iter(ds.batch(100000).as_numpy_iterator()))


@pytest.fixture
def no_tfds(monkeypatch):
    """Makes `import tensorflow_datasets` fail, to prove a path never imports it."""
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)


# ----------------------------------------------------------------- registry and info
def test_names():
    names = data.names()
    assert names == sorted(names) and set(ALL_NAMES) <= set(names)


def test_info_fields():
    meta = data.info("digits")
    assert isinstance(meta, data.DatasetInfo)
    assert meta.name == "digits"
    assert meta.event_shape == (8, 8, 1)
    assert meta.num_levels == 17
    assert meta.num_classes == 10
    assert meta.splits == {"train": 1297, "validation": 250, "test": 250}
    assert "RandomState(0)" in meta.description
    assert meta.event_size == 64
    assert meta.event.kind == "image" and meta.event.modality == "image"
    assert data.info("speech").event.modality == "audio" and data.info("speech").event.sample_rate == 16000
    assert data.info("text").event.modality == "text"
    assert data.info("two_moons").kind == "vector" and data.info("two_moons").event.modality == "vector"
    assert data.info("speech_features").event.modality == "features"
    assert data.info("moving_digits").event.modality == "video"
    with pytest.raises(ValueError, match="kind must be one of"):
        data.DatasetInfo("x", (2,), None, None, {}, kind="continuous")

    assert data.info("binary_digits").num_levels == 2
    assert data.info("mnist").event_shape == (28, 28, 1)
    assert data.info("mnist").num_levels == 256
    assert data.info("mnist").splits == {"train": 55000, "validation": 5000, "test": 10000}
    assert data.info("binarized_mnist").num_classes is None
    assert data.info("binarized_mnist").splits == {"train": 50000, "validation": 10000, "test": 10000}
    assert data.info("cifar10").event_shape == (32, 32, 3)
    assert data.info("cifar10").splits == {"train": 45000, "validation": 5000, "test": 10000}
    for name in data.names():
        meta = data.info(name)
        assert meta.name == name
        # One vocabulary: the dataset's event spec has the dataset's kind, shape and levels.
        event = meta.event
        assert event.kind == meta.kind and event.shape == tuple(meta.event_shape), name
        assert event.num_levels == meta.num_levels, name
        assert event.sample_rate == getattr(meta, "sample_rate", None), name
        assert tuple(meta.splits) == data.SPLITS
        assert meta.description
        hash(meta)  # usable as a dict key despite the splits dict


def test_info_is_frozen_and_a_copy():
    meta = data.info("digits")
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.num_levels = 3
    meta.splits["train"] = 0
    assert data.info("digits").splits["train"] == 1297


def test_unknown_name_lists_valid_names():
    for call in (
        lambda: data.load("nope"),
        lambda: data.info("nope"),
        lambda: data.as_numpy("nope", "train"),
    ):
        with pytest.raises(ValueError, match="Unknown dataset 'nope'") as err:
            call()
        for name in ALL_NAMES:
            assert name in str(err.value)
    with pytest.raises(ValueError, match="must be a str"):
        data.load(3)


def test_unknown_split_lists_valid_splits():
    for call in (
        lambda: data.load("digits", split="dev"),
        lambda: data.as_numpy("digits", "dev"),
        lambda: data.load("mnist", split="dev"),
    ):  # checked before any file is looked for
        with pytest.raises(ValueError, match="Unknown split 'dev'") as err:
            call()
        for split in ("'train'", "'validation'", "'test'", "'valid'", "'val'"):
            assert split in str(err.value)
    with pytest.raises(ValueError, match="split must be a str"):
        data.load("digits", split=None)


def test_bad_arguments():
    with pytest.raises(ValueError, match="with_labels must be True or False"):
        data.load("digits", with_labels="yes")
    with pytest.raises(ValueError, match="has no labels"):
        data.load("binarized_mnist", with_labels=True)
    with pytest.raises(ValueError, match="data_dir must be a path"):
        data.load("mnist", data_dir=123)
    with pytest.raises(ValueError, match="non-empty"):
        data.load("mnist", data_dir="")


# ----------------------------------------------------------------- embedded digits
@pytest.mark.parametrize("name", EMBEDDED)
def test_digits_shapes_dtypes_ranges_and_sizes(name):
    meta = data.info(name)
    total = 0
    for split in data.SPLITS:
        ds = data.load(name, split=split)
        assert ds.element_spec == tf.TensorSpec([8, 8, 1], tf.int32)
        images = data.as_numpy(name, split)
        assert images.dtype == np.int32
        assert images.shape == (meta.splits[split], 8, 8, 1)
        assert images.min() >= 0 and images.max() < meta.num_levels
        np.testing.assert_array_equal(_collect(ds), images)
        total += len(images)
    assert total == 1797


def test_digits_use_every_level():
    images = np.concatenate([data.as_numpy("digits", s) for s in data.SPLITS])
    assert set(np.unique(images)) == set(range(17))


def test_digits_splits_disjoint_cover_and_deterministic():
    seen = {}
    for split in data.SPLITS:
        images, labels = data.as_numpy("digits", split, with_labels=True)
        again_images, again_labels = data.as_numpy("digits", split, with_labels=True)
        np.testing.assert_array_equal(images, again_images)
        np.testing.assert_array_equal(labels, again_labels)
        seen[split] = set(_hashes(images, labels))
        assert len(seen[split]) == len(images)  # no example twice inside a split
    assert not seen["train"] & seen["validation"]
    assert not seen["train"] & seen["test"]
    assert not seen["validation"] & seen["test"]
    assert len(seen["train"] | seen["validation"] | seen["test"]) == 1797


def test_digits_split_is_the_documented_permutation():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    perm = np.random.RandomState(0).permutation(1797)
    images, labels = data.as_numpy("digits", "validation", with_labels=True)
    np.testing.assert_array_equal(images[..., 0], bunch.images[perm[1297:1547]].astype(np.int32))
    np.testing.assert_array_equal(labels, bunch.target[perm[1297:1547]])


def test_split_aliases():
    reference = data.as_numpy("digits", "validation")
    for alias in ("valid", "val", "VAL", " validation "):
        np.testing.assert_array_equal(data.as_numpy("digits", alias), reference)
        np.testing.assert_array_equal(_collect(data.load("digits", split=alias)), reference)


def test_binary_digits_are_thresholded_digits():
    for split in data.SPLITS:
        binary, labels = data.as_numpy("binary_digits", split, with_labels=True)
        digits, digit_labels = data.as_numpy("digits", split, with_labels=True)
        assert set(np.unique(binary)) == {0, 1}
        np.testing.assert_array_equal(binary, (digits >= 8).astype(np.int32))
        np.testing.assert_array_equal(labels, digit_labels)


@pytest.mark.parametrize("name", EMBEDDED)
def test_with_labels(name):
    ds = data.load(name, split="train", with_labels=True)
    assert ds.element_spec == (tf.TensorSpec([8, 8, 1], tf.int32), tf.TensorSpec([], tf.int32))
    images, labels = _collect(ds)
    assert images.shape == (1297, 8, 8, 1)
    assert labels.shape == (1297,) and labels.dtype == np.int32
    assert labels.min() >= 0 and labels.max() < 10
    assert set(np.unique(labels)) == set(range(10))


def test_as_numpy_returns_fresh_arrays():
    images = data.as_numpy("digits", "test")
    images[:] = -1
    assert data.as_numpy("digits", "test").min() == 0


# ----------------------------------------------------------------- missing real datasets
EXPECTED_HINTS = {
    "mnist": ["mnist.npz", "x_train", "keras.datasets.mnist.load_data()"],
    "binarized_mnist": [
        "binarized_mnist_train.amat",
        "binarized_mnist_valid.amat",
        "binarized_mnist_test.amat",
    ],
    "cifar10": ["cifar-10-batches-py", "data_batch_1", "data_batch_5", "test_batch"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_HINTS))
def test_missing_real_dataset_raises_at_once(name, tmp_path, no_tfds, at_once):
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load(name, split="train", data_dir=tmp_path)
    assert isinstance(err.value, FileNotFoundError)
    assert err.value.__cause__ is None  # raised before tensorflow_datasets is imported
    message = str(err.value)
    assert f"Dataset {name!r}" in message
    assert str(tmp_path) in message
    assert f"{tmp_path}/{name}/<version>/" in message
    assert f"tfds build {name} --data_dir DIR" in message
    assert "AR_KERAS_DATA_DIR" in message
    assert "download=False" in message
    for hint in EXPECTED_HINTS[name]:
        assert hint in message
    with pytest.raises(data.DatasetNotFoundError):
        data.as_numpy(name, "test", data_dir=tmp_path)


def test_missing_data_dir_is_named(tmp_path, no_tfds):
    missing = tmp_path / "nowhere"
    with pytest.raises(data.DatasetNotFoundError, match="does not exist"):
        data.load("mnist", data_dir=missing)


def test_env_var_is_the_default_data_dir(tmp_path, monkeypatch, no_tfds):
    monkeypatch.setenv("AR_KERAS_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load("cifar10")
    assert str(tmp_path) in str(err.value)
    assert "$AR_KERAS_DATA_DIR" in str(err.value)


def test_empty_tfds_folder_is_not_enough(tmp_path, no_tfds):
    # tfds leaves an empty <name>/<version>/ behind after a failed load.
    (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)
    with pytest.raises(data.DatasetNotFoundError, match="dataset_info.json"):
        data.load("mnist", data_dir=tmp_path)


def test_incomplete_cifar_folder_is_named(tmp_path, no_tfds):
    _write_cifar_folder(tmp_path, np.zeros([12, 32, 32, 3], np.uint8), np.zeros(12, int))
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(data.DatasetNotFoundError, match="lacks test_batch"):
        data.load("cifar10", data_dir=tmp_path)


# ----------------------------------------------------------------- tfds wiring (faked)
def _fake_tfds(monkeypatch, load):
    module = types.ModuleType("tensorflow_datasets")
    module.load = load
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", module)


def _fake_tfds_folder(tmp_path, name, version):
    folder = tmp_path / name / version
    folder.mkdir(parents=True)
    (folder / "dataset_info.json").write_text("{}")


def test_tfds_failure_is_wrapped(tmp_path, monkeypatch):
    _fake_tfds_folder(tmp_path, "mnist", "3.0.1")

    def load(*args, **kwargs):
        raise AssertionError("Dataset mnist: could not find data")

    _fake_tfds(monkeypatch, load)
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load("mnist", data_dir=tmp_path)
    assert isinstance(err.value.__cause__, AssertionError)
    message = str(err.value)
    assert "could not be loaded" in message and "could not find data" in message
    assert "tfds build mnist --data_dir DIR" in message and "mnist.npz" in message


def test_tfds_called_offline_with_the_right_splits(tmp_path, monkeypatch):
    _fake_tfds_folder(tmp_path, "mnist", "3.0.1")
    _fake_tfds_folder(tmp_path, "binarized_mnist", "1.0.0")
    calls = []

    def load(name, split, data_dir, download):
        calls.append((name, split, data_dir, download))
        n = 3
        features = {"image": np.full([n, 28, 28, 1], 1, np.uint8)}
        if name == "mnist":
            features["label"] = np.arange(n, dtype=np.int64)
        return tf.data.Dataset.from_tensor_slices(features)

    _fake_tfds(monkeypatch, load)
    expected = {"train": "train[:-5000]", "validation": "train[-5000:]", "test": "test"}
    for split, tfds_split in expected.items():
        ds = data.load("mnist", split=split, with_labels=True, data_dir=tmp_path)
        assert ds.element_spec == (tf.TensorSpec([28, 28, 1], tf.int32), tf.TensorSpec([], tf.int32))
        assert calls[-1] == ("mnist", tfds_split, str(tmp_path), False)
    images, labels = data.as_numpy("mnist", "val", with_labels=True, data_dir=tmp_path)
    assert images.dtype == np.int32 and images.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(labels, [0, 1, 2])

    ds = data.load("binarized_mnist", split="validation", data_dir=tmp_path)
    assert calls[-1] == ("binarized_mnist", "validation", str(tmp_path), False)
    assert ds.element_spec == tf.TensorSpec([28, 28, 1], tf.int32)
    assert data.as_numpy("binarized_mnist", "test", data_dir=tmp_path).shape == (3, 28, 28, 1)


def test_tfds_prepared_folder_end_to_end(tmp_path, monkeypatch):
    """A real (tiny) prepared tfds 'mnist' folder, written offline, read back by tfds."""
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setitem(real.VALIDATION_HOLDOUT, "mnist", 2)
    rng = np.random.RandomState(1)
    train = rng.randint(0, 256, [6, 28, 28, 1]).astype(np.uint8)
    test = rng.randint(0, 256, [3, 28, 28, 1]).astype(np.uint8)

    def split(images):
        return tf.data.Dataset.from_tensor_slices(
            {"image": images, "label": np.arange(len(images), dtype=np.int64)}
        )

    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(28, 28, 1)),
            "label": tfds.features.ClassLabel(num_classes=10),
        }
    )
    tfds.dataset_builders.store_as_tfds_dataset(
        name="mnist",
        version="3.0.1",
        data_dir=str(tmp_path),
        features=features,
        split_datasets={"train": split(train), "test": split(test)},
        disable_shuffling=True,
    )

    images, labels = data.as_numpy("mnist", "train", with_labels=True, data_dir=tmp_path)
    np.testing.assert_array_equal(images, train[:4].astype(np.int32))
    np.testing.assert_array_equal(labels, [0, 1, 2, 3])
    images, labels = _collect(data.load("mnist", "validation", with_labels=True, data_dir=tmp_path))
    np.testing.assert_array_equal(images, train[4:])
    np.testing.assert_array_equal(labels, [4, 5])
    np.testing.assert_array_equal(data.as_numpy("mnist", "test", data_dir=tmp_path), test)


# ----------------------------------------------------------------- local-file fallbacks
def test_mnist_npz_fallback(tmp_path, monkeypatch, no_tfds):
    monkeypatch.setitem(real.VALIDATION_HOLDOUT, "mnist", 2)
    rng = np.random.RandomState(0)
    x_train = rng.randint(0, 256, [7, 28, 28]).astype(np.uint8)
    y_train = rng.randint(0, 10, [7]).astype(np.uint8)
    x_test = rng.randint(0, 256, [3, 28, 28]).astype(np.uint8)
    y_test = rng.randint(0, 10, [3]).astype(np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)

    ds = data.load("mnist", split="train", data_dir=tmp_path)
    assert ds.element_spec == tf.TensorSpec([28, 28, 1], tf.int32)
    np.testing.assert_array_equal(_collect(ds), x_train[:5, :, :, None])

    ds = data.load("mnist", split="validation", with_labels=True, data_dir=tmp_path)
    assert ds.element_spec == (tf.TensorSpec([28, 28, 1], tf.int32), tf.TensorSpec([], tf.int32))
    images, labels = _collect(ds)
    np.testing.assert_array_equal(images, x_train[5:, :, :, None])
    np.testing.assert_array_equal(labels, y_train[5:])

    images, labels = data.as_numpy("mnist", "test", with_labels=True, data_dir=tmp_path)
    assert images.dtype == np.int32 and images.shape == (3, 28, 28, 1)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(images[..., 0], x_test)
    np.testing.assert_array_equal(labels, y_test)


def test_mnist_npz_malformed(tmp_path, no_tfds):
    np.savez(tmp_path / "mnist.npz", images=np.zeros([2, 28, 28], np.uint8))
    with pytest.raises(ValueError, match="x_train"):
        data.load("mnist", data_dir=tmp_path)


def _write_cifar_folder(root, images, labels, test_size=3):
    """Writes images [N, 32, 32, 3] the CIFAR way: planar rows, last test_size as test_batch."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    # [N, H, W, C] -> [N, C, H, W] -> [N, 3072]: 1024 reds, 1024 greens, 1024 blues.
    planar = images.transpose(0, 3, 1, 2).reshape(len(images), 3 * 32 * 32)
    train_x, train_y = planar[:-test_size], labels[:-test_size]
    chunks = np.array_split(np.arange(len(train_x)), 5)
    batches = {f"data_batch_{i + 1}": idx for i, idx in enumerate(chunks)}
    for name, idx in batches.items():
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(y) for y in train_y[idx]],
            b"data": train_x[idx],
            b"filenames": [b"x.png"] * len(idx),
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    test = {
        b"batch_label": b"test",
        b"labels": [int(y) for y in labels[-test_size:]],
        b"data": planar[-test_size:],
        b"filenames": [b"x.png"] * test_size,
    }
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(test, f)


def test_cifar_folder_fallback(tmp_path, monkeypatch, no_tfds):
    monkeypatch.setitem(real.VALIDATION_HOLDOUT, "cifar10", 3)
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, [13, 32, 32, 3]).astype(np.uint8)
    images[0] = 0
    images[0, 3, 5, 0] = 255  # one pure red pixel at row 3, column 5
    images[1] = 0
    images[1, 10, 20, 2] = 200  # one pure blue pixel at row 10, column 20
    labels = np.arange(13) % 10
    _write_cifar_folder(tmp_path, images, labels, test_size=3)

    # The raw planar layout really is channel-major, as in the official files.
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")[b"data"]
    assert raw[0, 0 * 1024 + 3 * 32 + 5] == 255 and raw[0].sum() == 255
    assert raw[1, 2 * 1024 + 10 * 32 + 20] == 200

    train, train_labels = data.as_numpy("cifar10", "train", with_labels=True, data_dir=tmp_path)
    assert train.shape == (7, 32, 32, 3) and train.dtype == np.int32
    np.testing.assert_array_equal(train, images[:7])
    np.testing.assert_array_equal(train_labels, labels[:7])
    red = train[0]
    assert red[3, 5, 0] == 255 and red[..., 1:].max() == 0 and red.sum() == 255
    blue = train[1]
    assert blue[10, 20, 2] == 200 and blue[..., :2].max() == 0 and blue.sum() == 200

    ds = data.load("cifar10", split="val", with_labels=True, data_dir=tmp_path)
    assert ds.element_spec == (tf.TensorSpec([32, 32, 3], tf.int32), tf.TensorSpec([], tf.int32))
    val, val_labels = _collect(ds)
    np.testing.assert_array_equal(val, images[7:10])
    np.testing.assert_array_equal(val_labels, labels[7:10])
    np.testing.assert_array_equal(data.as_numpy("cifar10", "test", data_dir=tmp_path), images[10:])


def test_binarized_mnist_amat_fallback(tmp_path, no_tfds):
    rng = np.random.RandomState(0)
    written = {}
    for split, filename, n in (
        ("train", "binarized_mnist_train.amat", 4),
        ("validation", "binarized_mnist_valid.amat", 2),
        ("test", "binarized_mnist_test.amat", 3),
    ):
        written[split] = rng.randint(0, 2, [n, 784])
        np.savetxt(tmp_path / filename, written[split], fmt="%d", delimiter=" ")
    for split, flat in written.items():
        ds = data.load("binarized_mnist", split=split, data_dir=tmp_path)
        assert ds.element_spec == tf.TensorSpec([28, 28, 1], tf.int32)
        np.testing.assert_array_equal(_collect(ds), flat.reshape(-1, 28, 28, 1))
    os.remove(tmp_path / "binarized_mnist_test.amat")
    with pytest.raises(data.DatasetNotFoundError, match="lacks binarized_mnist_test.amat"):
        data.load("binarized_mnist", data_dir=tmp_path)


# ----------------------------------------------------------------- quantize / dequantize
@pytest.mark.parametrize("num_levels", [2, 3, 17, 256, 1000])
def test_quantize_round_trip(num_levels):
    levels = np.arange(num_levels)
    centres = data.dequantize(levels, num_levels)
    assert centres.dtype == tf.float32
    np.testing.assert_allclose(centres.numpy(), (levels + 0.5) / num_levels, rtol=1e-6)
    assert centres.numpy().min() > 0 and centres.numpy().max() < 1
    back = data.quantize(centres, num_levels)
    assert back.dtype == tf.int32
    np.testing.assert_array_equal(back.numpy(), levels)

    x = np.random.RandomState(num_levels).uniform(0, 1, [500]).astype(np.float32)
    x[:2] = [0.0, 1.0]
    q = data.quantize(x, num_levels).numpy()
    assert q.min() >= 0 and q.max() < num_levels
    assert q[0] == 0 and q[1] == num_levels - 1
    error = np.abs(data.dequantize(q, num_levels, dtype=tf.float64).numpy() - x)
    assert error.max() <= 0.5 / num_levels + 1e-6


def test_quantize_8bit_pixels_are_exact():
    pixels = np.arange(256)
    for dtype in (np.float32, np.float64):
        np.testing.assert_array_equal(data.quantize((pixels / 255).astype(dtype), 256).numpy(), pixels)


def test_quantize_shapes_and_graph_mode():
    x = tf.random.stateless_uniform([2, 3, 4], seed=[1, 2])
    assert data.quantize(x, 5).shape == [2, 3, 4]

    @tf.function
    def f(v):
        return data.quantize(v, 4)

    np.testing.assert_array_equal(f(tf.constant([0.0, 0.3, 1.0])).numpy(), [0, 1, 3])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 1\]"):
        f(tf.constant([0.5, 1.5]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        f(tf.constant([np.nan]))

    # In an input pipeline: levels -> bin centres.
    ds = data.load("digits", "test").map(lambda v: data.dequantize(v, 17))
    first = next(iter(ds)).numpy()
    assert first.dtype == np.float32 and 0 < first.min() and first.max() < 1


def test_quantize_validation():
    with pytest.raises(ValueError, match="NaN"):
        data.quantize([0.5, np.nan], 4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        data.quantize([-0.1, 0.5], 4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        data.quantize([1.01], 4)
    with pytest.raises(ValueError, match="floats"):
        data.quantize(np.array([0, 1]), 4)
    with pytest.raises(ValueError, match="numeric"):
        data.quantize(["a"], 4)
    for bad in (1, 0, 2.5, True, "4", None):
        with pytest.raises(ValueError, match="num_levels"):
            data.quantize([0.5], bad)
        with pytest.raises(ValueError, match="num_levels"):
            data.dequantize([0], bad)
    with pytest.raises(ValueError, match="integer levels"):
        data.dequantize([0.5], 4)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        data.dequantize([0, 4], 4)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        data.dequantize([-1], 4)
    with pytest.raises(ValueError, match="floating dtype"):
        data.dequantize([0], 4, dtype=tf.int32)


# ----------------------------------------------------------------- import cost
def test_import_does_not_import_tensorflow_datasets():
    # ar_keras/data/__init__.py -> the directory holding the ar_keras package.
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(data.__file__))))
    code = "import sys, ar_keras, ar_keras.data; print('tensorflow_datasets' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=repo_root, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    assert out.stdout.split() == ["False"]
