"""`ContinuousModel`: the contract of the density models of real vectors (RNADE, MAF, IAF).

A continuous model holds a density ``p(x)`` on ``R^D`` (data are float
``[B, D]``; ``event_size = D``) and offers::

    log_prob(x, conditional=None)                 [B] nats (a density: may be > 0)
    conditional_log_probs(x, conditional=None)    [B, D], log p(x_d | x_<d), where exact
    sample(n, conditional=None, seed=, temperature=1.0)   float32 [n, D]

and the training contract of `ar_keras.models.AutoregressiveModel`:
``model.compile(optimizer); model.fit(ds)`` with no ``y``; datasets yield
``x`` or ``(x, label)``.  The loss is the per-example negative
log-likelihood summed and divided by the *global* batch, so that
`tf.distribute` replicas add up to the single-device gradient.

**Bits per dimension** of a density are ``-log p(x) / (D ln 2)``: the
``bits_per_dim`` metric.  For continuous data it may be *negative* (a density
above 1), and it depends on the scale of the data; ``model.evaluate(ds)
["bits_per_dim"]`` gives it and ``["loss"]`` the NLL in nats.  Early stopping
watches ``monitor = "val_loss"`` (the validation negative log-likelihood).

**Sampling** is deterministic per seed: sample ``i`` draws its noise from the
stateless Philox stream keyed ``(seed, i)`` (`ar_keras.sampling.seeded_noise`),
``noise_depth`` uniforms per dimension, mapped to normals by the inverse
normal CDF.  ``temperature`` T scales the base noise (``z ~ N(0, T^2)``, the
Glow convention; mixture models scale their component standard deviations).
``cache`` is accepted for the contract; models without a faster exact path
ignore it (RNADE has one).

`DensityModel` holds what latent-variable image models (`iaf_vae`) share
with these: training on a per-example objective, the metric, early stopping
on ``val_loss`` and the export hooks.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("maf", preset="tiny")           # event_size=2
    >>> model.compile(optimizer="adam")
    >>> x = model.sample(4, seed=0)                             # float32 [4, 2]
    >>> model.log_prob(x).shape
    TensorShape([4])
"""

import math

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks, sampling
from ar_keras.models.base import _FunctionCache, unpack_inputs

__all__ = ["DensityModel", "ContinuousModel", "check_continuous", "uniform_to_normal"]

# Uniforms are kept this far from 0 and 1 so that ndtri stays finite (|z| < 5.3).
_EPS = 2.0 ** -24
HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def uniform_to_normal(u):
    """Uniform(0, 1) noise -> standard normals through the inverse CDF (``ndtri``)."""
    return tf.math.ndtri(tf.clip_by_value(tf.cast(u, tf.float32), _EPS, 1.0 - _EPS))


def _to_tensor(x, what):
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return tf.convert_to_tensor(x)
    try:
        arr = np.asarray(x)
    except Exception as e:  # pragma: no cover - exotic inputs
        raise ValueError(f"{what} could not be converted to an array: {e}") from e
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise ValueError(f"{what} must be a numeric array, got dtype {arr.dtype}.")
    return tf.convert_to_tensor(arr)


def check_continuous(x, event_size, what="x", validate_values=True, support=None):
    """Checks float data ``[B, D]``; returns float32.

    Args:
        x: array or tensor.
        event_size: D.
        what: the name used in messages.
        validate_values: check for NaN / inf (and the support): eagerly with
            numpy, in a graph with `tf.debugging` assertions.
        support: None (all of R) or ``(low, high)``, the closed interval every
            value must lie in.

    Raises:
        ValueError: integer or bool data, wrong rank or shape, NaN or infinite
            values, values outside the support.
    """
    x = _to_tensor(x, what)
    if not x.dtype.is_floating:
        raise ValueError(
            f"{what} must hold floats (continuous data) of shape [batch, {event_size}], got dtype "
            f"{x.dtype.name}. Integer levels are discrete data: dequantize them first, e.g. "
            "ark.data.load('digits_continuous'), or use a discrete model.")
    if x.shape.rank != 2:
        raise ValueError(
            f"{what} must have rank 2 with shape [batch, {event_size}], got shape "
            f"{x.shape.as_list() if x.shape.rank is not None else 'unknown'}. "
            "Add a batch axis for a single example (x[None]).")
    if x.shape[1] is not None and x.shape[1] != event_size:
        raise ValueError(f"{what} must have shape [batch, {event_size}] (event_size={event_size}), "
                         f"got {x.shape.as_list()}.")
    x = tf.cast(x, tf.float32)
    if not validate_values:
        return x
    where = "" if support is None else f" and lie in [{support[0]}, {support[1]}]"
    if tf.executing_eagerly():
        arr = x.numpy()
        if not np.isfinite(arr).all():
            raise ValueError(f"{what} contains NaN or infinite values; every value must be finite{where}.")
        if support is not None and arr.size and (arr.min() < support[0] or arr.max() > support[1]):
            raise ValueError(f"{what} must lie in [{support[0]}, {support[1]}] for this model "
                             f"(its data transform), got values in [{arr.min()}, {arr.max()}].")
        return x
    msg = f"{what} must be finite{where}"
    deps = [tf.debugging.assert_all_finite(x, msg)]
    if support is not None:
        deps += [tf.debugging.assert_greater_equal(x, tf.constant(support[0], tf.float32), message=msg),
                 tf.debugging.assert_less_equal(x, tf.constant(support[1], tf.float32), message=msg)]
    with tf.control_dependencies(deps):
        return tf.identity(x)


def check_temperature_tensor(temperature):
    """A graph-mode temperature check (SavedModel inputs): finite and > 0."""
    t = tf.convert_to_tensor(temperature, tf.float32)
    ok = tf.logical_and(tf.math.is_finite(t), t > 0.0)
    with tf.control_dependencies([
        tf.debugging.Assert(ok, ["temperature must be a finite number > 0, got", t]),
    ]):
        return tf.identity(t)


class DensityModel(keras.Model):
    """Training, metric and export plumbing shared by continuous and latent-variable models.

    Subclasses implement ``event_size``, ``_check(x, conditional)`` and
    ``_objective(x, conditional, training) -> (objective [B], log_likelihood [B])``:
    the per-example quantity training maximises and the (bound on the)
    log-likelihood the ``bits_per_dim`` metric reports.  For exact models both
    are ``log p(x)``.
    """

    #: name -> constructor overrides; every model defines tiny, digits, paper.
    PRESETS = {}

    #: The metric ``python -m train`` early-stops on: the validation NLL.
    monitor = "val_loss"

    def __init__(self, num_classes=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if num_classes is not None and (isinstance(num_classes, bool) or int(num_classes) != num_classes
                                        or num_classes < 1):
            raise ValueError(f"num_classes must be a positive integer or None, got {num_classes!r}.")
        self.num_classes = None if num_classes is None else int(num_classes)
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")
        self._functions = _FunctionCache()

    # ------------------------------------------------------------------ hooks
    @property
    def event_size(self):
        raise NotImplementedError

    def _check(self, x, conditional, validate_values=True):
        raise NotImplementedError

    def _objective(self, x, conditional, training=False):
        lp = self._log_prob(x, conditional, training=training)
        return lp, lp

    def _log_prob(self, x, conditional, training=False):
        raise NotImplementedError

    def _one_hot(self, c):
        """Labels ``[B]`` -> one-hot ``[B, num_classes]`` (None stays None)."""
        return None if c is None else tf.one_hot(c, self.num_classes, dtype=tf.float32)

    # ---------------------------------------------------------------- density
    def log_prob(self, x, conditional=None):
        """``log p(x)`` in nats: float32 ``[B]``."""
        x, c = self._check(x, conditional)
        return self._log_prob(x, c)

    # --------------------------------------------------------------- training
    def _unpack(self, inputs):
        return unpack_inputs(inputs)

    def call(self, inputs, training=False):
        """``inputs`` = x or ``(x, conditional)`` -> ``[B, 2]``: (objective, log-likelihood)."""
        x, c = self._unpack(inputs)
        x, c = self._check(x, c)
        objective, log_likelihood = self._objective(x, c, training=training)
        return tf.stack([objective, log_likelihood], axis=1)                # 2 x [B] -> [B, 2]

    def _pack(self, data):
        x, c = self._unpack(data)
        if self.num_classes is None:
            return (x,)  # labels, if any, are not used by unconditional models
        if c is None:
            raise ValueError(
                f"{self.name} is class-conditional: the dataset must yield (x, label) pairs "
                "(ark.data.load(..., with_labels=True)).")
        return ((x, c),)

    def train_step(self, data):
        return super().train_step(self._pack(data))

    def test_step(self, data):
        return super().test_step(self._pack(data))

    def predict_step(self, data):
        x, c = self._unpack(self._pack(data)[0])
        x, c = self._check(x, c)
        return self._log_prob(x, c)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Per-example negative objective, averaged over the *global* batch.

        ``y_pred [B, 2]`` is what `call` returned.  Each replica returns
        ``sum_i -objective_i / (local_batch * replicas)``, so the replicas'
        gradients sum to the single-device mean gradient.
        """
        objective, log_likelihood = y_pred[:, 0], y_pred[:, 1]
        batch = tf.shape(y_pred)[0]
        self.bits_per_dim_tracker.update_state(-log_likelihood / (self.event_size * math.log(2.0)))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        loss = -tf.reduce_sum(objective) / tf.cast(batch * replicas, objective.dtype)
        if self.losses:
            loss = loss + tf.add_n(self.losses) / replicas
        return loss

    # ------------------------------------------------------------ sampling
    def _check_sample_args(self, num_samples, conditional, temperature, length):
        n = checks.check_positive_int(num_samples, "num_samples")
        if length is not None:
            raise ValueError(
                f"{type(self).__name__} generates fixed-size examples (event_size={self.event_size}); "
                "length= is for sequence models. Leave it None.")
        temperature = float(temperature)
        if not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be a finite number > 0, got {temperature}.")
        c = checks.check_labels(conditional, self.num_classes, batch=n)
        return n, c, temperature

    def _compiled(self, key, fn):
        """A `tf.function` of ``fn`` cached under ``key``, out of Keras' tracking."""
        if key not in self._functions.functions:
            self._functions.functions[key] = tf.function(fn, reduce_retracing=True)
        return self._functions.functions[key]

    # --------------------------------------------------------------- export
    def export_signatures(self):
        """``[(name, function, input_signature)]`` for `ar_keras.export.saved_model`."""
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "num_classes": self.num_classes}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ContinuousModel(DensityModel):
    """Base class of the density models of float vectors ``[B, D]``.

    Args:
        event_size: D.
        num_classes: number of class labels to condition on, or None.

    Subclasses implement ``_log_prob``, ``_sample_from_noise`` (and
    ``_conditional_log_probs`` where the conditionals are exact).
    """

    #: Uniforms per dimension that one sample consumes.
    noise_depth = 1
    #: Continuous data have no levels (kept for code written for discrete models).
    num_levels = None

    def __init__(self, event_size, num_classes=None, name=None, **kwargs):
        super().__init__(num_classes=num_classes, name=name, **kwargs)
        if isinstance(event_size, bool) or int(event_size) != event_size or event_size < 1:
            raise ValueError(f"event_size must be a positive integer, got {event_size!r}.")
        self._event_size = int(event_size)

    # -------------------------------------------------------------- structure
    @property
    def event_size(self):
        """D, the number of dimensions of one example."""
        return self._event_size

    @property
    def image_shape(self):
        """``(D,)``: the event shape (the name discrete models use)."""
        return (self._event_size,)

    @property
    def ordering(self):
        """``[D]`` int array: ``ordering[t]`` is the dimension generated at step t."""
        return np.arange(self._event_size)

    @property
    def exact_conditionals(self):
        """True when `conditional_log_probs` returns exact ``log p(x_d | x_<d)``."""
        return False

    #: None (all of R^D) or the ``(low, high)`` every value must lie in.
    support = None

    @classmethod
    def overrides_from_data(cls, info):
        """``{"event_size": D}`` for a continuous dataset (used by ``python -m train``)."""
        if getattr(info, "kind", "image") != "continuous":
            raise ValueError(
                f"{cls.__name__} models continuous vectors but dataset {info.name!r} holds "
                f"{getattr(info, 'kind', 'image')} data (integer levels). Use a continuous dataset, "
                "e.g. digits_continuous, two_moons, power.")
        return {"event_size": int(info.event_size)}

    def _check(self, x, conditional, validate_values=True):
        x = check_continuous(x, self._event_size, validate_values=validate_values,
                             support=self.support)
        c = checks.check_labels(conditional, self.num_classes, batch=x.shape[0],
                                validate_values=validate_values)
        return x, c

    def _finish_init(self):
        """Builds every weight with one forward pass on zeros (and a clean metric)."""
        x = tf.zeros([1, self._event_size], tf.float32)
        if self.support is not None:
            x = x + 0.5 * (self.support[0] + self.support[1])
        c = None if self.num_classes is None else tf.zeros([1], tf.int32)
        self._log_prob(x, c, training=False)
        self.built = True

    # ---------------------------------------------------------------- density
    def conditional_log_probs(self, x, conditional=None):
        """``log p(x_d | x_<d)`` for every dimension: float32 ``[B, D]``, summing to `log_prob`.

        Raises:
            NotImplementedError: the model's conditionals are not exact (e.g. a
                MAF stack that permutes the dimensions between layers).
        """
        if not self.exact_conditionals:
            raise NotImplementedError(
                f"{self.name}'s per-dimension conditionals are not exact: a stack that permutes "
                "the dimensions between layers is not autoregressive in one ordering. Build it with "
                "permutation='none' (or one layer), or use log_prob.")
        x, c = self._check(x, conditional)
        return self._conditional_log_probs(x, c)

    def _conditional_log_probs(self, x, c):
        raise NotImplementedError

    # --------------------------------------------------------------- sampling
    def sample(self, num_samples, conditional=None, seed=None, temperature=1.0, cache=True,
               length=None):
        """Draws ``num_samples`` examples: float32 ``[n, D]``.

        Sample ``i`` uses the stateless key ``(seed, i)``: the same seed gives
        the same samples whatever ``n`` and whatever ``cache``.

        Args:
            num_samples: n >= 1.
            conditional: class labels ``[n]`` for conditional models.
            seed: int; None draws a fresh one.
            temperature: > 0; scales the base noise.
            cache: use the model's fastest exact path (same samples either way).
            length: only for sequence models; must be None.
        """
        n, c, temperature = self._check_sample_args(num_samples, conditional, temperature, length)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
        noise = sampling.seeded_noise(int(seed), n, self._event_size, self.noise_depth)
        return self.sample_from_noise(noise, c, temperature, cache)

    def sample_from_noise(self, noise, conditional=None, temperature=1.0, cache=True):
        """Samples from given uniforms ``noise [n, D, noise_depth]``: float32 ``[n, D]``."""
        noise = tf.convert_to_tensor(noise, tf.float32)
        if noise.shape.rank != 3 or noise.shape[1:] != (self._event_size, self.noise_depth):
            raise ValueError(f"noise must have shape [n, {self._event_size}, {self.noise_depth}], "
                             f"got {noise.shape.as_list()}.")
        t = tf.convert_to_tensor(temperature, tf.float32)
        if not tf.executing_eagerly():
            return self._sample_from_noise(noise, conditional, t, bool(cache))
        fn = self._compiled(("sample", bool(cache), conditional is None),
                            lambda nz, c, tt: self._sample_from_noise(nz, c, tt, bool(cache)))
        return fn(noise, conditional, t)

    def _sample_from_noise(self, noise, conditional, temperature, cache):
        raise NotImplementedError

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """SavedModel signatures: ``serving_default`` (log_prob), ``sample`` and,
        where exact, ``conditional_log_probs``.  ``x`` is float32 ``[B, D]``;
        ``sample`` takes ``seeds`` int64 ``[n]`` and ``temperature`` float32 ``[]``
        and returns ``samples`` float32 ``[n, D]``, sample ``j`` keyed
        ``(seeds[j], 0)`` = ``model.sample(1, seed=seeds[j])[0]``.
        """
        D = self._event_size
        x_spec = tf.TensorSpec([None, D], tf.float32, name="x")
        c_spec = tf.TensorSpec([None], tf.int32, name="conditional")
        seeds_spec = tf.TensorSpec([None], tf.int64, name="seeds")
        t_spec = tf.TensorSpec([], tf.float32, name="temperature")

        def draw(seeds, temperature, labels=None):
            keys = tf.stack([seeds, tf.zeros_like(seeds)], axis=1)                # [n] -> [n, 2]
            if labels is not None:
                labels = checks.check_labels(labels, self.num_classes)
                with tf.control_dependencies([tf.debugging.assert_equal(
                        tf.size(labels), tf.size(seeds), message="conditional must hold one label per seed")]):
                    labels = tf.identity(labels)
            noise = sampling.uniform_noise(keys, D, self.noise_depth)              # [n, D, depth]
            t = check_temperature_tensor(temperature)
            return {"samples": self._sample_from_noise(noise, labels, t, True)}

        if self.num_classes is None:
            sigs = [("serving_default", lambda x: {"log_prob": self.log_prob(x)}, [x_spec]),
                    ("sample", lambda seeds, temperature: draw(seeds, temperature),
                     [seeds_spec, t_spec])]
            if self.exact_conditionals:
                sigs.append(("conditional_log_probs",
                             lambda x: {"conditional_log_probs": self.conditional_log_probs(x)}, [x_spec]))
        else:
            sigs = [("serving_default",
                     lambda x, conditional: {"log_prob": self.log_prob(x, conditional)},
                     [x_spec, c_spec]),
                    ("sample", lambda seeds, temperature, conditional: draw(seeds, temperature, conditional),
                     [seeds_spec, t_spec, c_spec])]
            if self.exact_conditionals:
                sigs.append(("conditional_log_probs",
                             lambda x, conditional: {
                                 "conditional_log_probs": self.conditional_log_probs(x, conditional)},
                             [x_spec, c_spec]))
        return sigs

    # ---------------------------------------------------------- serialization
    def get_config(self):
        config = super().get_config()
        config["event_size"] = self._event_size
        return config
