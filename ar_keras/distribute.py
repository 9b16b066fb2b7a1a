"""Multi-worker training with Keras 3's own ``fit``: what upstream breaks, and our fix.

This module is also the one place ar_keras uses Keras' (and ``tf.distribute``'s) private
API: each helper in its last section says why no public API serves, and
``tests/test_distribute.py`` checks that every private name it relies on is still there with
the signature used, so that a Keras upgrade that moves one fails there first.  The
multi-worker workaround is gated on `needs_multiworker_workaround` (keras-team/keras#20585).

Keras 3.15's TensorFlow trainer fails under `tf.distribute.MultiWorkerMirroredStrategy`
(keras-team/keras#20585, tensorflow/tensorflow#72388) in two places, both in
``keras/src/backend/tensorflow/trainer.py``:

1. ``TensorFlowTrainer._maybe_symbolic_build`` (called by ``fit`` and ``evaluate`` before the
   first step) "reduces" the first distributed batch to build the model symbolically::

       data_batch = self.distribute_strategy.reduce("MEAN", maybe_distributed_data_batch, axis=None)

   Under the multi-worker strategy ``reduce`` goes to ``CollectiveAllReduceExtended._reduce_to``,
   which accepts one ``PerReplica`` value, not a structure: an ``(x, y)`` (or our ``(x, c)``)
   batch fails with ``Attempt to convert a value (PerReplica...) ... to a Tensor``.  The
   reduction was never needed: only the batch's shapes and dtypes are used
   (``_symbolic_build`` turns it into ``KerasTensor`` specs).  `BaseModel` overrides
   ``_maybe_symbolic_build`` to take the first local replica's batch instead
   (`first_local_batch`, `symbolic_build`), which has the same shapes, with no collective.

2. ``reduce_per_replica(outputs, strategy, reduction="auto")`` reduces the logs a step
   returns; for a multi-worker strategy "auto" is "mean" and it calls::

       return strategy.reduce("MEAN", v, axis=0)

   on each metric, a scalar: ``Invalid reduction dimension 0 for input with 0 dimensions``
   (a ``Sum`` over the scalar ``div_no_nan`` of a ``Mean`` metric).  `BaseModel.train_step` and
   ``test_step`` return their logs through `reduce_logs`: inside the replica, every ``Mean``
   metric becomes the exact *global* running mean (its ``total`` and ``count``, which Keras
   keeps per replica as on-read variables, summed over all replicas in one all-reduce), and,
   under a multi-worker strategy, shape ``[1]``, so that the ``MEAN`` over ``axis=0`` Keras
   then takes is the mean of equal values: the value itself, a scalar again.  Every worker
   thus logs the same numbers, which ``EarlyStopping`` and ``BackupAndRestore`` need (a worker
   that stopped alone would hang the others in their next collective).

A third, quieter, point is ours: the loss is the summed per-example objective over the
*global* batch (`global_batch_size`: the replicas' batch sizes summed in one all-reduce),
exact also when the last batch of an epoch splits unevenly between workers.

The gradients themselves need nothing: Keras' optimizer all-reduces them (``SUM``) over the
strategy's replicas, the same path as `MirroredStrategy`.

The dataset: ``fit`` hands it to ``strategy.experimental_distribute_dataset``; every worker
builds the same pipeline (same files, same shuffle seed), batched by the *global* batch size,
and with `shard_by_data` (auto-shard policy ``DATA``) keeps its own slice of every global batch:
worker ``i`` of ``N`` gets rows ``[i B/N, (i+1) B/N)`` of each batch of ``B``.  So ``N``
workers take exactly the steps one process takes on batches of ``B``.

Only the chief writes what outlives the run; the other workers write the same files (saving
reads on-read variables, a collective every worker must join) to a temporary directory
(`write_dir`), as TensorFlow's multi-worker guide recommends.

Example (each worker, with its own ``TF_CONFIG``)::

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = ark.models.get("nade", preset="tiny")
        model.compile(optimizer="adam")
    model.fit(ark.distribute.shard_by_data(ds.batch(64)), epochs=2)   # 64: the global batch
"""

import contextlib
import os
import shutil
import tempfile

import keras
import tensorflow as tf

__all__ = [
    "KERAS_20585_FIXED_IN",
    "needs_multiworker_workaround",
    "is_multi_worker",
    "is_chief",
    "worker_index",
    "num_workers",
    "first_local_batch",
    "reduce_logs",
    "global_batch_size",
    "shard_by_data",
    "write_dir",
    "cleanup_write_dir",
    "symbolic_build",
    "autocast_scope",
    "all_layers",
    "seed_generators",
    "initial_epoch",
    "backup_paths",
    "replace_train_function",
]

#: The first Keras release that fixes keras-team/keras#20585 (``fit``/``evaluate`` under
#: `tf.distribute.MultiWorkerMirroredStrategy`, points 1 and 2 above), as ``(major, minor,
#: patch)``; None while no release does (3.15.1 does not).  tests/test_distribute.py fails
#: when the installed Keras no longer has the bug, so that this is set then.
KERAS_20585_FIXED_IN = None


def _keras_version():
    """``keras.version()`` as a tuple of ints: ``"3.15.1"`` -> ``(3, 15, 1)`` (suffixes dropped)."""
    parts = []
    for part in keras.version().split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def needs_multiworker_workaround():
    """Whether the installed Keras still has keras-team/keras#20585 (module docs, points 1 and 2).

    Example:
        >>> import ar_keras as ark
        >>> ark.distribute.needs_multiworker_workaround()   # Keras 3.15
        True
    """
    return KERAS_20585_FIXED_IN is None or _keras_version() < tuple(KERAS_20585_FIXED_IN)


def is_multi_worker(strategy=None):
    """Whether ``strategy`` (default: the current one) spans more than one worker."""
    strategy = strategy or tf.distribute.get_strategy()
    extended = getattr(strategy, "extended", None)
    # Private tf.distribute: no public API says whether a strategy spans workers (a
    # MultiWorkerMirroredStrategy without TF_CONFIG is one local worker, with a resolver).
    in_multi = getattr(extended, "_in_multi_worker_mode", None)
    return bool(in_multi and in_multi())


def _task(strategy=None):
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not is_multi_worker(strategy):
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy=None):
    """The chief: a ``chief`` task, else worker 0, else a single-worker run (TF's rule)."""
    task_type, task_id = _task(strategy)
    return task_type is None or task_type == "chief" or (task_type == "worker" and task_id == 0)


def worker_index(strategy=None):
    """This worker's index in the cluster (0 for a single-worker run)."""
    _, task_id = _task(strategy)
    return task_id or 0


def num_workers(strategy=None):
    """Workers in the cluster (1 for a single-worker run)."""
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return 1
    # Private tf.distribute: the cluster's worker count, which no public attribute gives
    # (num_replicas_in_sync counts replicas, several per worker with several devices).
    return strategy.extended._num_workers


def first_local_batch(batch, strategy):
    """A distributed batch -> this worker's first replica's batch (same shapes; no collective)."""

    def local(v):
        if isinstance(v, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(v)[0]
        return v

    return tf.nest.map_structure(local, batch)


def global_batch_size(local_batch, dtype=tf.float32):
    """The batch summed over the replicas in sync (inside ``strategy.run``), else ``local_batch``."""
    local_batch = tf.cast(local_batch, dtype)
    ctx = tf.distribute.get_replica_context()
    if ctx is None:  # cross-replica context: assume equal replicas
        return local_batch * tf.distribute.get_strategy().num_replicas_in_sync
    if ctx.num_replicas_in_sync == 1:
        return local_batch
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, local_batch)


def _is_mean(metric):
    """A metric whose result is ``total / count`` (keras.metrics.Mean and its subclasses)."""
    return isinstance(metric, keras.metrics.Mean) and hasattr(metric, "total") and hasattr(metric, "count")


def reduce_logs(model, logs):
    """A step's logs -> the same on every replica, shaped so Keras' reduction holds (module docs).

    Called inside the replica (``train_step``/``test_step``).  ``Mean`` metrics become their
    exact global running mean; any other log, the mean over replicas.
    """
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1 or not isinstance(logs, dict):
        return logs
    means = {m.name: m for m in model.metrics if _is_mean(m)}
    sums, others = {}, {}
    for name, value in logs.items():
        metric = means.get(name)
        if metric is not None:
            # tf.identity: a bare read of an on-read variable has no device, and the all-reduce
            # then fails with "destinations can not be empty"
            sums[name] = [
                tf.cast(tf.identity(metric.total), tf.float32),
                tf.cast(tf.identity(metric.count), tf.float32),
            ]
        else:
            others[name] = tf.cast(value, tf.float32)
    sums = ctx.all_reduce(tf.distribute.ReduceOp.SUM, sums) if sums else {}
    others = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, others) if others else {}
    strategy = tf.distribute.get_strategy()
    # Keras' own condition for its `strategy.reduce("MEAN", v, axis=0)` (reduce_per_replica)
    axis0 = (
        needs_multiworker_workaround()
        and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and is_multi_worker(strategy)
    )
    out = {}
    for name in logs:
        value = tf.math.divide_no_nan(*sums[name]) if name in sums else others[name]
        if axis0:
            value = tf.reshape(value, [1])  # [] -> [1]: Keras reduces MEAN over axis 0
        out[name] = value
    return out


def shard_by_data(dataset):
    """``dataset`` with auto-shard policy ``DATA``: each worker keeps its slice of every batch."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def write_dir(path, strategy=None):
    """``path`` on the chief; a fresh temporary directory on the other workers."""
    if is_chief(strategy):
        return path
    return tempfile.mkdtemp(prefix=f"ar_keras-worker{worker_index(strategy)}-")


def cleanup_write_dir(path, real_path):
    """Removes a non-chief worker's temporary directory (``path != real_path``)."""
    if path != real_path and os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------------ Keras internals
# Every use of Keras' private API in ar_keras, each with the reason no public API serves.
# tests/test_distribute.py checks each private name below against the installed Keras.


def symbolic_build(model, iterator=None, data_batch=None, keras_build=None):
    """``model._maybe_symbolic_build`` without the cross-worker ``reduce`` of the first batch.

    `ar_keras.core.BaseModel._maybe_symbolic_build` (the private hook Keras' ``fit`` and
    ``evaluate`` call before the first step; no public one builds from a distributed batch)
    calls this.  Under keras-team/keras#20585 it builds from the first local replica's batch
    (module docs, point 1), as Keras does otherwise: ``model._distribute_strategy`` is None
    when the model was made outside a strategy (Keras then builds at the first trace), and
    ``model._symbolic_build`` is Keras' build from a batch's shapes.  Once Keras is fixed
    (`needs_multiworker_workaround` False) it calls ``keras_build``, Keras' own method.

    Args:
        model: a Keras 3 model on the TensorFlow backend.
        iterator: Keras' epoch iterator (yields ``(begin, end, iterator)``), or None.
        data_batch: a batch, when ``iterator`` is None.
        keras_build: Keras' ``_maybe_symbolic_build`` bound to ``model`` (``super()``'s).
    """
    if keras_build is not None and not needs_multiworker_workaround():
        return keras_build(iterator=iterator, data_batch=data_batch)
    if model._distribute_strategy is None:
        return None
    if iterator is not None:
        for _, _, it in iterator:
            data_batch = first_local_batch(next(it), model.distribute_strategy)
            break
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=data_batch)
    return None


try:  # Keras 3's autocast scope (what `Layer.__call__` enters under a mixed dtype policy)
    from keras.src.backend import AutocastScope as _AutocastScope
except ImportError:  # pragma: no cover - older/newer Keras layouts
    from keras.src.backend.common.variables import AutocastScope as _AutocastScope


def autocast_scope(dtype):
    """The scope in which Keras reads float variables in ``dtype`` (a no-op for None).

    Keras enters it only inside ``Layer.__call__``, and exports no public way in: the models'
    ``log_prob``, cached sampling and exports call their layers' methods directly, and enter
    it here (`ar_keras.core.BaseModel.precision_scope`).

    Example:
        >>> import keras, ar_keras as ark
        >>> v = keras.Variable([1.5], dtype="float32")
        >>> with ark.distribute.autocast_scope("bfloat16"):
        ...     print(keras.ops.convert_to_tensor(v).dtype)
        bfloat16
    """
    if dtype is None:
        return contextlib.nullcontext()
    return _AutocastScope(dtype)


def all_layers(model, include_self=True):
    """Every layer of ``model``, nested ones included, depth first (``model`` first if asked).

    ``model.layers`` lists only the direct children, and Keras has no public recursive walk:
    this is Keras' private ``Layer._flatten_layers``.

    Example:
        >>> import keras, ar_keras as ark
        >>> inner = keras.Sequential([keras.layers.Dense(2, name="d")], name="inner")
        >>> outer = keras.Sequential([inner], name="outer")
        >>> [layer.name for layer in ark.distribute.all_layers(outer, include_self=False)]
        ['inner', 'd']
    """
    return list(model._flatten_layers(include_self=include_self))


def seed_generators(model):
    """The `keras.random.SeedGenerator` of every layer of ``model`` (dropout masks), in order.

    ``save_weights`` does not write their states, and ``Layer.variables`` lists the states
    without saying which generator each belongs to; the private ``Layer._seed_generators``
    is Keras' own list of them.
    """
    return [sg for layer in all_layers(model) for sg in getattr(layer, "_seed_generators", [])]


def initial_epoch(model):
    """The epoch ``fit`` starts from after a `keras.callbacks.BackupAndRestore` restore, or 0.

    ``BackupAndRestore.on_train_begin`` hands the restored epoch to ``fit`` only through the
    private ``model._initial_epoch``, which ``fit`` reads after the callbacks' ``on_train_begin``.
    """
    return int(getattr(model, "_initial_epoch", None) or 0)


def backup_paths(callback):
    """A `keras.callbacks.BackupAndRestore`'s files: ``(weights, metadata, prev_weights, prev_metadata)``.

    The callback has no public attribute for them; a subclass that writes its own backups
    (`ar_keras.callbacks.ResumableBackup`) must write the very files its restore reads.
    """
    return (
        callback._weights_path,
        callback._training_metadata_path,
        callback._prev_weights_path,
        callback._prev_training_metadata_path,
    )


def replace_train_function(model, function):
    """Sets the function ``fit`` calls for each execution; returns the one it replaces.

    Keras' ``fit`` calls ``model.train_function(iterator)`` once per ``steps_per_execution``
    steps, made by ``make_train_function`` before the callbacks' ``on_train_begin``, and has
    no public hook to skip a step without reading its data: a callback that replaces it in
    ``on_train_begin`` (`ar_keras.callbacks.ResumableBackup`) does.
    """
    original = model.train_function
    model.train_function = function
    return original
