"""ar_keras.distribute's hold on Keras internals: every private name it relies on, as it uses it.

`ar_keras.distribute` is the one module that uses Keras' (and tf.distribute's) private API.
These checks read the installed Keras: when an upgrade renames, moves or re-signs one of those
names, or fixes keras-team/keras#20585, a check here fails and names what changed, before any
training run misbehaves.
"""

import inspect
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.backend.tensorflow import trainer as tf_trainer
from keras.src.trainers import trainer as base_trainer

from ar_keras import distribute


def _params(fn):
    return list(inspect.signature(fn).parameters)


def _source(obj):
    return textwrap.dedent(inspect.getsource(obj))


# ------------------------------------------------------------- the private names, as used
def test_autocast_scope_class_takes_a_dtype():
    assert _params(distribute._AutocastScope.__init__) == ["self", "dtype"]


def test_trainer_build_hooks_have_the_signatures_we_override_and_call():
    assert _params(tf_trainer.TensorFlowTrainer._maybe_symbolic_build) == ["self", "iterator", "data_batch"]
    assert {"data_batch"} <= set(_params(base_trainer.Trainer._symbolic_build))
    # fit and evaluate still call the hook we override
    assert "self._maybe_symbolic_build(iterator=epoch_iterator)" in _source(tf_trainer.TensorFlowTrainer.fit)
    assert "self._maybe_symbolic_build(iterator=epoch_iterator)" in _source(
        tf_trainer.TensorFlowTrainer.evaluate
    )


def test_a_model_knows_the_strategy_it_was_made_in():
    plain = keras.Sequential([keras.layers.Dense(1)])
    assert plain._distribute_strategy is None
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        scoped = keras.Sequential([keras.layers.Dense(1)])
    assert scoped._distribute_strategy is strategy


def test_flatten_layers_and_seed_generators():
    assert _params(keras.layers.Layer._flatten_layers) == ["self", "include_self", "recursive"]
    dropout = keras.layers.Dropout(0.5)
    assert [type(sg) for sg in dropout._seed_generators] == [keras.random.SeedGenerator]
    assert isinstance(dropout._seed_generators[0].state, keras.Variable)


def test_backup_and_restore_paths_and_epoch_handover():
    cb = keras.callbacks.BackupAndRestore("/tmp/ar_keras_backup_names")
    paths = distribute.backup_paths(cb)
    assert [p.rsplit("/", 1)[-1] for p in paths] == [
        "latest.weights.h5",
        "training_metadata.json",
        "latest.weights.h5.bkp",
        "training_metadata.json.bkp",
    ]
    # the restored epoch reaches fit through model._initial_epoch, read after on_train_begin
    assert "self.model._initial_epoch = epoch" in _source(keras.callbacks.BackupAndRestore._load_model)
    fit = _source(tf_trainer.TensorFlowTrainer.fit)
    order = [
        "self.make_train_function()",
        "callbacks.on_train_begin()",
        "initial_epoch = self._initial_epoch or initial_epoch",
        "logs = self.train_function(iterator)",
    ]
    assert all(line in fit for line in order), "Keras' fit loop changed: check ResumableBackup"
    assert [fit.index(line) for line in order] == sorted(fit.index(line) for line in order)


def test_tf_distribute_multi_worker_names():
    from tensorflow.python.distribute import collective_all_reduce_strategy as cars

    extended = cars.CollectiveAllReduceExtended
    assert _params(extended._in_multi_worker_mode) == ["self"]
    assert "self._num_workers =" in inspect.getsource(extended)


def test_keras_20585_is_still_there_while_the_gate_says_so():
    """Fails once Keras stops reducing the first batch or the scalar logs under multi-worker."""
    build = _source(tf_trainer.TensorFlowTrainer._maybe_symbolic_build)
    reduce_logs = _source(tf_trainer.reduce_per_replica)
    bug = "distribute_strategy.reduce(" in build and 'strategy.reduce("MEAN", v, axis=0)' in reduce_logs
    if distribute.KERAS_20585_FIXED_IN is None:
        assert bug, (
            f"Keras {keras.version()} no longer has keras-team/keras#20585 as ar_keras.distribute "
            "describes it: check the multi-worker tests without the workaround, then set "
            "ar_keras.distribute.KERAS_20585_FIXED_IN to this version."
        )
    assert distribute.needs_multiworker_workaround() == bug


# ------------------------------------------------------------------- the helpers themselves
def test_keras_version_parse():
    assert distribute._keras_version() == tuple(int(p) for p in keras.version().split(".")[:3])


def test_gate_follows_the_fixed_version(monkeypatch):
    monkeypatch.setattr(distribute, "KERAS_20585_FIXED_IN", None)
    assert distribute.needs_multiworker_workaround()
    monkeypatch.setattr(distribute, "KERAS_20585_FIXED_IN", (99, 0, 0))
    assert distribute.needs_multiworker_workaround()
    monkeypatch.setattr(distribute, "KERAS_20585_FIXED_IN", (3, 0, 0))
    assert not distribute.needs_multiworker_workaround()


def test_symbolic_build_defers_to_keras_once_fixed(monkeypatch):
    calls = []
    model = keras.Sequential([keras.layers.Dense(1)])
    monkeypatch.setattr(distribute, "KERAS_20585_FIXED_IN", (3, 0, 0))
    distribute.symbolic_build(model, None, "batch", lambda **kw: calls.append(kw))
    assert calls == [{"iterator": None, "data_batch": "batch"}]
    monkeypatch.setattr(distribute, "KERAS_20585_FIXED_IN", None)
    distribute.symbolic_build(model, None, "batch", lambda **kw: calls.append(kw))
    assert len(calls) == 1  # the workaround ran instead (no strategy: nothing to build)


def test_symbolic_build_builds_from_a_local_replica_batch(monkeypatch):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = keras.Sequential([keras.layers.Dense(1)])
    x = np.zeros([4, 3], np.float32)
    batches = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(x).batch(4))
    built = []
    monkeypatch.setattr(model, "_symbolic_build", lambda data_batch: built.append(data_batch), raising=False)
    distribute.symbolic_build(model, iter([(0, 0, iter(batches))]), None)
    assert len(built) == 1 and isinstance(built[0], tf.Tensor)
    assert built[0].shape == (2, 3)  # the first replica's half of the global batch of 4


def test_autocast_scope_reads_variables_in_the_dtype():
    v = keras.Variable(np.ones([2], np.float32))
    with distribute.autocast_scope("bfloat16"):
        assert keras.ops.convert_to_tensor(v).dtype == tf.bfloat16
    with distribute.autocast_scope(None):
        assert keras.ops.convert_to_tensor(v).dtype == tf.float32


def test_all_layers_and_seed_generators_of_a_nested_model():
    inner = keras.Sequential([keras.layers.Dropout(0.5, name="drop")], name="inner")
    outer = keras.Sequential([keras.layers.Dense(2, name="dense"), inner], name="outer")
    assert [layer.name for layer in distribute.all_layers(outer)] == ["outer", "dense", "inner", "drop"]
    assert [layer.name for layer in distribute.all_layers(outer, include_self=False)][0] == "dense"
    assert distribute.seed_generators(outer) == inner.layers[0]._seed_generators


def test_initial_epoch_and_replace_train_function():
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(loss="mse")
    assert distribute.initial_epoch(model) == 0
    model._initial_epoch = 3
    assert distribute.initial_epoch(model) == 3
    model.make_train_function()
    original = model.train_function
    replacement = lambda iterator: {}
    assert distribute.replace_train_function(model, replacement) is original
    assert model.train_function is replacement
    with pytest.raises(AttributeError):
        distribute.backup_paths(object())
