"""The MAF paper's density-estimation benchmarks, read offline with its preprocessing.

Papamakarios, Pavlakou & Murray (NIPS 2017, appendix D) use four UCI sets and
BSDS300 patches, as distributed in their archive (zenodo record 1161203,
``data.tar.gz``).  Untar it and point the data directory at the extracted
``data/`` folder (``data_dir=`` or ``$AR_KERAS_DATA_DIR``; default
``~/tensorflow_datasets``), which then holds::

    power/data.npy                 POWER       D = 6
    gas/ethylene_CO.pickle         GAS         D = 8   (a pandas pickle: needs pandas)
    hepmass/1000_train.csv         HEPMASS     D = 21
    hepmass/1000_test.csv
    miniboone/data.npy             MINIBOONE   D = 43
    BSDS300/BSDS300.hdf5           BSDS300     D = 63  (needs h5py)

Nothing is ever downloaded; a missing file raises `DatasetNotFoundError`
naming the files and where to get them.

Preprocessing (the paper's code, reproduced step by step):

* **POWER**: shuffle with ``RandomState(42)``; drop columns 3 and 1 (date
  parts); add uniform noise (0.001 to the first column, 0.01 to the
  second, 1 to the three sub-meterings, 0 to the time) to break the
  discreteness; test = last 10 %, validation = last 10 % of the rest;
  standardise with the mean and std (ddof 0) of train + validation.
* **GAS**: drop the ``Meth``, ``Eth`` and ``Time`` columns; repeatedly drop
  the first column correlated above 0.98 with another one; standardise
  (pandas std, ddof 1); test = last 10 %, validation = last 10 % of the rest.
* **HEPMASS**: keep the signal rows (first column == 1) of the 1000 GeV
  files and drop that column (and the test file's spurious last one);
  standardise with the train mean and std (ddof 1); drop every feature whose
  *smallest* value occurs more than 5 times (the code's test for
  "too many re-occurring values"); validation = last 10 % of train.
* **MINIBOONE**: the archive's ``data.npy`` is already cleaned; test = last
  10 %, validation = last 10 % of the rest; standardise with the mean and std
  (ddof 0) of train + validation.
* **BSDS300**: the archive's splits of 8x8 monochrome patches with the last
  pixel dropped, used as they are.

Example:
    >>> from ar_keras.data.uci import uci_arrays
    >>> x = uci_arrays("miniboone", "train", data_dir="/data/maf")   # float32 [29556, 43]  # doctest: +SKIP
"""

import functools
import os

import numpy as np

from ar_keras import checks
from ar_keras.data.dataset_info import DatasetInfo
from ar_keras.data.offline import DATA_DIR_ENV, DatasetNotFoundError, resolve_data_dir

__all__ = [
    "UCI_INFOS",
    "UCI_FILES",
    "uci_arrays",
    "power_preprocess",
    "gas_preprocess",
    "hepmass_preprocess",
    "miniboone_preprocess",
]

#: Files each dataset needs, relative to the data directory.
UCI_FILES = {
    "power": ("power/data.npy",),
    "gas": ("gas/ethylene_CO.pickle",),
    "hepmass": ("hepmass/1000_train.csv", "hepmass/1000_test.csv"),
    "miniboone": ("miniboone/data.npy",),
    "bsds300": ("BSDS300/BSDS300.hdf5",),
}

_ARCHIVE = (
    "the MAF paper's data archive, https://zenodo.org/record/1161203/files/data.tar.gz "
    "(Papamakarios et al. 2017), untarred: point data_dir at its data/ folder"
)


def _info(name, dims, splits, what):
    return DatasetInfo(
        name=name,
        event_shape=(dims,),
        num_levels=None,
        num_classes=None,
        splits=splits,
        kind="vector",
        description=f"{what} Read offline from {', '.join(UCI_FILES[name])} in the data "
        f"directory ({_ARCHIVE}); preprocessed as in the MAF paper's code.",
    )


# Split sizes: the MAF paper, appendix D (Table 4).
UCI_INFOS = {
    "power": _info(
        "power",
        6,
        {"train": 1_659_917, "validation": 184_435, "test": 204_928},
        "UCI individual household electric power consumption, 6 features.",
    ),
    "gas": _info(
        "gas",
        8,
        {"train": 852_174, "validation": 94_685, "test": 105_206},
        "UCI gas sensor array (ethylene and CO), 8 decorrelated sensor features.",
    ),
    "hepmass": _info(
        "hepmass",
        21,
        {"train": 315_123, "validation": 35_013, "test": 174_987},
        "UCI HEPMASS (1000 GeV signal events), 21 features.",
    ),
    "miniboone": _info(
        "miniboone",
        43,
        {"train": 29_556, "validation": 3_284, "test": 3_648},
        "UCI MiniBooNE particle identification, 43 features.",
    ),
    "bsds300": _info(
        "bsds300",
        63,
        {"train": 1_000_000, "validation": 50_000, "test": 250_000},
        "BSDS300 8x8 monochrome natural-image patches, last pixel dropped (63 dims).",
    ),
}


# ------------------------------------------------------------------ splits
def _split_tail(data):
    """test = last 10 %, validation = last 10 % of the rest (the paper's rule)."""
    n_test = int(0.1 * data.shape[0])
    test, rest = data[-n_test:], data[:-n_test]
    n_val = int(0.1 * rest.shape[0])
    return rest[:-n_val], rest[-n_val:], test


def _standardise(train, validation, test, ddof=0):
    both = np.vstack([train, validation])
    mean, std = both.mean(axis=0), both.std(axis=0, ddof=ddof)
    return tuple((a - mean) / std for a in (train, validation, test))


# ------------------------------------------------------------ preprocessing
def power_preprocess(data):
    """The archive's ``[N, 8]`` POWER array -> (train, validation, test), float64."""
    data = np.array(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != 8:
        raise ValueError(f"power/data.npy must be [N, 8], got {list(data.shape)}.")
    rng = np.random.RandomState(42)
    rng.shuffle(data)
    n = data.shape[0]
    data = np.delete(data, 3, axis=1)
    data = np.delete(data, 1, axis=1)  # [N, 8] -> [N, 6]
    # Noise in the column order gap, voltage, 3 sub-meterings, time; the draws
    # come in the order of the paper's code (voltage before gap).
    voltage = 0.01 * rng.rand(n, 1)
    gap = 0.001 * rng.rand(n, 1)
    sub_metering = rng.rand(n, 3)
    time = np.zeros((n, 1))
    data = data + np.hstack([gap, voltage, sub_metering, time])
    return _standardise(*_split_tail(data))


def gas_preprocess(values, columns):
    """GAS DataFrame values ``[N, k]`` and column names -> (train, validation, test)."""
    columns = list(columns)
    data = np.asarray(values, dtype=np.float64)
    keep = [i for i, c in enumerate(columns) if c not in ("Meth", "Eth", "Time")]
    data = data[:, keep]

    def correlated(d):
        corr = np.corrcoef(d, rowvar=False)
        return (corr > 0.98).sum(axis=1)  # each column counts itself

    counts = correlated(data)
    while np.any(counts > 1):
        drop = int(np.where(counts > 1)[0][0])
        data = np.delete(data, drop, axis=1)
        counts = correlated(data)
    data = (data - data.mean(axis=0)) / data.std(axis=0, ddof=1)  # pandas std: ddof 1
    return _split_tail(data)


def hepmass_preprocess(train_table, test_table):
    """HEPMASS csv tables (header removed, label first) -> (train, validation, test)."""
    train = np.asarray(train_table, dtype=np.float64)
    test = np.asarray(test_table, dtype=np.float64)
    train = train[train[:, 0] == 1][:, 1:]  # signal events, no label
    test = test[test[:, 0] == 1][:, 1:-1]  # and the spurious last column
    mean, std = train.mean(axis=0), train.std(axis=0, ddof=1)
    train, test = (train - mean) / std, (test - mean) / std
    drop = []
    for i in range(train.shape[1]):
        _, counts = np.unique(train[:, i], return_counts=True)
        if counts[0] > 5:  # count of the smallest value
            drop.append(i)
    keep = [i for i in range(train.shape[1]) if i not in drop]
    train, test = train[:, keep], test[:, keep]
    n_val = int(0.1 * train.shape[0])
    return train[:-n_val], train[-n_val:], test


def miniboone_preprocess(data):
    """The archive's cleaned ``[N, 43]`` MINIBOONE array -> (train, validation, test)."""
    data = np.asarray(data, dtype=np.float64)
    return _standardise(*_split_tail(data))


# --------------------------------------------------------------------- read
def _missing(name, data_dir, origin, missing, note=None):
    lines = [f"Dataset {name!r} was not found in {data_dir} ({origin}): missing {', '.join(missing)}."]
    if note:
        lines.append(f"  Note: {note}")
    lines += [
        "ar_keras never downloads. On a machine with network fetch " + _ARCHIVE + ",",
        f"copy it here and pass data_dir= (or set ${DATA_DIR_ENV}) to that data/ folder; it must "
        f"hold {', '.join(UCI_FILES[name])}.",
    ]
    return DatasetNotFoundError("\n".join(lines))


def _read_csv(path):
    # The header row names the columns ("# label", "f0", ...); numbers follow.
    try:
        return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except Exception as e:
        raise ValueError(f"{path} could not be read as a numeric CSV with one header row: {e}") from e


@functools.lru_cache(maxsize=4)
def _load_splits(name, data_dir, stamp):
    del stamp  # part of the cache key only: a changed file is read again
    path = lambda rel: os.path.join(data_dir, rel)  # noqa: E731
    if name == "power":
        return power_preprocess(np.load(path("power/data.npy"), allow_pickle=False))
    if name == "miniboone":
        return miniboone_preprocess(np.load(path("miniboone/data.npy"), allow_pickle=False))
    if name == "hepmass":
        return hepmass_preprocess(
            _read_csv(path("hepmass/1000_train.csv")), _read_csv(path("hepmass/1000_test.csv"))
        )
    if name == "gas":
        try:
            import pandas as pd
        except ImportError as e:
            raise _missing(
                name,
                data_dir,
                "pandas is not installed",
                [],
                note="gas/ethylene_CO.pickle is a pandas DataFrame pickle: pip install pandas to read it.",
            ) from e
        # Unpickling runs code from the file: only read files you trust.
        frame = pd.read_pickle(path("gas/ethylene_CO.pickle"))
        return gas_preprocess(frame.values, frame.columns)
    if name == "bsds300":
        try:
            import h5py
        except ImportError as e:  # pragma: no cover - h5py ships with Keras
            raise _missing(name, data_dir, "h5py is not installed", [], note="pip install h5py.") from e
        with h5py.File(path("BSDS300/BSDS300.hdf5"), "r") as f:
            return tuple(np.asarray(f[key][:]) for key in ("train", "validation", "test"))
    raise ValueError(f"Unknown UCI dataset {name!r}; expected one of {', '.join(UCI_FILES)}.")


def uci_arrays(name, split, data_dir=None):
    """One split of a MAF-paper dataset: float32 ``[N, D]`` (no labels).

    Raises:
        DatasetNotFoundError: a file is missing (the message names them all).
        ValueError: unknown name or split, malformed files.
    """
    if name not in UCI_FILES:
        raise ValueError(f"Unknown UCI dataset {name!r}; expected one of {', '.join(UCI_FILES)}.")
    index = {"train": 0, "validation": 1, "test": 2}
    checks.check_split(split)
    data_dir, origin = resolve_data_dir(data_dir)
    files = [os.path.join(data_dir, rel) for rel in UCI_FILES[name]]
    missing = [rel for rel, f in zip(UCI_FILES[name], files) if not os.path.isfile(f)]
    if missing:
        note = None if os.path.isdir(data_dir) else f"{data_dir} does not exist."
        raise _missing(name, data_dir, origin, missing, note)
    stamp = tuple((os.path.getmtime(f), os.path.getsize(f)) for f in files)
    splits = _load_splits(name, data_dir, stamp)
    x = np.asarray(splits[index[split]], dtype=np.float32)
    dims = UCI_INFOS[name].event_shape[0]
    if x.ndim != 2 or x.shape[1] != dims:
        raise ValueError(
            f"{name}: expected [N, {dims}] after preprocessing, got {list(x.shape)}; "
            "are the files the MAF archive's?"
        )
    return x.copy()
