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
"""

import os

import keras
import tensorflow as tf

from ar_keras import checks, sampling
from ar_keras.models.base import AutoregressiveModel

__all__ = ["saved_model", "tflite", "TFLITE_MAX_PARAMS"]

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
    _check_model(model)
    export_dir = os.fspath(export_dir)
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
