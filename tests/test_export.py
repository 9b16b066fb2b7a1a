"""ar_keras.export: SavedModel and TFLite files that run without ar_keras.

One module-scoped fixture exports every model under test in both formats and
runs ONE subprocess that never imports ar_keras: it loads each SavedModel with
`tf.saved_model.load` and each TFLite file with LiteRT's `Interpreter` (ai-edge-litert), calls
every signature, and writes the outputs to .npz files.  The tests then compare
those outputs with the Keras models in this process.
"""

import json
import os
import subprocess
import sys
import textwrap
import zlib

import keras
import numpy as np
import pytest

import ar_keras as ark
from ar_keras import export

# key -> (registry name, overrides); all tiny presets, plus one class-conditional model.
MODELS = {
    "nade": ("nade", {}),
    "made": ("made", {}),
    "gated_pixelcnn": ("gated_pixelcnn", {}),
    "gated_pixelcnn_cond": ("gated_pixelcnn", {"num_classes": 3}),
    "pixelcnn_pp": ("pixelcnn_pp", {"image_shape": (3, 2, 3)}),
    "pixelsnail": ("pixelsnail", {"image_shape": (2, 3, 3)}),
    "pixelrnn": ("pixelrnn", {}),
    "spatial_lstm": ("spatial_lstm", {}),
    "spatial_lstm_rgb": ("spatial_lstm", {"image_shape": (2, 3, 3)}),
    "image_transformer": ("image_transformer", {"image_shape": (2, 2, 3)}),
    # Sequences (sparse_transformer, max_length=): tests/models/test_sparse_transformer.py.
    "sparse_transformer": ("sparse_transformer", {"image_shape": (2, 2, 2)}),
    "subscale": ("subscale", {}),
    "multiscale": ("multiscale", {}),
    "vpn": ("vpn", {}),
}
# Signatures a model exports beyond the three every model has.
EXTRA_SIGNATURES = {"vpn": {"log_prob_given_context", "sample_given_context"}}  # tests/models/test_vpn.py
BATCH = 3  # examples per log_prob call
SEEDS = [5, 123]  # seeds of the SavedModel `sample` call
TEMPERATURE = 0.05  # a second `sample` call checks that temperature is an input
FIXED_KEY = "nade"  # also exported to TFLite with fixed batch sizes

# Runs in a fresh interpreter: TensorFlow only, never ar_keras.
_LOADER = textwrap.dedent(r"""
    import json, os, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    manifest = json.load(open(sys.argv[1]))
    for entry in manifest["models"]:
        inp = dict(np.load(entry["inputs"]))
        cond = "conditional" in inp
        c = {"conditional": tf.constant(inp["conditional"])} if cond else {}
        out, info = {}, {}

        loaded = tf.saved_model.load(entry["saved_model"])
        sigs = loaded.signatures
        info["signatures"] = {
            k: {"inputs": sorted(f.structured_input_signature[1]),
                "outputs": sorted(f.structured_outputs)}
            for k, f in sigs.items()}
        x = tf.constant(inp["x"])
        out["sm_log_prob"] = sigs["serving_default"](x=x, **c)["log_prob"].numpy()
        out["sm_conditional_log_probs"] = sigs["conditional_log_probs"](
            x=x, **c)["conditional_log_probs"].numpy()
        seeds = tf.constant(inp["seeds"], tf.int64)
        sc = {"conditional": tf.constant(inp["sample_conditional"])} if cond else {}
        out["sm_samples"] = sigs["sample"](
            seeds=seeds, temperature=tf.constant(1.0), **sc)["samples"].numpy()
        out["sm_samples_t"] = sigs["sample"](
            seeds=seeds, temperature=tf.constant(float(inp["temperature"])), **sc)["samples"].numpy()

        # Bad input must raise in the graph, not answer.
        bad = {"x_out_of_range": lambda: sigs["serving_default"](x=tf.constant(inp["x_bad"]), **c),
               "x_negative": lambda: sigs["conditional_log_probs"](
                   x=tf.constant(-inp["x_bad"]), **c),
               "temperature_zero": lambda: sigs["sample"](
                   seeds=seeds, temperature=tf.constant(0.0), **sc)}
        if cond:
            bad["label_out_of_range"] = lambda: sigs["serving_default"](
                x=x, conditional=tf.constant(inp["conditional_bad"]))
            bad["label_count"] = lambda: sigs["sample"](
                seeds=seeds, temperature=tf.constant(1.0),
                conditional=tf.constant(inp["sample_conditional"][:1]))
        info["errors"] = {}
        for name, call in bad.items():
            try:
                call()
                info["errors"][name] = None
            except tf.errors.InvalidArgumentError as e:
                info["errors"][name] = e.message

        lite = {}
        for tag, path in entry["tflite"].items():
            interp = Interpreter(model_path=path, num_threads=1)
            lite[tag] = {k: sorted(v["inputs"]) + ["->"] + sorted(v["outputs"])
                         for k, v in interp.get_signature_list().items()}
            lp = interp.get_signature_runner("log_prob")
            sample = interp.get_signature_runner("sample_from_noise")
            lite[tag + "_shapes"] = {
                "x": lp.get_input_details()["x"]["shape_signature"].tolist(),
                "noise": sample.get_input_details()["noise"]["shape_signature"].tolist()}
            n = inp["noise"].shape[0] if tag == "dynamic" else lite[tag + "_shapes"]["noise"][0]
            b = inp["x"].shape[0] if tag == "dynamic" else lite[tag + "_shapes"]["x"][0]
            lc = {"conditional": inp["conditional"][:b]} if cond else {}
            nc = {"conditional": inp["noise_conditional"][:n]} if cond else {}
            out["tfl_%s_log_prob" % tag] = lp(x=inp["x"][:b], **lc)["log_prob"]
            out["tfl_%s_samples" % tag] = sample(
                noise=inp["noise"][:n], temperature=np.float32(1.0), **nc)["samples"]
            out["tfl_%s_samples_t" % tag] = sample(
                noise=inp["noise"][:n], temperature=np.float32(inp["temperature"]), **nc)["samples"]
        info["tflite"] = lite
        np.savez(entry["outputs"], **out)
        json.dump(info, open(entry["info"], "w"))

    json.dump({"ar_keras_imported": "ar_keras" in sys.modules,
               "modules": sorted(m for m in sys.modules if m.startswith("ar_keras"))},
              open(manifest["done"], "w"))
    assert "ar_keras" not in sys.modules
""")


def _inputs(model, rng):
    """Inputs of every signature call for one model."""
    cond = model.num_classes is not None
    labels = np.arange(BATCH, dtype=np.int32) % model.num_classes if cond else None
    x = model.sample(BATCH, conditional=labels, seed=0).numpy()  # [B, *S] valid levels
    x_bad = x.copy()
    x_bad.reshape(BATCH, -1)[0, -1] = model.num_levels  # one level == K
    inp = {
        "x": x.astype(np.int32),
        "x_bad": x_bad.astype(np.int32),
        "seeds": np.array(SEEDS, np.int64),
        "temperature": np.float32(TEMPERATURE),
        # Uniforms in (0, 1): the caller's noise for the TFLite sampler.
        "noise": rng.uniform(1e-6, 1.0, size=(BATCH, model.event_size, model.head.noise_depth)).astype(
            np.float32
        ),
    }
    if cond:
        inp["conditional"] = labels
        inp["conditional_bad"] = np.full([BATCH], model.num_classes, np.int32)
        inp["sample_conditional"] = np.array([2, 1], np.int32)[: len(SEEDS)]
        inp["noise_conditional"] = (np.arange(BATCH, dtype=np.int32) + 1) % model.num_classes
    return inp


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    models, entries = {}, []
    for key, (name, overrides) in MODELS.items():
        # Each model's weights from its own seed: the same whichever tests ran before in this
        # worker and whichever models come before it in MODELS.
        keras.utils.set_random_seed(zlib.crc32(key.encode()) % 2**31)
        model = ark.models.get(name, preset="tiny", **overrides)
        models[key] = model
        sm_dir = root / "saved_models" / key / "1"  # parents do not exist yet
        assert export.saved_model(model, str(sm_dir)) == str(sm_dir)
        tfl = {"dynamic": export.tflite(model, root / f"{key}.tflite")}
        if key == FIXED_KEY:
            tfl["fixed"] = export.tflite(model, root / f"{key}_fixed.tflite", batch_size=2, num_samples=2)
        inp = _inputs(model, rng)
        np.savez(root / f"{key}_inputs.npz", **inp)
        entries.append(
            {
                "key": key,
                "saved_model": str(sm_dir),
                "tflite": {k: str(v) for k, v in tfl.items()},
                "inputs": str(root / f"{key}_inputs.npz"),
                "outputs": str(root / f"{key}_outputs.npz"),
                "info": str(root / f"{key}_info.json"),
            }
        )
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps({"models": entries, "done": str(root / "done.json")}))
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="",
        OMP_NUM_THREADS="1",
        TF_NUM_INTRAOP_THREADS="1",
        TF_NUM_INTEROP_THREADS="1",
    )
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
            results[e["key"]] = {
                "out": dict(out),
                "inp": dict(inp),
                "info": json.loads(open(e["info"]).read()),
                "saved_model": e["saved_model"],
            }
    done = json.loads((root / "done.json").read_text())
    return {"models": models, "results": results, "done": done}


def _cond(inp, name, n=None):
    return {} if name not in inp else {"conditional": inp[name][:n]}


# ------------------------------------------------------------------ SavedModel
def test_loader_never_imported_ar_keras(exported):
    assert not exported["done"]["ar_keras_imported"], exported["done"]["modules"]


@pytest.mark.parametrize("key", MODELS)
def test_saved_model_signatures(exported, key):
    sigs = exported["results"][key]["info"]["signatures"]
    cond = ["conditional"] if MODELS[key][1].get("num_classes") else []
    assert set(sigs) == {"serving_default", "conditional_log_probs", "sample"} | EXTRA_SIGNATURES.get(
        key, set()
    )
    assert sigs["serving_default"] == {"inputs": sorted(cond + ["x"]), "outputs": ["log_prob"]}
    assert sigs["conditional_log_probs"] == {
        "inputs": sorted(cond + ["x"]),
        "outputs": ["conditional_log_probs"],
    }
    assert sigs["sample"] == {"inputs": sorted(cond + ["seeds", "temperature"]), "outputs": ["samples"]}
    # TF Serving reads <base>/<version>: nothing but the SavedModel itself in it.
    entries = set(os.listdir(exported["results"][key]["saved_model"]))
    assert (
        {"saved_model.pb", "variables"}
        <= entries
        <= {"saved_model.pb", "variables", "assets", "fingerprint.pb"}
    )


@pytest.mark.parametrize("key", MODELS)
def test_saved_model_log_prob(exported, key):
    model, r = exported["models"][key], exported["results"][key]
    inp, out = r["inp"], r["out"]
    want = model.log_prob(inp["x"], **_cond(inp, "conditional")).numpy()
    assert out["sm_log_prob"].shape == (BATCH,) and out["sm_log_prob"].dtype == np.float32
    np.testing.assert_allclose(out["sm_log_prob"], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("key", MODELS)
def test_saved_model_conditional_log_probs(exported, key):
    model, r = exported["models"][key], exported["results"][key]
    inp, out = r["inp"], r["out"]
    want = model.conditional_log_probs(inp["x"], **_cond(inp, "conditional")).numpy()
    assert out["sm_conditional_log_probs"].shape == inp["x"].shape
    np.testing.assert_allclose(out["sm_conditional_log_probs"], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("key", MODELS)
def test_saved_model_sample_matches_model_sample(exported, key):
    model, r = exported["models"][key], exported["results"][key]
    inp, out = r["inp"], r["out"]
    assert out["sm_samples"].shape == (len(SEEDS),) + model.image_shape
    assert out["sm_samples"].dtype == np.int32
    for j, seed in enumerate(SEEDS):
        c = _cond(inp, "sample_conditional")
        c = {"conditional": c["conditional"][j : j + 1]} if c else {}
        # sample(seeds=[s])[0] == model.sample(1, seed=s)[0]: both use the key (s, 0).
        want = model.sample(1, seed=seed, **c).numpy()[0]
        np.testing.assert_array_equal(out["sm_samples"][j], want)
        want_t = model.sample(1, seed=seed, temperature=TEMPERATURE, **c).numpy()[0]
        np.testing.assert_array_equal(out["sm_samples_t"][j], want_t)


@pytest.mark.parametrize("key", MODELS)
def test_saved_model_rejects_bad_input(exported, key):
    model, errors = exported["models"][key], exported["results"][key]["info"]["errors"]
    expected = {"x_out_of_range", "x_negative", "temperature_zero"}
    if model.num_classes:
        expected |= {"label_out_of_range", "label_count"}
    assert set(errors) == expected
    for name, message in errors.items():
        assert message is not None, f"{name}: the SavedModel answered instead of raising"
    levels = f"x must hold values in [0, {model.num_levels})"
    assert levels in errors["x_out_of_range"] and levels in errors["x_negative"]
    assert "temperature must be a finite number > 0" in errors["temperature_zero"]
    if model.num_classes:
        assert f"class ids in [0, {model.num_classes})" in errors["label_out_of_range"]
        assert "one label per seed" in errors["label_count"]


# ---------------------------------------------------------------------- TFLite
@pytest.mark.parametrize("key", MODELS)
def test_tflite_signatures(exported, key):
    model, lite = exported["models"][key], exported["results"][key]["info"]["tflite"]
    cond = ["conditional"] if model.num_classes else []
    assert lite["dynamic"] == {
        "log_prob": sorted(cond + ["x"]) + ["->", "log_prob"],
        "sample_from_noise": sorted(cond + ["noise", "temperature"]) + ["->", "samples"],
    }
    D, depth = model.event_size, model.head.noise_depth
    assert lite["dynamic_shapes"] == {"x": [-1, *model.image_shape], "noise": [-1, D, depth]}
    if key == FIXED_KEY:
        assert lite["fixed_shapes"] == {"x": [2, *model.image_shape], "noise": [2, D, depth]}


@pytest.mark.parametrize("key", MODELS)
def test_tflite_log_prob(exported, key):
    model, r = exported["models"][key], exported["results"][key]
    inp, out = r["inp"], r["out"]
    want = model.log_prob(inp["x"], **_cond(inp, "conditional")).numpy()
    np.testing.assert_allclose(out["tfl_dynamic_log_prob"], want, rtol=1e-4, atol=1e-4)
    if key == FIXED_KEY:
        np.testing.assert_allclose(out["tfl_fixed_log_prob"], want[:2], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("key", MODELS)
def test_tflite_sample_from_noise(exported, key):
    model, r = exported["models"][key], exported["results"][key]
    inp, out = r["inp"], r["out"]
    c = _cond(inp, "noise_conditional")
    want = model.sample_from_noise(inp["noise"], **c).numpy()
    assert out["tfl_dynamic_samples"].dtype == np.int32
    np.testing.assert_array_equal(out["tfl_dynamic_samples"], want)
    want_t = model.sample_from_noise(inp["noise"], temperature=TEMPERATURE, **c).numpy()
    np.testing.assert_array_equal(out["tfl_dynamic_samples_t"], want_t)
    if key == FIXED_KEY:
        np.testing.assert_array_equal(out["tfl_fixed_samples"], want[:2])


@pytest.mark.parametrize("key", MODELS)
def test_temperature_changes_samples(exported, key):
    # Guards the temperature checks above against passing vacuously.
    out = exported["results"][key]["out"]
    assert (out["sm_samples"] != out["sm_samples_t"]).any()
    assert (out["tfl_dynamic_samples"] != out["tfl_dynamic_samples_t"]).any()


# ---------------------------------------------------------------------- errors
def test_rejects_non_ar_keras_models(tmp_path):
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(TypeError, match="expects an ar_keras model"):
        export.saved_model(plain, str(tmp_path / "m" / "1"))
    with pytest.raises(TypeError, match="expects an ar_keras model"):
        export.tflite("not a model", str(tmp_path / "m.tflite"))
    assert not (tmp_path / "m").exists()


def test_tflite_refuses_large_models_and_bad_batch(tmp_path, monkeypatch):
    model = ark.models.get("nade", preset="tiny")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        export.tflite(model, str(tmp_path / "m.tflite"), batch_size=0)
    monkeypatch.setattr(export, "TFLITE_MAX_PARAMS", model.count_params() - 1)
    with pytest.raises(ValueError, match="parameters.*SavedModel"):
        export.tflite(model, str(tmp_path / "m.tflite"))
    assert not (tmp_path / "m.tflite").exists()
