"""The constructor arguments a dataset fixes: ``python -m train --data`` builds the model for it.

Read from the dataset's event spec (`ar_keras.data.DatasetInfo.event`) and named by its kind:
``image_shape`` (images), ``video_shape`` (videos), ``event_size`` (vectors), ``num_features``
(feature trajectories), ``max_length`` (sequences, for a class that takes it); ``num_levels``
for integer data; ``sample_rate`` for audio, for a class that takes it.  A dataset of a kind
the model does not model is a `ValueError` that names what the model takes and a dataset of
that kind.

Example:
    >>> import ar_keras as ark
    >>> from ar_keras.core.data_arguments import data_arguments
    >>> data_arguments(ark.models.model_class("nade"), ark.data.info("digits"), ("image",))
    {'image_shape': (8, 8, 1), 'num_levels': 17}
"""

import inspect

__all__ = ["data_arguments"]

#: What a model of each event kind models, and datasets of that kind (`overrides_from_data`).
_KIND_WORDS = {
    "image": "images of integer levels [H, W, C]",
    "sequence": "integer sequences [T]",
    "video": "videos [T, H, W, C]",
    "vector": "continuous vectors [D]",
    "float_sequence": "float feature trajectories [T, F]",
}
_KIND_EXAMPLES = {
    "image": "'digits'",
    "sequence": "'speech' or 'text'",
    "video": "'moving_digits'",
    "vector": "'digits_continuous', 'two_moons' or 'power' (continuous values)",
    "float_sequence": "'speech_features'",
}
_VIDEO_HINT = " For videos use a video model (--model vpn)."


def data_arguments(cls, info, kinds):
    """The constructor arguments of `overrides_from_data` for a model of one of ``kinds``,
    or a `ValueError` naming what the class models when the dataset is of another kind."""
    event = info.event
    if event.kind not in kinds:
        raise ValueError(
            f"{cls.__name__} models {' or '.join(_KIND_WORDS[k] for k in kinds)}; dataset "
            f"{info.name!r} holds {event.kind} data of shape {tuple(info.event_shape)}. Pick "
            + " or ".join(
                f"{'an' if k == 'image' else 'a'} {k} dataset, e.g. {_KIND_EXAMPLES[k]}" for k in kinds
            )
            + f" (ark.data.info(name).kind).{_VIDEO_HINT if event.kind == 'video' else ''}"
        )
    taken = inspect.signature(cls.__init__).parameters
    arguments = {}
    if event.kind == "image":
        arguments["image_shape"] = tuple(event.shape)
    elif event.kind == "video":
        arguments["video_shape"] = tuple(event.shape)
    elif event.kind == "vector":
        arguments["event_size"] = int(event.shape[0])
    elif event.kind == "float_sequence":
        arguments["num_features"] = int(event.shape[-1])
    if event.discrete:
        arguments["num_levels"] = int(event.num_levels)
    if event.kind == "sequence" and "max_length" in taken and getattr(info, "example_length", None):
        arguments["max_length"] = int(info.example_length)
    if event.modality == "audio" and "sample_rate" in taken:
        arguments["sample_rate"] = int(event.sample_rate)
    return arguments
