"""trajectory_rnade's own properties (the shared ones are in test_float_sequence_contract.py):
the trajectory density is the stated chain rule over frames (the first window's conditionals, then
each sliding window's last-frame conditional), a W-1'th-order Markov chain; a mutation that lets a
frame see the next one is caught; the factorised context; the speech_features dataset."""

import continuous_case as cc
import float_sequence_case as fsc
import numpy as np
import pytest
import tensorflow as tf

import ar_keras as ark
from ar_keras.data import speech, speech_features


def model_w3():
    model = ark.models.get("trajectory_rnade", preset="tiny", window=3)
    cc.perturb(model, 0.3)
    return model


def test_log_prob_is_the_chain_rule_over_frames_of_window_conditionals():
    model = model_w3()
    W, T = 3, 7
    x = fsc.random_data(model, 2, T)
    full = model.conditional_log_probs(x).numpy()  # [B, T, F]
    first = model.conditional_log_probs(x[:, :W]).numpy()  # one window: all positions
    np.testing.assert_allclose(full[:, :W], first, rtol=1e-5, atol=1e-5)
    for t in range(W - 1, T):
        window = model.conditional_log_probs(x[:, t - W + 1 : t + 1]).numpy()
        np.testing.assert_allclose(full[:, t], window[:, W - 1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.log_prob(x).numpy(), full.sum((1, 2)), rtol=1e-5)


def test_each_frame_depends_on_exactly_the_previous_w_minus_1_frames():
    model = model_w3()
    W, T = 3, 7
    x = fsc.random_data(model, 2, T)
    base = model.conditional_log_probs(x).numpy()
    t = 5
    for s in range(T):
        changed = x.copy()
        changed[:, s] += 0.9
        moved = np.abs(model.conditional_log_probs(changed).numpy()[:, t] - base[:, t]).max()
        if t - W + 1 <= s <= t:
            assert moved > 1e-5, f"frame {t} does not depend on frame {s}"
        else:
            assert moved < 1e-6, f"frame {t} depends on frame {s}, outside its window"


def test_a_frame_that_sees_the_next_one_fails_the_causality_check(monkeypatch):
    model = model_w3()
    original = model._frame_params
    monkeypatch.setattr(
        model, "_frame_params", lambda x, c: original(tf.roll(x, -1, axis=1), c)
    )  # frame t sees t + 1
    with pytest.raises(AssertionError, match="changed earlier conditionals"):
        fsc.check_exact_conditionals(model, length=4)


def test_the_context_is_factorised():
    model = ark.models.get("trajectory_rnade", preset="tiny", num_classes=6, context_factors=(2, 3))
    cc.perturb(model, 0.3)
    labels = np.arange(6, dtype=np.int32)
    got = model._initial(6, tf.constant(labels)).numpy()
    e0, e1 = (layer.embeddings.numpy() for layer in model.context_embeddings)
    np.testing.assert_allclose(got, model.c.numpy() + e0[labels // 3] + e1[labels % 3], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="product"):
        ark.models.get("trajectory_rnade", preset="tiny", num_classes=6, context_factors=(2, 2))
    with pytest.raises(ValueError, match="window"):
        ark.models.get("trajectory_rnade", preset="tiny", window=0)


def test_speech_features_dataset():
    info = ark.data.info("speech_features")
    assert info.kind == "float_sequence" and info.event_shape == (None, 26)
    cls = ark.models.model_class("trajectory_rnade")
    assert cls.overrides_from_data(info) == {"num_features": 26}
    with pytest.raises(ValueError, match="speech_features"):
        cls.overrides_from_data(ark.data.info("speech"))
    mean, std = speech_features.normalisation()
    for split in ("train", "validation", "test"):
        x, c = ark.data.as_numpy("speech_features", split, with_labels=True)
        assert x.dtype == np.float32 and x.shape[1:] == (20, 26) and len(x) == info.splits[split]
        assert all(speech.split_of(label // 10, label % 10) == split for label in c)
        assert np.isfinite(x).all()
    # Normalised per feature by every frame of the training utterances: zero mean, unit std there.
    u = speech.utterances("train")
    raw = [speech_features.features(clip) for clip in u["clips"]]  # [T_i, 26] each
    frames = (np.concatenate(raw) - mean) / std
    np.testing.assert_allclose(frames.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(frames.std(0), 1.0, atol=1e-4)
    # The first training segment is the first utterance's first 20 normalised frames.
    x = ark.data.as_numpy("speech_features", "train")
    np.testing.assert_allclose(x[0], (raw[0][:20] - mean) / std, rtol=1e-5, atol=1e-5)
    ds = ark.data.load("speech_features", "test", with_labels=True)
    assert ds.element_spec[0].shape == (20, 26) and ds.element_spec[0].dtype == tf.float32
    # Deltas: the regression slope, exact on a ramp away from the edges.
    ramp = np.stack([2.0 * np.arange(10), -np.arange(10)], axis=1).astype(np.float32)
    np.testing.assert_allclose(speech_features.deltas(ramp).numpy()[2:-2], [[2.0, -1.0]] * 6, rtol=1e-6)
