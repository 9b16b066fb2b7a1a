"""Export: SavedModel for TF Serving, and TFLite flatbuffers for small models.

Both formats run without ar_keras: a process that loads them needs only
TensorFlow (or the TFLite runtime).  Each model owns its signatures
(`ar_keras.export.signatures`, built
from its event spec, and ``stream_signatures`` where it streams); this module
only writes them.  Below, the signatures of the integer image models; sequence,
continuous and latent-variable models follow after.

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
    >>> import os, tempfile
    >>> import ar_keras as ark, ar_keras.export
    >>> out = tempfile.mkdtemp()                                   # e.g. saved_models/
    >>> model = ark.models.get("nade", preset="tiny")              # 2x2x1 images
    >>> ark.export.saved_model(model, os.path.join(out, "nade", "1"))
    '.../nade/1'
    >>> ark.export.serving(model, out, name="nade2")               # + warm-up records
    '.../nade2/1'
    >>> ark.export.tflite(model, os.path.join(out, "nade.tflite"))
    '.../nade.tflite'

**Continuous models** (maf, iaf, rnade; ``x`` float32 ``[B, D]``) get the same
signatures, ``samples`` float32; NaN or infinite ``x`` raise in the SavedModel
graph.  **Latent-variable models** (iaf_vae): ``serving_default`` is the
importance-weighted bound, plus ``elbo``.

**Sequence models** (event kind ``"sequence"``, e.g. WaveNet; data int32
``[B, T]``, any T) get the same signatures with a dynamic time axis: ``x``
is ``[B, T]``; the SavedModel ``sample`` signature takes ``length`` (int32
``[]``) as well; the TFLite ``sample_from_noise`` takes noise
``[n, T, noise_depth]``.  Class labels are the input ``conditional``
``[B]``; a local conditioning sequence is the input ``features``
``[B, T / hop, E]``.

**Streaming step** (`tflite_step`, models with ``stream_signatures``: WaveNet): a
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
import shutil
import tempfile

import keras
import tensorflow as tf

from ar_keras import checks

__all__ = ["saved_model", "serving", "next_version", "tflite", "tflite_step", "TFLITE_MAX_PARAMS"]

#: `tflite` refuses models with more parameters than this.  A TFLite file
#: holds every weight in one flatbuffer (2 GB hard limit, mmapped on device);
#: beyond ~50M float32 parameters (200 MB) the file is impractical for mobile
#: or embedded use, and the SavedModel is the export to use.
TFLITE_MAX_PARAMS = 50_000_000


def _check_model(model):
    from ar_keras.core import BaseModel  # the models' base reaches this package for its signatures

    if not isinstance(model, BaseModel):
        raise TypeError(
            "ar_keras.export expects an ar_keras model (e.g. ark.models.get('gated_pixelcnn')), "
            f"got {type(model).__name__}. For other Keras models use keras.export.ExportArchive "
            "directly."
        )
    if not model.built:
        raise ValueError(f"{model.name} is not built; build or call it once before exporting.")


def _check_size(model):
    params = model.count_params()
    if params > TFLITE_MAX_PARAMS:
        raise ValueError(
            f"{model.name} has {params:,} parameters, more than the TFLite export's limit of "
            f"{TFLITE_MAX_PARAMS:,}: a flatbuffer holds every weight in one file (2 GB at "
            "most) and is meant for small on-device models. Export a SavedModel instead "
            "(ar_keras.export.saved_model)."
        )


def _backing_variable(variable):
    """The `tf.Variable` behind a Keras 3 variable (TensorFlow backend)."""
    value = getattr(variable, "value", variable)
    return value if isinstance(value, tf.Variable) else variable


# --------------------------------------------------------------- SavedModel
def saved_model(model, export_dir):
    """Writes ``model`` as a TF Serving SavedModel with the model's `export_signatures`.

    Args:
        model: an ar_keras model.
        export_dir: the version directory TF Serving reads, ``<base>/<version>``
            (e.g. ``saved_models/pcnn/1``); parents are created.

    Returns:
        ``export_dir``.

    Raises:
        TypeError: ``model`` is not an ar_keras model.
    """
    _check_model(model)
    export_dir = os.fspath(export_dir)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, function, signature in model.export_signatures():
        archive.add_endpoint(name, function, input_signature=signature)
    os.makedirs(os.path.dirname(os.path.abspath(export_dir)), exist_ok=True)
    archive.write_out(export_dir, verbose=False)
    return export_dir


def next_version(model_dir):
    """1 + the largest integer version directory in ``model_dir`` (1 when there is none)."""
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        return 1
    versions = [
        int(e) for e in os.listdir(model_dir) if e.isdigit() and os.path.isdir(os.path.join(model_dir, e))
    ]
    return max(versions, default=0) + 1


def serving(model, base_dir, name=None, version=None, warmup=True, warmup_batch=2, warmup_signatures=None):
    """Writes ``model`` as ``<base_dir>/<name>/<version>/``, the layout TF Serving polls.

    TF Serving watches ``<base_dir>/<name>`` (its ``--model_base_path``) and
    loads the largest integer sub-directory.  The version is written to a
    hidden temporary directory beside it (a name TF Serving ignores) and
    renamed into place at the end, so the server never sees half a SavedModel.
    With ``warmup`` (default), ``<version>/assets.extra/tf_serving_warmup_requests``
    holds one ``PredictRequest`` per signature (`ar_keras.serving.write_warmup`),
    which TF Serving replays at load time.

    Args:
        model: an ar_keras model.
        base_dir: the models' root (e.g. ``saved_models``).
        name: the model's directory and served name (default: its registry name).
        version: a positive integer; None (default) picks `next_version`.
        warmup: write the warm-up records.
        warmup_batch: examples per warm-up request.
        warmup_signatures: None (every signature) or the signatures to warm up.

    Returns:
        The version directory.

    Raises:
        TypeError: ``model`` is not an ar_keras model.
        ValueError: a bad ``version``/``name``, or the version already exists.

    Example:
        >>> ark.export.serving(model, "saved_models", name="pcnn")   # doctest: +SKIP
        'saved_models/pcnn/1'
    """
    _check_model(model)
    name = name or getattr(model, "registry_name", None) or model.name
    if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
        raise ValueError(f"name must be a plain directory name, got {name!r}.")
    model_dir = os.path.join(os.fspath(base_dir), name)
    version = next_version(model_dir) if version is None else checks.check_positive_int(version, "version")
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final):
        raise ValueError(
            f"{final} exists: TF Serving versions are immutable; pick another version "
            "(or leave version=None for the next one)."
        )
    os.makedirs(model_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_dir)
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; servers read it
    try:
        saved_model(model, tmp)
        if warmup:
            from ar_keras import serving as serving_lib  # noqa: PLC0415 (tensorflow_serving)

            serving_lib.write_warmup(model, tmp, name, warmup_batch, warmup_signatures)
        os.rename(tmp, final)  # atomic on one file system
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# ------------------------------------------------------------------- TFLite
def _convert(model, functions, path):
    """``{signature key: tf.function}`` -> a builtins-only flatbuffer at ``path``.

    The converter lowers the functions through a SavedModel of ``holder``,
    which must track the backing tf.Variables: tracking the Keras 3 Variable
    wrappers converts without error but the flatbuffer reads uninitialised
    weights (garbage log-probs, observed with TF 2.21 / Keras 3.15).
    """
    holder = tf.Module()
    holder.model_variables = [_backing_variable(v) for v in model.variables]
    concrete = {name: fn.get_concrete_function() for name, fn in functions.items()}
    holder.functions = concrete
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(holder, tmp, signatures=concrete)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=list(concrete))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return os.fspath(path)


def tflite(model, path, batch_size=None, num_samples=None):
    """Writes ``model``'s `tflite_signatures` as a TFLite flatbuffer (module docstring).

    Args:
        model: an ar_keras model with at most `TFLITE_MAX_PARAMS` parameters.
        path: the ``.tflite`` file to write; parents are created.
        batch_size: None (default: dynamic) or the fixed batch of ``log_prob``.
        num_samples: None (default: dynamic) or the fixed batch of
            ``sample_from_noise``.

    Returns:
        ``path``.

    Raises:
        TypeError: ``model`` is not an ar_keras model, or has no TFLite export
            (``supports_tflite`` is False).
        ValueError: the model is too large for TFLite, or a batch size is not
            a positive integer.
    """
    _check_model(model)
    batch_size = None if batch_size is None else checks.check_positive_int(batch_size, "batch_size")
    num_samples = None if num_samples is None else checks.check_positive_int(num_samples, "num_samples")
    _check_size(model)
    signatures = model.tflite_signatures(batch_size, num_samples)  # a model may refuse with its reason
    if not model.supports_tflite:
        raise TypeError(
            f"{type(model).__name__} has no TFLite export (supports_tflite is False: its graph needs "
            "ops that TFLite's builtins lack). Export a SavedModel (ar_keras.export.saved_model)."
        )
    return _convert(model, signatures, path)


def tflite_step(model, path, num_samples=1):
    """Writes the model's single generation step (`stream_signatures`) as a TFLite file.

    State in, state out: a device keeps the state between calls and streams
    one sample per call (Fast WaveNet, Paine et al. 2016).

    Args:
        model: a model with ``stream_signatures`` (`WaveNet`).
        path: the ``.tflite`` file to write; parents are created.
        num_samples: n, the fixed number of streams (default 1), or None for
            a dynamic batch.

    Raises:
        TypeError: the model has no streaming step.
        ValueError: the model is too large for TFLite, or a bad ``num_samples``.
    """
    _check_model(model)
    if not hasattr(model, "stream_signatures"):
        raise TypeError(
            f"{type(model).__name__} has no streaming step (stream_signatures); "
            "tflite_step exports models such as WaveNet."
        )
    n = None if num_samples is None else checks.check_positive_int(num_samples, "num_samples")
    _check_size(model)
    return _convert(model, model.stream_signatures(n), path)
