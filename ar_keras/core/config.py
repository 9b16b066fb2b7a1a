"""`RecordedConfig`: a model's config is the arguments its constructor was called with.

Keras records a subclassed model's arguments only where they equal the defaults
(``keras.Model.__new__`` drops the rest), so every model would need a hand-written
``get_config``.  This mixin records what the call passed, defaults included, before
``__init__`` runs, and ``get_config`` returns it as plain JSON (tuples and NumPy
values as lists and Python numbers), so that::

    type(model).from_config(model.get_config())

builds the same model.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("nade", preset="tiny")
    >>> config = model.get_config()
    >>> config["hidden_dim"], config["image_shape"]
    (8, [2, 2, 1])
    >>> type(model).from_config(config).get_config() == config
    True
"""

import inspect

import numpy as np

__all__ = ["RecordedConfig", "plain"]


class RecordedConfig:
    """Mixin of a `keras.Model` whose ``get_config`` is its constructor's arguments."""

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls, *args, **kwargs)
        signature = inspect.signature(cls.__init__)
        try:
            bound = signature.bind(None, *args, **kwargs)
        except TypeError:
            arguments = None  # __init__ raises the TypeError itself
        else:
            bound.apply_defaults()
            arguments = {}
            for name, parameter in list(signature.parameters.items())[1:]:
                if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                    arguments.update(bound.arguments.get(name, {}))
                elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL:
                    arguments[name] = bound.arguments[name]
        # set past Keras' attribute tracking, which would wrap the dict
        vars(instance)["_constructor_arguments"] = arguments
        return instance

    def get_config(self):
        """The constructor's arguments as the model was built (defaults included), with
        Keras' own ``name``, ``trainable`` and ``dtype``; plain JSON (`plain`)."""
        config = super().get_config()
        for key, value in self._constructor_arguments.items():
            config.setdefault(key, plain(value))
        return config


def plain(value):
    """``value`` with tuples and NumPy arrays as lists and NumPy scalars as Python ones.

    Example:
        >>> import numpy as np
        >>> plain({"shape": (2, 2, np.int64(1)), "widths": np.arange(2)})
        {'shape': [2, 2, 1], 'widths': [0, 1]}
    """
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
