"""SampleRNN: alignment by flipping, chunked == one-shot scoring, 2 and 3 tiers, TBPTT, the GRU
layer, bad input, and the SavedModel export loaded without ar_keras.

The contract checks every sequence model gets (causality, normalisation over all short
sequences, samples against log_prob, cache == recompute, round trip, fit, MirroredStrategy,
bad input) run on the tiny preset (3 tiers, top frame 4) in test_sequence_contract.py and
test_every_model.py.
"""

import os
import sys

import keras
import numpy as np
import pytest
import sequence_case as sc
import tensorflow as tf
import test_case as tc

import ar_keras as ark
from ar_keras import export
from ar_keras.layers import LearnedStateGRU
from ar_keras.models.audio.samplernn import SampleRNN

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "layers"))
import layer_case as lc  # noqa: E402


def tiny(**overrides):
    return ark.models.get("samplernn", preset="tiny", **overrides)


TIERS = {
    "two_tier": dict(frame_sizes=(3,)),
    "three_tier": dict(frame_sizes=(4, 2)),
    "four_tier": dict(frame_sizes=(8, 4, 2)),
}


# --------------------------------------------------------------------- structure
def test_presets():
    model = tiny()
    assert model.count_params() < 10_000 and model.top_frame <= 4 and model.num_tiers == 3
    paper = SampleRNN.PRESETS["paper"]
    assert paper["frame_sizes"] == (8, 2) and paper["hidden_dim"] == 1024
    assert paper["num_levels"] == 256 and paper["quantization"] == "linear"
    speech = SampleRNN.PRESETS["speech"]
    assert speech["num_levels"] == 256 and speech["quantization"] == "mu_law"
    assert SampleRNN.overrides_from_data(ark.data.info("speech")) == {"num_levels": 256, "sample_rate": 16000}
    assert model.ratios == [2, 2]


def check_alignment(model, T, seed=5):
    """By flipping each x_j: no conditional depends on x_t or later; every one depends on
    x_{t-1} (no gap) and on every earlier sample (the top GRU carries the whole past)."""
    K = model.num_levels
    x = sc.random_sequences(model, 1, T, seed=seed)
    changed = np.repeat(x, T, axis=0)  # row j flips x_j
    changed[np.arange(T), np.arange(T)] = (changed[np.arange(T), np.arange(T)] + 1) % K
    clp = model.conditional_log_probs(np.concatenate([x, changed])).numpy()
    diff = np.abs(clp[1:] - clp[:1])  # [j flipped, t]
    for t in range(T):
        assert np.all(diff[t + 1 :, t] < 1e-6), f"x_{t}'s conditional sees a later sample"
        if t:
            assert diff[t - 1, t] > 1e-6, f"x_{t}'s conditional ignores x_{t - 1}"
            assert np.all(diff[:t, t] > 1e-6), f"x_{t}'s conditional ignores some x_j, j < {t}"


@pytest.mark.parametrize("tiers", TIERS)
def test_alignment_by_flipping(tiers):
    model = tiny(num_levels=3, **TIERS[tiers])
    tc.sharpen(model, 1.5)
    check_alignment(model, 2 * model.top_frame + 3)  # not a multiple


def test_a_window_one_sample_late_is_caught():
    """Mutation: inputs one sample late (x_{t-F-1} .. x_{t-2}, the kind of wrong window a
    public port feeds its MLP) leave a gap at x_{t-1}, and the alignment check fails."""
    model = tiny(num_levels=3)
    tc.sharpen(model, 1.5)
    good = model.forward_chunk

    def late(x, state, conditional=None, training=False):
        older = tf.concat([state["history"][:, -1:], x[:, :-1]], axis=1)  # [B, L], one late
        return good(older, state, conditional, training)

    model.forward_chunk = late
    with pytest.raises(AssertionError, match="ignores x_"):
        check_alignment(model, 2 * model.top_frame + 3)


@pytest.mark.parametrize("tiers", ["two_tier", "three_tier"])
def test_chunked_nll_equals_one_shot(tiers):
    model = tiny(num_levels=5, num_classes=2, **TIERS[tiers])
    tc.sharpen(model, 1.5)
    B = model.top_frame
    T = 3 * B + 1  # a short last chunk
    x = sc.random_sequences(model, 3, T)
    labels = np.array([0, 1, 1], np.int32)
    one_shot = model.conditional_log_probs(x, labels).numpy()
    for chunk in (B, 2 * B, 4 * B):
        chunked = model.chunked_conditional_log_probs(x, chunk, labels).numpy()
        np.testing.assert_allclose(chunked, one_shot, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(chunked.sum(1), model.log_prob(x, labels).numpy(), rtol=1e-5)
    # The carried state matters: restarting every chunk from h0 and a pad frame scores
    # something else.
    fresh = np.concatenate(
        [model.conditional_log_probs(x[:, s : s + B], labels).numpy() for s in range(0, T, B)], axis=1
    )
    assert not np.allclose(fresh, one_shot, atol=1e-4)


def test_cache_equals_recompute_two_tiers():
    """2 tiers (the shared suite runs the tiny preset's 3), past several top frames."""
    for tiers in ("two_tier",):
        model = tiny(num_levels=5, **TIERS[tiers])
        tc.sharpen(model, 1.5)
        T = 3 * model.top_frame + 2
        cached = model.sample(3, seed=2, length=T, cache=True).numpy()
        np.testing.assert_array_equal(cached, model.sample(3, seed=2, length=T, cache=False).numpy())
        assert len(np.unique(cached)) > 1


def test_quantisations_and_decode():
    lin = tiny(num_levels=5, quantization="linear")
    np.testing.assert_allclose(lin._amplitudes, [-2, -1, 0, 1, 2, 0])  # + the pad
    np.testing.assert_allclose(lin.decode([0, 2, 4]).numpy(), [-1, 0, 1])
    mu = tiny(num_levels=256)
    np.testing.assert_allclose(mu.decode(np.array([0, 255])).numpy(), [-1, 1], atol=1e-6)
    np.testing.assert_allclose(
        mu._amplitudes[:-1], 2 * ark.data.mu_law_decode(np.arange(256)).numpy(), atol=1e-6
    )


def test_fit_tbptt_carries_state_and_trains():
    model = tiny(num_levels=4, frame_sizes=(2,))
    model.compile(optimizer=keras.optimizers.Adam(3e-2))
    clips = np.tile(np.array([[0, 1, 2, 3]], np.int32), (4, 4))  # [4, 16]
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit_tbptt(clips, chunk_length=8, epochs=3, batch_size=4)["bits_per_dim"]
    assert len(history) == 3 and history[-1] < history[0]
    # h0 trains (through each batch's first chunk) like every other weight.
    assert all(not np.array_equal(w.numpy(), b) for w, b in zip(model.trainable_weights, before))
    with pytest.raises(ValueError, match="multiple of chunk_length 8"):
        model.fit_tbptt(clips[:, :12], chunk_length=8)
    with pytest.raises(ValueError, match="compile"):
        tiny().fit_tbptt(clips, chunk_length=8)


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="2 does not divide 5"):
        tiny(frame_sizes=(5, 2))
    with pytest.raises(ValueError, match="smaller"):
        tiny(frame_sizes=(2, 2))
    with pytest.raises(ValueError, match="frame_sizes"):
        tiny(frame_sizes=())
    with pytest.raises(ValueError, match="frame_sizes"):
        tiny(frame_sizes=(4, 0))
    with pytest.raises(ValueError, match="quantization"):
        tiny(quantization="alaw")
    with pytest.raises(ValueError, match="hidden_dim"):
        tiny(hidden_dim=0)
    model = tiny()
    x = sc.random_sequences(model, 2, 12)
    with pytest.raises(ValueError, match="shorter than the top frame.*multiple of 4"):
        model.chunked_conditional_log_probs(x, 3)
    with pytest.raises(ValueError, match="not a multiple of the top frame"):
        model.chunked_conditional_log_probs(x, 6)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model.chunked_conditional_log_probs(x + 4, 4)


# ------------------------------------------------------------------------ the GRU layer
def test_gru_step_equals_call_and_round_trips():
    gru = LearnedStateGRU(5)
    x = tf.random.normal([2, 6, 3], seed=1)
    gru(x)
    gru.initial_state.assign(tf.random.normal([5], seed=2))
    full, last = gru(x)
    lc.check_step_matches_call(
        full, lambda t, h: (lambda h1: (h1, h1))(gru.step(x[:, t], h)), gru.init_cache(2), range(6)
    )
    np.testing.assert_allclose(last.numpy(), full[:, -1].numpy(), rtol=1e-6)
    # A given state replaces h0: two halves == the whole.
    a, h = gru(x[:, :3])
    b, _ = gru(x[:, 3:], h)
    np.testing.assert_allclose(np.concatenate([a, b], 1), full.numpy(), rtol=1e-5, atol=1e-6)
    lc.check_serialization(gru, x)


# ---------------------------------------------------------------------- export
def test_saved_model_matches_the_model(tmp_path):
    """The SavedModel's graphs (restored by TensorFlow alone; test_wavenet.py checks in a fresh
    interpreter that such exports need no ar_keras) score and sample like the model, at a
    length that is not a multiple of the top frame, and reject bad levels."""
    model = tiny(num_levels=5, num_classes=2)
    tc.sharpen(model, 1.5)
    path = str(tmp_path / "samplernn" / "1")
    assert export.saved_model(model, path) == path
    sigs = tf.saved_model.load(path).signatures
    assert sorted(sigs) == ["conditional_log_probs", "sample", "serving_default"]
    T = 7
    x, labels = sc.random_sequences(model, 3, T), np.array([0, 1, 0], np.int32)
    c = {"conditional": tf.constant(labels)}
    np.testing.assert_allclose(
        sigs["serving_default"](x=tf.constant(x), **c)["log_prob"].numpy(),
        model.log_prob(x, labels).numpy(),
        rtol=1e-4,
        atol=1e-4,
    )
    np.testing.assert_allclose(
        sigs["conditional_log_probs"](x=tf.constant(x), **c)["conditional_log_probs"].numpy(),
        model.conditional_log_probs(x, labels).numpy(),
        rtol=1e-4,
        atol=1e-4,
    )
    seeds, sample_labels = np.array([4, 11], np.int64), np.array([1, 0], np.int32)
    got = sigs["sample"](
        seeds=tf.constant(seeds),
        temperature=tf.constant(1.0),
        length=tf.constant(T),
        conditional=tf.constant(sample_labels),
    )["samples"]
    for j, seed in enumerate(seeds):
        want = model.sample(1, conditional=sample_labels[j : j + 1], seed=int(seed), length=T)
        np.testing.assert_array_equal(got.numpy()[j], want.numpy()[0])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 5\)"):
        sigs["serving_default"](x=tf.constant(x + 5), **c)
