"""TF Serving: warm-up records and the requests of the REST and gRPC clients.

`ar_keras.export.serving` writes a model in the layout TensorFlow Serving
polls, one integer directory per version, with warm-up requests::

    saved_models/<name>/<version>/saved_model.pb
                                  variables/
                                  assets.extra/tf_serving_warmup_requests

The warm-up file is a TFRecord of ``tensorflow.serving.PredictionLog``
protos, one ``PredictRequest`` per signature of the SavedModel
(``serving_default``, ``conditional_log_probs``, ``sample``, ``elbo``, ...),
built by `example_inputs` from the signatures' input specs: ``batch`` examples
of valid data (zeros: level 0, or the middle of a bounded support), class 0 for
labels, ``seeds = [0, ..., n-1]``, ``temperature = 1.0`` and the model's
smallest valid ``length`` for sequences.  TF Serving replays every record when
it loads a version, before it serves it, so the first real requests do not pay
for graph tracing.  A ``sample`` record runs the whole sampler (``D`` steps of
the network): for large image models that is the warm-up's main cost.

The request builders are pure functions, checked against the loaded
SavedModel's signatures in ``tests/test_serving.py``:

* REST (port 8501), ``POST /v1/models/<name>[/versions/<v>]:predict`` with a
  JSON body, either the **row** format, one object per example (every input
  must then have the batch axis; ``sample``'s scalar ``temperature`` cannot be
  written that way)::

      {"signature_name": "serving_default", "instances": [{"x": [[[0]], ...]}, ...]}

  or the **columnar** format, whole tensors (any signature)::

      {"signature_name": "sample", "inputs": {"seeds": [0, 1], "temperature": 1.0}}

  The answer is ``{"predictions": ...}`` (row) or ``{"outputs": ...}``
  (columnar).  `rest_body` builds the body, `decode_rest_body` does what the
  server does with it (for tests and for checking a body offline).
* gRPC (port 8500), ``PredictionService.Predict`` with a ``PredictRequest``
  whose inputs are ``TensorProto`` s (`tf.make_tensor_proto`):
  `predict_request`; `request_arrays` reads one back with `tf.make_ndarray`.

Example (server: ``docker run -p 8501:8501 -p 8500:8500 -v
$PWD/saved_models/pcnn:/models/pcnn -e MODEL_NAME=pcnn tensorflow/serving``):
    >>> import tempfile
    >>> import numpy as np, ar_keras as ark
    >>> from ar_keras import serving     # not imported by `import ar_keras` (python -m runs it)
    >>> model = ark.models.get("gated_pixelcnn", preset="tiny")
    >>> ark.export.serving(model, tempfile.mkdtemp(), name="pcnn")    # e.g. saved_models/pcnn/1
    '.../pcnn/1'
    >>> x = np.zeros([2, 3, 3, 1], np.int32)
    >>> body = serving.rest_body("serving_default", {"x": x}, format="row")
    >>> serving.rest_predict("http://localhost:8501", "pcnn", body)   # doctest: +SKIP
    {'predictions': [-6.2, -6.2]}
    >>> request = serving.predict_request("pcnn", "serving_default", {"x": x})
    >>> serving.grpc_predict("localhost:8500", request)               # doctest: +SKIP
    {'log_prob': array([-6.2, -6.2], dtype=float32)}

Command line (``python -m ar_keras.serving -h``): ``show`` lists a version's
signatures and warm-up records; ``rest`` / ``grpc`` send a request whose
inputs come from an ``.npz`` file or, by default, from the version's warm-up
record of that signature (``--dry-run`` prints the JSON body or the proto
instead of sending it).
"""

import argparse
import json
import os
import sys

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

__all__ = [
    "WARMUP_FILE",
    "signature_specs",
    "example_inputs",
    "predict_request",
    "request_arrays",
    "warmup_logs",
    "write_warmup",
    "read_warmup",
    "rest_body",
    "decode_rest_body",
    "rest_predict",
    "grpc_predict",
]

#: Where TF Serving looks for warm-up records, relative to a version directory.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


# ------------------------------------------------------------------ examples
def signature_specs(model):
    """``{signature name: {input name: tf.TensorSpec}}`` of ``model``'s SavedModel export."""
    specs = {}
    for name, _, signature in model.export_signatures():
        specs[name] = {spec.name: spec for spec in signature}
    return specs


def _fallback(spec, batch):
    """Zeros of ``spec``: ``batch`` on a free leading axis, 1 on any other free axis."""
    shape = [(batch if i == 0 else 1) if s is None else s for i, s in enumerate(spec.shape)]
    return np.zeros(shape, spec.dtype.as_numpy_dtype)


def example_inputs(model, batch=2):
    """``{signature name: {input name: np.ndarray}}``: one small valid request per signature.

    ``x``: ``batch`` examples of zeros (level 0; the middle of a bounded
    support), of the model's smallest valid length where the length is free;
    conditioning: the model's `example_conditional` (class 0, zero features);
    ``seeds``: ``[0 .. batch-1]``; ``temperature``: 1.0; ``length``: that
    length.  Any other input (e.g. a video model's ``context``) is zeros with
    ``batch`` on its leading free axis and 1 on other free axes.
    """
    length = model.example_length if model.event.free_length else None
    known = {
        "x": np.asarray(model.event.zeros(batch, length)),
        "seeds": np.arange(batch, dtype=np.int64),
        "temperature": np.float32(1.0),
    }
    if length is not None:
        known["length"] = np.int32(length)
    conditional = model.example_conditional(batch, length)
    known.update({k: np.asarray(v) for k, v in model.conditioning.to_named(conditional).items()})
    out = {}
    for signature, specs in signature_specs(model).items():
        out[signature] = {}
        for name, spec in specs.items():
            value = known[name] if name in known else _fallback(spec, batch)
            out[signature][name] = np.asarray(value, spec.dtype.as_numpy_dtype)
    return out


# ---------------------------------------------------------------------- gRPC
def predict_request(model_name, signature_name, inputs, version=None):
    """A gRPC ``PredictRequest``: ``inputs`` ``{name: array}`` as ``TensorProto`` s.

    Args:
        model_name: the served model's name (TF Serving's ``MODEL_NAME``).
        signature_name: e.g. ``"serving_default"``, ``"sample"``.
        inputs: ``{input name: array-like}``, already in the signature's dtypes.
        version: None (the latest) or an integer version.
    """
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    )
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    return request


def request_arrays(request):
    """``{input name: np.ndarray}`` of a ``PredictRequest`` (`tf.make_ndarray`)."""
    return {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}


def grpc_predict(target, request, timeout=60.0):
    """Sends ``request`` to ``PredictionService.Predict`` at ``target`` (``host:8500``).

    Returns ``{output name: np.ndarray}``.
    """
    import grpc  # noqa: PLC0415 (only clients that talk to a server need grpc)
    from tensorflow_serving.apis import prediction_service_pb2_grpc  # noqa: PLC0415

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=timeout)
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


# ------------------------------------------------------------------- warm-up
def warmup_logs(model, model_name, batch=2, signatures=None):
    """One ``PredictionLog`` per signature (all by default), from `example_inputs`."""
    examples = example_inputs(model, batch)
    unknown = set(signatures or ()) - set(examples)
    if unknown:
        raise ValueError(f"unknown signatures {sorted(unknown)}; {model.name} exports {sorted(examples)}.")
    logs = []
    for signature, inputs in examples.items():
        if signatures is None or signature in signatures:
            request = predict_request(model_name, signature, inputs)
            logs.append(
                prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            )
    return logs


def write_warmup(model, version_dir, model_name, batch=2, signatures=None):
    """Writes ``<version_dir>/assets.extra/tf_serving_warmup_requests``; returns its path."""
    path = os.path.join(os.fspath(version_dir), WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for log in warmup_logs(model, model_name, batch, signatures):
            writer.write(log.SerializeToString())
    return path


def read_warmup(path):
    """The ``PredictionLog`` s of a warm-up file (or of a version directory)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, WARMUP_FILE)
    logs = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        logs.append(prediction_log_pb2.PredictionLog.FromString(record))
    return logs


# ---------------------------------------------------------------------- REST
def _to_json(value):
    value = np.asarray(value)
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise ValueError("JSON cannot carry NaN or inf; send finite values.")
    return value.tolist()


def rest_body(signature_name, inputs, format="columnar"):
    """The JSON body (a dict) of ``POST /v1/models/<name>:predict``.

    Args:
        signature_name: the signature to call.
        inputs: ``{input name: array-like}``.
        format: ``"columnar"`` (``{"inputs": {name: tensor}}``, any signature)
            or ``"row"`` (``{"instances": [{name: example}, ...]}``, only when
            every input has the same leading batch axis).

    Raises:
        ValueError: an unknown format, NaN/inf values, or ``"row"`` with a
            scalar input or batch axes that differ.
    """
    if format == "columnar":
        return {
            "signature_name": signature_name,
            "inputs": {name: _to_json(value) for name, value in inputs.items()},
        }
    if format != "row":
        raise ValueError(f"format must be 'row' or 'columnar', got {format!r}.")
    arrays = {name: np.asarray(value) for name, value in inputs.items()}
    scalars = sorted(name for name, a in arrays.items() if a.ndim == 0)
    if scalars:
        raise ValueError(
            f"the row format ('instances') needs a batch axis on every input; "
            f"{scalars} are scalars: use format='columnar'."
        )
    batches = {a.shape[0] for a in arrays.values()}
    if len(batches) != 1:
        raise ValueError(
            f"the row format needs one batch size for every input, got "
            f"{ {n: a.shape[0] for n, a in arrays.items()} }: use format='columnar'."
        )
    (batch,) = batches
    return {
        "signature_name": signature_name,
        "instances": [{name: _to_json(a[i]) for name, a in arrays.items()} for i in range(batch)],
    }


def decode_rest_body(body, specs):
    """What TF Serving does with a JSON body: ``{input name: np.ndarray}`` in the specs' dtypes.

    Args:
        body: a `rest_body` dict (or its JSON text).
        specs: ``{input name: dtype or tf.TensorSpec}`` of the signature
            (e.g. ``loaded.signatures[s].structured_input_signature[1]``).
    """
    if isinstance(body, (str, bytes)):
        body = json.loads(body)
    dtypes = {name: tf.as_dtype(getattr(s, "dtype", s)).as_numpy_dtype for name, s in specs.items()}
    if "inputs" in body:
        columns = body["inputs"]
        if not isinstance(columns, dict):  # one unnamed input
            (name,) = dtypes
            columns = {name: columns}
    else:
        rows = body["instances"]
        if rows and not isinstance(rows[0], dict):
            (name,) = dtypes
            rows = [{name: row} for row in rows]
        if not rows or any(set(row) != set(rows[0]) for row in rows):
            raise ValueError("'instances' must be a non-empty list of objects with the same keys.")
        columns = {name: [row[name] for row in rows] for name in rows[0]}
    if set(columns) != set(dtypes):
        raise ValueError(
            f"the body's inputs {sorted(columns)} do not match the signature's {sorted(dtypes)}."
        )
    return {name: np.asarray(value, dtypes[name]) for name, value in columns.items()}


def rest_predict(url, model_name, body, version=None, timeout=60.0):
    """``POST <url>/v1/models/<model_name>[/versions/<v>]:predict``; returns the decoded JSON."""
    import urllib.request  # noqa: PLC0415

    path = f"/v1/models/{model_name}" + (f"/versions/{int(version)}" if version else "") + ":predict"
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


# ----------------------------------------------------------------------- CLI
def _describe(version_dir):
    loaded = tf.saved_model.load(version_dir)
    lines = []
    for key, fn in sorted(loaded.signatures.items()):
        ins = ", ".join(
            f"{n} {s.dtype.name} {s.shape.as_list()}"
            for n, s in sorted(fn.structured_input_signature[1].items())
        )
        outs = ", ".join(
            f"{n} {s.dtype.name} {s.shape.as_list()}" for n, s in sorted(fn.structured_outputs.items())
        )
        lines.append(f"  {key}: ({ins}) -> ({outs})")
    lines.append(f"warm-up records ({WARMUP_FILE}):")
    path = os.path.join(version_dir, WARMUP_FILE)
    if os.path.exists(path):
        for log in read_warmup(path):
            req = log.predict_log.request
            arrays = request_arrays(req)
            lines.append(
                f"  {req.model_spec.signature_name}: "
                + ", ".join(f"{n} {a.dtype.name} {list(a.shape)}" for n, a in sorted(arrays.items()))
            )
    else:
        lines.append("  (none)")
    return "signatures:\n" + "\n".join(lines)


def _inputs_for(args):
    if args.inputs:
        with np.load(args.inputs) as data:
            return {k: data[k] for k in data.files}
    for log in read_warmup(args.version_dir):
        request = log.predict_log.request
        if request.model_spec.signature_name == args.signature:
            return request_arrays(request)
    raise SystemExit(
        f"no warm-up record of signature {args.signature!r} in {args.version_dir}; pass --inputs FILE.npz"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ar_keras.serving",
        description=("Inspect a TF Serving export of ar_keras and send it REST or gRPC predict requests."),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="signatures and warm-up records of a version directory")
    show.add_argument("version_dir")
    for api in ("rest", "grpc"):
        p = sub.add_parser(api, help=f"send a {api} predict request")
        p.add_argument("--name", required=True, help="the served model name (MODEL_NAME)")
        p.add_argument("--signature", default="serving_default")
        p.add_argument("--version-dir", help="a version directory: inputs from its warm-up file")
        p.add_argument("--inputs", help=".npz of the signature's inputs (else the warm-up record)")
        p.add_argument("--dry-run", action="store_true", help="print the request, do not send it")
        if api == "rest":
            p.add_argument("--url", default="http://localhost:8501")
            p.add_argument("--format", choices=["row", "columnar"], default="columnar")
        else:
            p.add_argument("--target", default="localhost:8500")
    args = parser.parse_args(argv)
    if args.command == "show":
        print(_describe(args.version_dir))
        return 0
    if not args.inputs and not args.version_dir:
        parser.error("pass --inputs FILE.npz or --version-dir DIR (its warm-up record)")
    inputs = _inputs_for(args)
    if args.command == "rest":
        body = rest_body(args.signature, inputs, args.format)
        if args.dry_run:
            print(json.dumps(body))
            return 0
        print(json.dumps(rest_predict(args.url, args.name, body)))
        return 0
    request = predict_request(args.name, args.signature, inputs)
    if args.dry_run:
        print(request)
        return 0
    for name, value in grpc_predict(args.target, request).items():
        print(f"{name}: {value.dtype.name} {list(value.shape)}\n{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
