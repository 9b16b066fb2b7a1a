"""`tf.distribute` strategies by name, for the training command."""

import tensorflow as tf

__all__ = ["STRATEGIES", "make_strategy"]

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


def make_strategy(name, tpu_address=None):
    """Returns a `tf.distribute.Strategy`.

    * ``default``: one device (the first GPU, else the CPU).
    * ``mirrored``: every local GPU (or CPU) in sync (`MirroredStrategy`).
    * ``multiworker``: synchronous across workers named in ``TF_CONFIG``.
    * ``tpu``: a Cloud TPU (``tpu_address`` or the environment's).
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
