"""Export: SavedModel for TF Serving, and TFLite flatbuffers for small models.

Both formats run without ar_keras: a process that loads them needs only
TensorFlow (or the TFLite runtime).

**SavedModel** (`saved_model`), written with `keras.export.ExportArchive`,
three signatures (``B`` = any batch size, ``*S`` = ``model.image_shape``)::

    serving_default        x int32 [B, *S] (+ conditional int32 [B])
                           -> {"log_prob": float32 [B]}
    conditional_log_probs  x int32 [B, *S] (+ conditional int32 [B])
                           -> {"conditional_log_probs": float32 [B, *S]}
    sample                 seeds int64 [n], temperature float32 []
                           (+ conditional int32 [n])
                           -> {"samples": int32 [n, *S]}

The graph keeps the model's value checks: an ``x`` outside ``[0, K)``, a label
outside ``[0, num_classes)`` or a temperature that is not a finite number > 0
raises ``InvalidArgumentError`` with the message instead of answering.
Sample ``j`` draws its noise from the stateless key ``(seeds[j], 0)``, the key
``model.sample(n, seed=s)`` gives its first sample, so::

    sample(seeds=[s], temperature=1.0)["samples"][0] == model.sample(1, seed=s)[0]

**TFLite** (`tflite`): builtin ops only (no ``SELECT_TF_OPS``, no Flex
delegate), two signatures::

    log_prob           x int32 [B, *S] (+ conditional int32 [B])
                       -> {"log_prob": float32 [B]}
    sample_from_noise  noise float32 [n, D, noise_depth], temperature float32 []
                       (+ conditional int32 [n])
                       -> {"samples": int32 [n, *S]}

TFLite cannot run stateless random ops, so the caller draws the uniforms in
``(0, 1)`` (``noise[i, d]`` is element ``d``'s noise in sample ``i``, in the
flattened row-major order of ``image_shape``; ``D = model.event_size``,
``noise_depth = model.head.noise_depth``), and the result equals
``model.sample_from_noise(noise, conditional, temperature)`` exactly.  TFLite
cannot run the ``tf.debugging`` assertions either, so these signatures do
**not** validate values: a level outside ``[0, K)`` or a label outside
``[0, num_classes)`` gives a meaningless number, not an error (dtypes and
shapes are still checked by the interpreter); check inputs on the caller's
side.  The batch axes are dynamic by default (a signature runner resizes them
per call); ``batch_size=`` / ``num_samples=`` fix them for runtimes or
delegates that want static shapes.  The sampler is one ``WHILE`` loop over the
``D`` elements (``IF`` inside for the cached step).

Example:
    >>> import ar_keras as ark, ar_keras.export
    >>> model = ark.models.get("gated_pixelcnn", preset="tiny")
    >>> ark.export.saved_model(model, "saved_models/pcnn/1")
    'saved_models/pcnn/1'
    >>> ark.export.tflite(model, "saved_models/pcnn.tflite")
    'saved_models/pcnn.tflite'

**Sequence models** (`ar_keras.models.SequenceModel`, e.g. WaveNet; data int32
``[B, T]``, any T) get the same signatures with a dynamic time axis: ``x``
is ``[B, T]``; the SavedModel ``sample`` signature takes ``length`` (int32
``[]``) as well; the TFLite ``sample_from_noise`` takes noise
``[n, T, noise_depth]``.  Class labels are the input ``conditional``
``[B]``; a local conditioning sequence is the input ``features``
``[B, T / hop, E]``.

**Streaming step** (`tflite_step`, models with ``stream_step``: WaveNet): a
TFLite file whose ``step`` signature is one generation step with the state
in and out, for a device that streams samples (Fast WaveNet)::

    step  x_prev int32 [n], index int32 [], noise float32 [n, noise_depth],
          temperature float32 [], state_00 .. state_{L-1} float32 [n, q_l, R]
          (+ conditional int32 [n]) (+ local float32 [n, E'])
          -> {"sample": int32 [n], "logits": float32 [n, K],
              "state_00" .. "state_{L-1}": the updated state}

Start from zero states and any ``x_prev`` at ``index = 0``, feed ``sample``
back as ``x_prev`` and the states back as states; the samples equal
``model.sample_from_noise(noise)`` for the same noise.  Locally conditioned
models also get ``upsample``: ``features float32 [n, T / hop, E] ->
{"local": [n, T, E']}``, whose row t is step t's ``local``.
"""

import os

import keras
import tensorflow as tf

from ar_keras import checks, sampling
from ar_keras.models.base import AutoregressiveModel
from ar_keras.models.continuous import DensityModel
from ar_keras.models.sequence import SequenceModel

__all__ = ["saved_model", "tflite", "tflite_step", "TFLITE_MAX_PARAMS"]

#: `tflite` refuses models with more parameters than this.  A TFLite file
#: holds every weight in one flatbuffer (2 GB hard limit, mmapped on device);
#: beyond ~50M float32 parameters (200 MB) the file is impractical for mobile
#: or embedded use, and the SavedModel is the export to use.
TFLITE_MAX_PARAMS = 50_000_000


def _check_model(model):
    if not isinstance(model, AutoregressiveModel):
        raise TypeError(
            "ar_keras.export expects an ar_keras AutoregressiveModel (e.g. "
            f"ark.models.get('gated_pixelcnn')), got {type(model).__name__}. "
            "For other Keras models use keras.export.ExportArchive directly."
        )
    if not model.built:
        raise ValueError(f"{model.name} is not built; build or call it once before exporting.")


def _x_spec(model, batch=None):
    return tf.TensorSpec([batch, *model.image_shape], tf.int32, name="x")


def _c_spec(batch=None):
    return tf.TensorSpec([batch], tf.int32, name="conditional")


def _sampler(model):
    """The exact sampling path `model.sample(cache=True)` takes."""
    return sampling.sample_cached if model.supports_cache else sampling.sample_full


def _backing_variable(variable):
    """The `tf.Variable` behind a Keras 3 variable (TensorFlow backend)."""
    value = getattr(variable, "value", variable)
    return value if isinstance(value, tf.Variable) else variable


def _check_temperature(temperature):
    t = tf.convert_to_tensor(temperature, tf.float32)
    ok = tf.logical_and(tf.math.is_finite(t), t > 0.0)
    with tf.control_dependencies([
        tf.debugging.Assert(ok, ["temperature must be a finite number > 0, got", t]),
    ]):
        return tf.identity(t)


def _sample_from_noise(model, noise, conditional, temperature):
    """``noise [n, D, depth]`` -> int32 ``[n, *image_shape]`` (graph mode, tensor temperature).

    The graph branch of `AutoregressiveModel.sample_from_noise`, which takes
    a Python temperature; here it is a tensor so that it can be an input.
    """
    x = _sampler(model)(model, noise, conditional, temperature)        # [n, D]
    return tf.reshape(x, tf.concat([tf.shape(noise)[:1], model.image_shape], 0))  # [n, D] -> [n, *S]


# --------------------------------------------------------------- SavedModel
def saved_model(model, export_dir):
    """Writes ``model`` as a TF Serving SavedModel (signatures: module docstring).

    Args:
        model: an `AutoregressiveModel`.
        export_dir: the version directory TF Serving reads, ``<base>/<version>``
            (e.g. ``saved_models/pcnn/1``); parents are created.

    Returns:
        ``export_dir``.

    Raises:
        TypeError: ``model`` is not an `AutoregressiveModel`.
    """
    if isinstance(model, DensityModel):                 # maf, iaf, rnade, iaf_vae
        return _density_saved_model(model, os.fspath(export_dir))
    _check_model(model)
    export_dir = os.fspath(export_dir)
    if isinstance(model, SequenceModel):
        return _sequence_saved_model(model, export_dir)
    conditional = model.num_classes is not None
    x_spec = _x_spec(model)
    seeds_spec = tf.TensorSpec([None], tf.int64, name="seeds")
    t_spec = tf.TensorSpec([], tf.float32, name="temperature")

    def sample(seeds, temperature, labels=None):
        # Sample j uses the stateless key (seeds[j], 0): model.sample(1, seed=s)'s key.
        keys = tf.stack([seeds, tf.zeros_like(seeds)], axis=1)          # [n] -> [n, 2]
        if labels is not None:
            labels = checks.check_labels(labels, model.num_classes)
            with tf.control_dependencies([tf.debugging.assert_equal(
                    tf.size(labels), tf.size(seeds),
                    message="conditional must hold one label per seed")]):
                labels = tf.identity(labels)
        noise = sampling.uniform_noise(keys, model.event_size, model.head.noise_depth)
        return {"samples": _sample_from_noise(model, noise, labels,
                                              _check_temperature(temperature))}

    if conditional:
        c_spec = _c_spec()

        def log_prob(x, conditional):
            return {"log_prob": model.log_prob(x, conditional)}

        def conditional_log_probs(x, conditional):
            return {"conditional_log_probs": model.conditional_log_probs(x, conditional)}

        def sample_fn(seeds, temperature, conditional):
            return sample(seeds, temperature, conditional)

        specs = [x_spec, c_spec]
        sample_specs = [seeds_spec, t_spec, c_spec]
    else:
        def log_prob(x):
            return {"log_prob": model.log_prob(x)}

        def conditional_log_probs(x):
            return {"conditional_log_probs": model.conditional_log_probs(x)}

        def sample_fn(seeds, temperature):
            return sample(seeds, temperature)

        specs = [x_spec]
        sample_specs = [seeds_spec, t_spec]

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", log_prob, input_signature=specs)
    archive.add_endpoint("conditional_log_probs", conditional_log_probs, input_signature=specs)
    archive.add_endpoint("sample", sample_fn, input_signature=sample_specs)
    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    archive.write_out(export_dir, verbose=False)
    return export_dir


def _density_saved_model(model, export_dir):
    """`saved_model` for continuous and latent-variable models (`DensityModel`).

    The signatures are the model's own (`DensityModel.export_signatures`);
    for the continuous models (maf, iaf, rnade)::

        serving_default        x float32 [B, D] (+ conditional int32 [B]) -> {"log_prob": [B]}
        sample                 seeds int64 [n], temperature float32 [] (+ conditional int32 [n])
                               -> {"samples": float32 [n, D]}
        conditional_log_probs  (models with exact conditionals) -> [B, D]

    and for iaf_vae ``serving_default`` (importance-weighted bound), ``elbo``
    and ``sample`` (int32 images).  NaN or infinite ``x`` raise
    ``InvalidArgumentError`` in the graph.
    """
    if not model.built:
        raise ValueError(f"{model.name} is not built; build or call it once before exporting.")
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, function, signature in model.export_signatures():
        archive.add_endpoint(name, function, input_signature=signature)
    os.makedirs(os.path.dirname(os.path.abspath(export_dir)), exist_ok=True)
    archive.write_out(export_dir, verbose=False)
    return export_dir


# ------------------------------------------------------------------- TFLite
def tflite(model, path, batch_size=None, num_samples=None):
    """Writes ``model`` as a TFLite flatbuffer (signatures: module docstring).

    Args:
        model: an `AutoregressiveModel` with at most `TFLITE_MAX_PARAMS`
            parameters.
        path: the ``.tflite`` file to write; parents are created.
        batch_size: None (default: dynamic) or the fixed batch of the
            ``log_prob`` signature.
        num_samples: None (default: dynamic) or the fixed batch of the
            ``sample_from_noise`` signature.

    Returns:
        ``path``.

    Raises:
        TypeError: ``model`` is not an `AutoregressiveModel`.
        ValueError: the model is too large for TFLite, or a batch size is not
            a positive integer.
    """
    _check_model(model)
    batch_size = None if batch_size is None else checks.check_positive_int(batch_size, "batch_size")
    num_samples = None if num_samples is None else checks.check_positive_int(num_samples, "num_samples")
    params = model.count_params()
    if params > TFLITE_MAX_PARAMS:
        raise ValueError(
            f"{model.name} has {params:,} parameters, more than the TFLite export's limit of "
            f"{TFLITE_MAX_PARAMS:,}: a flatbuffer holds every weight in one file (2 GB at "
            "most) and is meant for small on-device models. Export a SavedModel instead "
            "(ar_keras.export.saved_model)."
        )
    path = os.fspath(path)
    if isinstance(model, SequenceModel):
        return _sequence_tflite(model, path, batch_size, num_samples)
    conditional = model.num_classes is not None
    noise_spec = tf.TensorSpec([num_samples, model.event_size, model.head.noise_depth],
                               tf.float32, name="noise")
    t_spec = tf.TensorSpec([], tf.float32, name="temperature")

    def _log_prob(x, c):
        # No value checks: TFLite cannot run tf.debugging assertions.
        x, c = model._check(x, c, validate_values=False)
        lp = model._conditional_log_probs(x, c)                             # [B, *S]
        return {"log_prob": tf.reduce_sum(tf.reshape(lp, [tf.shape(lp)[0], -1]), axis=1)}

    if conditional:
        @tf.function(input_signature=[_x_spec(model, batch_size), _c_spec(batch_size)])
        def log_prob(x, conditional):
            return _log_prob(x, conditional)

        @tf.function(input_signature=[noise_spec, t_spec, _c_spec(num_samples)])
        def sample_from_noise(noise, temperature, conditional):
            return {"samples": _sample_from_noise(model, noise, conditional, temperature)}
    else:
        @tf.function(input_signature=[_x_spec(model, batch_size)])
        def log_prob(x):
            return _log_prob(x, None)

        @tf.function(input_signature=[noise_spec, t_spec])
        def sample_from_noise(noise, temperature):
            return {"samples": _sample_from_noise(model, noise, None, temperature)}

    # The converter lowers the functions through a SavedModel of `holder` and
    # names each signature after its function.  `holder` must track the
    # backing tf.Variables: tracking the Keras 3 Variable wrappers instead
    # converts without error but the flatbuffer reads uninitialised weights
    # (garbage log-probs, observed with TF 2.21 / Keras 3.15).
    holder = tf.Module()
    holder.model_variables = [_backing_variable(v) for v in model.variables]
    funcs = [log_prob.get_concrete_function(), sample_from_noise.get_concrete_function()]
    converter = tf.lite.TFLiteConverter.from_concrete_functions(funcs, holder)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    flatbuffer = converter.convert()
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return path


# ------------------------------------------------------------ sequence models
def _sequence_conditional_specs(model, batch=None):
    """The named conditioning inputs of a sequence model: labels and/or local features."""
    specs = []
    if model.num_classes is not None:
        specs.append(tf.TensorSpec([batch], tf.int32, name="conditional"))
    local_channels = getattr(model, "local_channels", None)
    if local_channels:
        specs.append(tf.TensorSpec([batch, None, local_channels], tf.float32, name="features"))
    return specs


def _sequence_conditional(model, specs, values):
    """Named conditioning inputs -> the model's ``conditional`` (None, a tensor or a dict)."""
    named = {spec.name: value for spec, value in zip(specs, values)}
    if not named:
        return None
    return model._make_conditional(named.get("conditional"), named.get("features"))


def _sequence_saved_model(model, export_dir):
    """`saved_model` for a `SequenceModel`: a dynamic time axis, ``length`` in ``sample``."""
    c_specs = _sequence_conditional_specs(model)
    x_spec = tf.TensorSpec([None, None], tf.int32, name="x")
    sample_specs = [tf.TensorSpec([None], tf.int64, name="seeds"),
                    tf.TensorSpec([], tf.float32, name="temperature"),
                    tf.TensorSpec([], tf.int32, name="length")]
    depth = model.head.noise_depth

    def log_prob(x, *c):
        return {"log_prob": model.log_prob(x, _sequence_conditional(model, c_specs, c))}

    def conditional_log_probs(x, *c):
        return {"conditional_log_probs": model.conditional_log_probs(
            x, _sequence_conditional(model, c_specs, c))}

    def sample(seeds, temperature, length, *c):
        with tf.control_dependencies([tf.debugging.assert_positive(
                length, message="length must be a positive number of samples")]):
            length = tf.identity(length)
        checked = []
        for spec, value in zip(c_specs, c):
            # One conditioning row per seed.
            with tf.control_dependencies([tf.debugging.assert_equal(
                    tf.shape(value)[0], tf.size(seeds),
                    message=f"{spec.name} must hold one row per seed")]):
                checked.append(tf.identity(value))
        conditional = _sequence_conditional(model, c_specs, checked)
        if conditional is not None:
            conditional = model._check_conditional(conditional, batch=None, length=length)

        # Sample j uses the stateless key (seeds[j], 0): model.sample(1, seed=s)'s noise.
        def one(seed):
            return sampling.seeded_noise(seed, 1, length, depth)[0]                # [T, depth]

        noise = tf.map_fn(one, seeds, fn_output_signature=tf.TensorSpec([None, depth], tf.float32))
        x = _sampler(model)(model, noise, conditional, _check_temperature(temperature))  # [n, T]
        return {"samples": x}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", log_prob, input_signature=[x_spec] + c_specs)
    archive.add_endpoint("conditional_log_probs", conditional_log_probs,
                         input_signature=[x_spec] + c_specs)
    archive.add_endpoint("sample", sample, input_signature=sample_specs + c_specs)
    os.makedirs(os.path.dirname(os.path.abspath(export_dir)), exist_ok=True)
    archive.write_out(export_dir, verbose=False)
    return export_dir


def _convert_to_tflite(model, functions, path):
    """Concrete functions (named by their signature keys) -> a builtins-only flatbuffer at ``path``."""
    import tempfile

    # As in `tflite`: the holder tracks the backing tf.Variables, not the Keras 3 wrappers.
    holder = tf.Module()
    holder.model_variables = [_backing_variable(v) for v in model.variables]
    holder.functions = dict(functions)
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(holder, tmp, signatures=dict(functions))
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=list(functions))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return path


def _sequence_tflite(model, path, batch_size, num_samples):
    """`tflite` for a `SequenceModel`: ``log_prob`` and ``sample_from_noise`` with a dynamic T."""
    lp_c = _sequence_conditional_specs(model, batch_size)
    sample_c = _sequence_conditional_specs(model, num_samples)
    x_spec = tf.TensorSpec([batch_size, None], tf.int32, name="x")
    noise_spec = tf.TensorSpec([num_samples, None, model.head.noise_depth], tf.float32, name="noise")
    t_spec = tf.TensorSpec([], tf.float32, name="temperature")

    @tf.function(input_signature=[x_spec] + lp_c)
    def log_prob(x, *c):
        # No value checks: TFLite cannot run tf.debugging assertions.
        x, c = model._check(x, _sequence_conditional(model, lp_c, c), validate_values=False)
        return {"log_prob": tf.reduce_sum(model._conditional_log_probs(x, c), axis=1)}  # [B, T] -> [B]

    @tf.function(input_signature=[noise_spec, t_spec] + sample_c)
    def sample_from_noise(noise, temperature, *c):
        conditional = _sequence_conditional(model, sample_c, c)
        return {"samples": _sampler(model)(model, noise, conditional, temperature)}   # [n, T]

    return _convert_to_tflite(model, {"log_prob": log_prob.get_concrete_function(),
                                      "sample_from_noise": sample_from_noise.get_concrete_function()},
                              path)


def tflite_step(model, path, num_samples=1):
    """Writes the model's single generation step as a TFLite file (signature: module docstring).

    State in, state out: a device keeps the per-layer queues between calls
    and streams one sample per call, O(layers) work each (Paine et al. 2016).

    Args:
        model: a model with ``stream_step`` / ``state_shapes`` (`WaveNet`).
        path: the ``.tflite`` file to write; parents are created.
        num_samples: n, the fixed number of streams (default 1), or None for
            a dynamic batch.

    Returns:
        ``path``.

    Raises:
        TypeError: the model has no streaming step.
        ValueError: the model is too large for TFLite, or a bad ``num_samples``.
    """
    _check_model(model)
    if not hasattr(model, "stream_step"):
        raise TypeError(f"{type(model).__name__} has no streaming step (stream_step); "
                        "tflite_step exports models such as WaveNet.")
    n = None if num_samples is None else checks.check_positive_int(num_samples, "num_samples")
    params = model.count_params()
    if params > TFLITE_MAX_PARAMS:
        raise ValueError(f"{model.name} has {params:,} parameters, more than the TFLite export's "
                         f"limit of {TFLITE_MAX_PARAMS:,}.")
    state_specs = [tf.TensorSpec([n, q, r], tf.float32, name=f"state_{i:02d}")
                   for i, (q, r) in enumerate(model.state_shapes)]
    extra = []
    if model.num_classes is not None:
        extra.append(tf.TensorSpec([n], tf.int32, name="conditional"))
    local_channels = getattr(model, "local_channels", None)
    if local_channels:
        local_width = model.upsample.output_channels(local_channels)
        extra.append(tf.TensorSpec([n, local_width], tf.float32, name="local"))
    base = [tf.TensorSpec([n], tf.int32, name="x_prev"), tf.TensorSpec([], tf.int32, name="index"),
            tf.TensorSpec([n, model.head.noise_depth], tf.float32, name="noise"),
            tf.TensorSpec([], tf.float32, name="temperature")]

    @tf.function(input_signature=base + extra + state_specs)
    def step(x_prev, index, noise, temperature, *rest):
        named = {spec.name: value for spec, value in zip(extra, rest[:len(extra)])}
        state = list(rest[len(extra):])
        logits, state = model.stream_step(x_prev, state, index, named.get("conditional"),
                                          named.get("local"))              # [n, K]
        out = {"sample": model.head.sample(logits, noise, temperature), "logits": logits}
        out.update({spec.name: s for spec, s in zip(state_specs, state)})
        return out

    functions = {"step": step.get_concrete_function()}
    if local_channels:
        @tf.function(input_signature=[tf.TensorSpec([n, None, local_channels], tf.float32,
                                                    name="features")])
        def upsample(features):
            return {"local": model.upsample_features(features)}                # [n, T, E']

        functions["upsample"] = upsample.get_concrete_function()
    return _convert_to_tflite(model, functions, path)
