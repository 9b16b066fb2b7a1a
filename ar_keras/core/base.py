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

import math
import os

import keras
import tensorflow as tf

from ar_keras import distribute
from ar_keras.core import conditioning, data_arguments, presets, vocabulary
from ar_keras.core.config import RecordedConfig
from ar_keras.core.precision import PrecisionMethods
from ar_keras.core.sampling_methods import SamplingMethods
from ar_keras.export import signatures

__all__ = ["BaseModel", "unpack_inputs"]


def unpack_inputs(inputs):
    """Model inputs -> ``(x, conditional)``: x, ``(x, c)`` or ``{"x": x, "conditional": c}``."""
    if isinstance(inputs, dict):
        return inputs["x"], inputs.get("conditional")
    if isinstance(inputs, (tuple, list)):
        return inputs[0], (inputs[1] if len(inputs) > 1 else None)
    return inputs, None


class _FunctionCache:
    """Holds compiled functions out of sight of Keras/TF object tracking.

    A dict attribute would be wrapped and tracked, and the `tf.function`s in
    it would be written into every SavedModel (or break the export).
    """

    def __init__(self):
        self.functions = {}


class BaseModel(RecordedConfig, PrecisionMethods, SamplingMethods, keras.Model):
    """Base class of every ar_keras model.

    Args:
        event: an `ar_keras.core.events.EventSpec`.
        num_classes: number of class labels to condition on, or None.

    Mixed precision and ``float32_only``: `ar_keras.core.precision`; the config: the
    constructor's arguments (`ar_keras.core.config`).
    """

    #: name -> constructor arguments, read from the TOML file beside the model's module
    #: (`ar_keras.core.presets`); every model has tiny, paper and one for the embedded data.
    PRESETS = presets.PresetTable()
    #: Whether `fit` compiles under XLA (``compile(jit_compile=True)``): ``python -m train``
    #: turns XLA on by default where True; a model that cannot sets False and says why in
    #: `jit_training_note` (checked for every registered model in tests/test_throughput.py).
    supports_jit_training = True
    jit_training_note = ""
    #: Whether `tflite_signatures` can be converted (builtin TFLite ops only).
    supports_tflite = True
    #: Sequence length `_finish_init` builds the weights with (free-length events).
    example_length = 2

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
        """The constructor arguments of `overrides_from_data` for a model of one of ``kinds``
        (`ar_keras.core.data_arguments`)."""
        return data_arguments.data_arguments(cls, info, kinds)

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

    def _within_max_length(self, length, validate_values=True):
        """``length`` (T, an int or a scalar tensor), refused above `max_length`: a ValueError
        for an int, an in-graph assertion (`tf.errors.InvalidArgumentError`) for a tensor."""
        if self.max_length is None or length is None:
            return length
        name = getattr(type(self), "registry_name", type(self).__name__)
        if not tf.is_tensor(length):
            if length > self.max_length:
                raise ValueError(
                    f"{name} models sequences of at most max_length = {self.max_length} steps, got "
                    f"T = {length}; build it with a larger max_length=."
                )
            return length
        if not validate_values:
            return length
        message = f"{name}: sequences must be at most max_length = {self.max_length} steps"
        with tf.control_dependencies(
            [tf.debugging.assert_less_equal(length, self.max_length, message=message)]
        ):
            return tf.identity(length)

    def _check(self, x, conditional, validate_values=True):
        x = self.event.check(x, validate_values)
        length = None
        if self.event.free_length:
            length = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
            checked = self._within_max_length(length, validate_values)
            if checked is not length:  # a tensor T: x waits for the assertion
                with tf.control_dependencies([checked]):
                    x = tf.identity(x)
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

    # ----------------------------------------------------------------- export
    def _named(self, specs, values):
        return signatures.named_conditional(self, specs, values)

    def export_signatures(self):
        """``[(name, function, input_signature)]`` of the SavedModel (`ar_keras.export.signatures`).

        A model with more to serve extends the list (``super().export_signatures() + [...]``).
        """
        return signatures.saved_model_signatures(self)

    def tflite_signatures(self, batch_size=None, num_samples=None):
        """``{name: tf.function}`` of the TFLite file (`ar_keras.export.signatures`)."""
        return signatures.tflite_signatures(self, batch_size, num_samples)

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
