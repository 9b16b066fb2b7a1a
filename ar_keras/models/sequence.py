"""`SequenceModel`: the contract for discrete sequences of any length (audio, bytes).

Data are ints ``x [B, T]`` in ``[0, K)``; T is free (one model scores and
generates sequences of any length) and elements are generated left to right::

    log p(x) = sum_{t=0}^{T-1} log p(x_t | x_{<t} [, conditioning])

What changes from `AutoregressiveModel` (fixed-size images):

* ``image_shape`` is ``(None,)`` and ``event_size`` is None: the number of
  elements is read from the data (``x.shape[1]``) or given to `sample` as
  ``length=``;
* ``sampling_order(T) = range(T)``: the generic sampler takes T from its noise
  tensor ``[n, T, depth]`` (`ar_keras.sampling.seeded_noise` is prefix-stable
  for any T), so both sampling paths and the seeded-noise guarantee carry
  over unchanged;
* ``bits_per_dim`` divides each example's NLL by its own ``T ln 2``;
* `sample` requires ``length``; `conditional_log_probs` returns ``[B, T]``.

Subclasses implement ``network(x [B, T], conditional) -> params [B, T, P]``
and ``head``, optionally the cache protocol, and may accept richer
conditioning than class labels by overriding `_check_conditional` and
`is_conditional`.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("wavenet", preset="tiny")     # a SequenceModel
    >>> x = model.sample(2, length=50, seed=0)               # int32 [2, 50]
    >>> model.log_prob(x).shape                               # any length
    TensorShape([2])
"""

import math

import numpy as np
import tensorflow as tf

from ar_keras import checks, sampling
from ar_keras.models.base import AutoregressiveModel

__all__ = ["SequenceModel"]


class SequenceModel(AutoregressiveModel):
    """Base class of the discrete sequence models: ``x`` int ``[B, T]``, any T.

    Args:
        num_levels: K; data are ints in ``[0, K)``.
        num_classes: number of class labels to condition on, or None.
    """

    #: Sequence length `_finish_init` builds the weights with.
    _build_length = 2

    def __init__(self, num_levels, num_classes=None, name=None, **kwargs):
        # The base validates num_levels / num_classes; its (1,) shape is replaced below.
        super().__init__((1,), num_levels, num_classes, name=name, **kwargs)
        self.image_shape = (None,)

    # ----------------------------------------------------------------- structure
    @property
    def event_size(self):
        """None: a sequence has as many elements as the data (or ``length=``) say."""
        return None

    @property
    def ordering(self):
        raise AttributeError(
            f"{type(self).__name__} models sequences of any length; its generation order for "
            "T elements is sampling_order(T) = range(T).")

    def sampling_order(self, num_elements):
        return tf.range(num_elements)

    @classmethod
    def overrides_from_data(cls, info):
        """Constructor arguments a dataset fixes: ``num_levels`` (T is free).

        Raises:
            ValueError: the dataset does not hold integer sequences.
        """
        if getattr(info, "kind", "image") != "sequence":
            raise ValueError(
                f"{cls.__name__} models integer sequences [T]; dataset {info.name!r} holds "
                f"{getattr(info, 'kind', 'image')} data of shape {tuple(info.image_shape)}. Pick a "
                "sequence dataset (ark.data.info(name).kind == 'sequence'), e.g. 'speech'.")
        return {"num_levels": int(info.num_levels)}

    @property
    def is_conditional(self):
        """True when every call needs a ``conditional`` (labels here; subclasses add more)."""
        return self.num_classes is not None

    def _make_conditional(self, labels=None, features=None):
        """The ``conditional`` this model takes, from named parts (used by the exports).

        ``labels`` are class ids ``[B]``; ``features`` a local conditioning
        sequence, for models that have one (see `WaveNet`).
        """
        del features
        return labels

    def _example_conditional(self, batch, length):
        """A valid conditional for a zeros batch (used to build the weights)."""
        del length
        return None if self.num_classes is None else tf.zeros([batch], tf.int32)

    def _finish_init(self):
        length = self._build_length
        x = tf.zeros((1, length), tf.int32)
        self.network(x, self._example_conditional(1, length), training=False)
        self.built = True

    # ------------------------------------------------------------------ checking
    def _check_x(self, x, validate_values=True):
        """``x`` -> int32 ``[B, T]`` in ``[0, K)``, or a clear ValueError."""
        if not isinstance(x, (tf.Tensor, tf.Variable)):
            arr = np.asarray(x)
            if arr.dtype == object:
                raise ValueError("x must be a numeric array, got an object array.")
            x = tf.convert_to_tensor(arr)
        if not x.dtype.is_integer:
            raise ValueError(
                f"x must hold integer levels in [0, {self.num_levels}), got dtype {x.dtype.name}. "
                f"Encode audio first, e.g. ar_keras.data.mu_law_encode(audio, {self.num_levels}) "
                "for floats in [-1, 1].")
        if x.shape.rank != 2:
            raise ValueError(
                f"x must have rank 2, shape [batch, time] (any time length), got shape "
                f"{x.shape.as_list() if x.shape.rank is not None else 'unknown'}. "
                "Add a batch axis for a single sequence (x[None]).")
        if x.shape[1] == 0:
            raise ValueError("x must hold at least one time step, got shape "
                             f"{x.shape.as_list()}.")
        return checks.check_levels(x, (x.shape[1],), self.num_levels,
                                   validate_values=validate_values)

    def _check_conditional(self, conditional, batch=None, length=None, validate_values=True):
        """Checks ``conditional`` for a batch of ``batch`` sequences of ``length`` steps."""
        del length
        return checks.check_labels(conditional, self.num_classes, batch=batch,
                                   validate_values=validate_values)

    def _check(self, x, conditional, validate_values=True):
        x = self._check_x(x, validate_values)
        # A graph with a dynamic T passes the length as a tensor (checked by assertions).
        length = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
        c = self._check_conditional(conditional, batch=x.shape[0], length=length,
                                    validate_values=validate_values)
        return x, c

    def _check_length(self, length):
        if length is None:
            raise ValueError(
                f"{type(self).__name__} generates sequences of any length: pass length=T "
                "(e.g. model.sample(4, length=16000) for one second at 16 kHz).")
        return checks.check_positive_int(length, "length")

    # ------------------------------------------------------------------- density
    def element_params(self, x_flat, conditional=None, training=False):
        """``x [B, T]`` -> params ``[B, T, P]`` (a sequence is already flat)."""
        return self.network(x_flat, conditional, training=training)

    # ------------------------------------------------------------------ training
    def _pack(self, data):
        x, c = self._unpack(data)
        if not self.is_conditional:
            return (x,)  # labels, if any, are not used by unconditional models
        if c is None:
            raise ValueError(
                f"{self.name} is conditional: the dataset must yield (x, conditional) pairs "
                "(ark.data.load(..., with_labels=True) for class labels).")
        return ((x, c),)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Per-example NLL over the global batch; bits/dim per element of each sequence.

        ``y_pred`` is `call`'s ``[B, T]`` conditional log-probabilities; T may
        differ from batch to batch.
        """
        batch, length = tf.shape(y_pred)[0], tf.shape(y_pred)[1]
        nll = -tf.reduce_sum(y_pred, axis=1)                                 # [B, T] -> [B]
        self.bits_per_dim_tracker.update_state(
            nll / (tf.cast(length, nll.dtype) * math.log(2.0)))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        loss = tf.reduce_sum(nll) / tf.cast(batch * replicas, nll.dtype)
        if self.losses:
            loss = loss + tf.add_n(self.losses) / replicas
        return loss

    # ------------------------------------------------------------------ sampling
    def sample_from_noise(self, noise, conditional=None, temperature=1.0, cache=True):
        """Samples from given uniforms ``noise [n, T, noise_depth]``: int32 ``[n, T]``.

        ``conditional`` is not validated here (this is the raw path that the
        TFLite and SavedModel exports trace); `sample` validates it.
        """
        use_cache = bool(cache) and self.supports_cache
        noise = tf.convert_to_tensor(noise, tf.float32)
        if noise.shape.rank != 3:
            raise ValueError(f"noise must have shape [n, T, {self.head.noise_depth}], got "
                             f"{noise.shape.as_list()}.")
        if tf.executing_eagerly():
            fn = self._sample_function(use_cache, conditional)
        else:
            sampler = sampling.sample_cached if use_cache else sampling.sample_full
            fn = lambda nz, c, t: sampler(self, nz, c, t)  # noqa: E731 - already in a graph
        return fn(noise, conditional, tf.convert_to_tensor(temperature, tf.float32))  # [n, T]

    def sample_from_keys(self, keys, conditional=None, temperature=1.0, cache=True, length=None):
        """Samples one sequence of ``length`` steps per stateless key ``keys [n, 2]``."""
        length = self._check_length(length)
        noise = sampling.uniform_noise(keys, length, self.head.noise_depth)
        return self.sample_from_noise(noise, conditional, temperature, cache)

    def sample(self, num_samples, conditional=None, seed=None, temperature=1.0,
               cache=True, length=None):
        """Draws ``num_samples`` sequences of ``length`` steps: int32 ``[n, length]``.

        Sample ``i``, step ``t`` uses the noise keyed by ``(seed, i, t)``: the
        same seed gives the same samples for any ``n``, and ``cache=True``
        (the model's fastest exact path) equals ``cache=False`` (full
        recompute).  A longer ``length`` with the same seed does *not* extend
        a shorter sample (the noise is laid out row-major over ``[n, T]``).

        Args:
            num_samples: n >= 1.
            conditional: conditioning for the n samples (class labels ``[n]``
                for class-conditional models).
            seed: int; None draws a fresh one.
            temperature: > 0; divides the logits.
            cache: use the model's cached path when it has one.
            length: T >= 1, required.
        """
        n = checks.check_positive_int(num_samples, "num_samples")
        length = self._check_length(length)
        temperature = float(temperature)
        if not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be a finite number > 0, got {temperature}.")
        c = self._check_conditional(conditional, batch=n, length=length)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
        noise = sampling.seeded_noise(int(seed), n, length, self.head.noise_depth)  # [n, T, depth]
        return self.sample_from_noise(noise, c, temperature, cache)

    # ------------------------------------------------------------- serialization
    def get_config(self):
        config = super().get_config()
        del config["image_shape"]  # always (None,): not a constructor argument
        return config
