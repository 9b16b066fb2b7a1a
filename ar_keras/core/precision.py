"""`PrecisionMethods`: how a model follows Keras' mixed-precision dtype policies.

A model built under a mixed policy (``keras.mixed_precision.set_dtype_policy(
"mixed_bfloat16")``, ``python -m train --precision``) computes its network in the
policy's compute dtype and keeps float32 variables; its heads, log-probabilities,
objective and loss are float32.  Keras casts variables to the compute dtype only
inside ``Layer.__call__``, while ``log_prob``, the sampler and the exports call the
networks' methods directly: `precision_scope` gives those paths the same autocast,
so that every path reads every kernel in the same dtype and they agree.

A class with ``float32_only = True`` (flows and continuous densities, whose
log-determinants and densities need float32; the latent-variable models' KL
terms) builds all its layers under float32 whatever the global policy: it trains
and samples under any policy, in float32.

Example:
    >>> import keras
    >>> import ar_keras as ark
    >>> keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    >>> made, maf = ark.models.get("made", preset="tiny"), ark.models.get("maf", preset="tiny")
    >>> keras.mixed_precision.set_dtype_policy("float32")
    >>> made.mixed_precision, maf.mixed_precision
    (True, False)
"""

import contextlib
import functools
import inspect

import keras

from ar_keras import distribute

__all__ = ["PrecisionMethods", "float32_policy"]


@contextlib.contextmanager
def float32_policy(active):
    """Builds layers under the float32 dtype policy (when ``active``), restoring the global
    policy afterwards even when the constructor raises."""
    if not active:
        yield
        return
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


class PrecisionMethods:
    """Mixin of a `keras.Model`: `float32_only`, `mixed_precision` and `precision_scope`."""

    #: Build every layer in float32 whatever the global dtype policy (module docstring).
    float32_only = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_float32_policy_wrapped", False):
            return

        @functools.wraps(init)
        def __init__(self, *args, **kw):
            with float32_policy(type(self).float32_only):
                init(self, *args, **kw)

        __init__.__signature__ = inspect.signature(init)  # Keras' Operation reads the arguments
        __init__._float32_policy_wrapped = True
        cls.__init__ = __init__

    @property
    def mixed_precision(self):
        """True under a mixed dtype policy (float16/bfloat16 compute, float32 variables)."""
        return self.compute_dtype != self.variable_dtype

    def precision_scope(self):
        """The context every public entry point runs the model's graph code in: Keras'
        autocast to the compute dtype under a mixed policy, a no-op under float32.  Heads
        (`ar_keras.distributions`) cast their parameters to float32, and the public outputs
        (log-probs, objective, loss) are cast to float32 by the base."""
        if not self.mixed_precision:
            return contextlib.nullcontext()
        return distribute.autocast_scope(self.compute_dtype)
