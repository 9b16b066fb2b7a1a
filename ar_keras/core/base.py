"""`BaseModel`: training, the public API and the exports of every ar_keras model, written once.

Every model, autoregressive, flow or latent-variable, is a `keras.Model` with an
event spec (`ar_keras.core.events`: what one example is) and optionally class
labels to condition on.  It implements two things:

* ``_objective(x, conditional, training) -> (objective [B], log_likelihood [B])``:
  the per-example quantity training maximises and the (bound on the)
  log-likelihood in nats.  For exact models both are ``log p(x)``; for a VAE
  the ELBO (with free bits, say) and the ELBO;
* ``_sample_graph(noise, n, length, conditional, temperature, cache)``: ``n``
  examples from a noise source (`ar_keras.core.noise`).

and this class derives from them:

* ``log_prob(x, conditional=None)`` ``[B]`` nats, with the checks of the event
  spec (wrong rank or shape, values out of range, floats for ints, NaN);
* ``model.compile(optimizer); model.fit(ds)`` with no ``y``.  Datasets yield
  ``x`` or ``(x, conditional)``.  The loss is the per-example negative
  objective, summed and divided by the *global* batch::

      loss_replica = sum_{i in replica} -objective_i / sum_{replicas} B_replica

  so that the gradients `tf.distribute` sums over replicas equal the
  single-device mean gradient.  The logs are reduced over the replicas inside
  the step, which also makes ``fit`` work under `MultiWorkerMirroredStrategy`
  (`ar_keras.distribute` says where Keras 3 breaks there).  The metric ``bits_per_dim`` is
  ``-log_likelihood / (elements * ln 2)``, with the elements of each example
  (a sequence's own length T);
* ``sample(n, conditional=None, seed=None, temperature=1.0, cache=True,
  length=None)``: the arguments checked once, sample ``i`` keyed
  ``(seed, i)``, the compiled functions cached per (path, shape), XLA where
  the model asks for it;
* ``export_signatures()`` (SavedModel) and ``tflite_signatures()`` built from
  the event spec: `ar_keras.export` only writes them.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("nade", preset="tiny")
    >>> model.compile(optimizer="adam")
    >>> x = model.sample(4, seed=0)                    # [4, *image_shape] int32
    >>> model.log_prob(x).shape
    TensorShape([4])
"""

import contextlib
import functools
import inspect
import math
import os

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks, distribute
from ar_keras.core import conditioning, presets, vocabulary
from ar_keras.core import noise as noise_lib

__all__ = ["BaseModel", "unpack_inputs"]


def unpack_inputs(inputs):
    """Model inputs -> ``(x, conditional)``: x, ``(x, c)`` or ``{"x": x, "conditional": c}``."""
    if isinstance(inputs, dict):
        return inputs["x"], inputs.get("conditional")
    if isinstance(inputs, (tuple, list)):
        return inputs[0], (inputs[1] if len(inputs) > 1 else None)
    return inputs, None


#: What a model of each event kind models, and datasets of that kind (`overrides_from_data`).
_KIND_WORDS = {
    "image": "images of integer levels [H, W, C]",
    "sequence": "integer sequences [T]",
    "video": "videos [T, H, W, C]",
    "vector": "continuous vectors [D]",
    "float_sequence": "float feature trajectories [T, F]",
}
_KIND_EXAMPLES = {
    "image": "'digits'",
    "sequence": "'speech' or 'text'",
    "video": "'moving_digits'",
    "vector": "'digits_continuous', 'two_moons' or 'power' (continuous values)",
    "float_sequence": "'speech_features'",
}
_VIDEO_HINT = " For videos use a video model (--model vpn)."


class _FunctionCache:
    """Holds compiled functions out of sight of Keras/TF object tracking.

    A dict attribute would be wrapped and tracked, and the `tf.function`s in
    it would be written into every SavedModel (or break the export).
    """

    def __init__(self):
        self.functions = {}


@contextlib.contextmanager
def _float32_policy(active):
    """Builds a model's layers under the float32 dtype policy (``active``), restoring the global
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


class BaseModel(keras.Model):
    """Base class of every ar_keras model.

    Args:
        event: an `ar_keras.core.events.EventSpec`.
        num_classes: number of class labels to condition on, or None.

    Mixed precision: a model built under a mixed Keras dtype policy
    (``keras.mixed_precision.set_dtype_policy("mixed_bfloat16")``, ``python -m
    train --precision``) computes its network in the policy's compute dtype and
    keeps float32 variables; its heads, log-probabilities, objective and loss
    are float32 (`precision_scope`, `compute_loss`).  A class with
    ``float32_only = True`` (flows and continuous densities, whose
    log-determinants and densities need float32; the latent-variable models'
    KL terms) builds all its layers under float32 whatever the global policy:
    it trains and samples under any policy, in float32.
    """

    #: Build every layer in float32 whatever the global dtype policy (see the class docstring).
    float32_only = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_float32_policy_wrapped", False):
            return

        @functools.wraps(init)
        def __init__(self, *args, **kw):
            with _float32_policy(type(self).float32_only):
                init(self, *args, **kw)

        __init__.__signature__ = inspect.signature(init)  # Keras' Operation reads the arguments
        __init__._float32_policy_wrapped = True
        cls.__init__ = __init__

    #: name -> constructor arguments, read from the TOML file beside the model's module
    #: (`ar_keras.core.presets`); every model has tiny, paper and one for the embedded data.
    PRESETS = presets.PresetTable()
    #: Compile the cached sampler with XLA: True, False, or "auto" (when an example has
    #: at least `jit_min_steps` sampling steps, where compiling repays itself).
    jit_sampling = False
    jit_min_steps = 256
    #: Whether `fit` compiles under XLA (``compile(jit_compile=True)``): ``python -m train``
    #: turns XLA on by default where True; a model that cannot sets False and says why in
    #: `jit_training_note` (checked for every registered model in tests/test_throughput.py).
    supports_jit_training = True
    jit_training_note = ""
    #: Whether XLA speeds `fit` up on a CPU (measured by benchmarks/train_throughput.py):
    #: ``python -m train`` turns it on by default only where this and `supports_jit_training` hold.
    jit_training_pays = True
    #: Whether `tflite_signatures` can be converted (builtin TFLite ops only).
    supports_tflite = True
    #: Sequence length `_finish_init` builds the weights with (free-length events).
    example_length = 2
    #: The most elements (``num_samples`` x elements per example) one `sample` call may
    #: draw: a larger request is a ValueError before anything is allocated.
    max_sample_elements = 2**28
    #: The shortest and the longest sequence a free-length model takes (``length`` of
    #: `sample`, T of x); None: no upper bound.
    min_length = 1
    max_length = None

    def __new__(cls, *args, **kwargs):
        # Keras' own record of a subclassed model's arguments holds only the defaults
        # (`keras.Model.__new__` drops them), so the base records what the call passed.
        instance = super().__new__(cls, *args, **kwargs)
        signature = inspect.signature(cls.__init__)
        try:
            bound = signature.bind(None, *args, **kwargs)
        except TypeError:
            arguments = None  # __init__ raises the TypeError itself
        else:
            bound.apply_defaults()
            arguments = {}
            for name, parameter in list(signature.parameters.items())[1:]:
                if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                    arguments.update(bound.arguments.get(name, {}))
                elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL:
                    arguments[name] = bound.arguments[name]
        vars(instance)["_constructor_arguments"] = arguments
        return instance

    def __init__(self, event, num_classes=None, name=None, **kwargs):
        vocabulary.check_renamed(getattr(type(self), "registry_name", None), kwargs)
        super().__init__(name=name, **kwargs)
        if num_classes is not None and (
            isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1
        ):
            raise ValueError(f"num_classes must be a positive integer or None, got {num_classes!r}.")
        self.event = event
        self.num_classes = None if num_classes is None else int(num_classes)
        #: What the model conditions on (`ar_keras.core.conditioning`); models that take more
        #: than class labels replace it in their constructor.
        self.conditioning = conditioning.ConditioningSpec.labels(
            self.num_classes, owner=getattr(type(self), "registry_name", type(self).__name__)
        )
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")
        self._functions = _FunctionCache()

    # ------------------------------------------------------------------ facts
    @property
    def num_levels(self):
        """K for integer data, None for float data."""
        return self.event.num_levels

    @property
    def event_size(self):
        """D, the elements of one example (None where the length is free)."""
        return self.event.num_elements()

    @property
    def monitor(self):
        """The metric ``python -m train`` early-stops on."""
        return "val_bits_per_dim" if self.event.discrete else "val_loss"

    @property
    def noise_depth(self):
        """Uniforms per element that sampling consumes."""
        return self.head.noise_depth

    @property
    def exact_conditionals(self):
        """True when `conditional_log_probs` returns exact ``log p(x_d | x_<d)``."""
        return False

    @property
    def is_conditional(self):
        """True when every call needs a ``conditional``."""
        return self.conditioning.required

    @classmethod
    def resolve_preset(cls, preset, overrides):
        """The preset's arguments that stand beside ``overrides`` (`ark.models.get`).

        A model whose arguments depend on each other drops here the preset arguments an
        override makes moot; the base keeps them all (an override then replaces only the
        argument of its own name).
        """
        del overrides
        return preset

    #: The event spec class the constructor builds (`ar_keras.core.events`): its ``kind`` is
    #: the class's event kind (`event_kind_of`): the one place a class states its kind.
    event_class = None

    @classmethod
    def event_kind_of(cls, kwargs):
        """The event kind (``"image"``, ``"sequence"``, ...) that constructor arguments
        ``kwargs`` build, without building the model: the kind of `event_class` by default;
        a class of several kinds reads ``kwargs``.  A built model says it as ``model.event.kind``.

        Example:
            >>> import ar_keras as ark
            >>> ark.models.model_class("wavenet").event_kind_of({})
            'sequence'
        """
        del kwargs
        return None if cls.event_class is None else cls.event_class.kind

    @classmethod
    def overrides_from_data(cls, info):
        """Constructor arguments that a dataset fixes (used by ``python -m train``).

        Read from the dataset's event spec (``info.event``) and named by its kind:
        ``image_shape`` (images), ``video_shape`` (videos), ``event_size`` (vectors),
        ``num_features`` (feature trajectories), ``max_length`` (sequences, for a class that
        takes it: the dataset's ``example_length``); ``num_levels`` for integer data;
        ``sample_rate`` for audio, for a class that takes it.

        Args:
            info: an `ar_keras.data.DatasetInfo`.

        Returns:
            A dict of constructor arguments.

        Raises:
            ValueError: the dataset's kind is not the class's (`event_kind_of`).

        Example:
            >>> import ar_keras as ark
            >>> ark.models.model_class("wavenet").overrides_from_data(ark.data.info("speech"))
            {'num_levels': 256, 'sample_rate': 16000}
        """
        return cls.data_arguments(info, (cls.event_kind_of({}),))

    @classmethod
    def data_arguments(cls, info, kinds):
        """The constructor arguments of `overrides_from_data` for a model of one of ``kinds``,
        or a `ValueError` naming what the class models when the dataset is of another kind."""
        event = info.event
        if event.kind not in kinds:
            raise ValueError(
                f"{cls.__name__} models {' or '.join(_KIND_WORDS[k] for k in kinds)}; dataset "
                f"{info.name!r} holds {event.kind} data of shape {tuple(info.event_shape)}. Pick "
                + " or ".join(
                    f"{'an' if k == 'image' else 'a'} {k} dataset, e.g. {_KIND_EXAMPLES[k]}" for k in kinds
                )
                + f" (ark.data.info(name).kind).{_VIDEO_HINT if event.kind == 'video' else ''}"
            )
        taken = inspect.signature(cls.__init__).parameters
        arguments = {}
        if event.kind == "image":
            arguments["image_shape"] = tuple(event.shape)
        elif event.kind == "video":
            arguments["video_shape"] = tuple(event.shape)
        elif event.kind == "vector":
            arguments["event_size"] = int(event.shape[0])
        elif event.kind == "float_sequence":
            arguments["num_features"] = int(event.shape[-1])
        if event.discrete:
            arguments["num_levels"] = int(event.num_levels)
        if event.kind == "sequence" and "max_length" in taken and getattr(info, "example_length", None):
            arguments["max_length"] = int(info.example_length)
        if event.modality == "audio" and "sample_rate" in taken:
            arguments["sample_rate"] = int(event.sample_rate)
        return arguments

    # ------------------------------------------------------------ conditioning
    # One protocol over the model's `conditioning` spec (`ar_keras.core.conditioning`):
    # class labels here; a model that takes more declares its parts in its constructor.
    def check_conditional(self, conditional, batch=None, length=None, validate_values=True):
        """Checks ``conditional`` for ``batch`` examples of ``length`` steps (`conditioning`)."""
        return self.conditioning.check(
            conditional, batch=batch, length=length, validate_values=validate_values
        )

    def conditional_specs(self, batch=None):
        """The named conditioning inputs of the exports."""
        return self.conditioning.tensor_specs(batch)

    def make_conditional(self, named):
        """Named conditioning inputs (`conditional_specs`' names) -> ``conditional``."""
        return self.conditioning.from_named(named)

    def example_conditional(self, batch, length=None):
        """A valid conditional for a batch of zeros (to build the weights), or None."""
        return self.conditioning.zeros(batch, length)

    def _check(self, x, conditional, validate_values=True):
        x = self.event.check(x, validate_values)
        length = None
        if self.event.free_length:
            length = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
        c = self.check_conditional(
            conditional, batch=x.shape[0], length=length, validate_values=validate_values
        )
        return x, c

    def _finish_init(self):
        """Builds every weight with one forward pass on an example of zeros."""
        length = self.example_length if self.event.free_length else None
        x = self.event.zeros(1, length)
        with self.precision_scope():
            self._objective(x, self.example_conditional(1, length), training=False)
        self.built = True

    # ------------------------------------------------------ mixed precision
    @property
    def mixed_precision(self):
        """True under a mixed dtype policy (float16/bfloat16 compute, float32 variables)."""
        return self.compute_dtype != self.variable_dtype

    def precision_scope(self):
        """The context every public entry point runs the model's graph code in.

        Keras casts float variables to the compute dtype only inside
        ``Layer.__call__``; ``log_prob``, the sampler's ``init_cache``/``step``
        and the exports call the networks' methods directly, so they enter the
        same autocast scope here: under ``mixed_bfloat16`` every kernel is read
        in bfloat16 on every path (training, ``log_prob``, cached sampling), and
        the paths agree.  Under float32 it is a no-op.  Heads
        (`ar_keras.distributions`) cast their parameters to float32, and the
        public outputs (log-probs, objective, loss) are cast to float32 here.
        """
        if not self.mixed_precision:
            return contextlib.nullcontext()
        return distribute.autocast_scope(self.compute_dtype)

    # ---------------------------------------------------------------- density
    def _objective(self, x, conditional, training=False):
        lp = self._log_prob(x, conditional, training=training)
        return lp, lp

    def _log_prob(self, x, conditional, training=False):
        raise NotImplementedError

    def log_prob(self, x, conditional=None):
        """``log p(x)`` in nats: float32 ``[B]`` (an empty batch gives ``[0]``)."""
        x, c = self._check(x, conditional)
        if x.shape[0] == 0:
            return tf.zeros([0], tf.float32)
        with self.precision_scope():
            return tf.cast(self._log_prob(x, c), tf.float32)

    def conditional_log_probs(self, x, conditional=None):
        """``log p(x_d | x_<d)`` for every element: float32, x's shape, summing to `log_prob`."""
        if not self.exact_conditionals:
            raise NotImplementedError(
                f"{self.name}'s per-element conditionals are not exact (a stack that permutes the "
                "dimensions between layers, or a latent-variable model); use log_prob."
            )
        x, c = self._check(x, conditional)
        if x.shape[0] == 0:
            return tf.zeros(tf.shape(x), tf.float32)
        with self.precision_scope():
            return tf.cast(self._conditional_log_probs(x, c), tf.float32)

    def _conditional_log_probs(self, x, conditional, training=False):
        raise NotImplementedError

    # --------------------------------------------------------------- training
    def call(self, inputs, training=False):
        """``inputs`` = x or ``(x, conditional)`` -> ``[B, 2]``: (objective, log-likelihood)."""
        x, c = unpack_inputs(inputs)
        x, c = self._check(x, c)
        objective, log_likelihood = self._objective(x, c, training=training)
        # float32 whatever the dtype policy: the loss and bits/dim are reduced in float32.
        objective, log_likelihood = tf.cast(objective, tf.float32), tf.cast(log_likelihood, tf.float32)
        return tf.stack([objective, log_likelihood], axis=1)  # 2 x [B] -> [B, 2]

    def _pack(self, data):
        """Dataset element -> the ``(inputs,)`` tuple Keras' steps unpack."""
        x, c = unpack_inputs(data)
        if not self.is_conditional:
            return (x,)  # labels, if any, are not used by unconditional models
        if c is None:
            raise ValueError(
                f"{self.name} is conditional: the dataset must yield (x, conditional) pairs "
                "(ark.data.load(..., with_labels=True) for class labels)."
            )
        return ((x, c),)

    def train_step(self, data):
        # Logs reduced over the replicas here: Keras 3 cannot under a multi-worker strategy
        # (ar_keras.distribute, point 2).
        return distribute.reduce_logs(self, super().train_step(self._pack(data)))

    def test_step(self, data):
        return distribute.reduce_logs(self, super().test_step(self._pack(data)))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras' build from the first batch, without its cross-worker ``reduce`` of that batch.

        Keras 3 reduces the first distributed batch (``MEAN``) only to read its shapes, which
        fails under a multi-worker strategy (ar_keras.distribute, point 1); the first local
        replica's batch has the same shapes.  Keras calls this private hook; the workaround
        and its Keras-version gate are `ar_keras.distribute.symbolic_build`.
        """
        distribute.symbolic_build(self, iterator, data_batch, super()._maybe_symbolic_build)

    def predict_step(self, data):
        x, c = unpack_inputs(self._pack(data)[0])
        return self.log_prob(x, c)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Per-example negative objective, averaged over the *global* batch (module docstring)."""
        y_pred = tf.cast(y_pred, tf.float32)  # float32 under every dtype policy
        objective, log_likelihood = y_pred[:, 0], y_pred[:, 1]
        data, _ = unpack_inputs(x)
        elements = self.event.elements_per_example(data)
        self.bits_per_dim_tracker.update_state(-log_likelihood / (elements * math.log(2.0)))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        # the replicas' batches summed: exact when the last batch splits unevenly
        batch = distribute.global_batch_size(tf.shape(y_pred)[0], objective.dtype)
        loss = -tf.reduce_sum(objective) / batch
        if self.losses:
            loss = loss + tf.add_n([tf.cast(l, tf.float32) for l in self.losses]) / replicas
        return loss

    # --------------------------------------------------------------- sampling
    def _sample_graph(self, noise, num_samples, length, conditional, temperature, cache):
        """``n`` examples ``[n, *event_shape(length)]`` from a noise source (graph code)."""
        raise NotImplementedError

    def _use_jit(self, cache, length):
        if not cache or self.jit_sampling is False:
            return False
        if self.jit_sampling is True:
            return True
        steps = self.event.num_elements(length)
        return steps is not None and steps >= self.jit_min_steps

    def _compiled(self, key, fn, jit=False):
        """A `tf.function` of ``fn`` cached under ``key`` (out of Keras' tracking)."""
        key = (key, bool(jit))
        if key not in self._functions.functions:
            # The loops are explicit tf.while_loops: nothing for AutoGraph to convert.
            fn = tf.autograph.experimental.do_not_convert(fn)
            self._functions.functions[key] = tf.function(
                fn, jit_compile=bool(jit) or None, reduce_retracing=True
            )
        return self._functions.functions[key]

    def _run_sampler(self, source, given, conditional, temperature, cache, length):
        """Samples from keys ``[n, 2]`` (``given=False``) or a noise tensor (``given=True``)."""
        cache = bool(cache)
        jit = self._use_jit(cache, length)
        depth = self.noise_depth

        def run(src, c, t):
            noise = noise_lib.GivenNoise(src) if given else noise_lib.KeyedNoise(src, depth)
            with self.precision_scope():
                return self._sample_graph(noise, tf.shape(src)[0], length, c, t, cache)

        t = tf.convert_to_tensor(temperature, tf.float32)
        if not tf.executing_eagerly():
            return run(source, conditional, t)
        fn = self._compiled(("sample", given, cache, conditional is None, length), run, jit)
        return fn(source, conditional, t)

    def _check_sample_args(self, num_samples, conditional, temperature, length):
        n = checks.check_positive_int(num_samples, "num_samples")
        length = self.event.check_length(length)
        self._check_sample_size(n, length)
        temperature = checks.check_temperature(temperature)
        c = self.check_conditional(conditional, batch=n, length=length)
        return n, c, temperature, length

    def _check_sample_size(self, n, length):
        """Refuses lengths below `min_length` and requests of more than `max_sample_elements`."""
        name = getattr(self, "registry_name", type(self).__name__)
        if length is not None and length < self.min_length:
            raise ValueError(f"length must be at least {self.min_length} for {name}, got {length}.")
        if length is not None and self.max_length is not None and length > self.max_length:
            raise ValueError(
                f"length must be at most max_length = {self.max_length} for {name}, got {length}."
            )
        elements = n * self.event.num_elements(length)
        if elements > self.max_sample_elements:
            raise ValueError(
                f"num_samples x elements per example = {n} x {elements // n} = {elements} is more "
                f"than one call may draw (max_sample_elements = {self.max_sample_elements}): "
                "num_samples and length must be smaller; draw the samples in several calls "
                "(sample_from_keys takes any (seed, index) keys)."
            )

    def sample(self, num_samples, conditional=None, seed=None, temperature=1.0, cache=True, length=None):
        """Draws ``num_samples`` examples: ``[n, *event_shape]`` (int32 levels or float32).

        Sample ``i`` draws its noise from the key ``(seed, i)``
        (`ar_keras.core.noise`): the same seed gives the same samples for any
        ``n``, and ``cache=True`` (the model's fastest exact path) gives the
        same samples as ``cache=False`` (full recompute).

        Args:
            num_samples: n >= 1.
            conditional: conditioning for the n samples (class labels ``[n]``).
            seed: int; None draws a fresh one.
            temperature: > 0 (discrete heads divide the logits; continuous
                models scale the base noise).
            cache: use the model's cached path when it has one.
            length: T >= 1 for models of sequences of any length; None otherwise.
        """
        n, c, temperature, length = self._check_sample_args(num_samples, conditional, temperature, length)
        seed = checks.check_seed(seed)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
        keys = noise_lib.sample_keys(seed, n)  # [n, 2]
        return self._finite_samples(
            self._run_sampler(keys, False, c, temperature, cache, length), temperature
        )

    def _finite_samples(self, x, temperature):
        """Float samples that overflowed (a huge temperature) are an error, not silent inf/NaN."""
        if x.dtype.is_floating and tf.executing_eagerly() and not np.isfinite(x.numpy()).all():
            raise ValueError(
                f"sampling at temperature={temperature} gave non-finite values (float32 overflow): "
                "the temperature must be smaller."
            )
        return x

    def sample_from_keys(self, keys, conditional=None, temperature=1.0, cache=True, length=None):
        """One example per stateless key ``keys [n, 2]`` (``(seed, i)``: sample i of seed)."""
        keys = checks.to_tensor(keys, "keys")
        if not keys.dtype.is_integer or keys.shape.rank != 2 or keys.shape[1] != 2:
            raise ValueError(
                f"keys must be integer (seed, index) pairs of shape [n, 2], got "
                f"{keys.dtype.name} {keys.shape.as_list()}."
            )
        n = keys.shape[0]
        length = self.event.check_length(length)
        self._check_sample_size(max(n, 1), length)
        temperature = checks.check_temperature(temperature)
        c = self.check_conditional(conditional, batch=n, length=length)
        if n == 0:
            return tf.zeros((0,) + self.event.event_shape(length), self.event.dtype)
        return self._finite_samples(
            self._run_sampler(tf.cast(keys, tf.int64), False, c, temperature, cache, length), temperature
        )

    def _check_noise(self, noise, conditional, temperature, elements, per_step=None):
        """Checks ``sample_from_noise``'s arguments -> ``(noise, conditional, temperature, length)``.

        ``elements``: the noise's second axis (None where the length is free);
        ``per_step``: elements per step of a free length (length = axis / per_step).
        """
        depth = self.noise_depth
        expected = f"[n, {elements or ('T' if per_step in (None, 1) else f'T * {per_step}')}, {depth}]"

        def check_sizes(u):
            size = u.shape[1]
            if (
                u.shape[-1] != depth
                or (elements is not None and size != elements)
                or (elements is None and size is not None and (size == 0 or size % (per_step or 1)))
            ):
                raise ValueError(f"noise must have shape {expected}, got {u.shape.as_list()}.")

        noise = checks.check_uniforms(noise, expected, check_sizes=check_sizes)
        size = noise.shape[1]
        length = None
        if self.event.free_length:
            length = size // (per_step or 1)
            self._check_sample_size(max(noise.shape[0] or 0, 1), length)
        temperature = checks.check_temperature(temperature)
        c = self.check_conditional(conditional, batch=noise.shape[0], length=length)
        return noise, c, temperature, length

    def sample_from_noise(self, noise, conditional=None, temperature=1.0, cache=True):
        """Samples from given uniforms ``noise [n, D, noise_depth]`` (the TFLite path).

        ``noise[i, d]`` is element ``d``'s noise in sample ``i``, in the
        flattened row-major order of the event; ``seeded_noise(seed, n, D,
        depth)`` is the noise of ``sample(n, seed=seed)``.
        """
        noise, c, temperature, length = self._check_noise(noise, conditional, temperature, self.event_size)
        if noise.shape[0] == 0:
            return tf.zeros((0,) + self.event.event_shape(length), self.event.dtype)
        return self._finite_samples(
            self._run_sampler(noise, True, c, temperature, cache, length), temperature
        )

    # ----------------------------------------------------------------- export
    def _named(self, specs, values):
        return self.make_conditional({s.name: v for s, v in zip(specs, values)}) if specs else None

    def export_signatures(self):
        """``[(name, function, input_signature)]`` for `ar_keras.export.saved_model`.

        ``serving_default``: x (+ conditioning) -> ``{"log_prob": [B]}``;
        ``conditional_log_probs`` where exact; ``sample``: ``seeds`` int64
        ``[n]``, ``temperature`` float32 ``[]`` (+ ``length`` int32 ``[]`` for
        free-length events) (+ conditioning) -> ``{"samples": ...}``, sample
        ``j`` keyed ``(seeds[j], 0)`` = ``model.sample(1, seed=seeds[j])``.
        """
        c_specs = self.conditional_specs()
        x_spec = self.event.tensor_spec()

        def log_prob(x, *c):
            return {"log_prob": self.log_prob(x, self._named(c_specs, c))}

        def conditional_log_probs(x, *c):
            return {"conditional_log_probs": self.conditional_log_probs(x, self._named(c_specs, c))}

        free = self.event.free_length
        sample_specs = [
            tf.TensorSpec([None], tf.int64, name="seeds"),
            tf.TensorSpec([], tf.float32, name="temperature"),
        ]
        if free:
            sample_specs.append(tf.TensorSpec([], tf.int32, name="length"))

        def sample(seeds, temperature, *rest):
            length, c = (rest[0], rest[1:]) if free else (None, rest)
            if free:
                with tf.control_dependencies(
                    [
                        tf.debugging.assert_positive(
                            length, message="length must be a positive number of steps"
                        )
                    ]
                ):
                    length = tf.identity(length)
            checked = []
            for spec, value in zip(c_specs, c):
                with tf.control_dependencies(
                    [
                        tf.debugging.assert_equal(
                            tf.shape(value)[0],
                            tf.size(seeds),
                            message=f"{spec.name} must hold one "
                            f"{'label' if spec.name == 'conditional' else 'row'} per seed",
                        )
                    ]
                ):
                    checked.append(tf.identity(value))
            conditional = self._named(c_specs, checked)
            if conditional is not None:
                conditional = self.check_conditional(conditional, batch=None, length=length)
            keys = tf.stack([seeds, tf.zeros_like(seeds)], axis=1)  # [n] -> [n, 2]
            noise = noise_lib.KeyedNoise(keys, self.noise_depth)
            t = checks.check_temperature_tensor(temperature)
            with self.precision_scope():
                return {"samples": self._sample_graph(noise, tf.size(seeds), length, conditional, t, True)}

        sigs = [("serving_default", log_prob, [x_spec] + c_specs)]
        if self.exact_conditionals:
            sigs.append(("conditional_log_probs", conditional_log_probs, [x_spec] + c_specs))
        sigs.append(("sample", sample, sample_specs + c_specs))
        return sigs

    def tflite_signatures(self, batch_size=None, num_samples=None):
        """``{name: tf.function}`` for `ar_keras.export.tflite` (builtin ops only).

        ``log_prob``: x (+ conditioning) -> ``{"log_prob": [B]}``, **without**
        value checks (TFLite cannot run `tf.debugging` assertions);
        ``sample_from_noise``: ``noise`` float32 ``[n, D, depth]``,
        ``temperature`` (+ conditioning) -> ``{"samples": ...}``, equal to
        `sample_from_noise`.
        """
        lp_specs = self.conditional_specs(batch_size)
        s_specs = self.conditional_specs(num_samples)
        noise_spec = tf.TensorSpec([num_samples, self.event_size, self.noise_depth], tf.float32, name="noise")
        t_spec = tf.TensorSpec([], tf.float32, name="temperature")

        @tf.function(input_signature=[self.event.tensor_spec(batch_size)] + lp_specs, autograph=False)
        def log_prob(x, *c):
            x, c = self._check(x, self._named(lp_specs, c), validate_values=False)
            with self.precision_scope():
                return {"log_prob": tf.cast(self._log_prob(x, c), tf.float32)}

        @tf.function(input_signature=[noise_spec, t_spec] + s_specs, autograph=False)
        def sample_from_noise(noise, temperature, *c):
            length = tf.shape(noise)[1] if self.event.free_length else None
            with self.precision_scope():
                x = self._sample_graph(
                    noise_lib.GivenNoise(noise),
                    tf.shape(noise)[0],
                    length,
                    self._named(s_specs, c),
                    temperature,
                    True,
                )
            return {"samples": x}

        return {"log_prob": log_prob, "sample_from_noise": sample_from_noise}

    # ---------------------------------------------------------------- export
    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Keras' ``model.export``, writing `ar_keras.export`'s artifacts.

        ``format="tf_saved_model"`` writes the SavedModel of `ar_keras.export.saved_model`
        (``serving_default``, the log_prob, then ``conditional_log_probs``, ``sample``, ...
        built from the event spec); ``format="litert"`` (or ``"tflite"``) writes the TFLite file of
        `ar_keras.export.tflite` (``log_prob``, ``sample_from_noise``).  Keras' generic
        export would serve ``call`` alone, whose output (the loss terms) is no use to a
        client.

        Args:
            filepath: the SavedModel directory, or the ``.tflite`` file.
            format: ``"tf_saved_model"`` (default), ``"litert"`` or ``"tflite"``.
            verbose: print where the artifact went (default True).
            input_signature: not taken: the signatures come from the event and
                conditioning specs.
            **kwargs: ``batch_size`` / ``num_samples`` for TFLite (see `ar_keras.export.tflite`).

        Example:
            >>> import os, tempfile
            >>> import ar_keras as ark
            >>> model = ark.models.get("nade", preset="tiny")
            >>> path = os.path.join(tempfile.mkdtemp(), "nade")
            >>> model.export(path, verbose=False)
            >>> "serving_default" in __import__("tensorflow").saved_model.load(path).signatures
            True
        """
        from ar_keras import export as export_lib

        if input_signature is not None:
            raise ValueError(
                "ar_keras models export the signatures of their event and conditioning specs; "
                "call model.export(path) without input_signature."
            )
        if format == "tf_saved_model":
            if kwargs:
                raise TypeError(f"format='tf_saved_model' takes no other arguments, got {sorted(kwargs)}.")
            export_lib.saved_model(self, os.fspath(filepath))
        elif format in ("litert", "tflite"):
            export_lib.tflite(self, os.fspath(filepath), **kwargs)
        else:
            raise ValueError(
                f"ar_keras models export with format='tf_saved_model' or 'litert', got format={format!r}."
            )
        if verbose is None or verbose:
            print(f"Saved artifact at '{filepath}'.")

    # ---------------------------------------------------------- serialization
    def get_config(self):
        """The constructor's arguments as the model was built (defaults included).

        With Keras' own ``name``, ``trainable`` and ``dtype``; tuples become lists, so that
        the config is plain JSON and ``type(model).from_config(config)`` builds the same
        model.

        Example:
            >>> import ar_keras as ark
            >>> model = ark.models.get("nade", preset="tiny")
            >>> config = model.get_config()
            >>> config["hidden_dim"], config["image_shape"]
            (8, [2, 2, 1])
            >>> type(model).from_config(config).get_config() == config
            True
        """
        config = super().get_config()
        for key, value in self._constructor_arguments.items():
            config.setdefault(key, _plain(value))
        return config


def _plain(value):
    """``value`` with tuples and NumPy arrays as lists and NumPy scalars as Python ones."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
