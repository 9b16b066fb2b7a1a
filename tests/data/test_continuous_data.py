"""Continuous datasets: dequantized digits, 2-d toys, and the MAF paper's UCI loaders on
fixtures the tests write (no network, no real files)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from ar_keras import data
from ar_keras.data import continuous, toy, uci

CONTINUOUS = [
    "bsds300",
    "digits_continuous",
    "gas",
    "hepmass",
    "maf_figure1",
    "miniboone",
    "power",
    "rings",
    "two_moons",
]


def collect(ds):
    return next(iter(ds.batch(100_000).as_numpy_iterator()))


def test_registry_infos():
    assert set(CONTINUOUS) <= set(data.names())
    dims = {
        "digits_continuous": 64,
        "two_moons": 2,
        "rings": 2,
        "maf_figure1": 2,
        "power": 6,
        "gas": 8,
        "hepmass": 21,
        "miniboone": 43,
        "bsds300": 63,
    }
    for name in CONTINUOUS:
        meta = data.info(name)
        assert meta.kind == "vector" and meta.num_levels is None
        assert meta.event_shape == (dims[name],) and meta.event_size == dims[name]
        assert tuple(meta.splits) == data.SPLITS and meta.description
        hash(meta)
    assert data.info("digits_continuous").num_classes == 10
    assert data.info("power").splits == {"train": 1_659_917, "validation": 184_435, "test": 204_928}


def test_digits_continuous_is_a_uniform_dequantization_of_digits():
    for split in data.SPLITS:
        x, labels = data.as_numpy("digits_continuous", split, with_labels=True)
        levels, want_labels = data.as_numpy("digits", split, with_labels=True)
        assert x.dtype == np.float32 and x.shape == (len(levels), 64)
        assert 0.0 <= x.min() and x.max() < 1.0
        np.testing.assert_array_equal(np.floor(x * 17).astype(np.int32), levels.reshape(len(levels), 64))
        np.testing.assert_array_equal(labels, want_labels)
        # The noise inside each cell is uniform: mean 0.5, variance 1/12.
        u = x * 17 - levels.reshape(len(levels), 64)
        assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005


def test_digits_continuous_train_redraws_noise_every_pass_and_held_out_splits_are_fixed():
    ds = data.load("digits_continuous", "train", with_labels=True)
    assert ds.element_spec == (tf.TensorSpec([64], tf.float32), tf.TensorSpec([], tf.int32))
    (a, la), (b, lb) = collect(ds), collect(ds)
    np.testing.assert_array_equal(la, lb)
    assert not np.allclose(a, b)  # fresh noise each epoch
    np.testing.assert_array_equal(np.floor(a * 17), np.floor(b * 17))  # same images
    again = collect(data.load("digits_continuous", "train", with_labels=True))[0]
    np.testing.assert_array_equal(a, again)  # but deterministic
    for split in ("validation", "test"):
        first = collect(data.load("digits_continuous", split))
        np.testing.assert_array_equal(first, collect(data.load("digits_continuous", split)))
        np.testing.assert_array_equal(first, data.as_numpy("digits_continuous", split))


@pytest.mark.parametrize("name", ["two_moons", "rings", "maf_figure1"])
def test_toys_are_deterministic_float32_2d(name):
    meta = data.info(name)
    for split in data.SPLITS:
        x = data.as_numpy(name, split)
        assert x.shape == (meta.splits[split], 2) and x.dtype == np.float32 and np.isfinite(x).all()
        np.testing.assert_array_equal(x, data.as_numpy(name, split))
    assert not np.allclose(data.as_numpy(name, "train")[:100], data.as_numpy(name, "test")[:100])
    ds = data.load(name, "validation", with_labels=meta.num_classes is not None)
    if meta.num_classes:
        x, labels = collect(ds)
        assert set(np.unique(labels)) == set(range(meta.num_classes))
    else:
        with pytest.raises(ValueError, match="no labels"):
            data.load(name, with_labels=True)


def test_toy_shapes():
    x, labels = toy.toy_arrays("rings", "train")
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose([radius[labels == k].mean() for k in range(3)], [1, 2, 3], atol=0.02)
    x, labels = toy.toy_arrays("two_moons", "train")
    assert abs(x.mean()) < 0.3 and np.bincount(labels).tolist() == [5000, 5000]


def test_maf_figure1_density_is_exact():
    x, _ = toy.toy_arrays("maf_figure1", "train")
    np.testing.assert_allclose(x[:, 1].var(), 4.0, rtol=0.05)
    np.testing.assert_allclose((x[:, 0] - x[:, 1] ** 2 / 4).var(), 1.0, rtol=0.05)
    edges1, edges2 = np.linspace(-8, 30, 500), np.linspace(-12, 12, 400)
    c1, c2 = 0.5 * (edges1[1:] + edges1[:-1]), 0.5 * (edges2[1:] + edges2[:-1])
    grid = np.stack(np.meshgrid(c1, c2, indexing="ij"), -1)
    total = np.exp(toy.maf_figure1_log_density(grid)).sum() * (c1[1] - c1[0]) * (c2[1] - c2[0])
    assert abs(total - 1.0) < 1e-3
    # The average log-density of its own samples is the negative entropy, about -3.15 nats.
    assert (
        abs(
            toy.maf_figure1_log_density(x).mean()
            - (-0.5 * np.log(2 * np.pi * np.e * 4) - 0.5 * np.log(2 * np.pi * np.e))
        )
        < 0.05
    )


# ------------------------------------------------------------------- UCI fixtures
def write_power(root, n=1000):
    rng = np.random.RandomState(0)
    raw = rng.standard_normal((n, 8)) * [1, 5, 1, 2, 3, 1, 1, 7] + 10
    os.makedirs(root / "power")
    np.save(root / "power" / "data.npy", raw)
    return raw


def test_power_fixture(tmp_path):
    write_power(tmp_path)
    splits = [data.as_numpy("power", s, data_dir=tmp_path) for s in data.SPLITS]
    assert [len(s) for s in splits] == [810, 90, 100]  # 81 % / 9 % / 10 %
    assert all(s.shape[1] == 6 and s.dtype == np.float32 for s in splits)
    both = np.vstack(splits[:2])
    np.testing.assert_allclose(both.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(both.std(0), 1.0, atol=1e-5)
    ds = data.load("power", "test", data_dir=str(tmp_path))
    assert ds.element_spec == tf.TensorSpec([6], tf.float32)
    np.testing.assert_array_equal(collect(ds), splits[2])
    # The paper's steps: a RandomState(42) shuffle, columns 3 and 1 dropped, noise added.
    raw = np.load(tmp_path / "power" / "data.npy")
    rng = np.random.RandomState(42)
    shuffled = raw.copy()
    rng.shuffle(shuffled)
    kept = np.delete(np.delete(shuffled, 3, axis=1), 1, axis=1)
    train, _, _ = uci.power_preprocess(raw)
    assert np.corrcoef(train[:, 0], kept[:810, 0])[0, 1] > 0.99


def test_miniboone_and_bsds300_fixtures(tmp_path):
    import h5py

    os.makedirs(tmp_path / "miniboone")
    np.save(tmp_path / "miniboone" / "data.npy", np.random.RandomState(1).standard_normal((500, 43)) * 3 + 1)
    tr, va, te = (data.as_numpy("miniboone", s, data_dir=tmp_path) for s in data.SPLITS)
    assert (len(tr), len(va), len(te), tr.shape[1]) == (405, 45, 50, 43)
    np.testing.assert_allclose(np.vstack([tr, va]).mean(0), 0.0, atol=1e-5)
    os.makedirs(tmp_path / "BSDS300")
    patches = {
        k: np.random.RandomState(i).standard_normal((n, 63)).astype(np.float32)
        for i, (k, n) in enumerate([("train", 30), ("validation", 5), ("test", 7)])
    }
    with h5py.File(tmp_path / "BSDS300" / "BSDS300.hdf5", "w") as f:
        for k, v in patches.items():
            f[k] = v
    for split, key in (("train", "train"), ("validation", "validation"), ("test", "test")):
        np.testing.assert_array_equal(data.as_numpy("bsds300", split, data_dir=tmp_path), patches[key])


def test_hepmass_fixture(tmp_path):
    rng = np.random.RandomState(2)

    def table(n, extra):
        label = (np.arange(n) % 2).astype(float)  # half signal, half background
        feats = rng.standard_normal((n, 28))
        feats[:, 21:] = np.clip(np.round(feats[:, 21:]), -1, 1)  # 7 features, smallest value repeated
        cols = [label[:, None], feats] + ([np.zeros((n, 1))] if extra else [])
        return np.hstack(cols)

    os.makedirs(tmp_path / "hepmass")
    for name, n, extra in (("1000_train.csv", 400, False), ("1000_test.csv", 100, True)):
        t = table(n, extra)
        header = ",".join(["# label"] + [f"f{i}" for i in range(t.shape[1] - 1)])
        np.savetxt(tmp_path / "hepmass" / name, t, delimiter=",", header=header, comments="")
    tr, va, te = (data.as_numpy("hepmass", s, data_dir=tmp_path) for s in data.SPLITS)
    assert (len(tr), len(va), len(te)) == (180, 20, 50) and tr.shape[1] == te.shape[1] == 21


def test_gas_preprocessing_drops_correlated_columns():
    rng = np.random.RandomState(3)
    base = rng.standard_normal((300, 8))
    twins = base[:, :2] + 1e-3 * rng.standard_normal((300, 2))  # corr > 0.98 with columns 0, 1
    values = np.hstack([rng.standard_normal((300, 3)), base, twins])
    columns = ["Time", "Meth", "Eth"] + [f"s{i}" for i in range(10)]
    tr, va, te = uci.gas_preprocess(values, columns)
    assert tr.shape[1] == va.shape[1] == te.shape[1] == 8
    assert (len(tr), len(va), len(te)) == (243, 27, 30)
    full = np.vstack([tr, va, te])
    np.testing.assert_allclose(full.std(0, ddof=1), 1.0, atol=1e-6)


def test_missing_files_fail_clearly(tmp_path, monkeypatch):
    for name, files in uci.UCI_FILES.items():
        with pytest.raises(data.DatasetNotFoundError) as err:
            data.load(name, data_dir=str(tmp_path))
        for rel in files:
            assert rel in str(err.value)
        assert "zenodo" in str(err.value) and "never downloads" in str(err.value)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(data.DatasetNotFoundError, match="does not exist"):
        data.as_numpy("miniboone", "train")


def test_gas_without_pandas_says_so(tmp_path, monkeypatch):
    import sys

    os.makedirs(tmp_path / "gas")
    (tmp_path / "gas" / "ethylene_CO.pickle").write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "pandas", None)
    uci._load_splits.cache_clear()
    with pytest.raises(data.DatasetNotFoundError, match="pip install pandas"):
        data.as_numpy("gas", "train", data_dir=tmp_path)


def test_continuous_arrays_unknown_name():
    with pytest.raises(ValueError, match="digits_continuous"):
        continuous.continuous_arrays("nope", "train")
