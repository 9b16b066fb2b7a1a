"""The model registry: one name per system of the literature.

Example:
    >>> import ar_keras as ark
    >>> "nade" in ark.models.names()
    True
    >>> model = ark.models.get("nade", preset="tiny", num_levels=4)
"""

import keras

from ar_keras.core import vocabulary

__all__ = ["register", "names", "get", "presets", "model_class"]

_MODELS = {}


def register(name):
    """Class decorator: registers a model under ``name`` and for Keras serialization."""

    def decorate(cls):
        if name in _MODELS:
            raise ValueError(f"a model named {name!r} is already registered.")
        for required in ("tiny", "paper"):
            if required not in cls.PRESETS:
                raise ValueError(f"{cls.__name__} must define a {required!r} preset.")
        cls = keras.saving.register_keras_serializable(package="ar_keras")(cls)
        cls.registry_name = name
        _MODELS[name] = cls
        return cls

    return decorate


def names():
    """Sorted names of every registered model."""
    return sorted(_MODELS)


def model_class(name):
    if name not in _MODELS:
        raise ValueError(f"Unknown model {name!r}. Registered models: {', '.join(names())}.")
    return _MODELS[name]


def presets(name):
    """The preset names of a model."""
    return sorted(model_class(name).PRESETS)


def get(name, preset="digits", **overrides):
    """Builds a registered model from a preset, with constructor overrides.

    An override wins over the preset: the model class's `resolve_preset` drops the
    preset arguments that an override makes moot (``max_length=`` on an image preset
    of `sparse_transformer` drops its ``image_shape``), and when the arguments still
    conflict the error names the preset's arguments and how to override them.

    Args:
        name: a name from `names()`.
        preset: ``"tiny"`` (tests), ``"digits"`` / ``"speech"`` / ``"text"``
            (the embedded data), ``"paper"`` (the paper's headline setting).
        **overrides: constructor arguments replacing the preset's.

    Raises:
        ValueError: unknown model or preset (the message lists the valid ones), or
            overrides that conflict with the preset.
        TypeError: an argument the model does not take, or an old argument name.
    """
    cls = model_class(name)
    if preset not in cls.PRESETS:
        raise ValueError(
            f"Unknown preset {preset!r} for model {name!r}. Presets: {', '.join(presets(name))}."
        )
    vocabulary.check_renamed(name, overrides)
    kwargs = cls.resolve_preset(dict(cls.PRESETS[preset]), overrides)
    kwargs.update(overrides)
    kept = {k: v for k, v in kwargs.items() if k in cls.PRESETS[preset] and k not in overrides}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as error:
        if not overrides or not kept:
            raise
        shown = ", ".join(f"{k}={v!r}" for k, v in kept.items())
        raise type(error)(
            f"{error} (model {name!r}, preset {preset!r}, which also sets {shown}; "
            f"an override replaces a preset argument of the same name, e.g. "
            f"ark.models.get({name!r}, preset={preset!r}, {next(iter(kept))}=...).)"
        ) from error
