"""moving_digits (generated, fixed seeds, any length) and Moving MNIST (offline .npy / tfds)."""

import numpy as np
import pytest

import ar_keras as ark
from ar_keras.data import video


def test_moving_digits_through_the_registry():
    meta = ark.data.info("moving_digits")
    assert meta.kind == "video" and meta.event_shape == (8, 16, 16, 1) and meta.num_levels == 17
    assert meta.num_classes is None and meta.splits == {"train": 2000, "validation": 200, "test": 200}
    ds = ark.data.load("moving_digits", split="val")
    assert ds.element_spec.shape == (8, 16, 16, 1) and ds.element_spec.dtype.name == "int32"
    x = ark.data.as_numpy("moving_digits", "test")
    assert x.shape == (200, 8, 16, 16, 1) and x.dtype == np.int32
    assert x.min() == 0 and x.max() == 16
    np.testing.assert_array_equal(
        next(iter(ds.take(1))).numpy(), ark.data.as_numpy("moving_digits", "validation")[0]
    )


def test_generator_is_fixed_any_length_and_in_motion():
    a = video.moving_digits_arrays("test", length=12, num_videos=5)
    b = video.moving_digits_arrays("test", length=12, num_videos=5)
    np.testing.assert_array_equal(a, b)  # fixed seeds
    short = video.moving_digits_arrays("test", length=3, num_videos=5)
    np.testing.assert_array_equal(short, a[:, :3])  # any length, same start
    other = video.moving_digits_arrays("train", length=12, num_videos=5)
    assert not np.array_equal(a, other)  # splits differ
    # The digits move: consecutive frames differ, every frame holds ink (two digits inside).
    assert all(np.any(a[i, t] != a[i, t + 1]) for i in range(5) for t in range(11))
    assert np.all(a.reshape(5, 12, -1).max(-1) > 0)
    # Ink only where a digit is: each frame's ink lies within two 8x8 windows (bounded mass).
    digits, _ = ark.data.as_numpy("digits", "test", with_labels=True)
    assert a.sum(axis=(2, 3, 4)).max() <= 2 * digits.sum(axis=(1, 2, 3)).max()
    with pytest.raises(ValueError, match="length"):
        video.moving_digits_arrays("test", length=0)
    with pytest.raises(ValueError, match="split"):
        video.moving_digits_arrays("testing")


def test_moving_mnist_missing_says_where_to_put_it(tmp_path):
    meta = ark.data.info("moving_mnist")
    assert meta.kind == "video" and meta.event_shape == (20, 64, 64, 1) and meta.num_levels == 256
    with pytest.raises(ark.data.DatasetNotFoundError, match="mnist_test_seq.npy") as e:
        ark.data.load("moving_mnist", "train", data_dir=str(tmp_path))
    assert "moving_mnist" in str(e.value) and "never downloads" in str(e.value)


def test_moving_mnist_from_a_local_npy(tmp_path):
    # The Toronto file is [20, 10000, 64, 64] uint8; a short stand-in with the same layout
    # (3 sequences: all in the train part, [:8000]).
    seq = np.random.RandomState(0).randint(0, 256, (20, 3, 64, 64)).astype(np.uint8)
    np.save(tmp_path / "mnist_test_seq.npy", seq)
    x = ark.data.as_numpy("moving_mnist", "train", data_dir=str(tmp_path))
    assert x.shape == (3, 20, 64, 64, 1) and x.dtype == np.int32
    np.testing.assert_array_equal(x[1, :, :, :, 0], seq[:, 1])  # [T, N, H, W] -> [N, T, H, W, 1]
    assert ark.data.as_numpy("moving_mnist", "test", data_dir=str(tmp_path)).shape[0] == 0
    ds = ark.data.load("moving_mnist", "train", data_dir=str(tmp_path))
    assert ds.element_spec.shape == (20, 64, 64, 1) and ds.element_spec.dtype.name == "int32"
    np.save(tmp_path / "mnist_test_seq.npy", seq[:, :2, :32])
    with pytest.raises(ark.data.DatasetNotFoundError, match="expected"):
        ark.data.load("moving_mnist", "test", data_dir=str(tmp_path))
