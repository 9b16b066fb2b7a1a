"""Conditioning specs: what a model may be conditioned on, written once per kind of input.

A model's ``conditional`` is made of named *parts*.  Each part says how to check a
value (a clear `ValueError` naming what was expected), its `tf.TensorSpec` for the
exports, a valid batch of zeros and a random example:

=================  ==================  ==============================  ===================
part               key / export name   value                           models
=================  ==================  ==============================  ===================
`ClassLabels`      labels/conditional  int ``[B]`` in ``[0, N)``       every model
`LocalFeatures`    features            float ``[B, T / hop, E]``       wavenet, wavernn
`LowResolution`    low_resolution      int ``[B, h, w, C]`` levels     image_transformer
`SourceSequence`   source              int ``[B, S]`` symbols          bytenet
`ContextFrames`    context             int ``[B, T0, H, W, C]``        vpn (optional)
=================  ==================  ==============================  ===================

A `ConditioningSpec` holds a model's parts.  With no part the model is
unconditional and ``conditional`` must be None; with one part ``conditional`` is
that part's value; with several it is a dict keyed by the parts' keys.  The exports
take every required part as its own named input (`tensor_specs`, `from_named`,
`to_named`).  An optional part (``required = False``: vpn's context frames) may be
left out; a model gives it signatures of its own.

Example:
    >>> import numpy as np
    >>> spec = ConditioningSpec([ClassLabels(3), LocalFeatures(channels=2, hop=4)], owner="wavenet")
    >>> c = spec.zeros(batch=2, length=8)
    >>> sorted(c), c["features"].shape
    (['features', 'labels'], TensorShape([2, 2, 2]))
    >>> [s.name for s in spec.tensor_specs()]
    ['conditional', 'features']
    >>> spec.check(None, batch=2, length=8)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: this wavenet is class-conditional (num_classes=3) and locally conditioned: pass ...
"""

import collections.abc

from ar_keras import checks
from ar_keras.core.condition_parts import (
    ClassLabels,
    ConditionPart,
    ContextFrames,
    LocalFeatures,
    LowResolution,
    SourceSequence,
)

__all__ = [
    "ConditioningSpec",
    "ConditionPart",
    "ClassLabels",
    "LocalFeatures",
    "LowResolution",
    "SourceSequence",
    "ContextFrames",
]


class ConditioningSpec:
    """The parts a model conditions on, and the protocol over them.

    Args:
        parts: the `ConditionPart`\\ s (none: an unconditional model).
        owner: the model's name, as error messages show it.
    """

    def __init__(self, parts=(), owner="model"):
        self.parts = tuple(parts)
        self.owner = owner
        keys = [p.key for p in self.parts]
        if len(set(keys)) != len(keys):
            raise ValueError(f"conditioning parts must have distinct keys, got {keys}.")

    @classmethod
    def labels(cls, num_classes, parts=(), owner="model"):
        """Class labels when ``num_classes`` is set, then ``parts``."""
        return cls(([] if num_classes is None else [ClassLabels(num_classes)]) + list(parts), owner)

    # ------------------------------------------------------------------ facts
    @property
    def keys(self):
        return [p.key for p in self.parts]

    @property
    def required(self):
        """True when every call needs a ``conditional``."""
        return any(p.required for p in self.parts)

    def part(self, key):
        """The part of ``key``, or None."""
        return next((p for p in self.parts if p.key == key), None)

    @property
    def form(self):
        """The expected ``conditional``, as error messages show it."""
        if len(self.parts) == 1:
            return self.parts[0].form
        return "{" + ", ".join(f'"{p.key}": {p.form}' for p in self.parts) + "}"

    # ------------------------------------------------------------------ check
    def check(self, conditional, batch=None, length=None, validate_values=True):
        """The checked ``conditional`` (same structure), or a `ValueError` saying what to pass."""
        if not self.parts:
            return checks.check_labels(conditional, None)
        if conditional is None and not any(p.required for p in self.parts):
            return None
        if conditional is None:
            phrases = " and ".join(p.phrase for p in self.parts)
            raise ValueError(f"this {self.owner} is {phrases}: pass conditional={self.form}.")
        if len(self.parts) == 1:
            return self.parts[0].check(conditional, batch, length, validate_values)
        if not isinstance(conditional, collections.abc.Mapping) or set(conditional) != set(self.keys):
            got = (
                sorted(conditional) if isinstance(conditional, collections.abc.Mapping) else type(conditional)
            )
            raise ValueError(
                f"this {self.owner} conditions on {' and '.join(self.keys)}: pass conditional={self.form} "
                f"(got {got})."
            )
        return {p.key: p.check(conditional[p.key], batch, length, validate_values) for p in self.parts}

    def split(self, conditional):
        """A checked ``conditional`` -> ``{key: value or None}`` for every part."""
        if conditional is None:
            return {p.key: None for p in self.parts}
        if len(self.parts) == 1:
            return {self.parts[0].key: conditional}
        return {p.key: conditional[p.key] for p in self.parts}

    def values(self, conditional, *keys):
        """The values of parts ``keys`` of a checked ``conditional`` (None for a part the
        model does not take or that was left out), in the order asked."""
        parts = self.split(conditional)
        return tuple(parts.get(k) for k in keys)

    # ---------------------------------------------------------------- exports
    def tensor_specs(self, batch=None):
        """One named `tf.TensorSpec` per required part, for the export signatures."""
        return [p.tensor_spec(batch) for p in self.parts if p.required]

    def from_named(self, named):
        """The exports' named inputs (``{export_name: value}``) -> ``conditional``."""
        if not self.parts:
            return None
        if len(self.parts) == 1:
            return named.get(self.parts[0].export_name)
        return {p.key: named.get(p.export_name) for p in self.parts}

    def to_named(self, conditional):
        """``conditional`` -> the exports' named inputs (the inverse of `from_named`)."""
        return {
            p.export_name: v for p, v in zip(self.parts, self.split(conditional).values()) if v is not None
        }

    # --------------------------------------------------------------- examples
    def zeros(self, batch, length=None):
        """A valid ``conditional`` for ``batch`` examples (class 0, zero features), or None
        (no required part)."""
        if not self.required:
            return None
        return self.from_named({p.export_name: p.zeros(batch, length) for p in self.parts})

    def random(self, batch, length=None, seed=0):
        """A valid random ``conditional`` (numpy values), or None."""
        return self.from_named(
            {p.export_name: p.random(batch, length, seed + i) for i, p in enumerate(self.parts)}
        )
