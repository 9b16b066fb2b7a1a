"""Parallel byte data for translation: a reversal task made here, and WMT read offline.

A translation dataset yields ``(target, source)`` pairs of int32 byte
sequences, the order every conditional model of ar_keras reads
(``model.fit(ds)`` with ``x = target``, ``conditional = source``; see
`ar_keras.models.text.bytenet`).

**``text_reverse``** (generated, no download): each non-overlapping window of
``length`` bytes of the embedded ``text`` corpus (`ar_keras.data.text`, the
same 90/5/5 split) is a source, and the same bytes in reverse order its
target::

    source = w_0 w_1 .. w_{S-1}          target = w_{S-1} .. w_1 w_0

Target byte t is source byte ``S - 1 - t``: predicting the first target bytes
needs the *end* of the source, which only a non-causal encoder (and an
encoder reach of about S) gives; every pair has ``|t| = |s|``.

**WMT** (offline): ``wmt(split, pair="de-en")`` reads the tensorflow-datasets
``wmt14_translate/<pair>`` (or another ``tfds_name``) with ``download=False``
from a prepared folder in the data directory (``data_dir=``, else
``$AR_KERAS_DATA_DIR``, else ``~/tensorflow_datasets``) and yields the UTF-8
bytes of each sentence pair, English to German by default (the paper's
direction); a missing folder raises `DatasetNotFoundError` at once, saying
what to put where.  Sentences have different lengths: batch them with
``padded_batch`` and a padding byte.

Example:
    >>> targets, sources = reversal_pairs("train", length=16)     # uint8 [N, 16] each
    >>> ds = load_parallel("text_reverse", "train", length=16)     # (target, source) int32 [16]
    >>> # wmt("train", data_dir="/data/tfds")   # needs <dir>/wmt14_translate/de-en/<version>/
"""

import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.data import offline, text

__all__ = ["reversal_pairs", "load_parallel", "wmt", "PARALLEL_NAMES"]

PARALLEL_NAMES = ("text_reverse", "wmt")
#: Source (and target) bytes per pair of ``text_reverse`` by default.
DEFAULT_LENGTH = 32


def reversal_pairs(split, length=DEFAULT_LENGTH):
    """``text_reverse``: ``(targets, sources)``, uint8 ``[N, length]`` each, targets reversed."""
    sources, _ = text.text_arrays(split, length)  # [N, S]
    return np.ascontiguousarray(sources[:, ::-1]), sources


def wmt(split, pair="de-en", data_dir=None, tfds_name="wmt14_translate", source_language="en"):
    """WMT sentence pairs as ``(target, source)`` int32 byte sequences (UTF-8), offline.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"`` (newstest2013 / newstest2014 in
            ``wmt14_translate``).
        pair: the tfds config, e.g. ``"de-en"``.
        data_dir: the data directory (see `ar_keras.data.offline.resolve_data_dir`).
        tfds_name: the tfds builder, ``wmt14_translate`` or ``wmt15_translate`` ...
        source_language: which side of the pair is the source (``"en"``: English to German).

    Raises:
        DatasetNotFoundError: no prepared ``<data_dir>/<tfds_name>/<pair>/<version>/`` folder.
        ValueError: a split or language the pair does not have.
    """
    checks.check_split(split)
    languages = pair.split("-")
    if len(languages) != 2 or source_language not in languages:
        raise ValueError(f"source_language must be one side of the pair {pair!r}, got {source_language!r}.")
    target_language = languages[1 - languages.index(source_language)]
    data_dir, origin = offline.resolve_data_dir(data_dir)
    name = f"{tfds_name}/{pair}"

    def error(notes, cause):
        return offline.not_found(
            name,
            data_dir,
            origin,
            notes,
            cause,
            [
                f"Put a prepared tfds folder {data_dir}/{tfds_name}/{pair}/<version>/ there.",
                "     " + offline.tfds_build_hint(name),
                f"Or set ${offline.DATA_DIR_ENV} (or pass data_dir=) to a directory that holds it.",
            ],
        )

    ds = offline.read_tfds(name, split, data_dir, [], error)

    def to_bytes(example):
        def as_ints(s):
            return tf.cast(tf.io.decode_raw(s, tf.uint8), tf.int32)  # UTF-8 bytes [len]

        return as_ints(example[target_language]), as_ints(example[source_language])

    return ds.map(to_bytes, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def load_parallel(name, split="train", length=DEFAULT_LENGTH, data_dir=None, **kwargs):
    """A translation dataset of ``(target, source)`` int32 pairs: ``"text_reverse"`` or ``"wmt"``.

    ``length`` is the window of ``text_reverse``; ``kwargs`` go to `wmt`.
    """
    if name == "text_reverse":
        targets, sources = reversal_pairs(split, length)
        ds = tf.data.Dataset.from_tensor_slices((targets, sources))
        return ds.map(lambda t, s: (tf.cast(t, tf.int32), tf.cast(s, tf.int32)))
    if name == "wmt":
        return wmt(split, data_dir=data_dir, **kwargs)
    raise ValueError(f"load_parallel reads one of {PARALLEL_NAMES}, got {name!r}.")
