"""`tf.distribute` strategies by name, for the training command."""

import tensorflow as tf

__all__ = ["STRATEGIES", "make_strategy"]

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


def make_strategy(name, tpu_address=None):
    """Returns a `tf.distribute.Strategy`.

    * ``default``: one device (the first GPU, else the CPU).
    * ``mirrored``: every local GPU (or CPU) in sync (`MirroredStrategy`).
    * ``multiworker``: synchronous across workers named in ``TF_CONFIG``
      (`MultiWorkerMirroredStrategy`).  Every worker runs the same command with its own
      ``TF_CONFIG``, e.g. for worker 1 of two::

          TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                      "task": {"type": "worker", "index": 1}}'

      ``--batch-size`` is the global batch: each worker keeps its slice of every batch
      (auto-shard policy DATA), the gradients are summed over all replicas, and worker 0 (the
      chief) alone writes the logs, ``model.keras``, samples and exports
      (`ar_keras.distribute`, which also says where Keras 3's ``fit`` needed our fix).  The
      strategy must be created before any other TensorFlow op of the process.
    * ``tpu``: a Cloud TPU (``tpu_address`` or the environment's), `TPUStrategy`.  A code path
      only: no TPU is reachable from the tests.  What changes: the resolver connects and
      initialises the TPU system before anything else runs; the batches are static
      (``drop_remainder=True`` in ``python -m train``: XLA compiles one shape, so the last
      partial batch of each epoch is dropped); every step is XLA-compiled, so the models'
      ops must have XLA kernels (no string ops or host-side Python in ``train_step``) and
      shapes must not depend on the data;
      ``compile(steps_per_execution=N)`` with N in the tens to hundreds pays, since each
      host-to-TPU round trip is expensive; Keras' log reduction under a `TPUStrategy` is
      "first" (the first replica's value), and our models return logs already reduced over
      the replicas (`ar_keras.distribute.reduce_logs`), so they are the global ones.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"Unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}.")
