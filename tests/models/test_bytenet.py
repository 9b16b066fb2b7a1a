"""ByteNet: receptive field by flipping, shifted decoder input, non-causal encoder, dynamic
unfolding, the translation contract, streaming, exports and the parallel data.

The contract checks every sequence model gets (causality, normalisation, sampling, cache ==
recompute, round trip, fit, MirroredStrategy, bad input) run on the language model in
test_sequence_contract.py and test_every_model.py; this file checks what is ByteNet's own,
and the same contract for the translation model (conditional = the source).
"""

import textwrap

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
from ar_keras.layers import ByteNetBlock
from ar_keras.models.text.bytenet import ByteNet, dilation_sets


def tiny(**overrides):
    return ark.models.get("bytenet", preset="tiny", **overrides)


def translator(**overrides):
    """Tiny encoder-decoder: 4 source symbols, |t^| = |s| + 2, encoder reach 3 each way."""
    kwargs = dict(num_levels=3, source_levels=4, unfold_a=1.0, unfold_b=2.0)
    kwargs.update(overrides)
    return tiny(**kwargs)


def sources(model, batch, length, seed=0):
    return np.random.RandomState(seed + 11).randint(0, model.source_levels, (batch, length)).astype(np.int32)


# --------------------------------------------------------------------- structure
def test_presets():
    model = tiny()
    assert model.count_params() < 10_000 and model.receptive_field == 7
    assert not model.translates and model.block_type == "rmb"
    paper = ByteNet.PRESETS["paper"]
    # The paper's enwik8 decoder: 30 RMBs in 6 sets of 1, 2, 4, 8, 16, kernel 3, d = 512.
    assert list(paper["dilations"]) == [1, 2, 4, 8, 16] * 6 and paper["hidden_dim"] == 512
    assert paper["kernel_size"] == 3 and paper["block_type"] == "rmb"
    assert 1 + 2 * sum(paper["dilations"]) == 373  # 3 live taps
    assert 1 + 1 * sum(paper["dilations"]) == 187  # 2 live taps
    assert ByteNet.PRESETS["text"]["num_levels"] == 256
    assert dilation_sets(2, 3) == [1, 2, 4, 1, 2, 4]
    mt = ByteNet.PRESETS["paper_translation"]
    assert mt["block_type"] == "relu" and mt["unfold_a"] == 1.2 and mt["source_levels"] == 256


def float64_model(**overrides):
    """A tiny model built with float64 weights and computations, for exact dependence tests."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        model = tiny(**overrides)
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.embedding.embeddings.dtype == "float64"
    return model


def flip_dependence(model, length, trials=2, tol=1e-9):
    """``[t, j]``: did flipping x_j move the logits of step t by more than ``tol``, in any trial?

    The model is float64 (`float64_model`): in float32, rows of one batch go through the
    matrix products in different blocks and a deep stack's outputs differ by ~1e-7 from
    round-off alone, while a genuine but weak dependence at the edge of the receptive field
    can be as small as that.
    """
    T = length
    depends = np.zeros((T, T), bool)
    for trial in range(trials):
        x = sc.random_sequences(model, 1, T, seed=trial)  # [1, T]
        changed = np.repeat(x, T, axis=0)  # row j flips x_j
        changed[np.arange(T), np.arange(T)] = (
            changed[np.arange(T), np.arange(T)] + 1 + trial
        ) % model.num_levels
        logits = model.network(tf.constant(np.concatenate([x, changed]))).numpy()  # [T+1, T, K]
        moved = np.abs(logits[1:] - logits[:1]).max(-1)  # [j, t]
        depends |= (moved > tol).T  # -> [t, j]
    return depends


@pytest.mark.parametrize(
    "block_type,kernel_size,dilations",
    [
        ("rmb", 3, (1, 2, 4, 8, 16)),  # one set of the paper's schedule: r = 63
        ("relu", 2, (1, 2, 4)),  # 2 live taps, ReLU blocks: r = 8
        ("relu", 3, (2, 1)),
    ],
)
def test_measured_receptive_field_equals_the_documented_one(block_type, kernel_size, dilations):
    model = float64_model(
        num_levels=3, hidden_dim=4, block_type=block_type, kernel_size=kernel_size, dilations=dilations
    )
    r = model.receptive_field
    assert r == 1 + (kernel_size - 1) * sum(dilations)
    # Flipping x_j moves the logits of exactly x_{j+1} .. x_{j+r}: no earlier step, no gap.
    T = r + 4
    t, j = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    np.testing.assert_array_equal(flip_dependence(model, T), (j < t) & (t <= j + r))


def test_a_mutated_model_shows_a_different_receptive_field():
    """The measurement can fail: a dilation of 3 instead of 2 moves the measured edge by 2."""
    reach = []
    for dilations in ((1, 2), (1, 3)):
        depends = flip_dependence(float64_model(num_levels=3, dilations=dilations), 12)
        reach.append(max(t - j for t, j in zip(*np.nonzero(depends))))
    assert reach == [7, 9]


def test_decoder_input_is_the_target_shifted_by_one():
    model = tiny(num_levels=5)
    tc.sharpen(model, 1.5)
    x = sc.random_sequences(model, 2, 9)
    h0 = model.decoder_inputs(tf.constant(x)).numpy()  # [2, 9, 2d]
    embedded = model.embedding(tf.constant(x)).numpy()  # [2, 9, 2d]
    np.testing.assert_array_equal(h0[:, 0], 0.0)  # E[x_{-1}] = 0
    np.testing.assert_array_equal(h0[:, 1:], embedded[:, :-1])
    # So the first conditional is the same for every sequence, and conditional t moves with
    # x_{t-1} but never with x_t.
    clp = model.conditional_log_probs(x).numpy()
    logits = model.network(tf.constant(x)).numpy()  # [2, 9, K]
    np.testing.assert_allclose(logits[0, 0], logits[1, 0], rtol=1e-6)
    for t in range(1, 9):
        y = x.copy()
        y[:, t - 1] = (y[:, t - 1] + 1) % 5
        assert np.all(np.abs(model.conditional_log_probs(y).numpy()[:, t] - clp[:, t]) > 1e-6)
        z = x.copy()
        z[:, t] = (z[:, t] + 1) % 5
        np.testing.assert_allclose(model.network(tf.constant(z)).numpy()[:, t], logits[:, t], rtol=1e-6)


@pytest.mark.parametrize("build", [tiny, translator])
def test_streaming_step_equals_the_parallel_pass(build):
    """Teacher forcing: the cached step fed x_{t-1} gives the network's logits at every t,
    past |t^| too for the translator."""
    model = build()
    tc.sharpen(model, 1.5)
    T = 13
    x = sc.random_sequences(model, 3, T)
    src = sources(model, 3, 5) if model.translates else None
    full = model.network(tf.constant(x), src).numpy()  # [3, T, K]
    cache = model.init_cache(3, src)
    for t in range(T):
        logits, cache = model.step(tf.constant(x), cache, tf.constant(t), src)
        np.testing.assert_allclose(logits.numpy(), full[:, t], rtol=1e-5, atol=1e-5)


def test_block_step_equals_call_and_encoder_block_does_not_stream():
    block = ByteNetBlock(hidden_channels=4, kernel_size=3, dilation_rate=2, block_type="relu")
    x = tf.random.normal([2, 9, 8])
    full = block(x).numpy()
    queue = block.init_cache(2)
    for t in range(9):
        y, queue = block.step(x[:, t], queue)
        np.testing.assert_allclose(y.numpy(), full[:, t], rtol=1e-5, atol=1e-5)
    encoder = ByteNetBlock(hidden_channels=4, causal=False)
    assert encoder(x).shape == (2, 9, 8)
    with pytest.raises(ValueError, match="does not stream"):
        encoder.init_cache(2)
    with pytest.raises(ValueError, match="block_type"):
        ByteNetBlock(4, block_type="gru")


# ------------------------------------------------------------------ translation
def test_dynamic_unfolding_length():
    model = translator(unfold_a=1.2, unfold_b=0.0)
    assert [model.unfolded_length(s) for s in (1, 3, 5, 10, 20)] == [2, 4, 6, 12, 24]
    assert int(model.unfolded_length(tf.constant(10))) == 12  # graph path agrees
    src = sources(model, 2, 5)
    assert model.sample(2, conditional=src, seed=0).shape == (2, 6)  # |t^| by default
    assert model.sample(2, conditional=src, seed=0, length=9).shape == (2, 9)
    assert translator(unfold_a=0.5, unfold_b=0.0).unfolded_length(5) == 3
    # The encoder's output is |t^| columns long, cropped when |t^| < |s|.
    assert model.source_columns(tf.constant(src)).shape == (2, 6, 2 * model.hidden_dim)
    short = translator(unfold_a=0.5, unfold_b=0.0)
    assert short.source_columns(tf.constant(src)).shape == (2, 3, 2 * short.hidden_dim)


def test_encoder_is_not_causal_and_the_source_reaches_exactly_the_documented_steps():
    """Target step t depends on source step j iff a decoder input column p in
    [max(0, t-r+1), min(t, |t^|-1)] has p - behind <= j <= p + ahead."""
    model = translator()
    tc.sharpen(model, 1.5)
    S, T = 6, 17  # |t^| = 8, r = 7: steps t >= 14 see no source
    behind, ahead = model.encoder_reach
    assert (behind, ahead) == (3, 3)
    unfolded, r = model.unfolded_length(S), model.receptive_field
    x = sc.random_sequences(model, 1, T)
    base = sources(model, 1, S)
    changed = np.repeat(base, S, axis=0)
    changed[np.arange(S), np.arange(S)] = (changed[np.arange(S), np.arange(S)] + 1) % 4
    src = np.concatenate([base, changed])  # [S + 1, S]
    clp = model.conditional_log_probs(np.repeat(x, S + 1, axis=0), src).numpy()
    moved = np.abs(clp[1:] - clp[:1]) > 1e-6  # [j, t]
    for j in range(S):
        for t in range(T):
            columns = range(max(0, t - r + 1), min(t, unfolded - 1) + 1)
            expected = any(p - behind <= j <= p + ahead for p in columns)
            assert moved[j, t] == expected, (j, t, expected)
    # Non-causal: the first target step reads source steps after it.
    assert moved[1 : ahead + 1, 0].all()


def test_translation_normalises_over_all_short_targets():
    model = translator()  # K = 3
    tc.sharpen(model)
    targets = sc.configurations(4, 3)  # 81 targets
    totals = []
    for seed in range(2):
        src = np.repeat(sources(model, 1, 3, seed), len(targets), axis=0)  # |t^| = 5 > 4
        lp = model.log_prob(targets, src).numpy().astype(np.float64)
        totals.append(lp)
        assert abs(np.exp(lp).sum() - 1.0) < 2e-4
    assert not np.allclose(totals[0], totals[1]), "the source has no effect"
    # Targets longer than |t^| too (|t^| = 3 for a 1-step source).
    src = np.repeat(sources(model, 1, 1), len(targets), axis=0)
    assert abs(np.exp(model.log_prob(targets, src).numpy().astype(np.float64)).sum() - 1) < 2e-4


def test_translation_samples_cache_and_contract(tmp_path):
    model = translator()
    tc.sharpen(model)
    src = sources(model, 1, 2)
    # Samples agree with log_prob (9 targets of length 2 for one source).
    targets = sc.configurations(2, 3)
    probs = np.exp(model.log_prob(targets, np.repeat(src, 9, axis=0)).numpy().astype(np.float64))
    samples = model.sample(2000, conditional=np.repeat(src, 2000, axis=0), seed=0, length=2).numpy()
    tc.check_frequencies(samples, probs, 3, 0.07)
    # Cache == recompute far past |t^| (= 5), each row with its own source.
    src = sources(model, 4, 3)
    cached = model.sample(4, conditional=src, seed=3, length=16).numpy()
    full = model.sample(4, conditional=src, seed=3, length=16, cache=False).numpy()
    np.testing.assert_array_equal(cached, full)
    assert len({tuple(r) for r in cached}) > 1
    # Round trip and one fit step on (target, source) pairs changes every weight, encoder too.
    x = sc.random_sequences(model, 3, 7)
    contract.check_serialization(
        model,
        str(tmp_path / "mt.keras"),
        x,
        sources(model, 3, 5),
        sample=dict(num_samples=2, conditional=src[:2], seed=1, length=6),
    )
    fresh = translator()
    before = [w.numpy().copy() for w in fresh.trainable_weights]
    fresh.compile(optimizer=keras.optimizers.Adam(1e-2))
    ds = tf.data.Dataset.from_tensor_slices((sc.random_sequences(fresh, 4, 8), sources(fresh, 4, 6))).batch(4)
    history = fresh.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    unchanged = [w.path for w, b in zip(fresh.trainable_weights, before) if np.array_equal(w.numpy(), b)]
    assert not unchanged and any("encoder" in w.path for w in fresh.trainable_weights)


def test_bad_input_gets_clear_errors():
    model = translator()
    x = np.zeros((2, 5), np.int32)
    src = np.zeros((2, 4), np.int32)
    with pytest.raises(ValueError, match=r"translates.*source"):
        model.log_prob(x)
    with pytest.raises(ValueError, match="integer symbols"):
        model.log_prob(x, src.astype(np.float32))
    with pytest.raises(ValueError, match=r"\[batch, S\]"):
        model.log_prob(x, src[0])
    with pytest.raises(ValueError, match=r"source must hold values in \[0, 4\)"):
        model.log_prob(x, src + 4)
    with pytest.raises(ValueError, match="3 sequences for a batch of 2"):
        model.log_prob(x, np.zeros((3, 4), np.int32))
    with pytest.raises(ValueError, match="at least one step"):
        model.log_prob(x, np.zeros((2, 0), np.int32))
    with pytest.raises(ValueError, match="length=T"):
        model.sample(2)  # no source, no length
    with pytest.raises(ValueError, match="num_classes conditions the language model"):
        translator(num_classes=2)
    for bad, match in (
        (dict(block_type="lstm"), "block_type"),
        (dict(dilations=()), "dilations"),
        (dict(dropout=1.0), "dropout"),
        (dict(hidden_dim=0), "hidden_dim"),
        (dict(source_levels=1), "source_levels"),
        (dict(source_levels=4, unfold_a=0.0), "unfold_a"),
        (dict(source_levels=4, encoder_dilations=[0]), "encoder_dilations"),
    ):
        with pytest.raises(ValueError, match=match):
            tiny(**bad)


# ---------------------------------------------------------------------------- data
def test_reversal_task_and_wmt_offline(tmp_path):
    targets, srcs = ark.data.parallel.reversal_pairs("validation", length=16)
    assert targets.shape == srcs.shape and targets.shape[1] == 16
    np.testing.assert_array_equal(targets, srcs[:, ::-1])
    train = ark.data.parallel.reversal_pairs("train", length=16)[1]
    assert len(train) == ark.data.text.text_arrays("train", 16)[0].shape[0]
    t, s = next(iter(ark.data.parallel.load_parallel("text_reverse", "test", length=8)))
    assert t.dtype == tf.int32 and t.shape == (8,) and list(t.numpy()) == list(s.numpy()[::-1])
    missing = r"(?s)wmt14_translate/de-en.*never downloads"
    with pytest.raises(ark.data.DatasetNotFoundError, match=missing):
        ark.data.parallel.wmt("train", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="load_parallel reads"):
        ark.data.parallel.load_parallel("europarl")


# ---------------------------------------------------------------------- exports
_LOADER = textwrap.dedent(r"""
    import json, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    manifest = json.load(open(sys.argv[1]))
    for entry in manifest["models"]:
        inp = dict(np.load(entry["inputs"]))
        c = {"source": tf.constant(inp["source"])} if "source" in inp else {}
        sc = {"source": tf.constant(inp["sample_source"])} if "source" in inp else {}
        sigs = tf.saved_model.load(entry["saved_model"]).signatures
        x = tf.constant(inp["x"])
        out = {"sm_log_prob": sigs["serving_default"](x=x, **c)["log_prob"],
               "sm_clp": sigs["conditional_log_probs"](x=x, **c)["conditional_log_probs"],
               "sm_samples": sigs["sample"](seeds=tf.constant(inp["seeds"]),
                                            temperature=tf.constant(1.0),
                                            length=tf.constant(int(inp["length"])),
                                            **sc)["samples"]}
        out = {k: v.numpy() for k, v in out.items()}
        try:
            sigs["serving_default"](x=tf.constant(inp["x"] + 100), **c)
            error = None
        except tf.errors.InvalidArgumentError as e:
            error = e.message
        lite = Interpreter(model_path=entry["tflite"], num_threads=1)
        out["tfl_log_prob"] = lite.get_signature_runner("log_prob")(
            x=inp["x"], **({"source": inp["source"]} if "source" in inp else {}))["log_prob"]
        out["tfl_samples"] = lite.get_signature_runner("sample_from_noise")(
            noise=inp["noise"], temperature=np.float32(1.0),
            **({"source": inp["sample_source"]} if "source" in inp else {}))["samples"]
        np.savez(entry["outputs"], **out)
        json.dump({"error": error, "signatures": sorted(sigs)}, open(entry["info"], "w"))
    json.dump({"ar_keras_imported": any(m.startswith("ar_keras") for m in sys.modules)},
              open(manifest["done"], "w"))
""")


def test_saved_model_and_tflite_run_without_ar_keras(tmp_path):
    T = 7
    rng = np.random.default_rng(0)
    models, entries = {}, []
    keras.utils.set_random_seed(2)
    for key, build in (("lm", lambda: tiny(num_levels=6)), ("mt", lambda: translator())):
        model = build()
        tc.sharpen(model, 1.5)
        models[key] = model
        paths = {"saved_model": str(tmp_path / key / "1"), "tflite": str(tmp_path / f"{key}.tflite")}
        export.saved_model(model, paths["saved_model"])
        export.tflite(model, paths["tflite"])
        inp = {
            "x": sc.random_sequences(model, 3, T),
            "seeds": np.array([4, 11], np.int64),
            "length": np.int32(T),
            "noise": rng.uniform(1e-6, 1, (2, T, model.head.noise_depth)).astype(np.float32),
        }
        if model.translates:
            inp["source"], inp["sample_source"] = sources(model, 3, 5), sources(model, 2, 4, 1)
        entries.append(export_case.entry(tmp_path, key, **paths))
        np.savez(entries[-1]["inputs"], **inp)
    results, done = export_case.serve(_LOADER, tmp_path, entries)
    assert not done["ar_keras_imported"]
    for key, r in results.items():
        model, info, out, inp = models[key], r["info"], r["out"], r["inp"]
        assert info["signatures"] == ["conditional_log_probs", "sample", "serving_default"]
        assert "x must hold values in" in info["error"]
        c = inp["source"] if model.translates else None
        want = model.log_prob(inp["x"], c).numpy()
        np.testing.assert_allclose(out["sm_log_prob"], want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(out["tfl_log_prob"], want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(
            out["sm_clp"], model.conditional_log_probs(inp["x"], c), rtol=1e-4, atol=1e-4
        )
        for j, seed in enumerate(inp["seeds"]):
            cj = inp["sample_source"][j : j + 1] if model.translates else None
            np.testing.assert_array_equal(
                out["sm_samples"][j], model.sample(1, conditional=cj, seed=int(seed), length=T).numpy()[0]
            )
        cs = inp["sample_source"] if model.translates else None
        np.testing.assert_array_equal(
            out["tfl_samples"],
            model.sample_from_noise(
                inp["noise"], None if cs is None else model.check_conditional(cs, 2)
            ).numpy(),
        )
