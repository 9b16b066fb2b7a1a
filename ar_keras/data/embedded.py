"""Embedded data: the scikit-learn 8x8 digits, shipped inside scikit-learn (no download).

``digits`` are the 1,797 images of `sklearn.datasets.load_digits` (UCI optical
recognition of handwritten digits: 32x32 bitmaps whose 4x4 blocks are counted),
so every pixel is an int in ``[0, 16]``: ``num_levels = 17``,
``event_shape = (8, 8, 1)``, 10 classes.  ``binary_digits`` are the same
images thresholded at half range, ``pixel >= 8 -> 1``: ``num_levels = 2``.

The split is fixed once and for all (scikit-learn has none)::

    perm = numpy.random.RandomState(0).permutation(1797)
    train      = perm[:1297]        # 1,297 examples
    validation = perm[1297:1547]    #   250
    test       = perm[1547:]        #   250

The three are disjoint, cover all 1,797 images (no image occurs twice in the
data), and are the same on every machine and every call.  Inside a split the
examples come in permutation order; shuffle in the input pipeline.

Example:
    >>> images, labels = digits_arrays("train")
    >>> images.shape, images.dtype, int(images.max())
    ((1297, 8, 8, 1), dtype('int32'), 16)
"""

import dataclasses
import functools

import numpy as np

from ar_keras import checks
from ar_keras.data.dataset_info import DatasetInfo

__all__ = [
    "DIGITS_INFO",
    "BINARY_DIGITS_INFO",
    "DIGITS_SPLIT_SEED",
    "digits_arrays",
    "binary_digits_arrays",
]

#: Seed of the `numpy.random.RandomState` permutation that makes the split.
DIGITS_SPLIT_SEED = 0
_NUM_DIGITS = 1797
_SPLIT_SIZES = {"train": 1297, "validation": 250, "test": 250}
# Threshold of binary_digits: half of the 0..16 range.
_BINARY_THRESHOLD = 8

_SPLIT_DOC = (
    "Fixed split: perm = numpy.random.RandomState(0).permutation(1797); "
    "train = perm[:1297], validation = perm[1297:1547], test = perm[1547:]."
)

DIGITS_INFO = DatasetInfo(
    name="digits",
    event_shape=(8, 8, 1),
    num_levels=17,
    num_classes=10,
    splits=dict(_SPLIT_SIZES),
    description=(
        "scikit-learn 8x8 handwritten digits (sklearn.datasets.load_digits, embedded: "
        "no download), 1,797 images, pixels are counts in [0, 16], labels 0-9. " + _SPLIT_DOC
    ),
)

# The same images, labels and split, two levels.
BINARY_DIGITS_INFO = dataclasses.replace(
    DIGITS_INFO,
    name="binary_digits",
    num_levels=2,
    splits=dict(_SPLIT_SIZES),
    description="The digits images binarized as pixel >= 8 -> 1, else 0 (same images, labels "
    "and split as 'digits'). " + _SPLIT_DOC,
)


@functools.lru_cache(maxsize=1)
def _all_digits():
    """All 1,797 digits as read-only int32 ``[N, 8, 8, 1]`` and labels ``[N]``."""
    from sklearn.datasets import load_digits  # scikit-learn is slow to import: lazily

    bunch = load_digits()
    # bunch.images holds float64 counts 0..16 in [N, 8, 8]; make them exact ints.
    images = np.rint(bunch.images).astype(np.int32)[..., None]  # [N, 8, 8] -> [N, 8, 8, 1]
    labels = np.asarray(bunch.target, dtype=np.int32)  # [N]
    if images.shape != (_NUM_DIGITS, 8, 8, 1) or images.min() < 0 or images.max() > 16:
        raise RuntimeError(  # pragma: no cover - a changed scikit-learn
            f"scikit-learn's digits changed: expected 1,797 images [8, 8] in [0, 16], got "
            f"{images.shape} in [{images.min()}, {images.max()}]."
        )
    perm = np.random.RandomState(DIGITS_SPLIT_SEED).permutation(_NUM_DIGITS)  # [N]
    images, labels = images[perm], labels[perm]
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _split_slice(split):
    checks.check_split(split)  # callers pass canonical names; kept for direct use
    start = 0
    for name in ("train", "validation", "test"):
        stop = start + _SPLIT_SIZES[name]
        if name == split:
            return slice(start, stop)
        start = stop


def digits_arrays(split):
    """One split of ``digits``: int32 images ``[N, 8, 8, 1]`` in ``[0, 17)``, labels ``[N]``.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``.
    Returns:
        ``(images, labels)``, fresh writable numpy arrays.
    """
    images, labels = _all_digits()
    index = _split_slice(split)
    return images[index].copy(), labels[index].copy()


def binary_digits_arrays(split):
    """One split of ``binary_digits``: int32 images ``[N, 8, 8, 1]`` in ``{0, 1}``, labels."""
    images, labels = digits_arrays(split)
    return (images >= _BINARY_THRESHOLD).astype(np.int32), labels
