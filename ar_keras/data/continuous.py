"""Continuous datasets: dequantized digits, 2-d toys and the MAF paper's UCI sets.

Every continuous dataset (``DatasetInfo.kind == "vector"``,
``event_shape = (D,)``, ``num_levels = None``) yields float32 vectors ``[D]``
(or ``(x, label)`` pairs when it has labels), the data of the continuous
models (`maf`, `iaf`, `rnade`: ``event_size = D``).

``digits_continuous``: uniform dequantization
----------------------------------------------
The 8x8 digits (`ar_keras.data.embedded`, ints ``k`` in ``[0, 17)``) flattened
to 64 dimensions and dequantized as::

    x = (k + u) / 17,        u ~ Uniform[0, 1)^64,        x in [0, 1)^64

so that each level fills its own cell of width 1/17.  For any density ``p`` on
``[0, 1]^64`` (Theis, van den Oord & Bethge 2016)::

    E_u[log p(x)] <= log P(k) + 64 log 17,    P(k) = integral of p over k's cell

so a continuous log-likelihood ``L`` (nats) gives the discrete bound
``bits/dim <= (64 log 17 - L) / (64 ln 2) = 4.087 - L / 44.36``.
The *training* split draws fresh noise ``u`` on every pass over the data
(each epoch sees new dequantized points; deterministic for a given epoch),
which regularises; *validation* and *test* use one fixed draw
(``RandomState(1000 + split index)``) so that held-out figures are
comparable between runs.  Splits, labels and order are those of ``digits``.

The MAF paper works in logit space, ``logit(a + (1 - 2a) x)``; here that is
a *model* option (``ark.models.get("maf", data_transform="logit")``), which
includes the transform's Jacobian: log-likelihoods are always reported for
``x`` in ``[0, 1]^64``.

Example:
    >>> ds = load_continuous("digits_continuous", "train")       # float32 [64] in [0, 1)
    >>> x, labels = continuous_arrays("digits_continuous", "test")
    >>> x.shape, x.dtype, labels.shape
    ((250, 64), dtype('float32'), (250,))
"""

import numpy as np
import tensorflow as tf

from ar_keras.data import embedded, toy, uci
from ar_keras.data.dataset_info import DatasetInfo

__all__ = [
    "DIGITS_CONTINUOUS_INFO",
    "CONTINUOUS_INFOS",
    "DEQUANTIZATION_SEED",
    "continuous_arrays",
    "load_continuous",
    "dequantize_uniform",
]

#: Seed of the training split's per-pass dequantization noise.
DEQUANTIZATION_SEED = 17
_LEVELS = 17
_SPLIT_INDEX = {"train": 0, "validation": 1, "test": 2}

DIGITS_CONTINUOUS_INFO = DatasetInfo(
    name="digits_continuous",
    event_shape=(64,),
    num_levels=None,
    num_classes=10,
    splits=dict(embedded.DIGITS_INFO.splits),
    description=(
        "The digits (scikit-learn 8x8, embedded) flattened to 64 dims and uniformly dequantized: "
        "x = (k + u) / 17 in [0, 1), u ~ U[0, 1); fresh noise on every pass over the train split, "
        "one fixed draw for validation and test. Same images, labels and split as 'digits'."
    ),
    kind="vector",
)

#: Every continuous dataset: name -> DatasetInfo.
CONTINUOUS_INFOS = {"digits_continuous": DIGITS_CONTINUOUS_INFO, **toy.TOY_INFOS, **uci.UCI_INFOS}


def dequantize_uniform(levels, noise, num_levels=_LEVELS):
    """``(k + u) / K``: ints ``k`` in ``[0, K)`` and uniforms ``u`` in ``[0, 1)`` -> ``[0, 1)``."""
    return (levels + noise) / num_levels


def _digits_flat(split):
    images, labels = embedded.digits_arrays(split)
    return images.reshape(len(images), 64).astype(np.float32), labels  # [N, 8, 8, 1] -> [N, 64]


def continuous_arrays(name, split, data_dir=None):
    """One split as numpy: float32 ``[N, D]`` and int32 labels ``[N]`` (or None).

    For ``digits_continuous`` every split, ``train`` included, is one fixed
    dequantization draw (`load_continuous` redraws the training noise per pass).
    """
    if name == "digits_continuous":
        levels, labels = _digits_flat(split)
        rng = np.random.RandomState(1000 + _SPLIT_INDEX[split])
        noise = rng.uniform(0.0, 1.0, size=levels.shape).astype(np.float32)
        return dequantize_uniform(levels, noise).astype(np.float32), labels
    if name in toy.TOY_INFOS:
        return toy.toy_arrays(name, split)
    if name in uci.UCI_INFOS:
        return uci.uci_arrays(name, split, data_dir), None
    raise ValueError(
        f"Unknown continuous dataset {name!r}; expected one of {', '.join(sorted(CONTINUOUS_INFOS))}."
    )


def load_continuous(name, split, with_labels=False, data_dir=None):
    """One split as an unbatched `tf.data.Dataset` of float32 ``[D]`` (or ``(x, label)``)."""
    if name == "digits_continuous" and split == "train":
        levels, labels = _digits_flat(split)
        ds = tf.data.Dataset.from_tensor_slices((levels, labels))
        # One int64 per element from a stream that changes on every pass
        # (epoch) but is fixed by DEQUANTIZATION_SEED: the element's noise key.
        keys = tf.data.Dataset.random(seed=DEQUANTIZATION_SEED, rerandomize_each_iteration=True)

        def dequantize(pair, key):
            k, label = pair
            u = tf.random.stateless_uniform([64], seed=tf.stack([key, tf.constant(0, tf.int64)]))
            x = dequantize_uniform(k, u)
            return (x, label) if with_labels else x

        return tf.data.Dataset.zip((ds, keys)).map(dequantize)
    x, labels = continuous_arrays(name, split, data_dir)
    if with_labels:
        return tf.data.Dataset.from_tensor_slices((x, labels))
    return tf.data.Dataset.from_tensor_slices(x)
