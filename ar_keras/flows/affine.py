"""The affine autoregressive step of MAF and IAF, written once.

Papamakarios et al., NIPS 2017 (MAF); Kingma et al., NIPS 2016 (IAF).

With ``(m, s)`` read from a MADE (`ar_keras.layers.MADELayer`), one step maps
the noise side ``z`` to the data side ``x``, dimension by dimension::

    x = z * exp(s) + m,          log |dx/dz| = s          (per dimension)
    z = (x - m) * exp(-s),       log |dz/dx| = -s

MAF reads ``(m, s)`` at ``x_<d`` (density in one pass), IAF at ``z_<d``
(sampling in one pass); the step is the same.

``gated=True`` is Kingma et al.'s numerically stable, LSTM-like IAF update
(their eq. 14), with ``sigma = sigmoid(s + GATE_BIAS)``::

    x = sigma * z + (1 - sigma) * m,      log |dx/dz| = log sigma

i.e. the plain step with scale ``log sigma`` and shift ``(1 - sigma) m``
(`step_params`).  ``log_sigmoid`` is the stable ``log sigma``, and
``1 - sigma = sigmoid(-(s + GATE_BIAS))`` avoids the cancellation of ``1 - sigma``.
``GATE_BIAS = 2`` gives ``sigma = 0.88`` for ``s = 0``: a fresh gated step is
close to the identity (sec. 4).

Example:
    >>> import tensorflow as tf
    >>> from ar_keras.flows.affine import bijector, forward
    >>> shift, log_scale = tf.zeros([4, 3]), tf.fill([4, 3], 0.5)
    >>> x, log_det = forward(tf.ones([4, 3]), shift, log_scale)        # x = e^0.5, log_det = 0.5
    >>> float(x[0, 0])
    1.6487212...
    >>> y = bijector(shift, log_scale).forward(tf.ones([4, 3]))       # the same x, as a tfb.Chain
    >>> bool(tf.reduce_all(tf.abs(y - x) < 1e-6))
    True
"""

import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["GATE_BIAS", "step_params", "log_det", "forward", "inverse", "bijector"]

tfb = tfp.bijectors

#: Added to the gate pre-activation: ``sigmoid(0 + 2) = 0.88`` keeps a fresh
#: gated step close to the identity (Kingma et al. 2016, sec. 4).
GATE_BIAS = 2.0


def step_params(shift, log_scale, gated=False):
    """MADE outputs -> ``(shift, log_scale)`` of ``x = z * exp(log_scale) + shift``."""
    if not gated:
        return shift, log_scale
    return tf.sigmoid(-(log_scale + GATE_BIAS)) * shift, log_det(log_scale, gated)


def log_det(log_scale, gated=False):
    """``log |dx/dz|`` per dimension: ``s``, or ``log sigmoid(s + GATE_BIAS)`` when gated."""
    return tf.math.log_sigmoid(log_scale + GATE_BIAS) if gated else log_scale


def forward(z, shift, log_scale, gated=False):
    """``z -> (x, log |dx/dz|)``, both shaped like ``z``."""
    if gated:
        gate = log_scale + GATE_BIAS
        # sigma z + (1 - sigma) m with 1 - sigma = sigmoid(-gate).
        return tf.sigmoid(gate) * z + tf.sigmoid(-gate) * shift, tf.math.log_sigmoid(gate)
    return z * tf.exp(log_scale) + shift, log_scale


def inverse(x, shift, log_scale, gated=False):
    """``x -> (z, log |dz/dx|)``, both shaped like ``x``."""
    shift, log_scale = step_params(shift, log_scale, gated)
    return (x - shift) * tf.exp(-log_scale), -log_scale


def bijector(shift, log_scale, gated=False):
    """The step as a TFP bijector (``forward``: ``z -> x``), elementwise."""
    shift, log_scale = step_params(shift, log_scale, gated)
    return tfb.Chain([tfb.Shift(shift), tfb.Scale(log_scale=log_scale)])  # z exp(s) + m
