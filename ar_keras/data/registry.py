"""The dataset registry: `load`, `info`, `names`, `as_numpy`.

Every dataset yields int32 images ``[H, W, C]`` in ``[0, num_levels)``, or
``(image, label)`` pairs with an int32 scalar label in ``[0, num_classes)`` --
the form every ar_keras model trains on (`model.fit(ds.batch(64))`; class-
conditional models use the labels, the others ignore them).  Datasets are
unbatched and in a fixed order: shuffle, batch and prefetch in the pipeline.

==================  ===========  ======  =======  ==========================
name                event_shape  levels  classes  source
==================  ===========  ======  =======  ==========================
``digits``          (8, 8, 1)    17      10       scikit-learn, embedded
``binary_digits``   (8, 8, 1)    2       10       scikit-learn, embedded
``mnist``           (28, 28, 1)  256     10       mnist.npz or tfds, offline
``binarized_mnist`` (28, 28, 1)  2       --       .amat files or tfds, offline
``cifar10``         (32, 32, 3)  256     10       python pickles or tfds, offline
``speech``          (None,)      256     5        espeak-ng digits, embedded
``ljspeech``        (None,)      256     --       tfds, offline
``vctk``            (None,)      256     110      tfds, offline
``speech_commands`` (None,)      256     12       tfds, offline
``text``            (None,)      256     --       CPython's docs (bytes), embedded
``enwik8``          (None,)      256     --       the enwik8 file, offline
``moving_digits``   (8,16,16,1)  17      --       generated from digits
``moving_mnist``    (20,64,64,1) 256     --       .npy or tfds, offline
==================  ===========  ======  =======  ==========================

The continuous datasets (``kind="vector"``, ``event_shape=(D,)``,
``num_levels=None``) yield float32 vectors ``[D]``: ``digits_continuous``
(D = 64, dequantized digits), the 2-d toys ``two_moons``, ``rings`` and
``maf_figure1`` (generated in code), and the MAF paper's ``power``, ``gas``,
``hepmass``, ``miniboone`` and ``bsds300`` (offline files); see
`ar_keras.data.continuous`, `ar_keras.data.toy` and `ar_keras.data.uci`.

The feature-trajectory dataset ``speech_features`` (``kind="float_sequence"``,
``event_shape=(None, 26)``) yields float32 ``[20, 26]`` MFCC + delta segments of
the embedded speech and a (speaker, word) context label; see
`ar_keras.data.speech_features`.

The audio datasets (``kind="sequence"``, `AudioDatasetInfo` with
``sample_rate``) yield int32 mu-law codes ``[T]`` (T = ``example_length``) and
speaker or word labels; see `ar_keras.data.speech` and `ar_keras.data.real_audio`.
The byte datasets (``kind="sequence"``, `TextDatasetInfo`) yield int32 byte
windows ``[256]`` (``text``: embedded; ``enwik8``: a local file); see
`ar_keras.data.text` (``windows(name, split, length=T)`` for another T).

Splits are ``"train"``, ``"validation"`` (also ``"valid"``, ``"val"``) and
``"test"``; `info(name).splits` gives their sizes.  See `ar_keras.data.embedded`
and `ar_keras.data.real` for how each split is made and where real data are read.

Example:
    >>> import ar_keras as ark
    >>> ds = ark.data.load("digits", split="train")
    >>> ds.element_spec
    TensorSpec(shape=(8, 8, 1), dtype=tf.int32, name=None)
    >>> ds = ark.data.load("digits", split="val", with_labels=True).shuffle(2048).batch(64)
    >>> images, labels = ark.data.as_numpy("binary_digits", "test", with_labels=True)
    >>> images.shape, labels.shape
    ((250, 8, 8, 1), (250,))
"""

import dataclasses

import numpy as np
import tensorflow as tf

from ar_keras.data import continuous, embedded, real, real_audio, speech, speech_features, text, video
from ar_keras.data.dataset_info import SPLIT_ALIASES, SPLITS

__all__ = ["names", "info", "load", "as_numpy"]

# name -> (DatasetInfo, source(split, data_dir) -> (images, labels|None) arrays or a
# tf.data.Dataset of {"image", ["label"]} dicts).
_DATASETS = {
    "digits": (embedded.DIGITS_INFO, lambda split, data_dir: embedded.digits_arrays(split)),
    "binary_digits": (
        embedded.BINARY_DIGITS_INFO,
        lambda split, data_dir: embedded.binary_digits_arrays(split),
    ),
    "mnist": (real.MNIST_INFO, lambda split, data_dir: real.load_real("mnist", split, data_dir)),
    "binarized_mnist": (
        real.BINARIZED_MNIST_INFO,
        lambda split, data_dir: real.load_real("binarized_mnist", split, data_dir),
    ),
    "cifar10": (real.CIFAR10_INFO, lambda split, data_dir: real.load_real("cifar10", split, data_dir)),
    # Audio: int32 mu-law codes [T] (kind "sequence"); see ar_keras.data.speech / real_audio.
    "speech": (speech.SPEECH_INFO, lambda split, data_dir: speech.speech_arrays(split)),
    "ljspeech": (
        real_audio.LJSPEECH_INFO,
        lambda split, data_dir: real_audio.load_audio("ljspeech", split, data_dir),
    ),
    "vctk": (real_audio.VCTK_INFO, lambda split, data_dir: real_audio.load_audio("vctk", split, data_dir)),
    "speech_commands": (
        real_audio.SPEECH_COMMANDS_INFO,
        lambda split, data_dir: real_audio.load_audio("speech_commands", split, data_dir),
    ),
    # Bytes: int32 [256] windows in [0, 256) (kind "sequence"); see ar_keras.data.text.
    "text": (text.TEXT_INFO, lambda split, data_dir: text.text_arrays(split)),
    "enwik8": (text.ENWIK8_INFO, lambda split, data_dir: text.enwik8_arrays(split, data_dir)),
    # Feature trajectories: float32 [T, F] (kind "float_sequence"); see ar_keras.data.speech_features.
    "speech_features": (
        speech_features.SPEECH_FEATURES_INFO,
        lambda split, data_dir: speech_features.feature_arrays(split),
    ),
}

# Video: int32 [T, H, W, 1] (kind "video"); see ar_keras.data.video.
_DATASETS.update(
    {
        "moving_digits": (video.MOVING_DIGITS_INFO, video.moving_digits_source),
        "moving_mnist": (video.MOVING_MNIST_INFO, video.load_moving_mnist),
    }
)

# Continuous data: float32 [D] (kind "vector"); see ar_keras.data.continuous.
_DATASETS.update(
    {
        name: (meta, lambda split, data_dir, _name=name: continuous.continuous_arrays(_name, split, data_dir))
        for name, meta in continuous.CONTINUOUS_INFOS.items()
    }
)


def names():
    """Sorted names of every dataset `load` accepts."""
    return sorted(_DATASETS)


def _entry(name):
    if not isinstance(name, str):
        raise ValueError(
            f"dataset name must be a str, got {type(name).__name__} {name!r}. "
            f"Valid names: {', '.join(names())}."
        )
    key = name.strip().lower()
    if key not in _DATASETS:
        raise ValueError(f"Unknown dataset {name!r}. Valid names: {', '.join(names())}.")
    return _DATASETS[key]


def _canonical_split(split):
    valid = f"{', '.join(repr(s) for s in SPLITS)} (aliases 'valid', 'val' for 'validation')"
    if not isinstance(split, str):
        raise ValueError(f"split must be a str, one of {valid}; got {type(split).__name__} {split!r}.")
    key = split.strip().lower()
    if key not in SPLIT_ALIASES:
        raise ValueError(f"Unknown split {split!r}. Valid splits: {valid}.")
    return SPLIT_ALIASES[key]


def _check_with_labels(meta, with_labels):
    if not isinstance(with_labels, (bool, np.bool_)):
        raise ValueError(f"with_labels must be True or False, got {with_labels!r}.")
    if with_labels and meta.num_classes is None:
        raise ValueError(
            f"Dataset {meta.name!r} has no labels (num_classes=None): load it with with_labels=False."
        )
    return bool(with_labels)


def info(name):
    """The `DatasetInfo` of a dataset (reads no data).

    Args:
        name: a name from `names()`.
    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    meta, _ = _entry(name)
    # A fresh copy: callers may mutate .splits without touching the registry.
    return dataclasses.replace(meta, splits=dict(meta.splits))


def load(name, split="train", with_labels=False, data_dir=None):
    """One split of a dataset as an unbatched `tf.data.Dataset`.

    Args:
        name: a name from `names()`.
        split: ``"train"``, ``"validation"`` (or ``"valid"``, ``"val"``), ``"test"``.
        with_labels: yield ``(image, label)`` instead of ``image``; the label is an
            int32 scalar in ``[0, num_classes)``.  Datasets without labels
            (``binarized_mnist``) refuse it.
        data_dir: where real datasets are read (see `ar_keras.data.real`); None
            means ``$AR_KERAS_DATA_DIR``, else ``~/tensorflow_datasets``.  The
            embedded datasets ignore it.
    Returns:
        A `tf.data.Dataset` of int32 images ``[H, W, C]`` in ``[0, num_levels)``
        (or ``(image, label)`` pairs), in a fixed order.
    Raises:
        ValueError: unknown name or split, bad ``with_labels`` or ``data_dir``.
        DatasetNotFoundError: a real dataset is not in the data directory; the
            message says which files to put there.
    """
    meta, source = _entry(name)
    split = _canonical_split(split)
    with_labels = _check_with_labels(meta, with_labels)
    if meta.kind == "vector":
        return continuous.load_continuous(meta.name, split, with_labels, data_dir)  # float32 [D]
    data = source(split, data_dir)
    if meta.kind == "float_sequence":
        x, labels = data  # float32 [N, T, F], int32 [N]
        return tf.data.Dataset.from_tensor_slices((x, labels) if with_labels else x)

    if isinstance(data, tf.data.Dataset):
        # tfds feature dicts: {"image": uint8 [H, W, C], "label": int64 [], ...}.
        def convert(features):
            image = tf.cast(features["image"], tf.int32)
            if with_labels:
                return image, tf.cast(features["label"], tf.int32)
            return image

        return data.map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    images, labels = data
    # Keep uint8 sources uint8 in memory (4x smaller) and cast element by element.
    ds = tf.data.Dataset.from_tensor_slices((images, labels) if with_labels else images)
    if images.dtype == np.int32 and (not with_labels or labels.dtype == np.int32):
        return ds
    if with_labels:
        return ds.map(lambda x, y: (tf.cast(x, tf.int32), tf.cast(y, tf.int32)))
    return ds.map(lambda x: tf.cast(x, tf.int32))


def as_numpy(name, split="train", with_labels=False, data_dir=None):
    """One split as numpy arrays: int32 images ``[N, H, W, C]`` (and int32 labels ``[N]``).

    The arguments are those of `load`.  Meant for tests, benchmarks and small
    datasets: the whole split is held in memory.

    Returns:
        ``images``, or ``(images, labels)`` when ``with_labels=True``.
    """
    meta, source = _entry(name)
    split = _canonical_split(split)
    with_labels = _check_with_labels(meta, with_labels)
    data = source(split, data_dir)
    if meta.kind in ("vector", "float_sequence"):
        x, labels = data  # float32 [N, D] / [N, T, F], int32 [N] or None
        return (x.copy(), labels.copy()) if with_labels else x.copy()

    if isinstance(data, tf.data.Dataset):
        images, labels = [], []
        for batch in data.batch(4096).as_numpy_iterator():
            images.append(batch["image"])
            if with_labels:
                labels.append(batch["label"])
        # A sequence's length is not in its event_shape (None,): T = 0 for an empty split.
        empty = np.zeros((0,) + tuple(0 if d is None else d for d in meta.event_shape))
        images = np.concatenate(images) if images else empty
        labels = np.concatenate(labels) if labels else np.zeros((0,))
    else:
        images, labels = data

    images = np.asarray(images).astype(np.int32)  # always a fresh array
    if with_labels:
        return images, np.asarray(labels).astype(np.int32)
    return images
