"""`maf`: Masked Autoregressive Flow bijectors built on the Keras 3 MADE layer.

Papamakarios, Pavlakou & Murray, "Masked Autoregressive Flow for Density
Estimation", NIPS 2017.

One MAF layer with a MADE computing ``(mu, alpha) = MADE(.)``::

    density  (inverse, x -> u):  u_d = (x_d - mu_d(x_<d)) exp(-alpha_d(x_<d))
                                 log |det du/dx| = -sum_d alpha_d(x_<d)
    sampling (forward, u -> x):  x_d = u_d exp(alpha_d(x_<d)) + mu_d(x_<d),  d = 1..D

**Cost asymmetry.**  The density direction needs the MADE on ``x`` only: one
pass, all D dimensions in parallel, which is why MAF trains fast by maximum
likelihood.  Sampling needs ``x_<d`` before ``x_d``: D sequential MADE passes
(TFP's ``tf.while_loop``).  IAF (`ar_keras.flows.iaf`) is the mirror image.

A *stack* (MAF(K)) composes K layers, permuting the dimensions between them
(order reversal in the paper) and optionally batch-normalising after each
MADE (`BatchNorm`, a Keras 3 layer, since TFP's ``tfb.BatchNormalization``
holds a Keras 2 layer).  ``mades[0]`` sees the data first in the density
direction, as in the paper's code.  The result is a plain
``tfb.Bijector`` (a ``tfb.Chain``): put it in a ``tfd.TransformedDistribution``
with a standard normal base.  Every weight lives in the Keras 3 layers you
pass in: keep them as attributes of your Keras model (they are tracked,
trained and saved there); the bijector only refers to them, and TFP's
``bijector.trainable_variables`` (a ``tf.Module`` walk, which does not see
Keras 3 variables) is empty: in a hand-written ``tf.GradientTape`` loop take
the variables from the layers (``sum((m.trainable_weights for m in mades), [])``).

Conditioning: a MADE built with ``conditional_size`` is called with
``conditional_input=c``; pass it through the chain with `conditional_kwargs`.

Example:
    >>> import tensorflow as tf, tensorflow_probability as tfp
    >>> tfd = tfp.distributions
    >>> from ar_keras.flows import MADE, maf
    >>> mades = [MADE(hidden_units=[64, 64], event_size=2) for _ in range(5)]
    >>> flow = maf(mades, permutation="reverse")
    >>> dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0., 1.), [2]), flow)
    >>> dist.log_prob(tf.zeros([3, 2])).shape
    TensorShape([3])
"""

import numpy as np
import tensorflow_probability as tfp

from ar_keras import checks
from ar_keras.flows import affine
from ar_keras.flows.batch_norm import BatchNormBijector
from ar_keras.flows.permutation import PERMUTATIONS, layer_permutations
from ar_keras.layers.made import MADELayer

__all__ = ["AutoregressiveFlow", "maf", "maf_layer", "conditional_kwargs", "stack", "made_stack"]

tfb = tfp.bijectors


def _check_made(made, what="made"):
    if not isinstance(made, MADELayer):
        raise TypeError(
            f"{what} must be an ar_keras.flows.MADE (a Keras 3 layer), got "
            f"{type(made).__name__}. tfb.AutoregressiveNetwork is a Keras 2 layer whose "
            "weights a Keras 3 model does not track."
        )
    if made.output_mode != "shift_and_log_scale":
        raise ValueError(
            f"{made.name} returns raw parameters (output={made.output_mode!r}); a flow "
            "layer needs MADE(params=2, output='shift_and_log_scale')."
        )
    if made.event_size is None:
        raise ValueError(f"{made.name} has no event_size yet: pass event_size= or call it once.")
    return made


def _check_stack(made, batch_norm, what):
    """``made`` (one MADE or a list) -> ``(checked MADEs, D)``, or ``(None, None)`` for one MADE."""
    if not isinstance(made, (list, tuple)):
        if batch_norm is not None:
            raise ValueError("batch_norm applies between the layers of a stack: pass a list of MADEs.")
        return None, None
    if not made:
        raise ValueError(f"{what} needs at least one MADE.")
    mades = [_check_made(m, f"made[{k}]") for k, m in enumerate(made)]
    sizes = {m.event_size for m in mades}
    if len(sizes) != 1:
        raise ValueError(f"every MADE of a stack must have the same event_size, got {sorted(sizes)}.")
    return mades, sizes.pop()


class AutoregressiveFlow(tfb.MaskedAutoregressiveFlow):
    """``tfb.MaskedAutoregressiveFlow`` whose one-pass direction calls the MADE once.

    TFP's ``inverse`` and ``inverse_log_det_jacobian`` each call ``bijector_fn``,
    so a density (both, on the same ``y``) would cost two MADE passes.  Here
    ``_inverse`` also computes the step's log-determinant and leaves it in the
    attributes of TFP's bijector cache, where ``inverse_log_det_jacobian`` looks
    first (``BijectorCache.inverse_attributes``, made for this): one pass, and
    the cache's lifetime (while the result tensor lives).
    """

    def _inverse(self, y, **kwargs):
        step = self._bijector_fn(y, **kwargs)
        attributes = self._cache.inverse_attributes(y, **kwargs)
        attributes["ildj"] = step.inverse_log_det_jacobian(y, event_ndims=1)  # [...], reduced over D
        return step.inverse(y)


def maf_layer(made, name="maf"):
    """One MAF layer: an `AutoregressiveFlow` whose step at ``x_<d`` is the affine step of
    `ar_keras.flows.affine` with ``(mu, alpha) = made(x)`` (what TFP's
    ``shift_and_log_scale_fn=made`` would build)."""
    _check_made(made)

    def bijector_fn(x, **condition_kwargs):
        return affine.bijector(*made(x, **condition_kwargs))

    return AutoregressiveFlow(bijector_fn=bijector_fn, name=name)


def stack(layers, event_size, permutation="reverse", batch_norm=None, training=False, seed=0, name="flow"):
    """Chains flow layers (density order) with permutations and batch norms.

    ``layers[0]`` is applied first in the *inverse* (density) direction.
    After layer k come ``batch_norm[k]`` (if given) and, except after the
    last layer, the permutation ``h -> h[..., pi_k]``.
    """
    layers = list(layers)
    perms = layer_permutations(event_size, len(layers), permutation, seed)
    if batch_norm is not None and len(batch_norm) != len(layers):
        raise ValueError(
            f"batch_norm must hold one BatchNorm per layer ({len(layers)}), got {len(batch_norm)}."
        )
    steps = []
    for k, layer in enumerate(layers):
        steps.append(layer)
        if batch_norm is not None:
            steps.append(BatchNormBijector(batch_norm[k], training=training, name=f"{name}_bn_{k}"))
        if k < len(perms):
            # tfb.Permute(p).inverse(h) = h[..., argsort(p)]: to apply h[..., pi] in the
            # density (inverse) direction the bijector holds argsort(pi).
            steps.append(tfb.Permute(np.argsort(perms[k]).astype(np.int32), name=f"{name}_perm_{k}"))
    # tfb.Chain([b0, b1, ...]).inverse applies b0.inverse first: density order.
    return tfb.Chain(steps, name=name)


def made_stack(
    event_size,
    num_layers,
    hidden_units,
    permutation="reverse",
    activation="relu",
    hidden_degrees="equal",
    log_scale_bound=5.0,
    conditional_size=None,
    seed=0,
):
    """The K MADEs of a K-layer MAF or IAF model (``made_k``, seeded ``seed * 1009 + k``; unbuilt).

    Checks the stack's arguments first: ``num_layers >= 1`` and ``permutation``
    one of `PERMUTATIONS` (the permutations themselves come from `stack`).
    """
    if int(num_layers) < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
    checks.check_choice(permutation, "permutation", PERMUTATIONS)
    return [
        MADELayer(
            params=2,
            hidden_units=hidden_units,
            event_size=event_size,
            activation=activation,
            hidden_degrees=hidden_degrees,
            log_scale_bound=log_scale_bound,
            conditional_size=conditional_size,
            seed=seed * 1009 + k,
            name=f"made_{k}",
        )
        for k in range(int(num_layers))
    ]


def maf(made, permutation="reverse", batch_norm=None, training=False, seed=0, name="maf"):
    """Masked Autoregressive Flow: one layer, or a MAF(K) stack.

    Args:
        made: an `ar_keras.flows.MADE` (one layer), or a list of K of them
            (``made[0]`` sees the data first in the density direction).
        permutation: between stacked layers: ``"reverse"`` (the paper),
            ``"random"`` or ``"none"``.
        batch_norm: None, or a list of K `ar_keras.flows.BatchNorm` layers,
            one after each MADE (density direction).
        training: batch norm uses batch statistics in ``inverse``.
        seed: seed of ``permutation="random"``.
        name: bijector name; stacked layers are named ``{name}_{k}``.

    Returns:
        a ``tfb.MaskedAutoregressiveFlow`` or a ``tfb.Chain``.
    """
    mades, event_size = _check_stack(made, batch_norm, "maf")
    if mades is None:
        return maf_layer(made, name=name)
    layers = [maf_layer(m, name=f"{name}_{k}") for k, m in enumerate(mades)]
    return stack(layers, event_size, permutation, batch_norm, training, seed, name)


def conditional_kwargs(bijector, conditional):
    """Keyword arguments that route ``conditional_input=c`` to every MAF/IAF layer.

    ``bijector.forward(z, **conditional_kwargs(bijector, c))`` works for a single
    layer and for a chain built by `maf` / `iaf`.
    """
    if conditional is None:
        return {}
    if isinstance(bijector, tfb.Composition):  # tfb.Chain (or its _Chain form)
        kwargs = {}
        for b in bijector.bijectors:
            inner = conditional_kwargs(b, conditional)
            if inner:
                kwargs[b.name] = inner
        return kwargs
    if isinstance(bijector, tfb.MaskedAutoregressiveFlow):
        return {"conditional_input": conditional}
    if isinstance(getattr(bijector, "bijector", None), tfb.MaskedAutoregressiveFlow):
        return {"conditional_input": conditional}  # an IAF layer: Invert(MAF)
    return {}
