"""`PrecisionMethods`: how a model follows Keras' mixed-precision dtype policies.

A model built with a mixed policy, by Keras' own ``dtype=`` argument
(``ark.models.get("made", dtype="mixed_bfloat16")``, ``python -m train --precision``) or
under a global one (``keras.mixed_precision.set_dtype_policy("mixed_bfloat16")``),
computes its network in the policy's compute dtype and keeps float32 variables: every
layer it builds takes the model's policy, as Keras' own layers take the global one;
its heads, log-probabilities, objective and loss are float32.  Keras casts variables
to the compute dtype only inside ``Layer.__call__``, while ``log_prob``, the sampler
and the exports call the networks' methods directly: `precision_scope` gives those
paths the same autocast, so that every path reads every kernel in the same dtype and
they agree.

A class with ``float32_only = True`` (flows and continuous densities, whose
log-determinants and densities need float32; the latent-variable models' KL
terms) builds all its layers under float32 whatever the global policy: it trains
and samples under any policy, in float32.  Asking one for a mixed ``dtype=``
explicitly is an error.

Example:
    >>> import keras
    >>> import ar_keras as ark
    >>> keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    >>> made, maf = ark.models.get("made", preset="tiny"), ark.models.get("maf", preset="tiny")
    >>> keras.mixed_precision.set_dtype_policy("float32")
    >>> made.mixed_precision, maf.mixed_precision
    (True, False)
    >>> nade = ark.models.get("nade", preset="tiny", dtype="mixed_bfloat16")
    >>> nade.compute_dtype, {layer.compute_dtype for layer in nade._flatten_layers()}
    ('bfloat16', {'bfloat16'})
"""

import contextlib
import functools
import inspect

import keras

from ar_keras import distribute

__all__ = ["PrecisionMethods", "build_policy", "constructor_policy"]


@contextlib.contextmanager
def build_policy(policy):
    """Builds layers under the dtype policy ``policy`` (a name, a policy or its config;
    ``None``: the global policy unchanged), restoring the global policy afterwards even when
    the constructor raises.  Keras reads the global policy when a layer is made, so a model's
    constructor run in this scope gives every layer the model's own policy."""
    if policy is None:
        yield
        return
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(keras.dtype_policies.get(policy))
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def constructor_policy(cls, dtype):
    """The policy ``cls``'s layers are built under for the constructor argument ``dtype``:
    float32 for a ``float32_only`` class (a mixed ``dtype`` raises), else ``dtype``
    (``None``: the global policy)."""
    if not cls.float32_only:
        return dtype
    if dtype is not None and keras.dtype_policies.get(dtype).compute_dtype != "float32":
        raise ValueError(
            f"{cls.__name__} computes in float32 only (flows, continuous densities and "
            f"latent-variable models need float32 densities), got dtype={dtype!r}; leave "
            "dtype out or pass dtype='float32'"
        )
    return "float32"


class PrecisionMethods:
    """Mixin of a `keras.Model`: `float32_only`, `mixed_precision` and `precision_scope`."""

    #: Build every layer in float32 whatever the dtype policy (module docstring).
    float32_only = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_policy_wrapped", False):
            return

        @functools.wraps(init)
        def __init__(self, *args, **kw):
            with build_policy(constructor_policy(type(self), kw.get("dtype"))):
                init(self, *args, **kw)

        __init__.__signature__ = inspect.signature(init)  # Keras' Operation reads the arguments
        __init__._policy_wrapped = True
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
