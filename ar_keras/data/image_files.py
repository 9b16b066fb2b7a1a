"""The local files of the real image datasets: their names and their readers.

Each reader checks what it reads (shapes, value ranges, label counts) and
raises a `ValueError` naming the file and what was wrong; `ar_keras.data.real`
decides which files are there and which split to return::

    mnist            mnist.npz (Keras format)                -> read_mnist_npz
    binarized_mnist  binarized_mnist_{train,valid,test}.amat  -> read_amat
    cifar10          cifar-10-batches-py/ (python pickles)    -> read_cifar_folder

Example:
    >>> from ar_keras.data.image_files import read_mnist_npz
    >>> arrays = read_mnist_npz("/data/mnist.npz")   # {"train": (x, y), "test": (x, y)}  # doctest: +SKIP
    >>> arrays["train"][0].shape, arrays["train"][0].dtype  # doctest: +SKIP
    ((60000, 28, 28, 1), dtype('uint8'))
"""

import os
import pickle

import numpy as np

__all__ = [
    "CIFAR_FOLDER",
    "CIFAR_TRAIN_FILES",
    "CIFAR_TEST_FILE",
    "AMAT_FILES",
    "read_mnist_npz",
    "read_cifar_folder",
    "read_amat",
]

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch"
AMAT_FILES = {
    "train": "binarized_mnist_train.amat",
    "validation": "binarized_mnist_valid.amat",
    "test": "binarized_mnist_test.amat",
}


def read_mnist_npz(path):
    """Keras ``mnist.npz`` -> {"train": (x, y), "test": (x, y)}, x uint8 [N, 28, 28, 1]."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:
        raise ValueError(f"{path} could not be read as a numpy .npz file: {e}") from e
    required = ("x_train", "y_train", "x_test", "y_test")
    missing = [k for k in required if k not in arrays]
    if missing:
        raise ValueError(
            f"{path} is not a Keras-format mnist.npz: it lacks {missing} (has "
            f"{sorted(arrays)}; expected x_train [N, 28, 28] uint8, y_train [N], x_test, y_test)."
        )
    out = {}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]  # [N, 28, 28, 1] -> [N, 28, 28]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"{path}: x_{split} must have shape [N, 28, 28], got {list(x.shape)}.")
        out[split] = (
            _as_uint8(x, f"{path}: x_{split}", 256)[..., None],  # [N, 28, 28] -> [N, 28, 28, 1]
            _as_labels(y, len(x), f"{path}: y_{split}", 10),
        )
    return out


def _unpickle_cifar(path):
    # The official CIFAR files are Python 2 pickles: encoding="bytes" keeps keys as b"...".
    # Unpickling runs code from the file: only read files you trust (keras.datasets does the same).
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except Exception as e:
        raise ValueError(f"{path} could not be unpickled as a CIFAR-10 batch: {e}") from e
    if not isinstance(batch, dict):
        raise ValueError(f"{path} must hold a dict with b'data' and b'labels', got {type(batch).__name__}.")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{path} must hold b'data' and b'labels'; it has keys {sorted(map(str, batch))}.")
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: b'data' must have shape [N, 3072], got {list(data.shape)}.")
    data = _as_uint8(data, f"{path}: b'data'", 256)
    # Each row is channel-planar: 1024 red values, then 1024 green, then 1024 blue, each
    # plane in row-major order.  Planes first, then move channels last (HWC).
    images = data.reshape(-1, 3, 32, 32)  # [N, 3072] -> [N, C=3, H=32, W=32]
    images = images.transpose(0, 2, 3, 1)  # [N, 3, 32, 32] -> [N, 32, 32, 3]
    return np.ascontiguousarray(images), _as_labels(labels, len(images), f"{path}: b'labels'", 10)


def read_cifar_folder(folder):
    """``cifar-10-batches-py/`` -> {"train": (x, y), "test": (x, y)}, x uint8 [N, 32, 32, 3]."""
    train = [_unpickle_cifar(os.path.join(folder, name)) for name in CIFAR_TRAIN_FILES]
    return {
        "train": (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])),
        "test": _unpickle_cifar(os.path.join(folder, CIFAR_TEST_FILE)),
    }


def read_amat(path):
    """One ``binarized_mnist_*.amat`` (784 space-separated 0/1 per line) -> uint8 [N, 28, 28, 1]."""
    try:
        flat = np.loadtxt(path, dtype=np.float64, ndmin=2)  # [N, 784]
    except Exception as e:
        raise ValueError(f"{path} could not be read as a binarized MNIST .amat file: {e}") from e
    if flat.shape[1] != 28 * 28:
        raise ValueError(f"{path}: each line must hold 784 values, got {flat.shape[1]}.")
    if not np.all((flat == 0) | (flat == 1)):
        raise ValueError(f"{path}: binarized MNIST values must be 0 or 1.")
    return flat.astype(np.uint8).reshape(-1, 28, 28, 1)  # [N, 784] -> [N, 28, 28, 1]


def _as_uint8(x, what, num_levels):
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"{what} must hold integer pixels, got dtype {x.dtype}.")
    if x.size and (x.min() < 0 or x.max() >= num_levels):
        raise ValueError(f"{what} must hold values in [0, {num_levels}), got [{x.min()}, {x.max()}].")
    return x.astype(np.uint8, copy=False)


def _as_labels(y, n, what, num_classes):
    y = np.asarray(y)
    if y.shape != (n,) or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"{what} must be {n} integer labels, got shape {list(y.shape)} dtype {y.dtype}.")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{what} must hold labels in [0, {num_classes}), got [{y.min()}, {y.max()}].")
    return y.astype(np.int32)
