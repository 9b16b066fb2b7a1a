"""`AutoregressiveModel`: the contract every discrete ar_keras model keeps.

A model is a **network** (``network(x, conditional, training) -> params``,
one parallel pass over the whole example), a **head** (params -> per-element
distribution, `ar_keras.distributions`) and an **ordering** (``ordering[t]``
is the flattened element generated at step ``t``).  From those three the base
class derives::

    log p(x) = sum_d log p(x_d | x_{<d})                 (log_prob, [B] nats)
    conditional_log_probs(x)[..., d] = log p(x_d | x_{<d})     (x's shape)
    sample(n, seed=s)                                   (generic or cached)

and the training contract: ``model.compile(optimizer); model.fit(ds)`` with no
``y``.  The loss is the per-example negative log-likelihood, summed and divided
by the *global* batch size so that `tf.distribute` replicas add up to the
single-device gradient, and a ``bits_per_dim`` metric
``nll / (D * ln 2)`` is tracked.  Datasets yield ``x`` or ``(x, label)``;
labels are used by class-conditional models (``num_classes=``) and ignored by
the others.

Subclasses set their layers in ``__init__`` and end it with
``self._finish_init()``, which builds every weight with one forward pass so
that a model is complete as soon as it is constructed (and `.keras` files
reload without a build step).

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("nade", preset="tiny")
    >>> x = model.sample(4, seed=0)                    # [4, *image_shape] int32
    >>> model.log_prob(x).shape
    TensorShape([4])
"""

import math

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks, sampling

__all__ = ["AutoregressiveModel"]


def unpack_inputs(inputs):
    """Model inputs -> ``(x, conditional)``: x, ``(x, c)`` or ``{"x": x, "conditional": c}``."""
    if isinstance(inputs, dict):
        return inputs["x"], inputs.get("conditional")
    if isinstance(inputs, (tuple, list)):
        return inputs[0], (inputs[1] if len(inputs) > 1 else None)
    return inputs, None


class _FunctionCache:
    """Holds compiled samplers out of sight of Keras/TF object tracking.

    A dict attribute would be wrapped and tracked, and the `tf.function`s in
    it would be written into every SavedModel (or break the export).
    """

    def __init__(self):
        self.functions = {}


class AutoregressiveModel(keras.Model):
    """Base class of the discrete autoregressive models.

    Args:
        image_shape: the event shape, ``(H, W, C)`` for images or ``(D,)`` for
            vectors.  Elements are generated in raster order, channels
            innermost, unless a model defines another ordering.
        num_levels: K; data are ints in ``[0, K)``.
        num_classes: number of class labels to condition on, or None.
    """

    #: name -> constructor overrides; every model defines tiny, digits, paper.
    PRESETS = {}

    def __init__(self, image_shape, num_levels, num_classes=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        shape = tuple(int(s) for s in np.atleast_1d(image_shape))
        if not shape or any(s < 1 for s in shape):
            raise ValueError(f"image_shape must be positive sizes, got {image_shape!r}.")
        if isinstance(num_levels, bool) or int(num_levels) != num_levels or num_levels < 2:
            raise ValueError(f"num_levels must be an integer >= 2, got {num_levels!r}.")
        if num_classes is not None and (int(num_classes) != num_classes or num_classes < 1):
            raise ValueError(f"num_classes must be a positive integer or None, got {num_classes!r}.")
        self.image_shape = shape
        self.num_levels = int(num_levels)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")
        self._sample_functions = _FunctionCache()

    # ----------------------------------------------------------------- structure
    @property
    def event_size(self):
        """D, the number of elements in one example."""
        return int(np.prod(self.image_shape))

    @property
    def ordering(self):
        """``[D]`` int array: ``ordering[t]`` is the element generated at step t."""
        return np.arange(self.event_size)

    def sampling_order(self, num_elements):
        """``[D]`` int32 tensor of the generation order, for the sampler.

        Fixed-size models return `ordering`; sequence models of any length
        override this (e.g. ``tf.range(num_elements)``).
        """
        del num_elements
        return tf.constant(self.ordering, tf.int32)

    @classmethod
    def overrides_from_data(cls, info):
        """Constructor arguments that a dataset fixes (used by ``python -m train``)."""
        return {"image_shape": tuple(info.image_shape), "num_levels": int(info.num_levels)}

    #: The metric ``python -m train`` early-stops on.
    monitor = "val_bits_per_dim"

    @property
    def head(self):
        raise NotImplementedError

    @property
    def supports_cache(self):
        """True when the model implements ``init_cache`` / ``step``."""
        return type(self).init_cache is not AutoregressiveModel.init_cache

    def network(self, x, conditional=None, training=False):
        """``x [B, *image_shape]`` int32 -> head parameters ``[B, *image_shape, P]``."""
        raise NotImplementedError

    def init_cache(self, batch, conditional=None):
        """Cache protocol (optional): the state before the first element."""
        raise NotImplementedError

    def step(self, x_prev, cache, index, conditional=None):
        """Cache protocol (optional): params of element ``ordering[index]``."""
        raise NotImplementedError

    def _finish_init(self):
        """Builds every weight with one forward pass on zeros."""
        x = tf.zeros((1,) + self.image_shape, tf.int32)
        c = None if self.num_classes is None else tf.zeros([1], tf.int32)
        self.network(x, c, training=False)
        self.built = True

    # ------------------------------------------------------------------- density
    def element_params(self, x_flat, conditional=None, training=False):
        """Flattened view of `network`: ``x [B, D]`` -> params ``[B, D, P]``."""
        batch = tf.shape(x_flat)[0]
        x = tf.reshape(x_flat, tf.concat([[batch], self.image_shape], 0))  # [B, D] -> [B, *shape]
        params = self.network(x, conditional, training=training)
        return tf.reshape(params, [batch, self.event_size, -1])  # [B, *shape, P] -> [B, D, P]

    def _conditional_log_probs(self, x, conditional, training=False):
        params = self.network(x, conditional, training=training)  # [B, *shape, P]
        return self.head.log_prob(params, x)                     # [B, *shape]

    def _check(self, x, conditional, validate_values=True):
        x = checks.check_levels(x, self.image_shape, self.num_levels,
                                validate_values=validate_values)
        batch = x.shape[0]
        c = checks.check_labels(conditional, self.num_classes, batch=batch,
                                validate_values=validate_values)
        return x, c

    def conditional_log_probs(self, x, conditional=None):
        """``log p(x_d | x_<d)`` for every element: float32, x's shape."""
        x, c = self._check(x, conditional)
        return self._conditional_log_probs(x, c)

    def log_prob(self, x, conditional=None):
        """``log p(x)`` in nats: float32 ``[B]``."""
        lp = self.conditional_log_probs(x, conditional)
        return tf.reduce_sum(tf.reshape(lp, [tf.shape(lp)[0], -1]), axis=1)  # [B, *shape] -> [B, D]

    # ------------------------------------------------------------------ training
    def _unpack(self, inputs):
        return unpack_inputs(inputs)

    def call(self, inputs, training=False):
        """``inputs`` = x or ``(x, conditional)`` -> conditional log-probs (x's shape)."""
        x, c = self._unpack(inputs)
        x, c = self._check(x, c)
        return self._conditional_log_probs(x, c, training=training)

    def _pack(self, data):
        """Dataset element -> the ``(inputs,)`` tuple Keras' steps unpack."""
        x, c = self._unpack(data)
        if self.num_classes is None:
            return (x,)  # labels, if any, are not used by unconditional models
        if c is None:
            raise ValueError(
                f"{self.name} is class-conditional: the dataset must yield (x, label) pairs "
                "(ark.data.load(..., with_labels=True))."
            )
        return ((x, c),)

    def train_step(self, data):
        return super().train_step(self._pack(data))

    def test_step(self, data):
        return super().test_step(self._pack(data))

    def predict_step(self, data):
        return super().predict_step(self._pack(data))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Per-example NLL, averaged over the *global* batch.

        ``y_pred`` is what `call` returned: the conditional log-probabilities.
        Each replica returns ``sum_i nll_i / (local_batch * replicas)``, so the
        replicas' gradients sum to the single-device mean-NLL gradient.
        """
        batch = tf.shape(y_pred)[0]
        nll = -tf.reduce_sum(tf.reshape(y_pred, [batch, -1]), axis=1)  # [B, *shape] -> [B, D] -> [B]
        self.bits_per_dim_tracker.update_state(nll / (self.event_size * math.log(2.0)))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        loss = tf.reduce_sum(nll) / tf.cast(batch * replicas, nll.dtype)
        if self.losses:
            loss = loss + tf.add_n(self.losses) / replicas
        return loss

    # ------------------------------------------------------------------ sampling
    def _sample_function(self, cache, conditional):
        key = (bool(cache), conditional is None)
        if key not in self._sample_functions.functions:
            sampler = sampling.sample_cached if cache else sampling.sample_full

            def run(noise, c, temperature):
                return sampler(self, noise, c, temperature)

            self._sample_functions.functions[key] = tf.function(run, reduce_retracing=True)
        return self._sample_functions.functions[key]

    def sample_from_noise(self, noise, conditional=None, temperature=1.0, cache=True):
        """Samples from given uniforms ``noise [n, D, noise_depth]`` (the TFLite path).

        Returns int32 ``[n, *image_shape]``.
        """
        use_cache = bool(cache) and self.supports_cache
        noise = tf.convert_to_tensor(noise, tf.float32)
        if tf.executing_eagerly():
            fn = self._sample_function(use_cache, conditional)
        else:
            sampler = sampling.sample_cached if use_cache else sampling.sample_full
            fn = lambda nz, c, t: sampler(self, nz, c, t)  # noqa: E731 - already in a graph
        x = fn(noise, conditional, tf.convert_to_tensor(temperature, tf.float32))
        return tf.reshape(x, tf.concat([tf.shape(noise)[:1], self.image_shape], 0))  # [n, D] -> [n, *shape]

    def sample_from_keys(self, keys, conditional=None, temperature=1.0, cache=True):
        """Samples one example per stateless key ``keys [n, 2]`` (int64)."""
        noise = sampling.uniform_noise(keys, self.event_size, self.head.noise_depth)
        return self.sample_from_noise(noise, conditional, temperature, cache)

    def sample(self, num_samples, conditional=None, seed=None, temperature=1.0,
               cache=True, length=None):
        """Draws ``num_samples`` examples: int32 ``[n, *image_shape]``.

        Sample ``i`` uses the stateless key ``(seed, i)`` (see
        `ar_keras.sampling.seeded_noise`): the same seed gives
        the same samples, and ``cache=True`` (the model's fastest exact path)
        gives the same samples as ``cache=False`` (full recompute).

        Args:
            num_samples: n >= 1.
            conditional: class labels ``[n]`` for conditional models.
            seed: int; None draws a fresh one.
            temperature: > 0; divides the logits.
            cache: use the model's cached path when it has one.
            length: only for sequence models; must be None here.
        """
        n = checks.check_positive_int(num_samples, "num_samples")
        if length is not None:
            raise ValueError(
                f"{type(self).__name__} generates fixed-size examples of shape "
                f"{self.image_shape}; length= is for sequence models. Leave it None."
            )
        temperature = float(temperature)
        if not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be a finite number > 0, got {temperature}.")
        c = checks.check_labels(conditional, self.num_classes, batch=n)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
        noise = sampling.seeded_noise(int(seed), n, self.event_size, self.head.noise_depth)
        return self.sample_from_noise(noise, c, temperature, cache)

    # ------------------------------------------------------------- serialization
    def get_config(self):
        return {
            "name": self.name,
            "image_shape": list(self.image_shape),
            "num_levels": self.num_levels,
            "num_classes": self.num_classes,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
