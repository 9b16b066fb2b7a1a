"""WaveNet: presets, receptive field, streaming, conditioning, exports, audio logging, the CLI.

The contract checks every sequence model gets (causality, normalisation,
sampling, cache == recompute, round trip, fit, MirroredStrategy, bad input)
run in test_sequence_contract.py; this file checks what is WaveNet's own.
"""

import json
import os
import subprocess
import sys
import textwrap

import cli_case
import contract
import export_case
import keras
import numpy as np
import pytest
import sequence_case as sc
import tensorflow as tf
import test_case as tc

import ar_keras as ark
from ar_keras import export
from ar_keras.data.wav import read_wav
from ar_keras.models.audio.wavenet import WaveNet, dilation_stacks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tiny(**overrides):
    return ark.models.get("wavenet", preset="tiny", **overrides)


def both(**overrides):
    """Tiny WaveNet with global (3 ids) and local (2 channels, hop 2) conditioning."""
    kwargs = dict(num_classes=3, local_channels=2, local_hop=2)
    kwargs.update(overrides)
    return tiny(**kwargs)


# --------------------------------------------------------------------- structure
def test_presets():
    model = tiny()
    assert 1_000 < model.count_params() < 10_000 and model.receptive_field == 4
    speech = WaveNet(**WaveNet.PRESETS["speech"])
    assert speech.num_levels == 256 and speech.receptive_field == 1 + 2 * 127
    assert speech.sample_rate == 16000
    paper = WaveNet.PRESETS["paper"]
    # The paper: dilations 1, 2, ..., 512 repeated, filter width 2, 256 mu-law levels.
    assert list(paper["dilations"]) == [2**i for i in range(10)] * 3
    assert paper["num_levels"] == 256 and paper.get("kernel_size", 2) == 2
    assert 1 + sum(paper["dilations"]) == 3070
    assert dilation_stacks(3, 2) == [1, 2, 4, 1, 2, 4]


def test_receptive_field_is_exact_for_wider_kernels():
    model = tiny(num_levels=3, kernel_size=3, dilations=(1, 2, 4))
    assert model.receptive_field == 1 + 2 * 7
    tc.sharpen(model, 1.5)
    sc.check_causality(model, length=19, receptive_field=15, trials=2)


def test_overrides_from_data():
    overrides = WaveNet.overrides_from_data(ark.data.info("speech"))
    assert overrides == {"num_levels": 256, "sample_rate": 16000}
    assert WaveNet.overrides_from_data(ark.data.info("ljspeech"))["sample_rate"] == 22050
    with pytest.raises(ValueError, match="integer sequences.*'digits'"):
        WaveNet.overrides_from_data(ark.data.info("digits"))


@pytest.mark.parametrize("build", [tiny, both])
def test_streaming_step_equals_the_parallel_pass(build):
    """Teacher forcing: stream_step fed x_{t-1} gives the network's logits at every t."""
    model = build(num_levels=5)
    tc.sharpen(model, 1.5)
    T = 12
    x = sc.random_sequences(model, 3, T)
    c = sc.conditional_for(model, 3, T)
    full = model.network(tf.constant(x), model.check_conditional(c, 3, T)).numpy()  # [3, T, K]
    labels = None if model.num_classes is None else tf.constant(c["labels"])
    local = None if model.local_channels is None else model.upsample_features(c["features"])
    state = model.init_stream(3)
    assert [tuple(s.shape) for s in state] == [(3,) + s for s in model.state_shapes]
    for t in range(T):
        x_prev = tf.constant(x[:, t - 1] if t else np.full(3, 4, np.int32))  # ignored at t = 0
        logits, state = model.stream_step(
            x_prev, state, tf.constant(t), labels, None if local is None else local[:, t]
        )
        np.testing.assert_allclose(logits.numpy(), full[:, t], rtol=1e-5, atol=1e-5)


def test_long_generation_uses_the_queues_exactly():
    # Far past the receptive field, with a kernel of 3 and a 4-sample dilation.
    model = tiny(num_levels=6, kernel_size=3, dilations=(1, 4, 2))
    tc.sharpen(model, 1.5)
    sc.check_cache_equals_recompute(model, length=60, num_samples=3)


# ------------------------------------------------------------------ conditioning
@pytest.mark.parametrize("mode", ["repeat", "transposed"])
def test_local_conditioning_is_read_from_its_frame_on(mode):
    """Frame f conditions samples f hop .. (f+1) hop - 1 directly, later ones through the
    hidden states (within the receptive field), and never an earlier sample."""
    model = tiny(local_channels=2, local_hop=3, local_upsampling=mode)
    tc.sharpen(model)
    x = sc.random_sequences(model, 1, 18)
    f = np.random.RandomState(0).normal(size=(1, 6, 2)).astype(np.float32)
    base = model.conditional_log_probs(x, f).numpy()
    moved = f.copy()
    moved[0, 2] += 1.0  # frame 2: t = 6, 7, 8
    changed = np.flatnonzero(np.abs(model.conditional_log_probs(x, moved).numpy() - base)[0] > 1e-6)
    assert changed.min() == 6 and {6, 7, 8} <= set(changed)
    assert changed.max() <= 8 + model.receptive_field - 1


def test_global_and_local_conditioning_contract(tmp_path):
    model = both(num_levels=4)
    tc.sharpen(model)
    sc.check_normalization(model, length=4)
    x = sc.random_sequences(model, 2, 6)
    f = np.random.RandomState(1).normal(size=(2, 3, 2)).astype(np.float32)
    lp = [model.log_prob(x, {"labels": np.full(2, i, np.int32), "features": f}).numpy() for i in range(2)]
    assert not np.allclose(lp[0], lp[1]), "the speaker id has no effect"
    sc.check_cache_equals_recompute(model, length=24)
    sc.check_samples_match_log_prob(model, length=2, num_samples=3000, max_tv=0.06)
    contract.check_serialization(model, str(tmp_path / "both.keras"), length=8)
    contract.check_fit_changes_every_weight(both(), length=8)


def test_bad_conditioning_gets_clear_errors():
    x = np.zeros((2, 8), np.int32)
    f = np.zeros((2, 4, 2), np.float32)
    ids = np.array([0, 1], np.int32)
    model = both()
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\)"):
        model.log_prob(x, {"labels": np.array([0, 3], np.int32), "features": f})
    with pytest.raises(ValueError, match=r"expected 4 frames for T = 8, got 3"):
        model.log_prob(x, {"labels": ids, "features": f[:, :3]})
    with pytest.raises(ValueError, match="not a multiple of 2"):
        model.sample(2, conditional={"labels": ids, "features": f}, length=7)
    with pytest.raises(ValueError, match=r"expected 4 frames for T = 8, got 3"):
        model.sample(2, conditional={"labels": ids, "features": f[:, :3]}, length=8)
    with pytest.raises(ValueError, match=r"\[batch, frames, 2\]"):
        model.log_prob(x, {"labels": ids, "features": np.zeros((2, 4, 3), np.float32)})
    with pytest.raises(ValueError, match="must be floats"):
        model.log_prob(x, {"labels": ids, "features": f.astype(np.int32)})
    with pytest.raises(ValueError, match="NaN"):
        model.log_prob(x, {"labels": ids, "features": np.full_like(f, np.nan)})
    with pytest.raises(ValueError, match='"labels"'):
        model.log_prob(x, f)
    with pytest.raises(ValueError, match="locally conditioned"):
        model.log_prob(x)
    with pytest.raises(ValueError, match="3 sequences for a batch of 2"):
        tiny(local_channels=2, local_hop=2).log_prob(x, np.zeros((3, 4, 2), np.float32))
    with pytest.raises(ValueError, match="local_hop"):
        tiny(local_channels=2)
    with pytest.raises(ValueError, match="dilations"):
        tiny(dilations=())
    with pytest.raises(ValueError, match="local_upsampling"):
        tiny(local_channels=2, local_hop=2, local_upsampling="linear")


# ------------------------------------------------------------------- audio logging
def test_sample_logger_writes_audio_and_wav(tmp_path):
    model = tiny(num_levels=256 // 16)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    logger = ark.callbacks.SampleLogger(str(tmp_path), audio_clips=2, length=300, seed=1)
    model.fit(sc.dataset(model, 4, 40), epochs=1, verbose=0, callbacks=[logger])
    audio, rate = read_wav(tmp_path / "samples_epoch_001.wav")
    assert rate == 16000 and audio.shape == (2 * 300 + 1600,)  # 0.1 s gap
    assert os.path.exists(tmp_path / "samples_latest.wav")
    want = ark.data.mu_law_decode(model.sample(2, seed=1, length=300), model.num_levels).numpy()
    np.testing.assert_allclose(audio[:300], want[0], atol=1e-4)  # 16-bit PCM
    np.testing.assert_allclose(audio[-300:], want[1], atol=1e-4)  # 16-bit PCM
    events = [os.path.join(tmp_path, "samples", f) for f in os.listdir(tmp_path / "samples")]
    tags = {v.tag for e in events for ev in tf.compat.v1.train.summary_iterator(e) for v in ev.summary.value}
    assert "samples" in tags
    path = logger.write_final(str(tmp_path / "final"))
    assert path.endswith("final.wav") and read_wav(path)[0].shape == (2 * 300 + 1600,)
    # A locally conditioned model samples with the conditioning it is given.
    local = tiny(local_channels=2, local_hop=3)
    features = np.random.RandomState(0).normal(size=(2, 100, 2)).astype(np.float32)
    logger = ark.callbacks.SampleLogger(
        str(tmp_path), audio_clips=2, length=300, conditional=features, sample_rate=8000
    )
    logger.set_model(local)
    audio, rate = read_wav(logger.write_final(str(tmp_path / "local")))
    assert rate == 8000 and audio.shape == (2 * 300 + 800,)


# ---------------------------------------------------------------------- exports
# Runs in a fresh interpreter: TensorFlow only, never ar_keras.
_LOADER = textwrap.dedent(r"""
    import json, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    manifest = json.load(open(sys.argv[1]))
    for entry in manifest["models"]:
        inp = dict(np.load(entry["inputs"]))
        names = [k for k in ("conditional", "features") if k in inp]
        c = {k: tf.constant(inp[k]) for k in names}
        sc = {k: tf.constant(inp["sample_" + k]) for k in names}
        out, errors = {}, {}
        sigs = tf.saved_model.load(entry["saved_model"]).signatures
        x = tf.constant(inp["x"])
        out["sm_log_prob"] = sigs["serving_default"](x=x, **c)["log_prob"].numpy()
        out["sm_clp"] = sigs["conditional_log_probs"](x=x, **c)["conditional_log_probs"].numpy()
        seeds = tf.constant(inp["seeds"])
        length = tf.constant(int(inp["length"]))
        out["sm_samples"] = sigs["sample"](seeds=seeds, temperature=tf.constant(1.0),
                                           length=length, **sc)["samples"].numpy()
        bad = {"x_out_of_range": lambda: sigs["serving_default"](x=tf.constant(inp["x_bad"]), **c),
               "length_zero": lambda: sigs["sample"](seeds=seeds, temperature=tf.constant(1.0),
                                                     length=tf.constant(0), **sc)}
        if "conditional" in inp:
            bad["label_out_of_range"] = lambda: sigs["serving_default"](
                x=x, **dict(c, conditional=tf.constant(inp["conditional_bad"])))
        if "features" in inp:
            bad["features_length"] = lambda: sigs["serving_default"](
                x=x, **dict(c, features=tf.constant(inp["features"][:, :-1])))
        for name, call in bad.items():
            try:
                call()
                errors[name] = None
            except tf.errors.InvalidArgumentError as e:
                errors[name] = e.message

        lite = Interpreter(model_path=entry["tflite"], num_threads=1)
        out["tfl_log_prob"] = lite.get_signature_runner("log_prob")(
            x=inp["x"], **{k: inp[k] for k in names})["log_prob"]
        out["tfl_samples"] = lite.get_signature_runner("sample_from_noise")(
            noise=inp["noise"], temperature=np.float32(1.0),
            **{k: inp["noise_" + k] for k in names})["samples"]

        # Stream samples one step at a time, state in, state out.
        stream = Interpreter(model_path=entry["tflite_step"], num_threads=1)
        step = stream.get_signature_runner("step")
        shapes = {k: v["shape"] for k, v in step.get_input_details().items()}
        state = {k: np.zeros(s, np.float32) for k, s in shapes.items() if k.startswith("state_")}
        extra = {}
        if "conditional" in names:
            extra["conditional"] = inp["step_conditional"]
        local = None
        if "features" in names:
            local = stream.get_signature_runner("upsample")(features=inp["step_features"])["local"]
        x_prev = np.zeros(shapes["x_prev"], np.int32)
        samples, logits = [], []
        for t in range(inp["step_noise"].shape[1]):
            if local is not None:
                extra["local"] = local[:, t]
            r = step(x_prev=x_prev, index=np.array(t, np.int32), noise=inp["step_noise"][:, t],
                     temperature=np.array(1.0, np.float32), **extra, **state)
            x_prev = r["sample"]
            samples.append(r["sample"])
            logits.append(r["logits"])
            state = {k: r[k] for k in state}
        out["step_samples"] = np.stack(samples, 1)
        out["step_logits"] = np.stack(logits, 1)
        out.update({"final_" + k: v for k, v in state.items()})
        info = {"signatures": sorted(sigs), "step_inputs": sorted(shapes),
                "step_outputs": sorted(r), "errors": errors}
        np.savez(entry["outputs"], **out)
        json.dump(info, open(entry["info"], "w"))
    json.dump({"ar_keras_imported": any(m.startswith("ar_keras") for m in sys.modules)},
              open(manifest["done"], "w"))
""")

EXPORTED = {"plain": {}, "both": dict(num_classes=3, local_channels=2, local_hop=2)}
T = 8


def _inputs(model, rng):
    inp = {
        "x": sc.random_sequences(model, 3, T),
        "seeds": np.array([4, 11], np.int64),
        "length": np.int32(T),
        "noise": rng.uniform(1e-6, 1, (2, T, model.head.noise_depth)).astype(np.float32),
        "step_noise": rng.uniform(1e-6, 1, (1, T, model.head.noise_depth)).astype(np.float32),
    }
    inp["x_bad"] = inp["x"].copy()
    inp["x_bad"][0, -1] = model.num_levels
    if model.num_classes:
        inp["conditional"] = np.array([0, 2, 1], np.int32)
        inp["conditional_bad"] = np.array([0, 3, 1], np.int32)
        inp["sample_conditional"] = np.array([2, 0], np.int32)
        inp["noise_conditional"] = np.array([1, 2], np.int32)
        inp["step_conditional"] = np.array([2], np.int32)
    if model.local_channels:
        frames = (T // model.local_hop, model.local_channels)
        for key, n in (("features", 3), ("sample_features", 2), ("noise_features", 2), ("step_features", 1)):
            inp[key] = rng.normal(size=(n,) + frames).astype(np.float32)
    return inp


def _c(model, inp, prefix=""):
    return model.make_conditional(
        {"conditional": inp.get(prefix + "conditional"), "features": inp.get(prefix + "features")}
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("wavenet_export")
    rng = np.random.default_rng(0)
    models, entries = {}, []
    keras.utils.set_random_seed(5)
    for key, overrides in EXPORTED.items():
        model = tiny(num_levels=6, **overrides)
        tc.sharpen(model, 1.5)
        models[key] = model
        paths = {
            "saved_model": str(root / key / "1"),
            "tflite": str(root / f"{key}.tflite"),
            "tflite_step": str(root / f"{key}_step.tflite"),
        }
        assert export.saved_model(model, paths["saved_model"]) == paths["saved_model"]
        assert export.tflite(model, paths["tflite"]) == paths["tflite"]
        assert export.tflite_step(model, paths["tflite_step"]) == paths["tflite_step"]
        entries.append(export_case.entry(root, key, **paths))
        np.savez(entries[-1]["inputs"], **_inputs(model, rng))
    results, done = export_case.serve(_LOADER, root, entries)
    return {"models": models, "results": results, "done": done}


def test_exports_load_without_ar_keras(exported):
    assert not exported["done"]["ar_keras_imported"]


@pytest.mark.parametrize("key", EXPORTED)
def test_saved_model_matches_the_model(exported, key):
    model, r = exported["models"][key], exported["results"][key]
    inp, out = r["inp"], r["out"]
    assert r["info"]["signatures"] == ["conditional_log_probs", "sample", "serving_default"]
    c = _c(model, inp)
    np.testing.assert_allclose(out["sm_log_prob"], model.log_prob(inp["x"], c).numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        out["sm_clp"], model.conditional_log_probs(inp["x"], c).numpy(), rtol=1e-4, atol=1e-4
    )
    assert out["sm_samples"].shape == (2, T)
    for j, seed in enumerate(inp["seeds"]):
        cj = sc.take(_c(model, inp, "sample_"), slice(j, j + 1))
        want = model.sample(1, conditional=cj, seed=int(seed), length=T).numpy()[0]
        np.testing.assert_array_equal(out["sm_samples"][j], want)


@pytest.mark.parametrize("key", EXPORTED)
def test_saved_model_rejects_bad_input(exported, key):
    errors = exported["results"][key]["info"]["errors"]
    assert all(message is not None for message in errors.values()), errors
    assert "x must hold values in [0, 6)" in errors["x_out_of_range"]
    assert "length must be a positive" in errors["length_zero"]
    if key == "both":
        assert "class ids in [0, 3)" in errors["label_out_of_range"]
        assert "one frame per 2 samples" in errors["features_length"]


@pytest.mark.parametrize("key", EXPORTED)
def test_tflite_log_prob_and_sampler(exported, key):
    model, r = exported["models"][key], exported["results"][key]
    inp, out = r["inp"], r["out"]
    np.testing.assert_allclose(
        out["tfl_log_prob"], model.log_prob(inp["x"], _c(model, inp)).numpy(), rtol=1e-4, atol=1e-4
    )
    want = model.sample_from_noise(
        inp["noise"], model.check_conditional(_c(model, inp, "noise_"), 2, T)
    ).numpy()
    np.testing.assert_array_equal(out["tfl_samples"], want)


@pytest.mark.parametrize("key", EXPORTED)
def test_tflite_streaming_step_equals_the_keras_step(exported, key):
    model, r = exported["models"][key], exported["results"][key]
    inp, out, info = r["inp"], r["out"], r["info"]
    L = len(model.dilations)
    assert info["step_outputs"] == sorted(["logits", "sample"] + [f"state_{i:02d}" for i in range(L)])
    c = model.check_conditional(_c(model, inp, "step_"), 1, T)
    # The streamed samples are the model's samples for the same noise...
    np.testing.assert_array_equal(out["step_samples"], model.sample_from_noise(inp["step_noise"], c).numpy())
    # ... and every step's logits and final state are the Keras step's.
    labels = None if model.num_classes is None else c["labels"]
    local = None if model.local_channels is None else model.upsample_features(c["features"])
    state = model.init_stream(1)
    x_prev = tf.zeros([1], tf.int32)
    for t in range(T):
        logits, state = model.stream_step(
            x_prev, state, tf.constant(t), labels, None if local is None else local[:, t]
        )
        np.testing.assert_allclose(out["step_logits"][:, t], logits.numpy(), rtol=1e-5, atol=1e-5)
        x_prev = tf.constant(out["step_samples"][:, t])
    for i, s in enumerate(state):
        np.testing.assert_allclose(out[f"final_state_{i:02d}"], s.numpy(), rtol=1e-5, atol=1e-5)


def test_tflite_step_refuses_models_without_a_stream_step(tmp_path):
    with pytest.raises(TypeError, match="stream_signatures"):
        export.tflite_step(ark.models.get("nade", preset="tiny"), tmp_path / "x.tflite")


# ---------------------------------------------------------------------- the CLI
def test_training_command_writes_a_wav(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "train",
            *cli_case.train_flags("wavenet", "speech", epochs=1, batch_size=20, logdir=tmp_path, verbose=0),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["samples_file"] == str(tmp_path / "samples.wav")
    assert 0 < result["test_bits_per_dim"] < 8.5  # 256 levels: 8 bits
    for name in ("samples.wav", "samples_epoch_001.wav"):
        audio, rate = read_wav(tmp_path / name)
        assert rate == 16000 and len(audio) == 4 * 8000 + 3 * 1600  # 4 clips of 0.5 s
        assert np.abs(audio).max() <= 1.0
    assert (tmp_path / "model.keras").exists()
