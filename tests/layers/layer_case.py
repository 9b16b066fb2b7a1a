"""Checks that layer tests repeat: serialization, symbolic == eager, step == call.

* `check_serialization(layer, args, kwargs)`: ``get_config`` / ``from_config``
  and ``serialize_keras_object`` / ``deserialize_keras_object`` give the same
  config and type; the clone, with the layer's weights copied, gives the same
  outputs.
* `check_symbolic_matches_eager(layer, args, kwargs)`: a functional
  ``keras.Model`` on ``keras.Input``s equals the eager call (and, given a
  path, survives ``model.save`` / ``keras.models.load_model``).
* `check_step_matches_call(full, step, cache, positions)`: the generic
  streaming driver: ``step(position, cache) -> (outputs, cache)`` at every
  position equals the full call's outputs there.

Call arguments: ``args`` is one input or a list of positional inputs;
``kwargs`` a dict of keyword inputs (None values are passed as None).
Outputs may be a tensor or a tuple/list/dict of them, with None entries
(a layer output that is switched off); None must match None.
"""

import keras
import numpy as np
import tensorflow as tf


def _positional(args):
    return list(args) if isinstance(args, (list, tuple)) else [args]


def _numpy(value):
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def assert_outputs_close(got, want, rtol=1e-5, atol=1e-5, where=""):
    """``got`` equals ``want`` leaf by leaf (tensors, tuples, lists, dicts, None)."""
    if want is None:
        assert got is None, f"{where}: expected None, got {type(got).__name__}"
        return
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), where
        for key in want:
            assert_outputs_close(got[key], want[key], rtol, atol, f"{where}[{key!r}]")
        return
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_outputs_close(g, w, rtol, atol, f"{where}[{i}]")
        return
    assert got is not None, f"{where}: got None, expected a tensor"
    np.testing.assert_allclose(_numpy(got), _numpy(want), rtol=rtol, atol=atol, err_msg=where)


def check_serialization(layer, args, kwargs=None, rtol=1e-6, atol=1e-6):
    """Config round trips and a clone with copied weights that computes the same thing.

    The layer is called once (building it); returns the clone.
    """
    kwargs = kwargs or {}
    want = layer(*_positional(args), **kwargs)
    config = layer.get_config()
    name = keras.saving.get_registered_name(type(layer))
    assert name == f"ar_keras>{type(layer).__name__}", name
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(*_positional(args), **kwargs)  # builds the clone
    clone.set_weights(layer.get_weights())
    assert_outputs_close(clone(*_positional(args), **kwargs), want, rtol, atol, "clone")
    return clone


def _input_like(value, shape=None):
    value = tf.convert_to_tensor(value)
    return keras.Input(shape=value.shape[1:] if shape is None else shape, dtype=value.dtype)


def check_symbolic_matches_eager(layer, args, kwargs=None, shapes=None, path=None, rtol=1e-5, atol=1e-5):
    """A functional model over ``keras.Input``s gives the eager call's outputs.

    Args:
        shapes: optional ``{position or keyword: shape without batch}`` for the
            inputs (e.g. ``None`` lengths); default the inputs' own shapes.
        path: if given, the model is also saved there (``.keras``) and
            reloaded, and the reloaded model must agree too.

    Returns the functional model.
    """
    kwargs = kwargs or {}
    shapes = shapes or {}
    positional = _positional(args)
    sym_args = [_input_like(a, shapes.get(i)) for i, a in enumerate(positional)]
    sym_kwargs = {k: None if v is None else _input_like(v, shapes.get(k)) for k, v in kwargs.items()}
    outputs = layer(*sym_args, **sym_kwargs)
    flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    kept = [i for i, o in enumerate(flat) if o is not None]
    inputs = sym_args + [v for v in sym_kwargs.values() if v is not None]
    model = keras.Model(inputs, [flat[i] for i in kept])
    values = [tf.convert_to_tensor(v) for v in positional + list(kwargs.values()) if v is not None]

    eager = layer(*positional, **kwargs)
    eager = eager if isinstance(eager, (list, tuple)) else [eager]
    want = [eager[i] for i in kept]
    assert_outputs_close(_as_list(model(values)), want, rtol, atol, "functional")
    if path is not None:
        model.save(path)
        loaded = keras.models.load_model(path)
        assert_outputs_close(_as_list(loaded(values)), want, rtol, atol, "reloaded")
    return model


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _at(full, position):
    """Default ``take``: ``full[:, position]`` on every output (None stays None)."""
    if full is None:
        return None
    if isinstance(full, dict):
        return {k: _at(v, position) for k, v in full.items()}
    if isinstance(full, (list, tuple)):
        return type(full)(_at(v, position) for v in full)
    return _numpy(full)[:, position]


def check_step_matches_call(full, step, cache, positions, take=_at, rtol=1e-5, atol=1e-5):
    """Streams ``step`` over ``positions``; at each, its outputs equal ``take(full, position)``.

    Args:
        full: the outputs of the full (parallel) call.
        step: ``(position, cache) -> (outputs, cache)``, the layer streaming
            one position (a time step, a row, a pixel).  An output entry of
            None means "nothing at this position", and ``take`` must give
            None there too.
        cache: the state before the first position (the layer's `init_cache`).
        positions: iterable of positions, in streaming order.
        take: ``(full, position) -> expected outputs``; default
            ``full[:, position]`` leaf by leaf.

    Returns the cache after the last position.
    """
    count = 0
    for position in positions:
        got, cache = step(position, cache)
        assert_outputs_close(got, take(full, position), rtol, atol, f"position {position!r}")
        count += 1
    assert count > 0, "no position was streamed"
    return cache
