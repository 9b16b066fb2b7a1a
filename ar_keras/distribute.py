"""Multi-worker training with Keras 3's own ``fit``: what upstream breaks, and our fix.

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
   (`first_local_batch`), which has the same shapes, with no collective.

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

import os
import shutil
import tempfile

import tensorflow as tf

__all__ = [
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
]


def is_multi_worker(strategy=None):
    """Whether ``strategy`` (default: the current one) spans more than one worker."""
    strategy = strategy or tf.distribute.get_strategy()
    extended = getattr(strategy, "extended", None)
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
    return strategy.extended._num_workers  # pylint: disable=protected-access


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
    import keras

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
    axis0 = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and is_multi_worker(strategy)
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
