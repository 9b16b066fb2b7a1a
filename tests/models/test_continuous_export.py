"""SavedModels of maf, iaf, rnade, iaf_vae and pixelvae, loaded in a process that never imports ar_keras.

One module fixture exports every model and runs ONE subprocess (TensorFlow
only) that calls every signature and writes the outputs to .npz files.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import test_case as tc
from ai_edge_litert.interpreter import Interpreter

import ar_keras as ark
from ar_keras import export

# key -> (registry name, overrides)
MODELS = {
    "maf": ("maf", {}),
    "maf_mog_cond": ("maf", {"base": "mog", "num_mixtures": 2, "num_classes": 3}),
    "iaf": ("iaf", {"permutation": "none"}),
    "rnade": ("rnade", {}),
    "iaf_vae": ("iaf_vae", {}),
    "pixelvae": ("pixelvae", {}),
}
LATENT = {"iaf_vae", "pixelvae"}  # latent-variable models: an elbo signature, integer images
SEEDS = [4, 99]

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
        out = {"log_prob": sigs["serving_default"](x=tf.constant(inp["x"]), **c)["log_prob"].numpy()}
        seeds = tf.constant(inp["seeds"], tf.int64)
        out["samples"] = sigs["sample"](seeds=seeds, temperature=tf.constant(1.0), **sc)["samples"].numpy()
        out["samples_cold"] = sigs["sample"](seeds=seeds, temperature=tf.constant(0.3),
                                             **sc)["samples"].numpy()
        if "conditional_log_probs" in sigs:
            out["conditional_log_probs"] = sigs["conditional_log_probs"](
                x=tf.constant(inp["x"]), **c)["conditional_log_probs"].numpy()
        if "elbo" in sigs:
            out["elbo"] = sigs["elbo"](x=tf.constant(inp["x"]))["elbo"].numpy()
        errors = {}
        for name, call in {"bad_x": lambda: sigs["serving_default"](x=tf.constant(inp["x_bad"]), **c),
                           "temperature": lambda: sigs["sample"](seeds=seeds, temperature=tf.constant(0.0),
                                                                 **sc)}.items():
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


def _inputs(model):
    cond = model.num_classes is not None
    labels = np.arange(3, dtype=np.int32) % model.num_classes if cond else None
    x = model.sample(3, conditional=labels, seed=0).numpy()
    if isinstance(model, ark.models.LatentVariableModel):
        x_bad = x.copy()
        x_bad[0, 0, 0, 0] = model.num_levels  # a level == K
    else:
        x_bad = x.copy()
        x_bad[0, 0] = np.nan
    inp = {"x": x, "x_bad": x_bad, "seeds": np.array(SEEDS, np.int64)}
    if cond:
        inp["conditional"] = labels
        inp["sample_conditional"] = np.array([2, 1], np.int32)
    return inp


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("continuous_export")
    models, entries = {}, []
    for key, (name, overrides) in MODELS.items():
        model = ark.models.get(name, preset="tiny", **overrides)
        tc.sharpen(model, 2.0)  # far from the init (near-uniform pixel logits)
        models[key] = model
        sm_dir = root / key / "1"
        assert export.saved_model(model, str(sm_dir)) == str(sm_dir)
        np.savez(root / f"{key}_in.npz", **_inputs(model))
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


def test_loader_never_imported_ar_keras(exported):
    assert exported["done"] == {"ar_keras_imported": False}


@pytest.mark.parametrize("key", MODELS)
def test_signatures(exported, key):
    sigs = exported["results"][key]["info"]["signatures"]
    cond = ["conditional"] if MODELS[key][1].get("num_classes") else []
    assert sigs["serving_default"] == sorted(["x"] + cond)
    assert sigs["sample"] == sorted(["seeds", "temperature"] + cond)
    model = exported["models"][key]
    if key in LATENT:
        assert set(sigs) == {"serving_default", "sample", "elbo"}
    else:
        assert ("conditional_log_probs" in sigs) == model.exact_conditionals


@pytest.mark.parametrize("key", MODELS)
def test_log_prob_and_samples_match_the_model(exported, key):
    model, r = exported["models"][key], exported["results"][key]
    inp, out = r["inp"], r["out"]
    c = inp.get("conditional")
    np.testing.assert_allclose(out["log_prob"], model.log_prob(inp["x"], c).numpy(), rtol=1e-4, atol=1e-4)
    for j, seed in enumerate(SEEDS):
        sc = None if c is None else inp["sample_conditional"][j : j + 1]
        for name, t in (("samples", 1.0), ("samples_cold", 0.3)):
            want = model.sample(1, conditional=sc, seed=seed, temperature=t).numpy()[0]
            np.testing.assert_allclose(out[name][j], want, rtol=1e-4, atol=1e-4)
    assert not np.allclose(out["samples"], out["samples_cold"])
    if "conditional_log_probs" in out:
        np.testing.assert_allclose(
            out["conditional_log_probs"],
            model.conditional_log_probs(inp["x"], c).numpy(),
            rtol=1e-4,
            atol=1e-4,
        )
    if "elbo" in out:
        np.testing.assert_allclose(out["elbo"], model.elbo(inp["x"]).numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("key", MODELS)
def test_bad_input_raises_in_the_graph(exported, key):
    errors = exported["results"][key]["info"]["errors"]
    assert errors["bad_x"] is not None and errors["temperature"] is not None
    expected = "values in [0, 4)" if key in LATENT else "x must be finite"
    assert expected in errors["bad_x"]
    assert "temperature must be a finite number > 0" in errors["temperature"]


@pytest.mark.parametrize("name,preset", [("maf", "digits"), ("iaf", "tiny"), ("rnade", "tiny")])
def test_tflite_agrees_with_the_keras_model(name, preset, tmp_path):
    """TFLite (builtin ops, LiteRT-compatible): log_prob and sampling from given noise."""
    model = ark.models.get(name, preset=preset)
    path = export.tflite(model, str(tmp_path / f"{name}.tflite"))
    interpreter = Interpreter(model_path=path)
    rng = np.random.RandomState(0)
    x = (
        rng.uniform(0.1, 0.9, (3, model.event_size))
        if model.support is not None
        else rng.normal(size=(3, model.event_size))
    ).astype(np.float32)
    got = interpreter.get_signature_runner("log_prob")(x=x)["log_prob"]
    np.testing.assert_allclose(got, model.log_prob(x).numpy(), rtol=1e-4, atol=1e-3)
    noise = ark.sampling.seeded_noise(3, 4, model.event_size, model.noise_depth).numpy()
    samples = interpreter.get_signature_runner("sample_from_noise")(noise=noise, temperature=np.float32(0.8))[
        "samples"
    ]
    want = model.sample_from_noise(noise, temperature=0.8).numpy()
    np.testing.assert_allclose(samples, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(want, model.sample(4, seed=3, temperature=0.8).numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(LATENT))
def test_tflite_is_refused_for_latent_models_with_a_clear_error(name, tmp_path):
    with pytest.raises(TypeError, match="SavedModel"):
        export.tflite(ark.models.get(name, preset="tiny"), str(tmp_path / "m.tflite"))
