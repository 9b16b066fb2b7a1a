"""Video datasets: ``moving_digits`` (generated from the embedded digits) and Moving MNIST (offline).

Both yield int32 videos ``[T, H, W, 1]`` (DatasetInfo ``kind="video"``,
``event_shape=(T, H, W, 1)``): the data of `ar_keras.models.get("vpn")`.

moving_digits (embedded, no download)
-------------------------------------
Two of the scikit-learn 8x8 digits (`ar_keras.data.embedded`, grey levels
0..16) bounce inside a 16x16 frame, in the manner of Moving MNIST
(Srivastava et al., ICML 2015) at a quarter of its side.  The generator, for
each video (``numpy.random.RandomState(seed)`` drawn in this order)::

    for each of the 2 digits:
        d        = a digit image, uniform over the split's own digits
                   (train videos use train digits only: no test digit leaks)
        (y, x)   = uniform in [0, 16 - 8]^2                (float top-left corner)
        angle    = uniform in [0, 2 pi);   (vy, vx) = 1.5 (sin, cos)  pixels per frame
    frame t: each digit drawn at round((y, x)); overlapping pixels take the max
             (so the frame keeps the digits' 17 grey levels, 0..16);
             then (y, x) += (vy, vx), and a coordinate leaving [0, 8] is
             reflected back inside with its velocity negated (a bounce).

Splits (fixed seeds, the same videos on every machine and call; any length T)::

    split        videos  seed
    train        2000    1
    validation    200    2
    test          200    3

``ark.data.load("moving_digits", split)`` yields T = 8 frames (4 context + 4
to predict in the VPN's evaluation); `moving_digits_arrays` takes any
``length`` (and ``num_videos``); the first frames do not depend on ``length``.

Moving MNIST (offline)
----------------------
Srivastava, Mansimov & Salakhutdinov, ICML 2015: 10,000 sequences of 20
frames of 64x64, two MNIST digits, grey levels 0..255 (``num_levels=256``).
Read from, in order:

1. ``<data_dir>/mnist_test_seq.npy`` (the file of the Toronto page,
   uint8 ``[20, 10000, 64, 64]``);
2. a prepared tensorflow-datasets folder ``<data_dir>/moving_mnist/`` (tfds
   ``moving_mnist``, its one split ``test``), read with ``download=False``.

The 10,000 sequences are split in order: train = ``[:8000]``, validation =
``[8000:9000]``, test = ``[9000:]``.  (The VPN paper trains on sequences
generated on the fly and tests on the same 10,000; a fixed file cannot
reproduce the former, so the split is ours.)  With neither source the loader
raises `DatasetNotFoundError` saying where to put the file.

Example:
    >>> videos = moving_digits_arrays("train", length=12, num_videos=4)
    >>> videos.shape, videos.dtype, int(videos.max()) <= 16
    ((4, 12, 16, 16, 1), dtype('int32'), True)
"""

import os

import numpy as np

from ar_keras import checks
from ar_keras.data import embedded
from ar_keras.data.dataset_info import DatasetInfo
from ar_keras.data.offline import not_found, read_tfds, resolve_data_dir, tfds_build_hint

__all__ = [
    "MOVING_DIGITS_INFO",
    "MOVING_MNIST_INFO",
    "MOVING_DIGITS_SEEDS",
    "moving_digits_arrays",
    "load_moving_mnist",
]

#: Frames of a moving_digits video in `ark.data.load`.
MOVING_DIGITS_LENGTH = 8
#: Side of a moving_digits frame.
FRAME_SIZE = 16
_DIGIT_SIZE = 8
_NUM_DIGITS = 2
_SPEED = 1.5
MOVING_DIGITS_SEEDS = {"train": 1, "validation": 2, "test": 3}
_MOVING_DIGITS_SIZES = {"train": 2000, "validation": 200, "test": 200}

MOVING_DIGITS_INFO = DatasetInfo(
    name="moving_digits",
    event_shape=(MOVING_DIGITS_LENGTH, FRAME_SIZE, FRAME_SIZE, 1),
    num_levels=17,
    num_classes=None,
    splits=dict(_MOVING_DIGITS_SIZES),
    description=(
        "Two scikit-learn 8x8 digits (grey levels 0..16) bouncing in a 16x16 frame at 1.5 "
        "pixels per frame, overlaps by max; 8 frames; generated from the split's own digits "
        "with RandomState seeds train 1, validation 2, test 3 (2000/200/200 videos). "
        "See ar_keras.data.video."
    ),
    kind="video",
)

_MNIST_SIZES = {"train": 8000, "validation": 1000, "test": 1000}
_MNIST_SLICES = {"train": slice(0, 8000), "validation": slice(8000, 9000), "test": slice(9000, 10000)}
_MNIST_TFDS_SPLITS = {"train": "test[:8000]", "validation": "test[8000:9000]", "test": "test[9000:]"}
MOVING_MNIST_FILE = "mnist_test_seq.npy"

MOVING_MNIST_INFO = DatasetInfo(
    name="moving_mnist",
    event_shape=(20, 64, 64, 1),
    num_levels=256,
    num_classes=None,
    splits=dict(_MNIST_SIZES),
    description=(
        "Moving MNIST (Srivastava et al. 2015): 10,000 sequences of 20 64x64 frames, levels "
        "0..255, read offline from mnist_test_seq.npy or a prepared tfds 'moving_mnist' folder; "
        "train/validation/test = sequences [:8000]/[8000:9000]/[9000:]."
    ),
    kind="video",
)


def _bounce(position, velocity, high):
    """Reflects coordinates that left ``[0, high]`` back inside; negates their velocity."""
    below, above = position < 0, position > high
    position = np.where(below, -position, np.where(above, 2 * high - position, position))
    velocity = np.where(below | above, -velocity, velocity)
    return position, velocity


def moving_digits_arrays(split, length=MOVING_DIGITS_LENGTH, num_videos=None, frame_size=FRAME_SIZE):
    """Videos of two bouncing digits: int32 ``[N, length, S, S, 1]`` in ``[0, 17)``.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"`` (seeds 1, 2, 3).
        length: T >= 1 frames.
        num_videos: N; default the split's size (2000, 200, 200).
        frame_size: S >= 8, the side of a frame.
    """
    checks.check_split(split)
    for name, value, low in (("length", length, 1), ("frame_size", frame_size, _DIGIT_SIZE)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    length, frame_size = int(length), int(frame_size)
    num_videos = _MOVING_DIGITS_SIZES[split] if num_videos is None else int(num_videos)
    digits, _ = embedded.digits_arrays(split)  # [M, 8, 8, 1]
    rng = np.random.RandomState(MOVING_DIGITS_SEEDS[split])
    high = float(frame_size - _DIGIT_SIZE)
    videos = np.zeros((num_videos, length, frame_size, frame_size, 1), np.int32)
    for n in range(num_videos):
        chosen, position, velocity = [], [], []
        for _ in range(_NUM_DIGITS):
            chosen.append(digits[rng.randint(len(digits)), :, :, 0])
            position.append(rng.uniform(0.0, high, size=2))
            angle = rng.uniform(0.0, 2 * np.pi)
            velocity.append(_SPEED * np.array([np.sin(angle), np.cos(angle)]))
        for t in range(length):
            frame = videos[n, t, :, :, 0]
            for k in range(_NUM_DIGITS):
                y, x = (int(v) for v in np.rint(position[k]))
                window = frame[y : y + _DIGIT_SIZE, x : x + _DIGIT_SIZE]
                np.maximum(window, chosen[k], out=window)
                position[k], velocity[k] = _bounce(position[k] + velocity[k], velocity[k], high)
    return videos


def moving_digits_source(split, data_dir=None):
    """Registry source: ``(videos [N, 8, 16, 16, 1], None)``."""
    del data_dir
    return moving_digits_arrays(split), None


def _mnist_error(data_dir, origin, notes, cause):
    return not_found(
        "moving_mnist",
        data_dir,
        origin,
        notes,
        cause,
        [
            "Put one of these there:",
            f"  1. {data_dir}/{MOVING_MNIST_FILE}: uint8 [20, 10000, 64, 64], the file of "
            "http://www.cs.toronto.edu/~nitish/unsupervised_video/ (copy it from a machine with "
            "network).",
            f"  2. {data_dir}/moving_mnist/<version>/: a prepared tensorflow-datasets folder. "
            + tfds_build_hint("moving_mnist"),
        ],
    )


def load_moving_mnist(split, data_dir=None):
    """Moving MNIST: ``(videos uint8 [N, 20, 64, 64, 1], None)`` from the .npy, else a tfds
    dataset of ``{"image": [20, 64, 64, 1]}``; `DatasetNotFoundError` when neither is there."""
    data_dir, origin = resolve_data_dir(data_dir)
    path = os.path.join(data_dir, MOVING_MNIST_FILE)
    if os.path.isfile(path):
        seq = np.load(path, mmap_mode="r")  # [20, N, 64, 64]
        if seq.ndim != 4 or seq.shape[0] != 20 or seq.shape[2:] != (64, 64):
            raise _mnist_error(
                data_dir, origin, [f"{path} has shape {seq.shape}, expected [20, 10000, 64, 64]."], None
            )
        part = np.asarray(seq[:, _MNIST_SLICES[split]])
        # [20, N, 64, 64] -> [N, 20, 64, 64] -> [N, 20, 64, 64, 1]
        return np.transpose(part, (1, 0, 2, 3))[..., None], None
    ds = read_tfds(
        "moving_mnist",
        _MNIST_TFDS_SPLITS[split],
        data_dir,
        [f"no {MOVING_MNIST_FILE} in {data_dir}."],
        lambda notes, cause: _mnist_error(data_dir, origin, notes, cause),
    )
    return ds.map(lambda f: {"image": f["image_sequence"]})
