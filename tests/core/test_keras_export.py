"""Keras' own ``model.export`` on every registered model: `ar_keras.export`'s artifacts.

Every model of `ark.models.names()` is exported at its tiny preset with
``model.export(path)`` (and ``format="litert"`` where it converts to TFLite); one
subprocess that never imports ar_keras loads each artifact, scores the same random
batch through its log_prob signature (``serving_default`` in the SavedModel) and
writes the results.  They must equal the Keras model's `log_prob`.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import ar_keras as ark

BATCH = 2
LENGTH = 4  # the length of free-length (sequence) examples

_LOADER = textwrap.dedent(r"""
    import json, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    for entry in json.load(open(sys.argv[1])):
        feed = dict(np.load(entry["inputs"]))
        loaded = tf.saved_model.load(entry["saved_model"])
        serve = loaded.signatures["serving_default"]
        out = {"sm": serve(**{k: tf.constant(v) for k, v in feed.items()})["log_prob"]}
        if entry["tflite"]:
            runner = Interpreter(model_path=entry["tflite"]).get_signature_runner("log_prob")
            out["tflite"] = runner(**feed)["log_prob"]
        np.savez(entry["outputs"], **{k: np.asarray(v) for k, v in out.items()})
""")


def _feed(model):
    """The log_prob signature's inputs: a random batch and zeros for every conditioning input."""
    length = LENGTH if model.event.free_length else None
    feed = {"x": model.event.random(BATCH, length, seed=1)}
    for spec in model.conditional_specs(batch=BATCH):
        shape = [LENGTH if s is None else s for s in spec.shape]
        feed[spec.name] = np.zeros(shape, spec.dtype.as_numpy_dtype)
    return feed


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("keras_export")
    models, manifest = {}, []
    for name in ark.models.names():
        model = ark.models.get(name, preset="tiny")
        base = os.path.join(root, name)
        model.export(base, verbose=False)
        tflite = None
        if model.supports_tflite:
            tflite = base + ".tflite"
            model.export(tflite, format="litert", verbose=False)
        feed = _feed(model)
        np.savez(base + "_in.npz", **feed)
        manifest.append(
            {"saved_model": base, "tflite": tflite, "inputs": base + "_in.npz", "outputs": base + "_out.npz"}
        )
        models[name] = (model, feed)
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, "-c", _LOADER, os.path.join(root, "manifest.json")],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return {n: (m, f, dict(np.load(os.path.join(root, n + "_out.npz")))) for n, (m, f) in models.items()}


@pytest.mark.parametrize("name", ark.models.names())
def test_model_export_matches_keras(exported, name):
    model, feed, out = exported[name]
    named = {k: tf.constant(v) for k, v in feed.items() if k != "x"}
    expected = model.log_prob(feed["x"], conditional=model.make_conditional(named)).numpy()
    np.testing.assert_allclose(out["sm"], expected, rtol=1e-4, atol=1e-4)
    if model.supports_tflite:
        np.testing.assert_allclose(out["tflite"], expected, rtol=1e-3, atol=1e-3)


def test_export_refuses_other_formats_and_signatures(tmp_path):
    model = ark.models.get("nade", preset="tiny")
    with pytest.raises(ValueError, match="tf_saved_model' or 'litert"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    with pytest.raises(ValueError, match="without input_signature"):
        model.export(str(tmp_path / "m"), input_signature=[tf.TensorSpec([None, 4])])
