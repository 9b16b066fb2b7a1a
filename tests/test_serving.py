"""TF Serving packaging: the versioned layout, the warm-up records and the client requests.

No server can run here, so each test does what TF Serving does with the files and
requests: it loads the version directory with `tf.saved_model.load`, matches every
warm-up ``PredictRequest`` against a signature (names, dtypes, shapes) and runs it,
and decodes the REST JSON bodies and gRPC protos the clients build into the tensors
the signature gets.  One tiny model per event kind, exported once for the module.
"""

import json
import os
import zlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

import ar_keras as ark
from ar_keras import export, serving

# key -> (registry name, overrides): one model per event kind (+ conditioning forms).
MODELS = {
    "image": ("gated_pixelcnn", {}),
    "conditional": ("gated_pixelcnn", {"num_classes": 3}),
    "sequence": ("wavenet", {}),
    # Labels and local features together: two named conditioning inputs, a [B, T / hop, E] one.
    "sequence_local": ("wavenet", {"num_classes": 2, "local_channels": 2, "local_hop": 2}),
    "continuous": ("maf", {}),
    "latent": ("iaf_vae", {}),
    "float_sequence": ("trajectory_rnade", {}),
    "video": ("vpn", {}),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    out = {}
    for key, (name, overrides) in MODELS.items():
        keras.utils.set_random_seed(zlib.crc32(key.encode()) % 2**31)
        model = ark.models.get(name, preset="tiny", **overrides)
        path = export.serving(model, str(base), name=key)
        out[key] = {"model": model, "dir": path, "loaded": tf.saved_model.load(path)}
    return {"base": base, "models": out}


def _input_specs(fn):
    return fn.structured_input_signature[1]


def _random_x(model, batch, rng):
    """Valid non-trivial data (random levels / values) of the model's smallest valid length."""
    length = model.example_length * 2 if model.event.free_length else None
    shape = (batch,) + model.event.event_shape(length)
    if model.event.discrete:
        return rng.integers(0, model.num_levels, shape).astype(np.int32)
    low, high = model.event.support or (-1.0, 1.0)
    return rng.uniform(low + 0.1 * (high - low), high - 0.1 * (high - low), shape).astype(np.float32)


def _log_prob_inputs(model, rng, batch=3):
    """``serving_default``'s inputs: random x and the model's example conditioning for it."""
    x = _random_x(model, batch, rng)
    length = x.shape[1] if model.event.free_length else None
    named = model.conditioning.to_named(model.example_conditional(batch, length))
    inputs = {"x": x, **{k: np.asarray(v) for k, v in named.items()}}
    if "conditional" in inputs:
        inputs["conditional"] = (np.arange(batch) % model.num_classes).astype(np.int32)
    conditional = (
        model.make_conditional({k: v for k, v in inputs.items() if k != "x"}) if len(inputs) > 1 else None
    )
    return inputs, model.log_prob(x, conditional).numpy()


# ---------------------------------------------------------------------- layout
def test_versioned_layout_and_atomic_write(served, tmp_path):
    for key, entry in served["models"].items():
        assert entry["dir"] == os.path.join(str(served["base"]), key, "1")
        assert {"saved_model.pb", "variables", "assets.extra"} <= set(os.listdir(entry["dir"]))
        assert os.listdir(os.path.join(str(served["base"]), key)) == ["1"]  # no temp dir left
    model = served["models"]["continuous"]["model"]
    assert export.serving(model, str(tmp_path), warmup=False) == str(tmp_path / "maf" / "1")
    assert not (tmp_path / "maf" / "1" / "assets.extra").exists()
    (tmp_path / "maf" / "7").mkdir()  # versions need not be dense
    (tmp_path / "maf" / "notes").mkdir()  # non-integers are ignored
    assert export.serving(model, str(tmp_path), warmup=False) == str(tmp_path / "maf" / "8")
    assert export.next_version(tmp_path / "maf") == 9
    with pytest.raises(ValueError, match="exists.*immutable"):
        export.serving(model, str(tmp_path), version=8)
    with pytest.raises(ValueError, match="version must be a positive integer"):
        export.serving(model, str(tmp_path), version=0)
    # A failure mid-export leaves no version and no temporary directory behind.
    with pytest.raises(ValueError, match="unknown signatures"):
        export.serving(model, str(tmp_path), warmup_signatures=["nope"])
    assert sorted(os.listdir(tmp_path / "maf")) == ["1", "7", "8", "notes"]


# --------------------------------------------------------------------- warm-up
@pytest.mark.parametrize("key", MODELS)
def test_warmup_records_match_and_run_every_signature(served, key):
    entry = served["models"][key]
    path = os.path.join(entry["dir"], "assets.extra", "tf_serving_warmup_requests")
    records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
    signatures = entry["loaded"].signatures
    covered = []
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record)
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.name == key
        name = request.model_spec.signature_name
        assert name in signatures, f"warm-up record for unknown signature {name!r}"
        covered.append(name)
        specs = _input_specs(signatures[name])
        arrays = serving.request_arrays(request)
        assert set(arrays) == set(specs), name
        for input_name, spec in specs.items():
            a = arrays[input_name]
            assert a.dtype == spec.dtype.as_numpy_dtype, (name, input_name, a.dtype)
            assert spec.shape.is_compatible_with(a.shape), (name, input_name, a.shape, spec.shape)
            if spec.shape.rank and spec.shape[0] is None:
                assert 1 <= a.shape[0] <= 2  # small batches
        result = signatures[name](**{k: tf.constant(v) for k, v in arrays.items()})
        assert result, name
        for out_name, value in result.items():
            assert np.isfinite(value.numpy()).all(), (name, out_name)
    assert sorted(covered) == sorted(signatures)  # every signature, once


def test_warmup_reader_and_signature_choice(served, tmp_path):
    entry = served["models"]["latent"]
    logs = serving.read_warmup(entry["dir"])
    assert {l.predict_log.request.model_spec.signature_name for l in logs} == {
        "serving_default",
        "sample",
        "elbo",
    }
    path = serving.write_warmup(entry["model"], tmp_path, "m", batch=1, signatures=["elbo"])
    (only,) = serving.read_warmup(path)
    assert only.predict_log.request.model_spec.signature_name == "elbo"
    assert serving.request_arrays(only.predict_log.request)["x"].shape[0] == 1


# -------------------------------------------------------------- client requests
@pytest.mark.parametrize("key", MODELS)
def test_rest_bodies_decode_to_what_the_signature_takes(served, key):
    entry = served["models"][key]
    model, fn = entry["model"], entry["loaded"].signatures["serving_default"]
    inputs, want = _log_prob_inputs(model, np.random.default_rng(1))
    for fmt in ("row", "columnar"):
        body = json.loads(json.dumps(serving.rest_body("serving_default", inputs, format=fmt)))
        assert body["signature_name"] == "serving_default"
        assert ("instances" if fmt == "row" else "inputs") in body
        tensors = serving.decode_rest_body(body, _input_specs(fn))
        for name, value in inputs.items():  # lossless through JSON
            np.testing.assert_array_equal(tensors[name], value)
        got = fn(**{k: tf.constant(v) for k, v in tensors.items()})["log_prob"].numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_rest_sample_body_is_columnar(served):
    entry = served["models"]["conditional"]
    model, fn = entry["model"], entry["loaded"].signatures["sample"]
    inputs = {
        "seeds": np.array([4, 9], np.int64),
        "temperature": np.float32(1.0),
        "conditional": np.array([2, 0], np.int32),
    }
    with pytest.raises(ValueError, match="scalars.*columnar"):
        serving.rest_body("sample", inputs, format="row")
    body = json.loads(json.dumps(serving.rest_body("sample", inputs)))
    assert body["inputs"]["temperature"] == 1.0
    tensors = serving.decode_rest_body(body, _input_specs(fn))
    samples = fn(**{k: tf.constant(v) for k, v in tensors.items()})["samples"].numpy()
    for j, seed in enumerate([4, 9]):  # = model.sample(1, seed)
        want = model.sample(1, conditional=inputs["conditional"][j : j + 1], seed=seed).numpy()[0]
        np.testing.assert_array_equal(samples[j], want)


def test_rest_body_errors():
    with pytest.raises(ValueError, match="one batch size"):
        serving.rest_body("s", {"a": np.zeros([2]), "b": np.zeros([3])}, format="row")
    with pytest.raises(ValueError, match="NaN or inf"):
        serving.rest_body("s", {"a": np.array([np.nan], np.float32)})
    with pytest.raises(ValueError, match="'row' or 'columnar'"):
        serving.rest_body("s", {"a": np.zeros([2])}, format="csv")
    with pytest.raises(ValueError, match="do not match"):
        serving.decode_rest_body({"inputs": {"y": [1]}}, {"x": tf.int32})


@pytest.mark.parametrize("key", MODELS)
def test_grpc_requests_carry_what_the_signature_takes(served, key):
    entry = served["models"][key]
    model, signatures = entry["model"], entry["loaded"].signatures
    inputs, want = _log_prob_inputs(model, np.random.default_rng(2))
    request = serving.predict_request(key, "serving_default", inputs, version=1)
    request = type(request).FromString(request.SerializeToString())  # over the wire
    assert (request.model_spec.name, request.model_spec.signature_name, request.model_spec.version.value) == (
        key,
        "serving_default",
        1,
    )
    arrays = serving.request_arrays(request)
    fn = signatures["serving_default"]
    for name, spec in _input_specs(fn).items():
        assert arrays[name].dtype == spec.dtype.as_numpy_dtype
        np.testing.assert_array_equal(arrays[name], inputs[name])
    got = fn(**{k: tf.constant(v) for k, v in arrays.items()})["log_prob"].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_cli_show_and_dry_run(served, capsys):
    entry = served["models"]["conditional"]
    assert serving.main(["show", entry["dir"]]) == 0
    text = capsys.readouterr().out
    assert "serving_default: (conditional int32 [None], x int32 [None, 3, 3, 1])" in text
    assert "sample: conditional int32 [2], seeds int64 [2], temperature float32 []" in text
    assert (
        serving.main(
            [
                "rest",
                "--name",
                "conditional",
                "--signature",
                "sample",
                "--version-dir",
                entry["dir"],
                "--dry-run",
            ]
        )
        == 0
    )
    body = json.loads(capsys.readouterr().out)
    assert body == {
        "signature_name": "sample",
        "inputs": {"conditional": [0, 0], "seeds": [0, 1], "temperature": 1.0},
    }
    assert serving.main(["grpc", "--name", "conditional", "--version-dir", entry["dir"], "--dry-run"]) == 0
    assert 'signature_name: "serving_default"' in capsys.readouterr().out
