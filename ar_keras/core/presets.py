"""Presets: a model's named sets of constructor arguments, kept as data beside its code.

The module of a model, ``gated_pixelcnn.py``, keeps its presets in ``gated_pixelcnn.toml``
beside it: one table per preset, one key per constructor argument, and a comment above each
table that says what data the preset is for and where its numbers come from. An argument a
preset leaves out takes the constructor's default; TOML arrays are read as tuples.

Every model has ``tiny`` (the tests), ``paper`` (the paper's headline network) and one for
the embedded data (``digits``, ``speech``, ``text`` or ``video``).

Example:
    >>> import ar_keras as ark
    >>> presets = ark.models.model_class("nade").PRESETS
    >>> sorted(presets) == ark.models.presets("nade")
    True
    >>> presets["digits"]["image_shape"]
    (8, 8, 1)
"""

import functools
import pathlib
import sys
import tomllib
import types

__all__ = ["PresetTable", "read"]


class PresetTable:
    """``cls.PRESETS``: the presets file of ``cls``'s module, or of its nearest base's.

    A read-only mapping ``preset name -> {argument: value}``, read once per file.
    """

    def __get__(self, instance, owner):
        for klass in owner.__mro__:
            module = sys.modules.get(klass.__module__)
            path = pathlib.Path(getattr(module, "__file__", None) or ".").with_suffix(".toml")
            if path.is_file():
                return read(path)
        return types.MappingProxyType({})


def _frozen(value):
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


@functools.cache
def read(path):
    """The presets in the TOML file at ``path``, arrays as tuples, read-only."""
    path = pathlib.Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"the presets file {path} is not valid TOML: {error}") from error
    for name, arguments in table.items():
        if not isinstance(arguments, dict):
            raise ValueError(f"{path}: {name!r} must be a table [{name}] of constructor arguments.")
    return types.MappingProxyType(
        {
            name: types.MappingProxyType({key: _frozen(v) for key, v in arguments.items()})
            for name, arguments in table.items()
        }
    )
