"""The discretized logistic mixture head: exact, normalised, safe, and equal to TFP's PixelCNN law."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from ar_keras.distributions import DiscretizedLogisticMixture
from ar_keras.distributions.logistic_mixture import discretized_logistic_log_prob


def _pixel_params(head, shape, seed=0, spread=1.0):
    rng = np.random.RandomState(seed)
    return (spread * rng.randn(*shape, head.num_pixel_params)).astype(np.float32)


@pytest.mark.parametrize("levels", [2, 3, 17, 256])
def test_element_law_sums_to_one_over_levels(levels):
    head = DiscretizedLogisticMixture(levels, num_mixtures=3)
    rng = np.random.RandomState(levels)
    # Ordinary, sharp (clamped log-scale), wide, and far-off-range components.
    means = np.concatenate([rng.uniform(-1, 1, 20), [0.0, 1.0, -1.0, 40.0, -40.0, 1e-3]])
    n = len(means)
    params = np.zeros((n, 9), np.float32)
    params[:, :3] = rng.randn(n, 3) * 3  # mixture logits
    params[:, 3:6] = means[:, None] + rng.randn(n, 3) * 0.1  # means
    params[:, 6:] = rng.uniform(-7, 2, (n, 3))  # log-scales
    params[-6:, 6:] = np.array([-7.0, 2.0, 0.5])  # the clamps
    levels_grid = np.broadcast_to(np.arange(levels), (n, levels))
    lp = head.log_prob(np.repeat(params[:, None], levels, 1), levels_grid).numpy()
    np.testing.assert_allclose(np.exp(lp.astype(np.float64)).sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(head.level_log_probs(params).numpy(), lp, atol=1e-6)
    assert np.all(np.isfinite(lp)) and np.all(lp <= 0)


def test_pixel_joint_sums_to_one_and_factorises_into_element_conditionals():
    head = DiscretizedLogisticMixture(num_levels=4, num_mixtures=3, num_channels=3)
    pixel = _pixel_params(head, (1,), seed=1, spread=1.5)
    configs = np.array(list(itertools.product(range(4), repeat=3)), np.int32)  # [64, 3]
    pixels = np.repeat(pixel, len(configs), axis=0)
    joint = head.joint_log_prob(pixels, configs).numpy()
    assert abs(np.exp(joint.astype(np.float64)).sum() - 1.0) < 1e-5
    elements = head.log_prob(head.element_params(pixels, configs), configs).numpy()  # [64, 3]
    np.testing.assert_allclose(elements.sum(1), joint, atol=1e-5)
    # Each channel's conditional is itself normalised, whatever the earlier channels.
    for c in range(3):
        by_prefix = np.exp(elements[:, c].astype(np.float64)).reshape(4**c, 4, -1)
        np.testing.assert_allclose(by_prefix.sum(1)[:, 0], 1.0, atol=1e-5)


def test_sum_of_element_conditionals_is_the_pixelcnn_pp_joint_at_256_levels():
    head = DiscretizedLogisticMixture(num_levels=256, num_mixtures=10, num_channels=3)
    pixel = _pixel_params(head, (4, 5, 5), seed=2)
    x = np.random.RandomState(3).randint(0, 256, (4, 5, 5, 3)).astype(np.int32)
    elements = head.log_prob(head.element_params(pixel, x), x).numpy()
    np.testing.assert_allclose(elements.sum(-1), head.joint_log_prob(pixel, x).numpy(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("channels,levels", [(1, 17), (3, 256), (2, 5)])
def test_matches_tfd_pixelcnn_likelihood(channels, levels):
    """tfd.PixelCNN's own `log_prob` (its coupling and quantized mixture) on our parameters."""
    import tensorflow_probability as tfp

    M, B, H, W = 4, 3, 2, 3
    head = DiscretizedLogisticMixture(levels, M, channels)
    pixel = _pixel_params(head, (B, H, W), seed=channels)
    x = np.random.RandomState(5).randint(0, levels, (B, H, W, channels)).astype(np.int32)
    logits, means, log_scales, _ = head.split_pixel_params(pixel)
    pairs = head.num_pairs
    raw = pixel[..., M * (1 + 2 * channels) :].reshape(B, H, W, pairs, M)
    locs = tf.transpose(means, [0, 1, 2, 4, 3])  # TFP: [B, H, W, M, C]
    scales = tf.transpose(tf.exp(log_scales), [0, 1, 2, 4, 3])
    coeffs = tf.transpose(tf.tanh(raw), [0, 1, 2, 4, 3])  # TFP: [B, H, W, M, pairs]
    dist = tfp.distributions.PixelCNN(
        image_shape=(H, W, channels),
        num_resnet=1,
        num_hierarchies=1,
        num_filters=2,
        num_logistic_mix=M,
        high=levels - 1,
        use_weight_norm=False,
    )
    # Replace TFP's (Keras 2) network by our parameters; everything after it is TFP's.
    params = (logits, locs, scales) + ((coeffs,) if channels > 1 else ())
    dist.network = lambda inputs, training=None: params
    want = dist.log_prob(x.astype(np.float32)).numpy()
    ours = head.log_prob(head.element_params(pixel, x), x).numpy().reshape(B, -1).sum(1)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=2e-4)


def test_element_law_equals_its_tfp_distribution():
    head = DiscretizedLogisticMixture(17, num_mixtures=5, num_channels=2)
    pixel = _pixel_params(head, (6,), seed=4)
    x = np.random.RandomState(6).randint(0, 17, (6, 2)).astype(np.int32)
    params = head.element_params(pixel, x)  # [6, 2, 15]
    want = head.distribution(params).log_prob(tf.cast(x, tf.float32)).numpy()
    np.testing.assert_allclose(head.log_prob(params, x).numpy(), want, atol=1e-4)


def _reference_log_prob_float64(k, mean, log_scale, levels):
    """Direct float64 formula, accurate where the bins are not in extreme tails."""

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    h = 1.0 / (levels - 1)
    centre = 2 * h * k - 1
    s = np.exp(log_scale)
    with np.errstate(over="ignore", divide="ignore"):
        upper = np.where(k == levels - 1, 1.0, sigmoid((centre + h - mean) / s))
        lower = np.where(k == 0, 0.0, sigmoid((centre - h - mean) / s))
        return np.log(upper - lower)


def test_log_probs_are_accurate_and_gradients_finite_in_extreme_regimes():
    levels = 256
    k = np.array([0, 1, 127, 128, 254, 255] * 4)
    mean = np.array([-1.0] * 6 + [1.0] * 6 + [0.0] * 6 + [0.3] * 6)
    log_scale = np.array([-7.0, -4.0, -2.0, 0.0, 2.0, -6.0] * 4)
    want = _reference_log_prob_float64(k, mean, log_scale, levels)
    got = discretized_logistic_log_prob(
        k, tf.constant(mean, tf.float32), tf.constant(log_scale, tf.float32), levels
    ).numpy()
    ok = want > -60  # float64's naive formula is exact there
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-4, atol=1e-5)
    # Far in the tails: finite, decreasing, and no NaN gradients anywhere.
    mean_t = tf.Variable(np.linspace(-50, 50, 41), dtype=tf.float32)
    log_s_t = tf.Variable(np.full(41, -7.0), dtype=tf.float32)
    with tf.GradientTape() as tape:
        lp = discretized_logistic_log_prob(tf.fill([41], 100), mean_t, log_s_t, levels)
        total = tf.reduce_sum(lp)
    grads = tape.gradient(total, [mean_t, log_s_t])
    assert np.all(np.isfinite(lp.numpy())) and np.all(np.diff(lp.numpy()[:20]) > 0)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    # A component whose whole mass sits in an interior bin far from the mean.
    assert lp.numpy().min() < -1e4


def test_head_gradients_are_finite_for_extreme_network_outputs():
    head = DiscretizedLogisticMixture(256, num_mixtures=3, num_channels=3)
    pixel = tf.Variable(_pixel_params(head, (2, 4), seed=7, spread=30.0))
    x = np.random.RandomState(8).randint(0, 256, (2, 4, 3)).astype(np.int32)
    x[0, 0] = [0, 255, 0]
    with tf.GradientTape() as tape:
        lp = tf.reduce_sum(head.log_prob(head.element_params(pixel, x), x))
    assert np.isfinite(lp.numpy())
    assert np.all(np.isfinite(tape.gradient(lp, pixel).numpy()))


def test_element_params_of_channel_c_read_only_earlier_channels():
    head = DiscretizedLogisticMixture(9, num_mixtures=3, num_channels=3)
    pixel = _pixel_params(head, (1,), seed=9)
    x = np.array([[2, 5, 7]], np.int32)
    base = head.element_params(pixel, x).numpy()
    for c in range(3):
        changed = x.copy()
        changed[0, c] = (changed[0, c] + 3) % 9
        diff = np.abs(head.element_params(pixel, changed).numpy() - base).max(-1)[0]  # [C]
        assert np.all(diff[: c + 1] == 0), (c, diff)
        assert np.all(diff[c + 1 :] > 0), (c, diff)


def test_samples_follow_the_level_probabilities_and_temperature():
    head = DiscretizedLogisticMixture(6, num_mixtures=2)
    params = np.array([[0.3, -0.4, -0.5, 0.6, -1.0, -0.8]], np.float32)  # one element
    probs = head.probs(params).numpy()[0]
    n = 40000
    noise = tf.random.stateless_uniform([n, 6], seed=[1, 2])
    draws = head.sample(np.repeat(params, n, 0), noise).numpy()
    freq = np.bincount(draws, minlength=6) / n
    assert 0.5 * np.abs(freq - probs).sum() < 0.01
    cold = head.sample(np.repeat(params, 200, 0), noise[:200], temperature=0.005).numpy()
    assert np.all(cold == np.argmax(probs))


def test_parameter_layout_and_validation():
    head = DiscretizedLogisticMixture(256, num_mixtures=10, num_channels=3)
    assert head.num_pixel_params == 100  # PixelCNN++'s 10 * nr_mix for RGB
    assert head.num_params == 30 and head.noise_depth == 256
    assert DiscretizedLogisticMixture(17, 5, 1).num_pixel_params == 15
    assert DiscretizedLogisticMixture(**head.get_config()).get_config() == head.get_config()
    with pytest.raises(ValueError, match="num_levels"):
        DiscretizedLogisticMixture(1)
    with pytest.raises(ValueError, match="num_mixtures"):
        DiscretizedLogisticMixture(4, num_mixtures=0)
    with pytest.raises(ValueError, match="num_channels"):
        DiscretizedLogisticMixture(4, num_channels=0)
