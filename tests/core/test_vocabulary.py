"""The constructor vocabulary over every registered model (`ar_keras.core.vocabulary`).

Every old argument name is a TypeError naming the new one, through `ark.models.get`
and through the class; every constructor argument is stored under its own name in
``get_config``; the shared words mean the same thing everywhere.
"""

import inspect

import keras
import pytest

import ar_keras as ark
from ar_keras.core import vocabulary

NAMES = ark.models.names()
#: What every Keras model has (``loss`` among them): not a stored constructor argument.
KERAS_ATTRIBUTES = set(dir(keras.Sequential()))
RENAMES = [(name, old, new) for name in NAMES for old, new in sorted(vocabulary.RENAMED[name].items())]


def _arguments(cls):
    return [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]


def _value(cls, new):
    """A valid value of argument ``new``: the tiny preset's, else the constructor's default."""
    if new in cls.PRESETS["tiny"]:
        return cls.PRESETS["tiny"][new]
    return inspect.signature(cls.__init__).parameters[new].default


def test_one_registry_name_per_system():
    assert len(NAMES) == 22
    assert "sparse_transformer" in NAMES and "sparse_transformer_sequence" not in NAMES


def test_every_model_has_a_row_and_every_row_names_real_arguments():
    assert set(vocabulary.RENAMED) == set(NAMES)
    for name, old, new in RENAMES:
        arguments = {p.name for p in _arguments(ark.models.model_class(name))}
        assert new in arguments, f"{name}: {old} -> {new}, but {name} takes no {new}="
        assert old not in arguments, f"{name} still takes its old argument {old}="


@pytest.mark.parametrize("name, old, new", RENAMES, ids=[f"{n}-{o}" for n, o, _ in RENAMES])
def test_an_old_name_is_an_error_naming_the_new_one(name, old, new):
    cls = ark.models.model_class(name)
    value = _value(cls, new)
    match = rf"{name} takes {new}=, not {old}="
    with pytest.raises(TypeError, match=match):
        ark.models.get(name, preset="tiny", **{old: value})
    with pytest.raises(TypeError, match=match):
        cls(**{**cls.PRESETS["tiny"], old: value})


@pytest.mark.parametrize("name", NAMES)
def test_every_argument_is_stored_under_its_own_name(name):
    cls = ark.models.model_class(name)
    model = ark.models.get(name, preset="tiny")
    config = model.get_config()
    # An argument may be left out only where its default (None) is what the model was built
    # with: a sparse_transformer of images has no max_length, an unconditional model no labels.
    defaults = {p.name: p.default for p in _arguments(cls)}
    missing = {
        a
        for a in set(defaults) - set(config)
        if not (defaults[a] is None and getattr(model, a, None) is None)
    }
    assert not missing, f"{name}.get_config() lacks {sorted(missing)}"
    for old, new in vocabulary.RENAMED[name].items():
        stored = hasattr(model, old) and old not in KERAS_ATTRIBUTES
        assert old not in config and not stored, f"{name} still stores {old}"
        if new in cls.PRESETS["tiny"]:
            want, got = cls.PRESETS["tiny"][new], config[new]
            assert got == want or (isinstance(want, (list, tuple)) and list(got) == list(want)), (new, got)
    rebuilt = cls.from_config(config)
    assert rebuilt.count_params() == model.count_params()


@pytest.mark.parametrize("name", NAMES)
def test_the_shared_words_mean_one_thing(name):
    config = ark.models.get(name, preset="tiny").get_config()
    if "hidden_dim" in config:
        assert isinstance(config["hidden_dim"], int) and config["hidden_dim"] >= 1
    if "hidden_units" in config:  # TFP's convention: a list of layer widths
        assert isinstance(config["hidden_units"], (list, tuple))
    for key in ("num_layers", "num_blocks", "num_heads", "num_mixtures", "latent_dim", "intermediate_dim"):
        if config.get(key) is not None:
            assert isinstance(config[key], int) and config[key] >= 1, (key, config[key])
