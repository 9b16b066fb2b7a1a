"""Event specs: what one example of a model's data is, written once per kind.

A model's data are a batch of *events*.  The spec of an event says

* its ``kind`` (``"image"``, ``"sequence"``, ``"vector"``, ``"float_sequence"``,
  ``"video"``): the layout of the tensor, which the test harness and
  ``python -m train`` dispatch on;
* its ``modality`` (`MODALITIES`: ``"image"``, ``"audio"``, ``"text"``,
  ``"video"``, ``"vector"``, ``"features"``): what the values are to a person,
  which `ar_keras.callbacks.SampleLogger` renders by; audio carries its
  ``sample_rate`` (Hz);
* its ``dtype`` (int32 levels in ``[0, K)`` or float32 values) and ``shape``
  (``None`` on a free axis: a sequence has any length T);
* its input checks (`check`): a clear `ValueError` naming what was expected,
  never a silent wrong answer;
* its noise layout: the flattened elements ``0 .. D-1`` in row-major order of
  the event shape, ``D = num_elements(length)``; a sampler draws the noise of
  element ``d`` of sample ``i`` from the key ``(seed, i, d)``
  (`ar_keras.core.noise`);
* its `tensor_spec` for exports (dynamic batch, dynamic free axes).

=================  =================  =========  ==============================  ==================
spec               event shape        dtype      constructor args                modality
=================  =================  =========  ==============================  ==================
`ImageEvent`       ``(H, W, C)``/(D,) int32      ``image_shape``, ``num_levels``  image
`SequenceEvent`    ``(T,)`` any T     int32      ``num_levels``, ``sample_rate``  audio (a rate), text
`VectorEvent`      ``(D,)``           float32    ``event_size``                  vector
`FloatSequence`    ``(T, F)`` any T   float32    ``num_features``                features
`VideoEvent`       ``(T, H, W, C)``   int32      ``video_shape``, ``num_levels``  video
=================  =================  =========  ==============================  ==================

Example:
    >>> spec = ImageEvent((8, 8, 1), num_levels=17)
    >>> spec.check(np.zeros([2, 8, 8, 1], np.int32)).shape
    TensorShape([2, 8, 8, 1])
    >>> SequenceEvent(256).num_elements(length=16000)
    16000
    >>> SequenceEvent(256, sample_rate=16000).modality, SequenceEvent(256).modality
    ('audio', 'text')
"""

import numpy as np
import tensorflow as tf

from ar_keras import checks

__all__ = [
    "MODALITIES",
    "EventSpec",
    "ImageEvent",
    "SequenceEvent",
    "VectorEvent",
    "FloatSequence",
    "VideoEvent",
]


#: What an event's values are to a person (`EventSpec.modality`), one renderer each in
#: `ar_keras.callbacks.SampleLogger`.
MODALITIES = ("image", "audio", "text", "video", "vector", "features")


def _free(shape):
    return any(s is None for s in shape)


class EventSpec:
    """Base of the event specs.

    Args:
        shape: the event shape; ``None`` marks the free (length) axis.
        num_levels: K for integer data, None for floats.
        support: floats only: None or ``(low, high)``, the closed interval
            every value must lie in.
        modality: one of `MODALITIES`; None: the spec class's ``default_modality``.
        sample_rate: audio only: samples per second (Hz), a positive int; required
            with ``modality="audio"``.
    """

    kind = None
    #: The modality of a spec built without ``modality=``.
    default_modality = None

    def __init__(self, shape, num_levels=None, support=None, modality=None, sample_rate=None):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        if any(s is not None and s < 1 for s in self.shape) or not self.shape:
            raise ValueError(f"event shape must be positive sizes, got {shape!r}.")
        if num_levels is not None and (
            isinstance(num_levels, bool) or int(num_levels) != num_levels or num_levels < 2
        ):
            raise ValueError(f"num_levels must be an integer >= 2, got {num_levels!r}.")
        self.num_levels = None if num_levels is None else int(num_levels)
        self.support = None if support is None else (float(support[0]), float(support[1]))
        modality = self.default_modality if modality is None else modality
        if modality is not None:
            checks.check_choice(modality, "modality", MODALITIES)
        if (modality == "audio") != (sample_rate is not None):
            raise ValueError(
                "sample_rate goes with audio and audio needs one: pass modality='audio' with "
                f"sample_rate=<Hz>, or neither; got modality={modality!r}, sample_rate={sample_rate!r}."
            )
        self.modality = modality
        self.sample_rate = (
            None if sample_rate is None else checks.check_positive_int(sample_rate, "sample_rate")
        )

    # ------------------------------------------------------------------ facts
    @property
    def discrete(self):
        """True for integer levels, False for float values."""
        return self.num_levels is not None

    @property
    def dtype(self):
        return tf.int32 if self.discrete else tf.float32

    @property
    def free_length(self):
        """True when one axis (the length T) is free: ``sample`` then needs ``length=``."""
        return _free(self.shape)

    def event_shape(self, length=None):
        """The shape of one example, with the free axis set to ``length``."""
        return tuple(length if s is None else s for s in self.shape)

    def num_elements(self, length=None):
        """D, the elements of one example (of ``length`` steps where the length is free).

        ``length`` may be an int or a scalar tensor (a SavedModel input); D is then of
        the same kind.
        """
        fixed = int(np.prod([s for s in self.shape if s is not None]))
        if not self.free_length:
            return fixed
        return None if length is None else length * fixed

    def elements_per_example(self, x):
        """The number of elements of each example of the batch ``x``, as a float32 scalar."""
        if not self.free_length:
            return tf.constant(float(self.num_elements()), tf.float32)
        return tf.cast(tf.reduce_prod(tf.shape(x)[1:]), tf.float32)

    def tensor_spec(self, batch=None, name="x"):
        """`tf.TensorSpec` of a batch, for exports: dynamic batch and free axes."""
        return tf.TensorSpec((batch,) + self.shape, self.dtype, name=name)

    def zeros(self, batch, length=None):
        """A valid batch of zeros (the middle of the support for bounded floats)."""
        x = tf.zeros((batch,) + self.event_shape(length), self.dtype)
        if self.support is not None:
            x = x + 0.5 * (self.support[0] + self.support[1])
        return x

    def random(self, batch, length=None, seed=0):
        """A valid random batch (numpy), for tests and benchmarks: levels uniform over
        ``[0, K)``; bounded floats uniform over the middle 80 % of the support; other
        floats standard normal.  The same ``seed`` gives the same batch."""
        rng = np.random.RandomState(seed)
        shape = (batch,) + self.event_shape(length)
        if self.discrete:
            return rng.randint(0, self.num_levels, size=shape).astype(np.int32)
        if self.support is not None:
            lo, hi = self.support
            return rng.uniform(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo), size=shape).astype(np.float32)
        return rng.standard_normal(shape).astype(np.float32)

    def check_length(self, length):
        """``length`` for `sample`: required on a free axis, refused otherwise."""
        if not self.free_length:
            if length is not None:
                raise ValueError(
                    f"length must be None: this model generates fixed-size examples of shape "
                    f"{self.shape} (length= is for sequence models), got length={length!r}."
                )
            return None
        if length is None:
            raise ValueError(
                "this model generates sequences of any length: pass length=T "
                "(e.g. model.sample(4, length=16000) for one second at 16 kHz)."
            )
        return checks.check_positive_int(length, "length")

    # ----------------------------------------------------------------- checks
    def _expected(self):
        return "[batch, " + ", ".join("T" if s is None else str(s) for s in self.shape) + "]"

    def _check_shape(self, x, what):
        expected = self._expected()
        if x.shape.rank != len(self.shape) + 1:
            raise ValueError(
                f"{what} must have rank {len(self.shape) + 1} with shape {expected}, got shape "
                f"{x.shape.as_list() if x.shape.rank is not None else 'unknown'}. "
                "Add a batch axis for a single example (x[None])."
            )
        for actual, want in zip(x.shape.as_list()[1:], self.shape):
            if want is not None and actual is not None and actual != want:
                raise ValueError(
                    f"{what} must have shape {expected}{self._size_hint()}, got {x.shape.as_list()}."
                )
            if want is None and actual == 0:
                raise ValueError(f"{what} must hold at least one time step, got shape {x.shape.as_list()}.")

    def check(self, x, validate_values=True, what="x"):
        """``x`` -> a tensor of `dtype` shaped ``[B, *shape]``, or a clear `ValueError`.

        Values (the range ``[0, K)``; NaN, inf and the support for floats) are
        checked with numpy when eager and by `tf.debugging` assertions in a
        graph (`fit`, SavedModel), which raise with the same message.
        """
        x = checks.to_tensor(x, what)
        if self.discrete:
            if not x.dtype.is_integer:
                raise ValueError(
                    f"{what} must hold integer levels in [0, {self.num_levels}), got dtype "
                    f"{x.dtype.name}. {self._quantize_hint()}"
                )
            self._check_shape(x, what)
            return checks.check_range(x, self.num_levels, what, validate_values)
        if not x.dtype.is_floating:
            raise ValueError(
                f"{what} must hold floats (continuous data) of shape {self._expected()}, got dtype "
                f"{x.dtype.name}. Integer levels are discrete data: dequantize them first, e.g. "
                "ark.data.load('digits_continuous'), or use a discrete model."
            )
        self._check_shape(x, what)
        return checks.check_finite(tf.cast(x, tf.float32), what, validate_values, self.support)

    def _size_hint(self):
        return ""

    def _quantize_hint(self):
        return (
            f"Quantize continuous data first, e.g. ar_keras.data.quantize(v, {self.num_levels}) "
            "for v in [0, 1]."
        )

    def __repr__(self):
        extra = f", num_levels={self.num_levels}" if self.discrete else ""
        if self.sample_rate is not None:
            extra += f", sample_rate={self.sample_rate}"
        return f"{type(self).__name__}(shape={self.shape}{extra})"


class ImageEvent(EventSpec):
    """Integer images ``[H, W, C]`` (or vectors ``[D]``) of levels in ``[0, K)``."""

    kind = "image"
    default_modality = "image"

    def __init__(self, image_shape, num_levels):
        shape = tuple(int(s) for s in np.atleast_1d(image_shape))
        super().__init__(shape, num_levels)


class SequenceEvent(EventSpec):
    """Integer sequences ``[T]`` of any length: audio codes (with a ``sample_rate``) or bytes.

    Args:
        num_levels: K.
        sample_rate: Hz for audio (modality ``"audio"``); None for text (``"text"``).
    """

    kind = "sequence"

    def __init__(self, num_levels, sample_rate=None):
        modality = "text" if sample_rate is None else "audio"
        super().__init__((None,), num_levels, modality=modality, sample_rate=sample_rate)

    def _quantize_hint(self):
        return (
            f"Encode audio first, e.g. ar_keras.data.mu_law_encode(audio, {self.num_levels}) "
            "for floats in [-1, 1]."
        )


class VectorEvent(EventSpec):
    """Float vectors ``[D]`` (densities on R^D, or on ``support``^D)."""

    kind = "vector"
    default_modality = "vector"

    def __init__(self, event_size, support=None):
        checks.check_positive_int(event_size, "event_size")
        super().__init__((event_size,), None, support)

    def _size_hint(self):
        return f" (event_size={self.shape[0]})"


class FloatSequence(EventSpec):
    """Float sequences ``[T, F]`` of any length (acoustic feature trajectories)."""

    kind = "float_sequence"
    default_modality = "features"

    def __init__(self, num_features):
        checks.check_positive_int(num_features, "num_features")
        super().__init__((None, num_features))


class VideoEvent(EventSpec):
    """Integer videos ``[T, H, W, C]`` of levels in ``[0, K)``."""

    kind = "video"
    default_modality = "video"

    def __init__(self, video_shape, num_levels):
        shape = tuple(int(s) for s in video_shape)
        if len(shape) != 4:
            raise ValueError(f"video_shape must be (T, H, W, C), got {video_shape!r}.")
        super().__init__(shape, num_levels)
