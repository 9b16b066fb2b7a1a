"""2-d toy densities generated in code: two moons, rings, and the MAF paper's figure-1 density.

No files: each split is drawn from a `numpy.random.RandomState` seeded by the
dataset and the split, so it is the same on every machine and every call.

``two_moons``   the two interleaved half circles of scikit-learn's
                ``make_moons`` (radius 1, centres (0, 0) and (1, 0.5)), label =
                moon, Gaussian noise sd 0.1, then shifted and scaled by 2 so
                that the data are centred near 0: ``x = 2 (m - (0.5, 0.25)) + 2 * 0.1 e``.
``rings``       three concentric circles of radii 1, 2 and 3 (one third of the
                points each, label = ring), radial noise sd 0.1.
``maf_figure1`` Papamakarios et al. 2017, figure 1: ``x2 ~ N(0, 4)``,
                ``x1 | x2 ~ N(x2^2 / 4, 1)`` (variances).  Its exact
                log-density is `maf_figure1_log_density`; a MADE with the
                ordering (x2, x1) fits it exactly, one with (x1, x2) cannot,
                which is what the figure shows and MAF fixes.

Splits: train 10,000, validation 2,000, test 2,000 points, float32 ``[N, 2]``.

Example:
    >>> x, labels = toy_arrays("two_moons", "train")
    >>> x.shape, x.dtype
    ((10000, 2), dtype('float32'))
"""

import math

import numpy as np

from ar_keras.data.dataset_info import DatasetInfo

__all__ = ["TOY_INFOS", "TOY_SPLIT_SIZES", "toy_arrays", "maf_figure1_log_density"]

TOY_SPLIT_SIZES = {"train": 10_000, "validation": 2_000, "test": 2_000}
_SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}
_NOISE = 0.1


def _info(name, num_classes, description):
    return DatasetInfo(
        name=name,
        event_shape=(2,),
        num_levels=None,
        num_classes=num_classes,
        splits=dict(TOY_SPLIT_SIZES),
        description=description,
        kind="vector",
    )


TOY_INFOS = {
    "two_moons": _info(
        "two_moons",
        2,
        (
            "Two interleaved half circles (scikit-learn's make_moons layout), noise sd 0.1, "
            "centred and scaled by 2; generated in code, float32 [2], label = moon. Splits: train "
            "10,000, validation 2,000, test 2,000 (RandomState seeds per dataset and split)."
        ),
    ),
    "rings": _info(
        "rings",
        3,
        (
            "Three concentric circles of radii 1, 2, 3, radial noise sd 0.1; generated in code, "
            "float32 [2], label = ring. Splits: train 10,000, validation 2,000, test 2,000."
        ),
    ),
    "maf_figure1": _info(
        "maf_figure1",
        None,
        (
            "Papamakarios et al. 2017, figure 1: x2 ~ N(0, 4), x1 | x2 ~ N(x2^2/4, 1); generated "
            "in code, float32 [2] ordered (x1, x2). Splits: train 10,000, validation 2,000, test 2,000."
        ),
    ),
}


def _two_moons(rng, n):
    labels = np.arange(n) % 2
    rng.shuffle(labels)
    t = rng.uniform(0.0, math.pi, size=n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)  # [n, 2]
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)  # [n, 2]
    x = np.where(labels[:, None] == 0, upper, lower) + _NOISE * rng.standard_normal((n, 2))
    return 2.0 * (x - np.array([0.5, 0.25])), labels


def _rings(rng, n):
    labels = np.arange(n) % 3
    rng.shuffle(labels)
    angle = rng.uniform(0.0, 2.0 * math.pi, size=n)
    radius = (labels + 1.0) + _NOISE * rng.standard_normal(n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1), labels


def _maf_figure1(rng, n):
    x2 = 2.0 * rng.standard_normal(n)
    x1 = x2**2 / 4.0 + rng.standard_normal(n)
    return np.stack([x1, x2], axis=1), None


def maf_figure1_log_density(x):
    """Exact ``log p(x1, x2) = log N(x2; 0, 4) + log N(x1; x2^2/4, 1)`` for ``x [..., 2]``."""
    x = np.asarray(x, np.float64)
    x1, x2 = x[..., 0], x[..., 1]
    log_n = lambda v, mean, var: -0.5 * (v - mean) ** 2 / var - 0.5 * math.log(2 * math.pi * var)  # noqa: E731
    return log_n(x2, 0.0, 4.0) + log_n(x1, x2**2 / 4.0, 1.0)


_GENERATORS = {"two_moons": (_two_moons, 11), "rings": (_rings, 23), "maf_figure1": (_maf_figure1, 37)}


def toy_arrays(name, split):
    """One split: float32 ``[N, 2]`` and int32 labels ``[N]`` (None for maf_figure1)."""
    generate, base_seed = _GENERATORS[name]
    rng = np.random.RandomState(base_seed * 10 + _SPLIT_SEEDS[split])
    x, labels = generate(rng, TOY_SPLIT_SIZES[split])
    return x.astype(np.float32), (None if labels is None else labels.astype(np.int32))
