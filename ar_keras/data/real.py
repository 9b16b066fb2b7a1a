"""Real image datasets read offline: MNIST, binarized MNIST and CIFAR-10.

Nothing here ever downloads: without a network ``tfds.load(..., download=True)``
hangs for minutes, so every dataset is read from a data directory that already
holds it, and a missing one fails at once with a `DatasetNotFoundError` that says
which files would satisfy it and how to get them onto an offline machine.

The data directory is, in order: the ``data_dir=`` argument, the environment
variable ``AR_KERAS_DATA_DIR``, ``~/tensorflow_datasets``.  In it, each dataset
is looked for first as plain local files (no TensorFlow Datasets preparation
needed), then as a prepared TensorFlow Datasets folder::

    dataset          local files                                tfds folder
    mnist            mnist.npz (Keras format)                   mnist/3.0.1/
    binarized_mnist  binarized_mnist_{train,valid,test}.amat    binarized_mnist/1.0.0/
    cifar10          cifar-10-batches-py/ (the python pickles)  cifar10/3.0.2/

Splits.  MNIST and CIFAR-10 have no validation split of their own; it is the
*last* `VALIDATION_HOLDOUT` (5,000) examples of the official training set, and
``train`` is the rest (tfds ``"train[:-5000]"`` / ``"train[-5000:]"``)::

    mnist:    train 55,000   validation 5,000   test 10,000
    cifar10:  train 45,000   validation 5,000   test 10,000

The local files keep the official order, while tfds shuffled the examples
once when it prepared its folder, so the two sources hold the same 60,000
(50,000) training images but pick a different 5,000 for validation; the test
sets are the same images in another order.  Compare validation numbers only
between runs that read the same source.

Binarized MNIST (Salakhutdinov & Murray 2008, the fixed binarization of
Larochelle & Murray 2011) has its own: train 50,000, validation 10,000, test
10,000, and no labels.

``tensorflow_datasets`` is imported only when a tfds folder is actually read
(it is slow to import), so ``import ar_keras`` never imports it.

Example:
    >>> # with ~/tensorflow_datasets/mnist.npz in place:
    >>> from ar_keras.data.real import load_real
    >>> images, labels = load_real("mnist", "validation", data_dir=None)  # doctest: +SKIP
    >>> images.shape, images.dtype  # doctest: +SKIP
    ((5000, 28, 28, 1), dtype('uint8'))
"""

import dataclasses
import os

from ar_keras import checks
from ar_keras.data import image_files
from ar_keras.data.dataset_info import DatasetInfo
from ar_keras.data.offline import (
    DATA_DIR_ENV,
    DatasetNotFoundError,
    not_found,
    read_tfds,
    resolve_data_dir,
    tfds_build_hint,
)

__all__ = [
    "DatasetNotFoundError",
    "DATA_DIR_ENV",
    "VALIDATION_HOLDOUT",
    "MNIST_INFO",
    "BINARIZED_MNIST_INFO",
    "CIFAR10_INFO",
    "resolve_data_dir",
    "load_real",
]

#: Examples at the end of the official training set that form the validation split.
VALIDATION_HOLDOUT = {"mnist": 5000, "cifar10": 5000}


def _holdout_info(name, event_shape, official_train, what, where, batch=""):
    """A 256-level, 10-class dataset whose validation split is the tail of its official train set."""
    n_val = VALIDATION_HOLDOUT[name]
    n_train = official_train - n_val
    return DatasetInfo(
        name,
        event_shape,
        256,
        10,
        {"train": n_train, "validation": n_val, "test": 10000},
        f"{what} validation = the last {n_val:,} of the official {official_train:,} training images"
        f"{batch}, train = the first {n_train:,}; test = the official 10,000. Read offline from "
        f"{where} or a prepared tfds {name!r} folder.",
    )


MNIST_INFO = _holdout_info(
    "mnist",
    (28, 28, 1),
    60000,
    "MNIST handwritten digits (LeCun et al. 1998), 8-bit grey levels, labels 0-9.",
    "mnist.npz (Keras format)",
)

CIFAR10_INFO = _holdout_info(
    "cifar10",
    (32, 32, 3),
    50000,
    "CIFAR-10 (Krizhevsky 2009), 32x32 RGB, 8 bits per channel, 10 classes.",
    "the python folder cifar-10-batches-py/",
    batch=" (data_batch_5)",
)

BINARIZED_MNIST_INFO = DatasetInfo(
    "binarized_mnist",
    (28, 28, 1),
    2,
    None,
    {"train": 50000, "validation": 10000, "test": 10000},
    "The fixed stochastic binarization of MNIST of Salakhutdinov & Murray (2008) as used by "
    "Larochelle & Murray (2011) (tfds 'binarized_mnist'); pixels in {0, 1}, no labels; its own "
    "train 50,000 / validation 10,000 / test 10,000 split. Read offline from "
    "binarized_mnist_{train,valid,test}.amat or a prepared tfds folder.",
)


def _holdout_split(name, split, arrays):
    """Train/validation from the official train set (validation = its last examples)."""
    if split == "test":
        return arrays["test"]
    x, y = arrays["train"]
    n_train = max(len(x) - VALIDATION_HOLDOUT[name], 0)
    if split == "train":
        return x[:n_train], y[:n_train]
    return x[n_train:], y[n_train:]


# ----------------------------------------------------------------- the three sources
@dataclasses.dataclass(frozen=True)
class _Source:
    name: str
    tfds_name: str
    holdout: bool  # validation = the last VALIDATION_HOLDOUT[name] of the official train set
    local_hint: str  # how the local files look and where they come from ({dir} is filled in)

    def tfds_split(self, split):
        """The tfds split string of a canonical split."""
        if not self.holdout or split == "test":
            return split
        n = VALIDATION_HOLDOUT[self.name]
        return f"train[:-{n}]" if split == "train" else f"train[-{n}:]"

    def local_status(self, data_dir):
        """(ready, note on a half-present set of files or None) for the local files."""
        raise NotImplementedError

    def read_local(self, split, data_dir):
        raise NotImplementedError


class _Mnist(_Source):
    def local_status(self, data_dir):
        return os.path.isfile(os.path.join(data_dir, "mnist.npz")), None

    def read_local(self, split, data_dir):
        return _holdout_split("mnist", split, image_files.read_mnist_npz(os.path.join(data_dir, "mnist.npz")))


class _Cifar10(_Source):
    def local_status(self, data_dir):
        folder = os.path.join(data_dir, image_files.CIFAR_FOLDER)
        if not os.path.isdir(folder):
            return False, None
        missing = [
            n
            for n in image_files.CIFAR_TRAIN_FILES + (image_files.CIFAR_TEST_FILE,)
            if not os.path.isfile(os.path.join(folder, n))
        ]
        if missing:
            return False, f"{folder} exists but lacks {', '.join(missing)}."
        return True, None

    def read_local(self, split, data_dir):
        return _holdout_split(
            "cifar10", split, image_files.read_cifar_folder(os.path.join(data_dir, image_files.CIFAR_FOLDER))
        )


class _BinarizedMnist(_Source):
    def local_status(self, data_dir):
        present = [f for f in image_files.AMAT_FILES.values() if os.path.isfile(os.path.join(data_dir, f))]
        if len(present) == len(image_files.AMAT_FILES):
            return True, None
        if present:
            missing = sorted(set(image_files.AMAT_FILES.values()) - set(present))
            return False, f"{data_dir} has {', '.join(present)} but lacks {', '.join(missing)}."
        return False, None

    def read_local(self, split, data_dir):
        return image_files.read_amat(os.path.join(data_dir, image_files.AMAT_FILES[split])), None


_SOURCES = {
    "mnist": _Mnist(
        name="mnist",
        tfds_name="mnist",
        holdout=True,
        local_hint=(
            "{dir}/mnist.npz: the Keras file (arrays x_train [60000, 28, 28] uint8, y_train, "
            "x_test [10000, 28, 28], y_test). On a machine with network run\n"
            '       python -c "import keras; keras.datasets.mnist.load_data()"\n'
            "     and copy ~/.keras/datasets/mnist.npz (it is "
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz)"
        ),
    ),
    "binarized_mnist": _BinarizedMnist(
        name="binarized_mnist",
        tfds_name="binarized_mnist",
        holdout=False,
        local_hint=(
            "{dir}/binarized_mnist_train.amat, binarized_mnist_valid.amat and "
            "binarized_mnist_test.amat: the files of\n"
            "     http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/ "
            "(784 space-separated 0/1 per line)"
        ),
    ),
    "cifar10": _Cifar10(
        name="cifar10",
        tfds_name="cifar10",
        holdout=True,
        local_hint=(
            "{dir}/cifar-10-batches-py/ holding data_batch_1 ... data_batch_5 and test_batch: "
            "the python version,\n"
            "     https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz untarred (or "
            "~/.keras/datasets/cifar-10-batches-py after keras.datasets.cifar10.load_data() "
            "on a machine with network)"
        ),
    ),
}


def _not_found(source, data_dir, origin, notes=(), cause=None):
    return not_found(
        source.name,
        data_dir,
        origin,
        notes,
        cause,
        [
            "Put one of these in that directory:",
            "  1. " + source.local_hint.format(dir=data_dir) + ";",
            f"  2. {data_dir}/{source.tfds_name}/<version>/: a prepared tensorflow-datasets folder. "
            + tfds_build_hint(source.tfds_name),
            f"Or set ${DATA_DIR_ENV} (or pass data_dir=) to a directory that holds them.",
        ],
    )


def load_real(name, split, data_dir=None):
    """Reads one split of a real dataset, offline.

    Args:
        name: ``"mnist"``, ``"binarized_mnist"`` or ``"cifar10"``.
        split: ``"train"``, ``"validation"`` or ``"test"`` (canonical names).
        data_dir: see `resolve_data_dir`.
    Returns:
        ``(images, labels)`` numpy arrays (uint8 ``[N, H, W, C]``, int32 ``[N]`` or
        None) when read from local files, else the `tf.data.Dataset` of tfds
        feature dicts (``{"image": uint8 [H, W, C], "label": int64}``).
    Raises:
        DatasetNotFoundError: neither the local files nor a prepared tfds folder is
            there (raised before tfds is imported), or tfds failed to load it.
        ValueError: unknown name or split, bad ``data_dir``, or malformed local files.
    """
    if name not in _SOURCES:
        raise ValueError(f"Unknown real dataset {name!r}; expected one of {', '.join(sorted(_SOURCES))}.")
    source = _SOURCES[name]
    checks.check_split(split)
    data_dir, origin = resolve_data_dir(data_dir)

    local_ready, local_note = source.local_status(data_dir)
    if local_ready:
        return source.read_local(split, data_dir)

    return read_tfds(
        source.tfds_name,
        source.tfds_split(split),
        data_dir,
        [local_note],
        lambda notes, cause: _not_found(source, data_dir, origin, notes, cause),
    )
