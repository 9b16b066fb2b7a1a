"""The model registry: one name per system of the literature.

Example:
    >>> import ar_keras as ark
    >>> "nade" in ark.models.names()
    True
    >>> model = ark.models.get("nade", preset="tiny", num_levels=4)
"""

import keras

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

    Args:
        name: a name from `names()`.
        preset: ``"tiny"`` (tests), ``"digits"`` / ``"speech"`` / ``"text"``
            (the embedded data), ``"paper"`` (the paper's headline setting).
        **overrides: constructor arguments replacing the preset's.

    Raises:
        ValueError: unknown model or preset (the message lists the valid ones).
    """
    cls = model_class(name)
    if preset not in cls.PRESETS:
        raise ValueError(
            f"Unknown preset {preset!r} for model {name!r}. Presets: {', '.join(presets(name))}."
        )
    kwargs = dict(cls.PRESETS[preset])
    kwargs.update(overrides)
    return cls(**kwargs)
