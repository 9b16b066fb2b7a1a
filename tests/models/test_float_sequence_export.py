"""SavedModels (and TFLite) of the float-trajectory models, loaded in a process that never imports
ar_keras: log_prob, conditional_log_probs and sample (with its ``length`` input) agree with the
Keras model, and bad input raises inside the graph."""

import json
import os
import subprocess
import sys
import textwrap

import continuous_case as cc
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

import ar_keras as ark
from ar_keras import export
from ar_keras.core import noise as noise_lib

# key -> (registry name, overrides), tiny presets.
MODELS = {
    "trajectory_rnade": ("trajectory_rnade", {"window": 3, "num_classes": 6, "context_factors": (2, 3)}),
}
SEEDS = [4, 99]
LENGTH = 5

_LOADER = textwrap.dedent(r"""
    import json, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import tensorflow as tf

    manifest = json.load(open(sys.argv[1]))
    for entry in manifest["models"]:
        inp = dict(np.load(entry["inputs"]))
        sigs = tf.saved_model.load(entry["saved_model"]).signatures
        info = {"signatures": {k: sorted(f.structured_input_signature[1]) for k, f in sigs.items()}}
        c = {"conditional": tf.constant(inp["conditional"])} if "conditional" in inp else {}
        sc = {"conditional": tf.constant(inp["sample_conditional"])} if c else {}
        x = tf.constant(inp["x"])
        out = {"log_prob": sigs["serving_default"](x=x, **c)["log_prob"].numpy(),
               "conditional_log_probs": sigs["conditional_log_probs"](
                   x=x, **c)["conditional_log_probs"].numpy()}
        seeds = tf.constant(inp["seeds"], tf.int64)
        length = tf.constant(int(inp["length"]), tf.int32)
        out["samples"] = sigs["sample"](seeds=seeds, temperature=tf.constant(1.0), length=length,
                                        **sc)["samples"].numpy()
        errors = {}
        calls = {"nan": lambda: sigs["serving_default"](x=tf.constant(inp["x_nan"]), **c),
                 "short": lambda: sigs["serving_default"](x=x[:, :1], **c),
                 "short_sample": lambda: sigs["sample"](seeds=seeds, temperature=tf.constant(1.0),
                                                        length=tf.constant(1), **sc)}
        for name, call in calls.items():
            try:
                call()
                errors[name] = None
            except tf.errors.InvalidArgumentError as e:
                errors[name] = e.message
        info["errors"] = errors
        np.savez(entry["outputs"], **out)
        json.dump(info, open(entry["info"], "w"))
    json.dump({"ar_keras_imported": "ar_keras" in sys.modules}, open(manifest["done"], "w"))
""")


def _build(key):
    name, overrides = MODELS[key]
    model = ark.models.get(name, preset="tiny", **overrides)
    cc.perturb(model, 0.3)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("float_sequence_export")
    models, entries = {}, []
    for key in MODELS:
        model = models[key] = _build(key)
        cond = model.num_classes is not None
        labels = np.arange(3, dtype=np.int32) % model.num_classes if cond else None
        x = model.sample(3, conditional=labels, seed=0, length=LENGTH).numpy()
        x_nan = x.copy()
        x_nan[0, 1, 0] = np.nan
        inp = {"x": x, "x_nan": x_nan, "seeds": np.array(SEEDS, np.int64), "length": LENGTH}
        if cond:
            inp["conditional"] = labels
            inp["sample_conditional"] = np.array([5, 1], np.int32)
        sm_dir = root / key / "1"
        assert export.saved_model(model, str(sm_dir)) == str(sm_dir)
        np.savez(root / f"{key}_in.npz", **inp)
        entries.append(
            {
                "key": key,
                "saved_model": str(sm_dir),
                "inputs": str(root / f"{key}_in.npz"),
                "outputs": str(root / f"{key}_out.npz"),
                "info": str(root / f"{key}.json"),
            }
        )
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps({"models": entries, "done": str(root / "done.json")}))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", _LOADER, str(manifest)],
        cwd=str(root),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"loader failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    results = {}
    for e in entries:
        with np.load(e["outputs"]) as out, np.load(e["inputs"]) as inp:
            results[e["key"]] = {"out": dict(out), "inp": dict(inp), "info": json.load(open(e["info"]))}
    return {"models": models, "results": results, "done": json.loads((root / "done.json").read_text())}


def test_saved_models_load_without_ar_keras_and_agree(exported):
    assert exported["done"] == {"ar_keras_imported": False}
    for key, r in exported["results"].items():
        model, inp, out = exported["models"][key], r["inp"], r["out"]
        cond = ["conditional"] if model.num_classes else []
        sigs = r["info"]["signatures"]
        assert sigs["serving_default"] == sorted(["x"] + cond)
        assert sigs["sample"] == sorted(["seeds", "temperature", "length"] + cond)
        c = inp.get("conditional")
        np.testing.assert_allclose(out["log_prob"], model.log_prob(inp["x"], c).numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(
            out["conditional_log_probs"],
            model.conditional_log_probs(inp["x"], c).numpy(),
            rtol=1e-4,
            atol=1e-4,
        )
        for j, seed in enumerate(SEEDS):
            sc = None if c is None else inp["sample_conditional"][j : j + 1]
            want = model.sample(1, conditional=sc, seed=seed, length=LENGTH).numpy()[0]
            np.testing.assert_allclose(out["samples"][j], want, rtol=1e-4, atol=1e-4)
        errors = r["info"]["errors"]
        assert "x must be finite" in errors["nan"]
        assert f"at least window={model.window} frames" in errors["short"]
        assert f"at least window={model.window} frames" in errors["short_sample"]


def test_tflite_agrees_with_the_keras_model(tmp_path):
    """TFLite (builtin ops): log_prob of any T and sampling from given noise ``[n, T F, 2]``."""
    name, _ = MODELS["trajectory_rnade"]
    model = ark.models.get(name, preset="tiny")
    cc.perturb(model, 0.3)
    path = export.tflite(model, str(tmp_path / "trajectory_rnade.tflite"))
    interpreter = Interpreter(model_path=path)
    x = np.random.RandomState(0).normal(size=(3, LENGTH, model.num_features)).astype(np.float32)
    got = interpreter.get_signature_runner("log_prob")(x=x)["log_prob"]
    np.testing.assert_allclose(got, model.log_prob(x).numpy(), rtol=1e-4, atol=1e-3)
    noise = noise_lib.seeded_noise(3, 4, LENGTH * model.num_features, model.noise_depth).numpy()
    samples = interpreter.get_signature_runner("sample_from_noise")(noise=noise, temperature=np.float32(0.8))[
        "samples"
    ]
    want = model.sample_from_noise(noise, temperature=0.8).numpy()
    assert want.shape == (4, LENGTH, model.num_features)
    np.testing.assert_allclose(samples, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        want, model.sample(4, seed=3, temperature=0.8, length=LENGTH).numpy(), rtol=1e-6
    )
