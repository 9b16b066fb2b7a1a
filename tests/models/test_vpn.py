"""Video Pixel Network specifics: the encoder keeps the resolution, context frames (log_prob of
the continuation, sampling keeps them, cached == full), a broken time shift is caught, the
sigmoid cross-entropy option and its entropy bound, the context export signatures."""

import numpy as np
import pytest
import tensorflow as tf
import test_case as tc

import ar_keras as ark


def tiny(**overrides):
    return ark.models.get("vpn", preset="tiny", **overrides)


def test_encoder_keeps_the_frame_resolution():
    model = tiny(video_shape=(2, 3, 5, 1), encoder_dilations=(1, 2, 4, 8))
    frames = np.random.RandomState(0).randint(0, 3, (4, 3, 5, 1)).astype(np.int32)
    assert model.encode(frames).shape == (4, 3, 5, 2 * model.hidden_dim)


def test_log_prob_given_context_is_the_sum_of_the_later_frames_conditionals():
    model = tiny(video_shape=(3, 2, 2, 1))
    tc.sharpen(model, 1.5)
    x = tc.random_data(model, 4)
    full = model.conditional_log_probs(x).numpy()  # [4, 3, 2, 2, 1]
    for t0 in (1, 2):
        context = x[:, :t0]
        np.testing.assert_allclose(
            model.log_prob(x, context).numpy(), full[:, t0:].reshape(4, -1).sum(1), rtol=1e-5
        )
        given = model.conditional_log_probs(x, context).numpy()
        assert np.all(given[:, :t0] == 0)
        np.testing.assert_allclose(given[:, t0:], full[:, t0:], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            model.nats_per_frame(x, context).numpy(),
            -full[:, t0:].reshape(4, -1).sum(1) / (3 - t0),
            rtol=1e-5,
        )


def test_sampling_with_context_keeps_it_and_cache_equals_recompute():
    model = tiny(video_shape=(3, 2, 2, 1), num_levels=4)
    tc.sharpen(model, 1.5)
    context = tc.random_data(model, 5, seed=2)[:, :2]
    cached = model.sample(5, conditional=context, seed=3, cache=True).numpy()
    full = model.sample(5, conditional=context, seed=3, cache=False).numpy()
    np.testing.assert_array_equal(cached, full)
    np.testing.assert_array_equal(cached[:, :2], context)
    assert cached.shape == (5, 3, 2, 2, 1) and cached.dtype == np.int32
    # A different context changes the continuation (the model reads it).
    other = model.sample(5, conditional=(context + 1) % 4, seed=3).numpy()
    assert not np.array_equal(other[:, 2:], cached[:, 2:])


def test_a_decoder_that_sees_its_own_frames_encoding_is_caught():
    """Mutation: feed frame t's decoder the ConvLSTM state *after* frame t (no time shift)."""
    model = tiny(video_shape=(2, 1, 2, 1), num_levels=4)

    def leaky(x, conditional=None, training=False):
        T, H, W, C = model.video_shape
        batch = tf.shape(x)[0]
        encoded = tf.reshape(
            model.encode(tf.reshape(x, [-1, H, W, C])),  # [B T, H, W, C] -> ..
            [batch, T, H, W, -1],
        )  # -> [B, T, H, W, 2c]
        states = model.lstm(encoded)  # s_{t+1}: sees frame t
        params = model._decode(
            tf.reshape(x, [-1, H, W, C]),  # [B, T, ..] -> [B T, ..]
            tf.reshape(states, [-1, H, W, model.lstm_dim]),
        )
        return tf.reshape(params, [batch, T, H, W, C, -1])  # -> [B, T, H, W, C, P]

    model.network = leaky
    with pytest.raises(AssertionError, match="changed conditionals"):
        tc.check_causality(model, full_dependency=False, trials=2)


def test_sigmoid_cross_entropy_option_and_its_entropy_bound():
    # K = 2: the sigmoid cross-entropy is the Bernoulli likelihood, a normalised law.
    binary = tiny(video_shape=(2, 1, 2, 1), num_levels=2, head="sigmoid_xent")
    tc.sharpen(binary)
    tc.check_normalization(binary)
    assert binary.head.num_params == 1
    # K = 17: the score is bounded by the targets' own entropy (the paper's lower bound).
    model = tiny(video_shape=(3, 2, 2, 1), num_levels=17, head="sigmoid_xent")
    tc.sharpen(model)
    x = tc.random_data(model, 6)
    assert not model.exact_conditionals
    bound = model.entropy_lower_bound(x, x[:, :1]).numpy()
    score = model.nats_per_frame(x, x[:, :1]).numpy()
    assert np.all(score >= bound - 1e-4) and np.all(bound > 0)
    z = x[:, 1:] / 16.0
    want = -(
        np.where(z > 0, z * np.log(np.maximum(z, 1e-30)), 0)
        + np.where(z < 1, (1 - z) * np.log(np.maximum(1 - z, 1e-30)), 0)
    )
    np.testing.assert_allclose(bound, want.reshape(6, -1).sum(1) / 2, rtol=1e-5)
    # The head reaches the bound exactly where sigmoid(logit) = z.
    head = model.head
    levels = tf.constant([1, 5, 8, 15])
    zs = tf.cast(levels, tf.float32) / 16.0
    logits = tf.math.log(zs) - tf.math.log1p(-zs)
    np.testing.assert_allclose(
        head.log_prob(logits[:, None], levels).numpy(), head.entropy_bound(levels).numpy(), rtol=1e-5
    )
    samples = model.sample(4, seed=0).numpy()
    assert set(np.unique(samples)) <= {0, 16}
    with pytest.raises(ValueError, match="sigmoid_xent"):
        tiny().entropy_lower_bound(tc.random_data(tiny(), 2))
    with pytest.raises(ValueError, match="head"):
        tiny(head="mse")


def test_data_sets_the_video_shape_and_other_data_are_refused():
    cls = ark.models.model_class("vpn")
    assert cls.overrides_from_data(ark.data.info("moving_digits")) == {
        "video_shape": (8, 16, 16, 1),
        "num_levels": 17,
    }
    with pytest.raises(ValueError, match="moving_digits"):
        cls.overrides_from_data(ark.data.info("digits"))


def test_saved_model_context_signatures(tmp_path):
    model = tiny(video_shape=(3, 1, 2, 1))
    tc.sharpen(model, 1.5)
    path = ark.export.saved_model(model, str(tmp_path / "vpn" / "1"))
    loaded = tf.saved_model.load(path)
    x = tc.random_data(model, 3)
    context = x[:, :2]
    got = loaded.signatures["log_prob_given_context"](x=tf.constant(x), context=tf.constant(context))
    np.testing.assert_allclose(got["log_prob"].numpy(), model.log_prob(x, context).numpy(), rtol=1e-5)
    seeds = np.array([4, 9], np.int64)
    out = loaded.signatures["sample_given_context"](
        seeds=tf.constant(seeds), temperature=tf.constant(1.0), context=tf.constant(context[:2])
    )["samples"].numpy()
    for j, seed in enumerate(seeds):
        np.testing.assert_array_equal(
            out[j], model.sample(1, conditional=context[j : j + 1], seed=int(seed)).numpy()[0]
        )
