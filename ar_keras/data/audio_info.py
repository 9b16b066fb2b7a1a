"""`AudioDatasetInfo`: a `DatasetInfo` for audio, with its sample rate.

Audio datasets are sequences (``kind="sequence"``, ``event_shape=(None,)``)
of mu-law codes; ``sample_rate`` says how to play them back, and
``example_length`` how many samples each example holds (every example of a
dataset has the same length so that ``ds.batch(n)`` works; the models take any
length).

Example:
    >>> import ar_keras as ark
    >>> meta = ark.data.info("speech")
    >>> meta.kind, meta.sample_rate, meta.num_levels, meta.example_length
    ('sequence', 16000, 256, 10240)
"""

import dataclasses

from ar_keras.data.dataset_info import DatasetInfo

__all__ = ["AudioDatasetInfo"]


@dataclasses.dataclass(frozen=True)
class AudioDatasetInfo(DatasetInfo):
    """`DatasetInfo` plus what audio needs.

    Attributes:
        sample_rate: samples per second (Hz).
        example_length: samples per example (T of ``[T]``).
        label_names: what the labels (``with_labels=True``) are, e.g. the speakers.
    """

    sample_rate: int = 16000
    example_length: int = 16000
    label_names: tuple = ()
