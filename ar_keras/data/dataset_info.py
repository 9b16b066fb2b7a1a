"""`DatasetInfo`: what a model needs to know about a dataset before seeing it.

Example:
    >>> import ar_keras as ark
    >>> meta = ark.data.info("digits")
    >>> meta.event_shape, meta.num_levels, meta.num_classes
    ((8, 8, 1), 17, 10)
    >>> meta.event
    ImageEvent(shape=(8, 8, 1), num_levels=17)
    >>> meta.splits
    {'train': 1297, 'validation': 250, 'test': 250}
"""

import dataclasses

__all__ = ["DatasetInfo", "SPLITS", "SPLIT_ALIASES", "KINDS"]

#: The kinds of data, those of the event specs (`ar_keras.core.events`).
KINDS = ("image", "sequence", "vector", "float_sequence", "video")

#: The canonical split names every dataset has, in order.
SPLITS = ("train", "validation", "test")

#: Accepted spellings -> canonical split name.
SPLIT_ALIASES = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "test": "test",
}


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static description of a dataset (no data is read to build it).

    Attributes:
        name: the name `ark.data.load` takes.
        event_shape: the shape of one example, ``None`` on a free (length) axis:
            ``(H, W, C)`` for images (a model's ``image_shape=``), ``(None,)`` for
            sequences, ``(D,)`` for vectors (``event_size=D``), ``(None, F)`` for
            feature trajectories (``num_features=F``), ``(T, H, W, C)`` for videos
            (``video_shape=``).
        num_levels: K; values are ints in ``[0, K)`` (``num_levels=``); None for floats.
        num_classes: number of class labels (``with_labels=True`` yields ints in
            ``[0, num_classes)``), or None when the dataset has no labels.
        splits: ``{"train": n, "validation": n, "test": n}``; a count is None when
            it is not known without reading the data.
        description: where the data come from and how the splits are made.
        kind: the kind of the event spec (`KINDS`): ``"image"`` (int ``[H, W, C]``),
            ``"sequence"`` (int ``[T]``, any T), ``"vector"`` (float ``[D]``),
            ``"float_sequence"`` (float ``[T, F]``: `ar_keras.data.speech_features`) or
            ``"video"`` (int ``[T, H, W, C]``).

    `event` is the spec of one example, the one a model of these data builds.
    """

    name: str
    event_shape: tuple
    num_levels: int
    num_classes: int | None
    # A dict is unhashable: leave it out of __hash__ (it still takes part in ==).
    splits: dict = dataclasses.field(hash=False)
    description: str = ""
    kind: str = "image"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"DatasetInfo {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}.")

    @property
    def event(self):
        """The event spec of one example (`ar_keras.core.events`): kind, shape, levels and
        modality (audio datasets: with their ``sample_rate``)."""
        from ar_keras.core import events  # the data package stands below the models' core

        if self.kind == "image":
            return events.ImageEvent(self.event_shape, self.num_levels)
        if self.kind == "sequence":
            return events.SequenceEvent(self.num_levels, getattr(self, "sample_rate", None))
        if self.kind == "vector":
            return events.VectorEvent(self.event_shape[0])
        if self.kind == "float_sequence":
            return events.FloatSequence(self.event_shape[-1])
        return events.VideoEvent(self.event_shape, self.num_levels)

    @property
    def event_size(self):
        """Elements per example, ``H * W * C`` (None for sequences of any length)."""
        size = 1
        for s in self.event_shape:
            if s is None:
                return None  # sequences of any length
            size *= s
        return size
