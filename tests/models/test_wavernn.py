"""WaveRNN: dual softmax, masked GRU, block pruning, subscale generation, streaming, exports.

The shared sequence checks (causality, normalisation, samples vs log_prob,
cache == recompute, serialization, fit, MirroredStrategy) run on the tiny
preset from tests/models/test_sequence_contract.py and test_every_model.py.
"""

import keras
import numpy as np
import pytest
import sequence_case as sc
import tensorflow as tf
import test_case as tc
from ai_edge_litert.interpreter import Interpreter
from layers import layer_case

import ar_keras as ark
from ar_keras import export
from ar_keras.distributions import DualSoftmax
from ar_keras.distributions.dual_softmax import split_levels
from ar_keras.layers.dual_gru import DualGRU, input_mask
from ar_keras.models.audio.wavernn import WaveRNN
from ar_keras.pruning import BlockSparsity, block_mask, cubic_sparsity


def tiny(**overrides):
    return ark.models.get("wavernn", preset="tiny", **overrides)


BOTH = dict(num_classes=3, local_channels=2, local_hop=2)


# ---------------------------------------------------------------- presets and levels
def test_presets():
    model = tiny()
    assert model.count_params() < 10_000 and (model.num_coarse, model.num_fine) == (2, 2)
    assert (tiny(num_levels=16).num_coarse, tiny(num_levels=16).num_fine) == (4, 4)
    assert WaveRNN.PRESETS["speech"]["num_levels"] == 256  # 16 x 16
    paper = ark.models.get("wavernn", preset="paper")
    trainable = sum(int(np.prod(w.shape)) for w in paper.trainable_weights)
    assert trainable == 3_051_392  # "about 3M"
    assert (paper.num_coarse, paper.num_fine, paper.hidden_dim) == (256, 256, 896)


def test_levels_split_into_coarse_and_fine():
    assert split_levels(65536) == (256, 256) and split_levels(4) == (2, 2)
    assert split_levels(5, "ceil") == (3, 2) and split_levels(3, "ceil") == (2, 2)
    assert split_levels(12, 3) == (3, 4)
    for bad in (2, 3, 8, 255):
        with pytest.raises(ValueError, match=f"num_levels={bad} does not split"):
            WaveRNN(num_levels=bad, hidden_dim=4)
    with pytest.raises(ValueError, match="would be empty"):
        split_levels(5, 4)  # 4 x 2: level 3 empty


@pytest.mark.parametrize("levels, coarse", [(16, None), (5, "ceil"), (12, 3)])
def test_dual_softmax_sums_to_one_over_all_levels(levels, coarse):
    head = DualSoftmax(levels, coarse)
    Kc, Kf = head.num_coarse, head.num_fine
    rng = np.random.RandomState(0)
    coarse_logits = rng.normal(size=Kc) * 3
    fine_by_c = rng.normal(size=(Kc, Kf)) * 3  # l_f computed for each c
    v = np.arange(levels)
    params = np.concatenate([np.tile(coarse_logits, (levels, 1)), fine_by_c[v // Kf]], 1)
    lp = head.log_prob(tf.constant(params, tf.float32), tf.constant(v)).numpy()
    np.testing.assert_allclose(np.exp(lp.astype(np.float64)).sum(), 1.0, atol=1e-5)
    # P(v) = P(c) P(f | c): the coarse marginal is the coarse softmax over the valid c.
    marginal = np.bincount(v // Kf, np.exp(lp), minlength=Kc)
    valid = np.arange(Kc) * Kf < levels
    want = np.where(valid, np.exp(coarse_logits), 0)
    np.testing.assert_allclose(marginal, want / want.sum(), atol=1e-5)
    # Two-stage Gumbel sampling with the params of the drawn c gives the same law.
    u = tf.random.stateless_uniform([20000, Kc + Kf], [1, 2])
    c = head.sample_coarse(tf.constant(params[:1], tf.float32), u).numpy()
    fine = tf.constant(np.concatenate([np.tile(coarse_logits, (len(c), 1)), fine_by_c[c]], 1), tf.float32)
    x = head.join(c, head.sample_fine(fine, c, u)).numpy()
    assert x.max() < levels
    freq = np.bincount(x, minlength=levels) / len(x)
    assert 0.5 * np.abs(freq - np.exp(lp)).sum() < 0.03


# ---------------------------------------------------------------------- the GRU
def test_gru_input_mask():
    H = 8
    mask = input_mask(H)
    assert mask.shape == (3, 3 * H)
    for gate in range(3):
        cols = slice(gate * H, (gate + 1) * H)
        np.testing.assert_array_equal(mask[2, cols], [0] * (H // 2) + [1] * (H // 2))
        np.testing.assert_array_equal(mask[:2, cols], 1)  # c_{t-1}, f_{t-1}: all
    gru = DualGRU(H)
    gru.input_kernel.assign(tf.random.normal([3, 3 * H]) + 1.0)
    used = gru.masked_input_kernel().numpy()
    np.testing.assert_array_equal(used == 0, mask == 0)
    # The coarse half of h_t has zero derivative in c_t, the fine half does not.
    h = tf.random.normal([1, H])
    inputs = tf.constant([[0.3, -0.2, 0.5]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs)
        out = gru.step(gru.input_projection(inputs), h)
        coarse, fine = tf.reduce_sum(out[:, : H // 2]), tf.reduce_sum(out[:, H // 2 :])
    assert tape.gradient(coarse, inputs).numpy()[0, 2] == 0.0
    assert abs(tape.gradient(fine, inputs).numpy()[0, 2]) > 1e-4
    assert abs(tape.gradient(coarse, inputs).numpy()[0, 0]) > 1e-4


def test_gru_step_equals_the_sequence_and_the_tflite_loop(tmp_path):
    gru = DualGRU(6)
    pre = tf.random.normal([2, 5, 18])
    full = gru.sequence(pre).numpy()
    np.testing.assert_allclose(gru.sequence(pre, tflite=True).numpy(), full, rtol=1e-6, atol=1e-6)
    h = tf.zeros([2, 6])
    for t in range(5):
        h = gru.step(pre[:, t], h)
        np.testing.assert_allclose(h.numpy(), full[:, t], rtol=1e-5, atol=1e-6)
    layer_case.check_serialization(gru, (pre,))
    with pytest.raises(ValueError, match="even"):
        DualGRU(5)


@pytest.mark.parametrize("overrides", [{}, BOTH])
def test_coarse_logits_ignore_the_current_coarse_value_fine_logits_read_it(overrides):
    model = tiny(num_levels=16, **overrides)
    tc.sharpen(model, 1.5)
    T, t = 8, 4
    x = sc.random_sequences(model, 1, T, seed=3)
    c = model.check_conditional(sc.conditional_for(model, 1, T), 1, T)
    Kf, Kc = model.num_fine, model.num_coarse
    changed_c = x.copy()
    changed_c[0, t] = ((x[0, t] // Kf + 1) % Kc) * Kf + x[0, t] % Kf  # c_t changed, f_t kept
    changed_f = x.copy()
    changed_f[0, t] = (x[0, t] // Kf) * Kf + (x[0, t] % Kf + 1) % Kf  # f_t changed
    p, pc, pf = (model.network(tf.constant(v), c).numpy()[0] for v in (x, changed_c, changed_f))
    np.testing.assert_array_equal(pc[t, :Kc], p[t, :Kc])  # coarse: no c_t
    assert np.abs(pc[t, Kc:] - p[t, Kc:]).max() > 1e-3  # fine: reads c_t
    np.testing.assert_array_equal(pf[t], p[t])  # nothing reads f_t
    np.testing.assert_array_equal(pc[:t], p[:t])  # the past: unchanged
    assert np.abs(pc[t + 1] - p[t + 1]).max() > 1e-4  # the future reads it


# ---------------------------------------------------------------------- pruning
def test_cubic_schedule():
    assert cubic_sparsity(5, 0.9, 10, 100) == 0.0
    assert cubic_sparsity(10, 0.9, 10, 100) == 0.0
    np.testing.assert_allclose(cubic_sparsity(60, 0.9, 10, 100), 0.9 * (1 - 0.5**3))
    assert cubic_sparsity(110, 0.9, 10, 100) == 0.9 == cubic_sparsity(10**6, 0.9, 10, 100)


@pytest.mark.parametrize("block", [(16, 1), (4, 4)])
def test_block_mask_structure(block):
    kernel = np.random.RandomState(0).normal(size=(32, 64))  # [in, out]
    mask = block_mask(kernel, 0.9, block)
    rows, cols = block
    blocks = mask.reshape(32 // cols, cols, 64 // rows, rows)  # [in/c, c, out/r, r]
    per_block = blocks.mean(axis=(1, 3))
    assert set(np.unique(per_block)) <= {0.0, 1.0}  # whole blocks only
    assert (per_block == 0).sum() == int(0.9 * per_block.size)
    mags = np.abs(kernel).reshape(blocks.shape).mean(axis=(1, 3))
    assert mags[per_block == 0].max() <= mags[per_block == 1].min()  # the smallest go
    with pytest.raises(ValueError, match="multiple of"):
        block_mask(np.ones((32, 60)), 0.5, (16, 1))


@pytest.mark.parametrize("block", [(16, 1), (4, 4)])
def test_pruning_callback_reaches_the_target_by_the_schedule(block):
    """(16, 1) during a short fit; (4, 4) by calling the callback's steps directly."""
    model = tiny(num_levels=4, hidden_dim=32)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    prune = BlockSparsity(target=0.75, block=block, start=1, span=4, frequency=1)
    before = model.gru.recurrent_kernel.numpy().copy()
    if block == (16, 1):
        model.fit(sc.dataset(model, 2, 6).repeat(6), epochs=1, verbose=0, callbacks=[prune])
    else:
        prune.set_model(model)
        for step in range(1, 7):
            model.gru.recurrent_kernel.assign_add(tf.random.normal([32, 96], stddev=0.01))
            model.optimizer.iterations.assign(step)
            prune.on_train_batch_end(step - 1)
    steps = [s for s, _ in prune.history]
    assert steps == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose([z for _, z in prune.history], [cubic_sparsity(s, 0.75, 1, 4) for s in steps])
    sparsity = BlockSparsity.sparsity(model)
    assert set(k[1] for k in sparsity) == {"u", "r", "e"}
    for value in sparsity.values():
        assert value == pytest.approx(0.75)  # per gate matrix
    mask = model.gru.recurrent_mask.numpy()
    rows, cols = block
    for _, sl in model.gru.gate_matrices():
        blocks = mask[:, sl].reshape(32 // cols, cols, 32 // rows, rows).mean(axis=(1, 3))
        assert set(np.unique(blocks)) <= {0.0, 1.0}
    kernel = model.gru.recurrent_kernel.numpy()
    assert np.count_nonzero(kernel[mask == 0]) == np.count_nonzero(mask == 0)  # never zeroed
    assert not np.array_equal(kernel, before)
    # The forward pass uses kernel * mask: zeroing the pruned weights changes nothing.
    x = sc.random_sequences(model, 2, 5)
    lp = model.log_prob(x).numpy()
    model.gru.recurrent_kernel.assign(kernel * mask)
    np.testing.assert_allclose(model.log_prob(x).numpy(), lp, rtol=1e-6)
    with pytest.raises(ValueError, match="target"):
        BlockSparsity(target=1.0)


# ---------------------------------------------------------------------- subscale
@pytest.mark.parametrize("B, F, T, overrides", [(2, 1, 6, {}), (4, 2, 8, BOTH)])
def test_subscale_generation_equals_sequential(B, F, T, overrides):
    model = tiny(num_levels=4, subscale=B, horizon=F, **overrides)
    tc.sharpen(model, 1.5)
    c = sc.conditional_for(model, 3, T)
    parallel = model.sample(3, conditional=c, seed=5, length=T, cache=True).numpy()
    full = model.sample(3, conditional=c, seed=5, length=T, cache=False).numpy()
    np.testing.assert_array_equal(parallel, full)
    assert len(np.unique(parallel)) > 1
    # One element at a time in the factorisation order draws the same samples (a fresh copy:
    # the compiled samplers of `model` hold its staggered schedule).
    assert model.sampling_groups(T).shape == (T // B + (B - 1) * (F + 1), B)
    one_by_one = tiny(num_levels=4, subscale=B, horizon=F, **overrides)
    one_by_one.set_weights(model.get_weights())
    order = one_by_one.subscale_order
    one_by_one.sampling_groups = lambda num_elements: tf.reshape(order(num_elements), [-1, 1])  # [T, 1]
    sequential = one_by_one.sample(3, conditional=c, seed=5, length=T, cache=False).numpy()
    np.testing.assert_array_equal(parallel, sequential)


def test_subscale_model_is_normalised_and_autoregressive_in_its_order():
    model = tiny(num_levels=4, subscale=2, horizon=1)
    tc.sharpen(model)
    sc.check_normalization(model, length=4)
    order = model.subscale_order(6).numpy()
    np.testing.assert_array_equal(order, [0, 2, 4, 1, 3, 5])
    rank = np.argsort(order)
    x = sc.random_sequences(model, 1, 6)
    base = model.conditional_log_probs(x).numpy()[0]
    for j in range(6):
        y = x.copy()
        y[0, j] = (y[0, j] + 1) % 4
        diff = np.abs(model.conditional_log_probs(y).numpy()[0] - base)
        assert np.all(diff[rank < rank[j]] < 1e-6), f"x_{j} changed an earlier conditional"
        if j == 2:  # x_1 (sub-tensor 1, step 0) reads sub-tensor 0 at steps 0..1: x_0, x_2
            assert diff[1] > 1e-6, "the horizon F = 1 is not read"
    with pytest.raises(ValueError, match="multiple of 2"):
        model.log_prob(sc.random_sequences(model, 1, 5))
    with pytest.raises(ValueError, match="multiple of 2"):
        model.sample(1, length=5)


# --------------------------------------------------------------------- streaming
@pytest.mark.parametrize("overrides", [{}, BOTH])
def test_streaming_step_equals_log_prob_conditionals(overrides):
    model = tiny(num_levels=16, **overrides)
    tc.sharpen(model, 1.5)
    T, n = 10, 3
    c = model.check_conditional(sc.conditional_for(model, n, T), n, T)
    labels, features = model.conditioning.values(c, "labels", "features")
    local = None if features is None else model.upsample_features(features)
    noise = ark.core.noise.seeded_noise(2, n, T, model.noise_depth)
    state, x_prev, xs, steps = model.init_stream(n), tf.zeros([n], tf.int32), [], []
    for t in range(T):
        x_prev, coarse, fine, state = model.stream_step(
            x_prev, state, tf.constant(t), noise[:, t], 1.0, labels, None if local is None else local[:, t]
        )
        xs.append(x_prev.numpy())
        steps.append(np.concatenate([coarse.numpy(), fine.numpy()], -1))
    x = np.stack(xs, 1)
    np.testing.assert_array_equal(x, model.sample(n, conditional=c, seed=2, length=T).numpy())
    params = model.network(tf.constant(x), c).numpy()
    np.testing.assert_allclose(np.stack(steps, 1), params, rtol=1e-5, atol=1e-5)
    clp = model.conditional_log_probs(x, c).numpy()
    np.testing.assert_allclose(
        model.head.log_prob(tf.constant(np.stack(steps, 1)), x).numpy(), clp, rtol=1e-5, atol=1e-5
    )


# ------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="does not split into coarse x fine"):
        WaveRNN(num_levels=1000, hidden_dim=4)
    with pytest.raises(ValueError, match="hidden_dim must be an even"):
        tiny(hidden_dim=7)
    with pytest.raises(ValueError, match="coarse_levels"):
        tiny(coarse_levels=0)
    model = tiny(**BOTH)
    x = sc.random_sequences(model, 2, 6)
    bad = {"labels": np.array([0, 1], np.int32), "features": np.full((2, 3, 2), np.nan, np.float32)}
    with pytest.raises(ValueError, match="NaN"):
        model.log_prob(x, bad)
    with pytest.raises(ValueError, match="one frame per 2 samples"):
        model.log_prob(x, dict(bad, features=np.zeros((2, 2, 2), np.float32)))
    with pytest.raises(ValueError, match="locally conditioned"):
        model.log_prob(x)
    with pytest.raises(ValueError, match="subscale"):
        tiny(subscale=2).stream_signatures()


# ---------------------------------------------------------------------- exports
def test_exports(tmp_path):
    """SavedModel (log_prob, conditionals, sample), TFLite (log_prob, sample_from_noise) and the
    TFLite streaming step equal the model."""
    keras.utils.set_random_seed(4)
    model = tiny(num_levels=16, **BOTH)  # global and local conditioning
    tc.sharpen(model, 1.5)
    T = 6
    x = sc.random_sequences(model, 3, T)
    c = sc.conditional_for(model, 3, T)
    named = {}
    if c is not None:
        named = {"conditional": tf.constant(c["labels"]), "features": tf.constant(c["features"])}
    sm = export.saved_model(model, str(tmp_path / "sm"))
    sigs = tf.saved_model.load(sm).signatures
    np.testing.assert_allclose(
        sigs["serving_default"](x=tf.constant(x), **named)["log_prob"],
        model.log_prob(x, c).numpy(),
        rtol=1e-4,
        atol=1e-4,
    )
    np.testing.assert_allclose(
        sigs["conditional_log_probs"](x=tf.constant(x), **named)["conditional_log_probs"],
        model.conditional_log_probs(x, c).numpy(),
        rtol=1e-4,
        atol=1e-4,
    )
    c1 = sc.take(c, slice(0, 1))
    named1 = {k: v[:1] for k, v in named.items()}
    got = sigs["sample"](
        seeds=tf.constant([9], tf.int64), temperature=tf.constant(1.0), length=tf.constant(T), **named1
    )["samples"].numpy()
    np.testing.assert_array_equal(got, model.sample(1, conditional=c1, seed=9, length=T).numpy())

    lite = Interpreter(model_path=export.tflite(model, str(tmp_path / "m.tflite")))
    np.testing.assert_allclose(
        lite.get_signature_runner("log_prob")(x=x, **{k: v.numpy() for k, v in named.items()})["log_prob"],
        model.log_prob(x, c).numpy(),
        rtol=1e-4,
        atol=1e-4,
    )
    noise = np.random.RandomState(1).uniform(1e-6, 1, (1, T, model.noise_depth)).astype(np.float32)
    cn = None if c1 is None else model.check_conditional(c1, 1, T)
    want = model.sample_from_noise(noise, cn).numpy()
    got = lite.get_signature_runner("sample_from_noise")(
        noise=noise, temperature=np.float32(1.0), **{k: v[:1].numpy() for k, v in named.items()}
    )
    np.testing.assert_array_equal(got["samples"], want)

    stream = Interpreter(model_path=export.tflite_step(model, str(tmp_path / "s.tflite")))
    step = stream.get_signature_runner("step")
    extra = {}
    local = None
    if "conditional" in named:
        extra["conditional"] = named["conditional"][:1].numpy()
        local = stream.get_signature_runner("upsample")(features=named["features"][:1].numpy())["local"]
    state = np.zeros([1, model.hidden_dim], np.float32)
    x_prev, out = np.zeros([1], np.int32), []
    for t in range(T):
        if local is not None:
            extra["local"] = local[:, t]
        r = step(
            x_prev=x_prev,
            index=np.array(t, np.int32),
            noise=noise[:, t],
            temperature=np.array(1.0, np.float32),
            state_00=state,
            **extra,
        )
        x_prev, state = r["sample"], r["state_00"]
        out.append(x_prev)
    np.testing.assert_array_equal(np.stack(out, 1), want)
