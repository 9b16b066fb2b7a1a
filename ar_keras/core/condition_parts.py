"""The parts a model may be conditioned on, one class per kind of input.

Each part says how to check a value (a clear `ValueError` naming what was
expected), its `tf.TensorSpec` for the exports, a valid batch of zeros and a random
example; `ar_keras.core.conditioning.ConditioningSpec` holds a model's parts.

Example:
    >>> part = LocalFeatures(channels=2, hop=4)
    >>> part.zeros(batch=3, length=8).shape                 # [B, T / hop, E]
    TensorShape([3, 2, 2])
    >>> part.tensor_spec().name
    'features'
"""

import numpy as np
import tensorflow as tf

from ar_keras import checks

__all__ = [
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
