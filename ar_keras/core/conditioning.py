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

import numpy as np
import tensorflow as tf

from ar_keras import checks

__all__ = [
    "ConditioningSpec",
    "ConditionPart",
    "ClassLabels",
    "LocalFeatures",
    "LowResolution",
    "SourceSequence",
    "ContextFrames",
]


class ConditionPart:
    """One named input a model conditions on.

    Attributes:
        key: the part's key in a dict ``conditional``.
        export_name: the name of its input in the SavedModel and TFLite signatures.
        phrase: what the model is when it takes this part ("locally conditioned").
        form: the expected value, as an error message shows it.
        required: whether every call needs it (False: the model also runs without it).
    """

    key = None
    export_name = None
    required = True

    @property
    def phrase(self):
        raise NotImplementedError

    @property
    def form(self):
        raise NotImplementedError

    def check(self, value, batch=None, length=None, validate_values=True):
        """The checked value (a tensor), or a `ValueError` naming what was expected."""
        raise NotImplementedError

    def tensor_spec(self, batch=None):
        """The export input's `tf.TensorSpec` (dynamic batch and free axes)."""
        raise NotImplementedError

    def zeros(self, batch, length=None):
        """A valid value for ``batch`` examples of ``length`` steps."""
        raise NotImplementedError

    def random(self, batch, length=None, seed=0):
        """A valid random value (numpy), for tests and benchmarks."""
        raise NotImplementedError


class ClassLabels(ConditionPart):
    """Class labels ``[B]``, ints in ``[0, num_classes)`` (global conditioning)."""

    key = "labels"
    export_name = "conditional"

    def __init__(self, num_classes):
        self.num_classes = int(num_classes)

    @property
    def phrase(self):
        return f"class-conditional (num_classes={self.num_classes})"

    @property
    def form(self):
        return f"int [batch] in [0, {self.num_classes})"

    def check(self, value, batch=None, length=None, validate_values=True):
        del length
        return checks.check_labels(value, self.num_classes, batch=batch, validate_values=validate_values)

    def tensor_spec(self, batch=None):
        return tf.TensorSpec([batch], tf.int32, name=self.export_name)

    def zeros(self, batch, length=None):
        return tf.zeros([batch], tf.int32)

    def random(self, batch, length=None, seed=0):
        return np.random.RandomState(seed).randint(0, self.num_classes, size=[batch]).astype(np.int32)


class LocalFeatures(ConditionPart):
    """Local features ``[B, T / hop, E]``: one float frame of E channels per ``hop`` steps.

    WaveNet's local conditioning (van den Oord et al. 2016): the frames are upsampled
    to one per step by the model.
    """

    key = "features"
    export_name = "features"

    def __init__(self, channels, hop):
        self.channels, self.hop = int(channels), int(hop)

    @property
    def phrase(self):
        return "locally conditioned"

    @property
    def form(self):
        return f"float [batch, T / {self.hop}, {self.channels}]"

    def check(self, value, batch=None, length=None, validate_values=True):
        E, hop = self.channels, self.hop
        if not isinstance(value, (tf.Tensor, tf.Variable)):
            arr = np.asarray(value)
            if arr.dtype == object:
                raise ValueError("local conditioning features must be a numeric array.")
            value = tf.convert_to_tensor(arr)
        if not value.dtype.is_floating:
            raise ValueError(
                f"local conditioning features must be floats [batch, frames, {E}], "
                f"got dtype {value.dtype.name}."
            )
        if value.shape.rank != 3 or value.shape[-1] not in (None, E):
            shape = value.shape.as_list() if value.shape.rank is not None else "unknown"
            raise ValueError(
                f"local conditioning features must have shape [batch, frames, {E}], got {shape}."
            )
        if isinstance(batch, int) and value.shape[0] is not None and value.shape[0] != batch:
            raise ValueError(f"local conditioning has {value.shape[0]} sequences for a batch of {batch}.")
        frames = value.shape[1]
        msg = f"local conditioning must have one frame per {hop} samples: T / {hop} frames for T samples"
        if isinstance(length, int):
            if length % hop:
                raise ValueError(f"{msg}, and T = {length} is not a multiple of {hop}.")
            if frames is not None and frames * hop != length:
                raise ValueError(f"{msg}: expected {length // hop} frames for T = {length}, got {frames}.")
        value = tf.cast(value, tf.float32)
        if validate_values and tf.executing_eagerly():
            if not np.isfinite(value.numpy()).all():
                raise ValueError("local conditioning features contain NaN or inf.")
        elif validate_values and length is not None:
            with tf.control_dependencies(
                [
                    tf.debugging.assert_equal(
                        tf.shape(value)[1] * hop, tf.cast(length, tf.int32), message=msg
                    ),
                    tf.debugging.assert_all_finite(value, "local conditioning features contain NaN or inf"),
                ]
            ):
                value = tf.identity(value)
        return value

    def tensor_spec(self, batch=None):
        return tf.TensorSpec([batch, None, self.channels], tf.float32, name=self.export_name)

    def _frames(self, length):
        return -(-int(length) // self.hop)  # ceil(T / hop)

    def zeros(self, batch, length=None):
        return tf.zeros([batch, self._frames(length), self.channels])

    def random(self, batch, length=None, seed=0):
        shape = [batch, self._frames(length), self.channels]
        return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


class LowResolution(ConditionPart):
    """A low-resolution image ``[B, h, w, C]`` of levels (super-resolution).

    Args:
        event: the `ImageEvent` of the low-resolution images.
    """

    key = "low_resolution"
    export_name = "low_resolution"

    def __init__(self, event):
        self.event = event

    @property
    def phrase(self):
        h, w, _ = self.event.shape
        return f"a super-resolution model (low_resolution={(h, w)})"

    @property
    def form(self):
        h, w, c = self.event.shape
        return f"int [batch, {h}, {w}, {c}] levels in [0, {self.event.num_levels})"

    def check(self, value, batch=None, length=None, validate_values=True):
        del length
        low = self.event.check(value, validate_values, what="the low-resolution conditional")
        if isinstance(batch, int) and low.shape[0] is not None and low.shape[0] != batch:
            raise ValueError(
                f"the low-resolution conditional has {low.shape[0]} images for a batch of {batch}."
            )
        return low

    def tensor_spec(self, batch=None):
        return self.event.tensor_spec(batch, name=self.export_name)

    def zeros(self, batch, length=None):
        return self.event.zeros(batch)

    def random(self, batch, length=None, seed=0):
        return self.event.random(batch, seed=seed)


class SourceSequence(ConditionPart):
    """A source sequence ``[B, S]`` of symbols in ``[0, num_levels)`` (translation)."""

    key = "source"
    export_name = "source"

    def __init__(self, num_levels, example_length=2):
        self.num_levels, self.example_length = int(num_levels), int(example_length)

    @property
    def phrase(self):
        return f"a model that translates (source_levels={self.num_levels})"

    @property
    def form(self):
        return f"source, an int tensor [batch, S] of symbols in [0, {self.num_levels})"

    def check(self, value, batch=None, length=None, validate_values=True):
        del length
        Ks, form = self.num_levels, f"conditional={self.form}"
        source = checks.to_tensor(value, "source")
        if not source.dtype.is_integer:
            raise ValueError(
                f"source must hold integer symbols in [0, {Ks}), got dtype {source.dtype.name}: pass {form}."
            )
        if source.shape.rank != 2:
            shape = source.shape.as_list() if source.shape.rank is not None else "unknown"
            raise ValueError(f"source must have shape [batch, S], got {shape}: pass {form}.")
        if source.shape[1] == 0:
            raise ValueError(f"source must hold at least one step, got shape {source.shape.as_list()}.")
        if isinstance(batch, int) and source.shape[0] is not None and source.shape[0] != batch:
            raise ValueError(f"source has {source.shape[0]} sequences for a batch of {batch}.")
        return checks.check_range(source, Ks, "source", validate_values)

    def tensor_spec(self, batch=None):
        return tf.TensorSpec([batch, None], tf.int32, name=self.export_name)

    def zeros(self, batch, length=None):
        return tf.zeros([batch, self.example_length], tf.int32)

    def random(self, batch, length=None, seed=0):
        shape = [batch, self.example_length]
        return np.random.RandomState(seed).randint(0, self.num_levels, size=shape).astype(np.int32)


class ContextFrames(ConditionPart):
    """Context frames ``[B, T0, H, W, C]``, ``1 <= T0 < T``: the first frames of a video (VPN).

    Optional: without them a video model draws whole videos.
    """

    key = "context"
    export_name = "context"
    required = False

    def __init__(self, video_shape, num_levels, owner="vpn"):
        self.video_shape, self.num_levels, self.owner = tuple(video_shape), int(num_levels), owner

    @property
    def phrase(self):
        return "conditioned on context frames"

    @property
    def form(self):
        T, H, W, C = self.video_shape
        return f"int [batch, T0, {H}, {W}, {C}] with 1 <= T0 < {T}"

    def check(self, value, batch=None, length=None, validate_values=True):
        del length
        want = self.form
        c = checks.to_tensor(value, "conditional")
        if c.shape.rank != 5:
            raise ValueError(
                f"{self.owner} takes no class labels (it is unconditional over labels): its conditional "
                f"is the context frames, {want}; got shape {c.shape.as_list()}."
            )
        if not c.dtype.is_integer:
            raise ValueError(
                f"conditional (context frames) must hold integer levels in "
                f"[0, {self.num_levels}), got dtype {c.dtype.name}."
            )
        T, H, W, C = self.video_shape
        shape = c.shape.as_list()
        if tuple(shape[2:]) != (H, W, C) or (shape[1] is not None and not 1 <= shape[1] < T):
            raise ValueError(
                f"conditional (context frames) must have shape {want.split(' ', 1)[1]}, got {shape}."
            )
        if batch is not None and shape[0] is not None and shape[0] != batch:
            raise ValueError(
                f"conditional (context frames) must hold {batch} videos (one per example), got {shape[0]}."
            )
        return checks.check_range(c, self.num_levels, "conditional", validate_values)

    def tensor_spec(self, batch=None):
        _, H, W, C = self.video_shape
        return tf.TensorSpec([batch, None, H, W, C], tf.int32, name=self.export_name)

    def zeros(self, batch, length=None):
        _, H, W, C = self.video_shape
        return tf.zeros([batch, length or 1, H, W, C], tf.int32)

    def random(self, batch, length=None, seed=0):
        _, H, W, C = self.video_shape
        shape = [batch, length or 1, H, W, C]
        return np.random.RandomState(seed).randint(0, self.num_levels, size=shape).astype(np.int32)


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
