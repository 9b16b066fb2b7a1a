"""Sparse Transformer: one name and one class for images and byte sequences, overrides that win
over the presets, every attention choice causal and cached exactly, the paper's initialisation,
bad input, sequence exports, text in TensorBoard.

The shared property suites run on ``sparse_transformer``'s ``tiny`` preset (images,
tests/models/test_contract.py) and its ``tiny_sequence`` preset (bytes,
tests/models/test_sequence_contract.py); the checks here cover what the tiny presets do not:
the merged strided and fixed patterns, dense attention, the CIFAR interleaving, and what only
this model has.
"""

import json
import math
import os
import textwrap

import export_case
import keras
import numpy as np
import pytest
import sequence_case as sc
import tensorflow as tf
import test_case as tc

import ar_keras as ark
from ar_keras import export
from ar_keras.models.transformer.sparse_transformer import CIFAR_LAYER_PATTERN, SparseTransformer

NAME = "sparse_transformer"
IMAGE_PRESETS, SEQUENCE_PRESETS = ("tiny", "digits", "paper"), ("tiny_sequence", "text", "speech", "enwik8")


def image(**overrides):
    return ark.models.get(NAME, preset="tiny", **overrides)


def sequence(**overrides):
    return ark.models.get(NAME, preset="tiny_sequence", **overrides)


# ------------------------------------------------------------------------- kinds and presets
def test_one_name_one_class_builds_images_or_sequences():
    assert NAME in ark.models.names() and "sparse_transformer_sequence" not in ark.models.names()
    assert len(ark.models.names()) == 22
    assert not hasattr(ark.models, "SparseTransformerSequence")
    m = image()
    assert type(m) is SparseTransformer and m.event.kind == "image"
    assert m.image_shape == (4, 4, 1) and m.max_length is None
    s = sequence()
    assert type(s) is SparseTransformer and s.event.kind == "sequence"
    assert s.image_shape == (None,) and s.max_length == 32
    assert set(IMAGE_PRESETS + SEQUENCE_PRESETS) == set(ark.models.presets(NAME))
    for preset in IMAGE_PRESETS:
        assert SparseTransformer.event_kind_of(SparseTransformer.PRESETS[preset]) == "image", preset
    for preset in SEQUENCE_PRESETS:
        assert SparseTransformer.event_kind_of(SparseTransformer.PRESETS[preset]) == "sequence", preset
    with pytest.raises(ValueError, match="not both"):
        SparseTransformer(image_shape=(4, 4, 1), max_length=16)
    with pytest.raises(ValueError, match="got neither"):
        image(image_shape=None)
    cls = ark.models.model_class(NAME)
    assert cls.overrides_from_data(ark.data.info("text")) == {"num_levels": 256, "max_length": 256}
    assert cls.overrides_from_data(ark.data.info("digits")) == {"image_shape": (8, 8, 1), "num_levels": 17}
    with pytest.raises(ValueError, match="holds video data"):
        cls.overrides_from_data(ark.data.info("moving_digits"))


def test_max_length_on_an_image_preset_builds_a_model_of_sequences():
    m = ark.models.get(NAME, preset="tiny", max_length=64)
    assert m.event.kind == "sequence" and m.max_length == 64 and m.image_shape == (None,)
    assert m.block_length == 8  # round(sqrt(64)), not the image's row
    assert m.hidden_dim == SparseTransformer.PRESETS["tiny"]["hidden_dim"]  # the rest is kept
    assert m.layer_pattern == SparseTransformer.PRESETS["tiny"]["layer_pattern"]
    assert m.sample(2, length=5, seed=0).shape == (2, 5)
    # With the dataset's overrides, as python -m train gives them.
    text = ark.models.get(
        NAME, preset="digits", **SparseTransformer.overrides_from_data(ark.data.info("text"))
    )
    assert text.event.kind == "sequence" and text.max_length == 256 and text.num_levels == 256


def test_image_shape_on_a_sequence_preset_builds_a_model_of_images():
    m = ark.models.get(NAME, preset="tiny_sequence", image_shape=(2, 4, 1))
    assert m.event.kind == "image" and m.image_shape == (2, 4, 1) and m.max_length is None
    # The preset's block_length (6) and num_summary, sized to its sequences, are dropped.
    assert m.block_length == 4 and m.num_summary == 1  # one row W C; l / 4
    assert m.attention == "fixed"  # the rest is kept
    speech = ark.models.get(NAME, preset="speech", image_shape=(2, 2, 1), num_layers=1)
    assert speech.event.kind == "image" and speech.sample_rate is None
    kept = SparseTransformer.resolve_preset(
        SparseTransformer.PRESETS["tiny_sequence"], {"image_shape": (2, 4, 1), "block_length": 2}
    )
    assert "max_length" not in kept and "num_summary" not in kept and "block_length" in kept


def test_attention_override_brings_its_own_layer_pattern():
    m = ark.models.get(NAME, preset="digits", attention="fixed")
    assert m.attention == "fixed" and m.layer_pattern is None
    assert m.layer_patterns == ["fixed"] * 4 and [b.attention.spec.pattern for b in m.blocks] == ["fixed"] * 4
    halves = ("fixed_block", "fixed_summary")
    assert (
        ark.models.get(NAME, preset="digits", attention="fixed", layer_pattern=halves).layer_pattern == halves
    )
    assert ark.models.get(NAME, preset="digits").layer_pattern == CIFAR_LAYER_PATTERN  # no override


def test_a_conflict_resolve_preset_leaves_names_the_preset_argument():
    # block_length must divide the preset's 8x8 image: the error names the preset's image_shape.
    with pytest.raises(
        ValueError, match=r"must divide .*preset 'digits', which also sets image_shape=\(8, 8, 1\)"
    ):
        ark.models.get(NAME, preset="digits", block_length=5)
    # A layer pattern of another family than the preset's attention.
    with pytest.raises(ValueError, match=r"layer_pattern for attention='strided'.*attention='strided'"):
        ark.models.get(NAME, preset="digits", layer_pattern=("fixed_block",))


def test_paper_presets_are_the_papers_configurations():
    # Not built here (59M and 95M parameters); scripts count them: benchmarks/
    # transformer_sampling.py --count-params.
    cifar = SparseTransformer.PRESETS["paper"]
    assert (
        cifar["image_shape"],
        cifar["num_layers"],
        cifar["hidden_dim"],
        cifar["num_heads"],
        cifar["block_length"],
        cifar["attention"],
    ) == ((32, 32, 3), 128, 256, 2, 96, "strided")
    assert cifar["layer_pattern"] == CIFAR_LAYER_PATTERN
    enwik8 = SparseTransformer.PRESETS["enwik8"]
    assert (
        enwik8["max_length"],
        enwik8["num_layers"],
        enwik8["hidden_dim"],
        enwik8["num_heads"],
        enwik8["attention"],
        enwik8["block_length"],
        enwik8["num_summary"],
    ) == (12288, 30, 512, 8, "fixed", 128, 32)


def test_factorised_positions_and_default_block():
    m = image(image_shape=(2, 3, 2))
    assert m.block_length == 6  # one row, W * C
    # (size, stride) of the row, column and channel factors of raster position i.
    assert m.position_factors == ((2, 6), (3, 2), (2, 1))
    assert [e.input_dim for e in m.position_embeddings] == [2, 3, 2]
    s = sequence(max_length=50, block_length=None)
    assert s.block_length == 7  # round(sqrt(50))
    assert s.position_factors == ((8, 7), (7, 1))  # rows of a width-7 grid, columns


def test_layer_pattern_interleaves_and_reaches_every_position():
    m = image(image_shape=(3, 4, 1), num_layers=5, layer_pattern=CIFAR_LAYER_PATTERN)
    patterns = ["strided_stride", "strided_local", "strided_local", "strided_local", "strided_stride"]
    assert m.layer_patterns == patterns
    assert [b.attention.spec.pattern for b in m.blocks] == patterns
    assert image(attention="dense", layer_pattern=None).layer_patterns == ["dense", "dense"]
    assert image(layer_pattern=None).layer_patterns == ["strided", "strided"]


# ---------------------------------------------------------- every attention choice, both kinds
IMAGE_VARIANTS = {
    "strided": dict(layer_pattern=None),
    "fixed": dict(attention="fixed", layer_pattern=None, num_summary=2),
    "dense": dict(attention="dense", layer_pattern=None),
}
SEQUENCE_VARIANTS = {
    "strided": dict(attention="strided", block_length=4, num_summary=None),
    "interleaved": dict(
        attention="strided",
        block_length=4,
        num_summary=None,
        layer_pattern=("strided_stride", "strided_local"),
    ),
    "fixed_halves": dict(block_length=4, layer_pattern=("fixed_block", "fixed_summary")),
    "dense": dict(attention="dense", num_summary=None),
}


def check_causal_and_fully_dependent(model, x):
    """In generation order: changing element j leaves every conditional before it exactly as
    it was, and moves every conditional after it (two layers cover the sparse sets).

    One example per call: TensorFlow's CPU reductions (layer normalisation) round the rows of
    a batch differently by ~1e-7 depending on the batch's size, noise unrelated to causality
    that a batched comparison would have to tolerate."""
    flat = x.reshape(-1)
    D = flat.size
    base = model.conditional_log_probs(x[None]).numpy().reshape(D)
    for j in range(D):
        changed = flat.copy()
        changed[j] = (changed[j] + 1) % model.num_levels
        clp = model.conditional_log_probs(changed.reshape((1,) + x.shape)).numpy().reshape(D)
        np.testing.assert_array_equal(clp[:j], base[:j], err_msg=f"x_{j} changed earlier ones")
        moved = np.abs(clp[j + 1 :] - base[j + 1 :])
        assert np.all(moved > 1e-7), f"conditionals {np.flatnonzero(moved <= 1e-7) + j + 1} ignore x_{j}"


@pytest.mark.parametrize("variant", IMAGE_VARIANTS)
def test_image_variants_are_causal_and_cached_exactly(variant):
    model = image(image_shape=(3, 4, 1), num_levels=3, **IMAGE_VARIANTS[variant])
    tc.sharpen(model, 1.5)
    check_causal_and_fully_dependent(model, tc.random_data(model, 1)[0])
    model = image(image_shape=(2, 2, 3), num_levels=5, **IMAGE_VARIANTS[variant])
    tc.sharpen(model, 1.5)
    tc.check_cache_equals_recompute(model)


@pytest.mark.parametrize("variant", SEQUENCE_VARIANTS)
def test_sequence_variants_are_causal_and_cached_exactly(variant):
    model = sequence(num_levels=3, **SEQUENCE_VARIANTS[variant])
    tc.sharpen(model, 1.5)
    check_causal_and_fully_dependent(model, sc.random_sequences(model, 1, 11)[0])
    sc.check_cache_equals_recompute(model, length=30)


def test_sampling_caches_are_sized_by_the_request():
    """A sample of T steps keeps T positions of keys and values per block, not max_length
    (a length that is a tensor, the SavedModel's input, keeps max_length), and draws what
    full recompute draws at lengths that are not a multiple of the blocks (every variant is
    sampled at T = 30 by `test_sequence_variants_are_causal_and_cached_exactly`)."""
    model = sequence(max_length=64, num_levels=5, **SEQUENCE_VARIANTS["interleaved"])
    tc.sharpen(model, 1.5)
    assert [b["keys"].shape[0] for b in model.init_cache_for(3, 7)] == [7] * len(model.blocks)
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def dynamic(length):
        cache = model.init_cache_for(3, length)
        seen.extend(b["values"].shape[0] for b in cache)
        return cache[0]["keys"]

    dynamic.get_concrete_function()
    assert seen == [64] * len(model.blocks)
    for length in (1, 5, 13):
        np.testing.assert_array_equal(
            model.sample(4, seed=3, length=length).numpy(),
            model.sample(4, seed=3, length=length, cache=False).numpy(),
        )


def test_sequences_normalise_at_their_maximum_length():
    model = sequence(max_length=4, block_length=2, num_summary=1, num_levels=4)  # 256 sequences
    tc.sharpen(model)
    sc.check_normalization(model, length=4)


# ------------------------------------------------------------------------------ initialisation
def test_logits_start_at_zero_so_the_untrained_model_is_uniform():
    m = image(zero_init_logits=True, num_levels=5)
    assert not np.any(m.logits.kernel.numpy())
    x = tc.random_data(m, 3)
    np.testing.assert_allclose(m.log_prob(x).numpy(), -16 * math.log(5), rtol=1e-6)
    assert ark.models.get(NAME, preset="digits").zero_init_logits


def test_residual_projections_start_scaled_by_one_over_sqrt_2n():
    N, d, ff = 8, 64, 256
    m = image(image_shape=(2, 2, 1), num_layers=N, hidden_dim=d, intermediate_dim=ff, num_heads=2)
    scale = 1.0 / math.sqrt(2 * N)
    pooled = lambda ws: float(np.std(np.concatenate([w.numpy().ravel() for w in ws])))  # noqa: E731
    np.testing.assert_allclose(
        pooled([b.ff_out.kernel for b in m.blocks]), scale * 0.125 / math.sqrt(ff), rtol=0.03
    )
    np.testing.assert_allclose(
        pooled([b.attention.out.kernel for b in m.blocks]), scale * 0.125 / math.sqrt(d), rtol=0.03
    )
    np.testing.assert_allclose(
        pooled([b.ff_in.kernel for b in m.blocks]),  # not scaled
        0.125 / math.sqrt(d),
        rtol=0.03,
    )


def test_recompute_changes_memory_not_gradients():
    x = tc.random_data(image(), 4)
    grads = []
    for recompute in (False, True):
        keras.utils.set_random_seed(3)
        m = image(recompute=recompute, dropout=0.2)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_sum(m._objective(tf.constant(x), None, training=True)[0])
        grads.append([tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, m.trainable_weights)])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------- bad input
def test_bad_input_gets_clear_errors():
    s = sequence()
    with pytest.raises(ValueError, match="at most max_length = 32 steps, got T = 33"):
        s.log_prob(np.zeros((2, 33), np.int32))
    with pytest.raises(ValueError, match="max_length = 32"):
        s.sample(1, length=40)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        s.log_prob(np.full((2, 5), 4, np.int32))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        image().log_prob(np.full((1, 4, 4, 1), -1, np.int32))
    with pytest.raises(ValueError, match="block_length l = 3 must divide the image's H\\*W\\*C = 16"):
        image(block_length=3)
    with pytest.raises(ValueError, match="num_summary c = 5 must be at most block_length l = 4"):
        sequence(block_length=4, num_summary=5)
    with pytest.raises(ValueError, match="layer_pattern for attention='strided'"):
        image(layer_pattern=("fixed_block",))
    with pytest.raises(ValueError, match="attention must be one of"):
        image(attention="sparse")
    with pytest.raises(ValueError, match=r"image_shape must be \(H, W, C\)"):
        image(image_shape=(16,))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        image(hidden_dim=15)


# ------------------------------------------------------------------------ sequence exports
# The image configuration is in tests/test_export.py; a sequence model exports with a free
# length: loaded here in a fresh interpreter that never imports ar_keras.
_LOADER = textwrap.dedent(r"""
    import json, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    root = sys.argv[1]
    inp = dict(np.load(root + "/in.npz"))
    sigs = tf.saved_model.load(root + "/saved/1").signatures
    out, errors = {}, {}
    out["log_prob"] = sigs["serving_default"](x=tf.constant(inp["x"]))["log_prob"].numpy()
    out["clp"] = sigs["conditional_log_probs"](x=tf.constant(inp["x"]))["conditional_log_probs"].numpy()
    seeds = tf.constant(inp["seeds"])
    out["samples"] = sigs["sample"](seeds=seeds, temperature=tf.constant(1.0),
                                    length=tf.constant(int(inp["length"])))["samples"].numpy()
    bad = {"too_long": lambda: sigs["serving_default"](x=tf.zeros([1, int(inp["too_long"])], tf.int32)),
           "length": lambda: sigs["sample"](seeds=seeds, temperature=tf.constant(1.0),
                                            length=tf.constant(int(inp["too_long"])))}
    for name, call in bad.items():
        try:
            call()
            errors[name] = None
        except tf.errors.InvalidArgumentError as e:
            errors[name] = e.message
    lite = Interpreter(model_path=root + "/model.tflite", num_threads=1)
    out["tfl_log_prob"] = lite.get_signature_runner("log_prob")(x=inp["x"])["log_prob"]
    out["tfl_samples"] = lite.get_signature_runner("sample_from_noise")(
        noise=inp["noise"], temperature=np.float32(1.0))["samples"]
    np.savez(root + "/out.npz", **out)
    json.dump({"errors": errors, "ar_keras": any(m.startswith("ar_keras") for m in sys.modules)},
              open(root + "/info.json", "w"))
""")


def test_sequence_exports_run_without_ar_keras(tmp_path):
    keras.utils.set_random_seed(2)
    model = sequence(num_levels=6)
    tc.sharpen(model, 1.5)
    T = 9
    rng = np.random.default_rng(0)
    inp = {
        "x": sc.random_sequences(model, 3, T),
        "seeds": np.array([4, 11], np.int64),
        "length": np.int32(T),
        "too_long": np.int32(model.max_length + 1),
        "noise": rng.uniform(1e-6, 1, (2, T, model.head.noise_depth)).astype(np.float32),
    }
    np.savez(tmp_path / "in.npz", **inp)
    export.saved_model(model, str(tmp_path / "saved" / "1"))
    export.tflite(model, str(tmp_path / "model.tflite"))
    export_case.run_without_ar_keras(_LOADER, tmp_path, tmp_path)
    out = dict(np.load(tmp_path / "out.npz"))
    info = json.loads((tmp_path / "info.json").read_text())
    assert not info["ar_keras"]
    lp = model.log_prob(inp["x"]).numpy()
    np.testing.assert_allclose(out["log_prob"], lp, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["tfl_log_prob"], lp, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        out["clp"], model.conditional_log_probs(inp["x"]).numpy(), rtol=1e-4, atol=1e-4
    )
    for j, seed in enumerate(inp["seeds"]):
        np.testing.assert_array_equal(out["samples"][j], model.sample(1, seed=int(seed), length=T).numpy()[0])
    np.testing.assert_array_equal(out["tfl_samples"], model.sample_from_noise(inp["noise"]).numpy())
    assert "max_length = 32" in info["errors"]["too_long"]
    assert "max_length = 32" in info["errors"]["length"]


# ----------------------------------------------------------------------- text in TensorBoard
def test_sample_logger_writes_generated_text(tmp_path):
    model = sequence(num_levels=256, max_length=12)
    logger = ark.callbacks.SampleLogger(str(tmp_path), audio_clips=2)
    logger.set_model(model)
    logger.on_epoch_end(0)
    logger.on_train_end()
    assert logger.modality == "text" and logger.last_png is None and logger.last_wav is None
    speech = sequence(num_levels=256, sample_rate=16000)  # audio: WAV, not text
    audio = ark.callbacks.SampleLogger(str(tmp_path / "audio"))
    audio.set_model(speech)
    assert audio.modality == "audio"
    with pytest.raises(ValueError, match="sample_rate= is for sequences"):
        image(sample_rate=16000)
    text = open(logger.last_text, encoding="utf-8").read()
    assert text.count("----") == 1  # two samples
    assert os.listdir(tmp_path / "samples")  # TensorBoard events
    # Written with tf.summary.text: one text summary of the two decoded samples.
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(str(tmp_path / "samples"), size_guidance={"tensors": 0})
    acc.Reload()
    [event] = acc.Tensors("samples")
    assert tf.make_ndarray(event.tensor_proto).shape == (2,)
