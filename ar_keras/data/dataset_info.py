"""`DatasetInfo`: what a model needs to know about a dataset before seeing it.

Example:
    >>> import ar_keras as ark
    >>> meta = ark.data.info("digits")
    >>> meta.image_shape, meta.num_levels, meta.num_classes
    ((8, 8, 1), 17, 10)
    >>> meta.splits
    {'train': 1297, 'validation': 250, 'test': 250}
"""

import dataclasses

__all__ = ["DatasetInfo", "SPLITS", "SPLIT_ALIASES"]

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
        image_shape: ``(H, W, C)`` of one example; pass it as a model's ``image_shape=``.
        num_levels: K; pixels are ints in ``[0, K)``; pass it as ``num_levels=``.
        num_classes: number of class labels (``with_labels=True`` yields ints in
            ``[0, num_classes)``), or None when the dataset has no labels.
        splits: ``{"train": n, "validation": n, "test": n}``; a count is None when
            it is not known without reading the data.
        description: where the data come from and how the splits are made.
        kind: ``"image"`` (int ``[H, W, C]``), ``"sequence"`` (int ``[T]``, any T;
            ``image_shape`` is ``(None,)``), ``"continuous"`` (float ``[D]``,
            ``num_levels`` None), ``"float_sequence"`` (float ``[T, F]``,
            ``image_shape`` is ``(None, F)``: `ar_keras.data.speech_features`) or
            ``"video"`` (int ``[T, H, W, C]``; ``image_shape`` is ``(T, H, W, C)``, the
            models' ``video_shape=``).
    """

    name: str
    image_shape: tuple
    num_levels: int
    num_classes: int | None
    # A dict is unhashable: leave it out of __hash__ (it still takes part in ==).
    splits: dict = dataclasses.field(hash=False)
    description: str = ""
    kind: str = "image"

    @property
    def event_size(self):
        """Elements per example, ``H * W * C``."""
        size = 1
        for s in self.image_shape:
            if s is None:
                return None  # sequences of any length
            size *= s
        return size
