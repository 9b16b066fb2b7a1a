"""`iaf`: Inverse Autoregressive Flow bijectors built on the Keras 3 MADE layer.

Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling, "Improved Variational
Inference with Inverse Autoregressive Flow", NIPS 2016.

One IAF layer reads its MADE on the *noise* side.  With ``(m, s) = MADE(u)``::

    sampling (forward, u -> x):  x_d = u_d exp(s_d(u_<d)) + m_d(u_<d)
                                 log |det dx/du| = sum_d s_d(u_<d)
    density  (inverse, x -> u):  u_d = (x_d - m_d(u_<d)) exp(-s_d(u_<d)),  d = 1..D

and with ``gated=True`` Kingma et al.'s numerically stable, LSTM-like step
(their eq. 14, ``sigma = sigmoid(s + 2)``, close to the identity at init)::

    x = sigma * u + (1 - sigma) * m,            log |det dx/du| = sum_d log sigma_d

(both written once in `ar_keras.flows.affine`).

**Cost asymmetry.**  Sampling and the density of the flow's *own* samples
(whose ``u`` is known) take one MADE pass; the density of an outside point
``x`` must recover ``u`` one dimension at a time: D sequential passes.  MAF
(`ar_keras.flows.maf`) is the mirror image, so IAF suits variational
posteriors and fast samplers, MAF density estimation.

It is built as ``tfb.Invert(tfb.MaskedAutoregressiveFlow(bijector_fn=...))``,
whose ``bijector_fn`` returns the *inverse* of the affine step above: TFP's
one-pass ``MaskedAutoregressiveFlow.inverse`` then becomes IAF's forward, and
its D-pass ``while_loop`` forward becomes IAF's inverse.

Example:
    >>> import tensorflow as tf
    >>> from ar_keras.flows import MADE, iaf
    >>> mades = [MADE(hidden_units=[64, 64], event_size=2) for _ in range(4)]
    >>> flow = iaf(mades)                  # mades[0] acts first on the noise
    >>> x = flow.forward(tf.random.normal([16, 2]))        # one pass per layer
    >>> u = flow.inverse(x)                                # D passes per layer
"""

import tensorflow_probability as tfp

from ar_keras.flows import affine
from ar_keras.flows.affine import GATE_BIAS
from ar_keras.flows.maf import AutoregressiveFlow, _check_made, _check_stack, stack

__all__ = ["iaf", "iaf_layer", "GATE_BIAS"]

tfb = tfp.bijectors


def _affine(made, gated):
    """``y -> Invert(affine step at y)``: the bijector_fn of the inverted MAF."""

    def bijector_fn(y, **condition_kwargs):
        shift, log_scale = made(y, **condition_kwargs)  # [..., D] each
        return tfb.Invert(affine.bijector(shift, log_scale, gated))

    return bijector_fn


def iaf_layer(made, gated=False, name="iaf"):
    """One IAF layer (``forward`` = one MADE pass, ``inverse`` = D passes)."""
    _check_made(made)
    return tfb.Invert(AutoregressiveFlow(bijector_fn=_affine(made, gated), name=f"{name}_maf"), name=name)


def iaf(made, permutation="reverse", batch_norm=None, training=False, gated=False, seed=0, name="iaf"):
    """Inverse Autoregressive Flow: one layer, or a stack.

    Args:
        made: an `ar_keras.flows.MADE` (`ar_keras.layers.MADELayer`), or a list of K of them; ``made[0]``
            acts first on the base noise when sampling.
        permutation: between stacked layers: ``"reverse"``, ``"random"`` or ``"none"``.
        batch_norm: None, or a list of K `ar_keras.flows.BatchNorm` layers
            (layer k's batch norm sits on its data side).
        training: batch norm uses batch statistics in ``inverse``.
        gated: Kingma et al.'s sigmoid-gated update instead of ``exp(s)``.
        seed: seed of ``permutation="random"``.
        name: bijector name; stacked layers are named ``{name}_{k}``.

    Returns:
        a ``tfb.Invert`` (one layer) or a ``tfb.Chain``.
    """
    mades, event_size = _check_stack(made, batch_norm, "iaf")
    if mades is None:
        return iaf_layer(made, gated, name=name)
    layers = [iaf_layer(m, gated, name=f"{name}_{k}") for k, m in enumerate(mades)]
    # `stack` takes density order: the layer nearest the data first.
    bns = None if batch_norm is None else list(reversed(batch_norm))
    return stack(list(reversed(layers)), event_size, permutation, bns, training, seed, name)
