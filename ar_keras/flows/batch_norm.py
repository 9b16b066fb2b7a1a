"""Batch normalisation as a flow step: a Keras 3 layer and its `tfb.Bijector`.

``tfb.BatchNormalization`` wraps a ``tf_keras`` (Keras 2) layer and refuses any
other (it checks ``isinstance(layer, tf_keras.layers.BatchNormalization)``):
inside a Keras 3 model its ``gamma``/``beta`` and moving statistics would not
be tracked, saved or trained (docs/architecture.md, traps).  `BatchNorm` holds
them as Keras 3 weights and `BatchNormBijector` exposes it to TFP.

The MAF paper's batch norm (Papamakarios et al. 2017, sec. 3.4), in the
density direction (data ``x`` -> noise ``u``)::

    u = (x - m) / sqrt(v + eps) * exp(log_gamma) + beta
    log |du/dx| = sum_d [log_gamma_d - 0.5 log(v_d + eps)]

with ``(m, v)`` the batch mean and variance in training and moving averages
otherwise.  The bijector follows TFP's convention: ``forward`` is the
*denormalising* (sampling) direction, ``inverse`` normalises, so that in a
`tfd.TransformedDistribution` density evaluation normalises the data.

Under `tf.distribute`, training statistics are all-reduced over the replicas
(synchronised batch norm), so that a step on R replicas equals the step on
one device with the global batch.

Example:
    >>> bn = BatchNorm()
    >>> u, log_det = bn.normalize(tf.random.normal([8, 3]), training=True)
    >>> x = BatchNormBijector(bn).forward(u)       # moving statistics
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from ar_keras import checks

__all__ = ["BatchNorm", "BatchNormBijector"]

tfb = tfp.bijectors


@keras.saving.register_keras_serializable(package="ar_keras")
class BatchNorm(keras.layers.Layer):
    """Invertible batch normalisation over the last axis, with its log-determinant.

    Args:
        momentum: moving-average momentum, ``moving = m * moving + (1 - m) * batch``.
        epsilon: added to the variance.

    Call arguments:
        inputs: ``[..., D]``.
        training: use (and update) batch statistics.

    Returns:
        the normalised ``[..., D]`` (use `normalize` for the log-determinant).
    """

    def __init__(self, momentum=0.9, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.momentum = checks.check_rate(momentum, "momentum")
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        size = int(input_shape[-1])
        self.log_gamma = self.add_weight(name="log_gamma", shape=(size,), initializer="zeros")
        self.beta = self.add_weight(name="beta", shape=(size,), initializer="zeros")
        # Replicas hold identical (synchronised) statistics: "mean" aggregation
        # lets them be assigned in a replica context.
        self.moving_mean = self.add_weight(
            name="moving_mean", shape=(size,), initializer="zeros", trainable=False, aggregation="mean"
        )
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=(size,), initializer="ones", trainable=False, aggregation="mean"
        )
        self.built = True

    def _batch_statistics(self, x):
        flat = tf.reshape(x, [-1, tf.shape(x)[-1]])  # [..., D] -> [N, D]
        total = tf.reduce_sum(flat, axis=0)
        count = tf.cast(tf.shape(flat)[0], flat.dtype)
        ctx = tf.distribute.get_replica_context()
        sync = ctx is not None and ctx.num_replicas_in_sync > 1
        if sync:
            total, count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [total, count])
        mean = total / count
        # Two passes (mean, then squared deviations) are exact to rounding,
        # unlike E[x^2] - E[x]^2.
        squares = tf.reduce_sum(tf.square(flat - mean), axis=0)
        if sync:
            squares = ctx.all_reduce(tf.distribute.ReduceOp.SUM, squares)
        return mean, squares / count

    def statistics(self, x=None, training=False):
        """``(mean, variance)``: of the batch ``x`` in training (and updates the moving ones)."""
        if not training:
            return tf.convert_to_tensor(self.moving_mean), tf.convert_to_tensor(self.moving_variance)
        mean, variance = self._batch_statistics(x)
        m = self.momentum
        self.moving_mean.assign(m * self.moving_mean + (1.0 - m) * tf.stop_gradient(mean))
        self.moving_variance.assign(m * self.moving_variance + (1.0 - m) * tf.stop_gradient(variance))
        return mean, variance

    def normalize(self, x, training=False):
        """Density direction: ``x`` -> ``(u, log_det [D])``, ``log_det_d = log|du_d/dx_d|``."""
        if not self.built:
            self.build(x.shape)
        mean, variance = self.statistics(x, training)
        inv_std = tf.math.rsqrt(variance + self.epsilon)
        u = (x - mean) * inv_std * tf.exp(self.log_gamma) + self.beta
        log_det = self.log_gamma - 0.5 * tf.math.log(variance + self.epsilon)
        return u, log_det

    def denormalize(self, u):
        """Sampling direction with the moving statistics: ``u`` -> ``x``."""
        if not self.built:
            self.build(u.shape)
        mean, variance = self.statistics(training=False)
        return (u - self.beta) * tf.exp(-self.log_gamma) * tf.sqrt(variance + self.epsilon) + mean

    def call(self, inputs, training=False):
        return self.normalize(inputs, training=training)[0]

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "epsilon": self.epsilon})
        return config


class BatchNormBijector(tfb.Bijector):
    """A `BatchNorm` layer as a TFP bijector (``forward`` denormalises).

    Args:
        layer: a built `BatchNorm`.
        training: normalise with batch statistics in ``inverse`` (and update
            the moving ones); ``forward`` always uses the moving statistics.
        name: bijector name.
    """

    def __init__(self, layer, training=False, validate_args=False, name="batch_norm"):
        parameters = dict(locals())
        self._layer = layer
        self._training = bool(training)
        super().__init__(
            forward_min_event_ndims=1, validate_args=validate_args, parameters=parameters, name=name
        )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    @property
    def layer(self):
        return self._layer

    def _forward(self, u):
        return self._layer.denormalize(u)

    def _inverse(self, x):
        return self._layer.normalize(x, training=self._training)[0]

    def _inverse_log_det_jacobian(self, x):
        # Only the statistics matter: the log-determinant does not depend on x
        # beyond the batch variance.
        _, variance = (
            self._layer.statistics(training=False) if not self._training else self._layer._batch_statistics(x)
        )
        log_det = self._layer.log_gamma - 0.5 * tf.math.log(variance + self._layer.epsilon)
        return tf.reduce_sum(log_det) * tf.ones(tf.shape(x)[:-1], x.dtype)  # [D] -> broadcast to batch

    def _forward_log_det_jacobian(self, u):
        _, variance = self._layer.statistics(training=False)
        log_det = self._layer.log_gamma - 0.5 * tf.math.log(variance + self._layer.epsilon)
        return -tf.reduce_sum(log_det) * tf.ones(tf.shape(u)[:-1], u.dtype)
