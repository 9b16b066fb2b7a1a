"""The pixelvae model: the IW bound against the exact log p(x), KL warm-up, the two-level
hierarchy, the decoder's causality, sampling, bad input."""

import contract
import keras
import numpy as np
import pytest
import tensorflow as tf
import test_case as tc
from scipy.special import logsumexp

import ar_keras as ark


def tiny(**overrides):
    return ark.models.get("pixelvae", preset="tiny", **overrides)


def two_level(**overrides):
    """Tiny two-level model: a 2x2x2 latent map under a 2-d top latent, 4x4 images."""
    kwargs = dict(num_latent_layers=2, latent_map_dim=2, num_prior_layers=2, prior_dim=4)
    return tiny(**{**kwargs, **overrides})


def test_contract_basics_and_presets():
    model = tiny()
    assert isinstance(model, ark.models.LatentVariableModel)
    assert not isinstance(model, ark.models.AutoregressiveModel)
    assert model.monitor == "val_loss" and model.count_params() < 10_000
    assert two_level().count_params() < 10_000
    cls = ark.models.model_class("pixelvae")
    assert cls.overrides_from_data(ark.data.info("digits")) == {"image_shape": (8, 8, 1), "num_levels": 17}
    presets = ark.models.presets("pixelvae")
    assert {"tiny", "digits", "paper", "imagenet64"} <= set(presets)
    paper = cls.PRESETS["paper"]
    assert (
        paper["image_shape"],
        paper["num_levels"],
        paper["num_layers"],
        paper["kernel_size"],
        paper["hidden_dim"],
        paper["latent_dim"],
    ) == ((28, 28, 1), 2, 12, 5, 16, 16)
    assert paper["kl_warmup_steps"] > 0
    big = cls.PRESETS["imagenet64"]
    assert big["num_latent_layers"] == 2 and big["image_shape"] == (64, 64, 3)
    assert big["image_shape"][0] // 2 ** big["num_encoder_downsamples"] == 16  # a 16x16 latent map
    model = ark.models.get("pixelvae", preset="paper")
    assert isinstance(model.head, ark.distributions.Bernoulli)
    assert len(model.decoder_blocks) == 12 and model.decoder_blocks[1].kernel_size == 5


def _exact_log_prob(model, x, num_points):
    """``log p(x) = log int N(z; 0, 1) p(x | z) dz`` for latent_dim = 1, on a grid over [-9, 9]."""
    z = np.linspace(-9.0, 9.0, num_points)
    xs = np.repeat(x, num_points, axis=0)  # [B * N, H, W, C]
    zs = np.tile(z.astype(np.float32), len(x))[:, None]  # [B * N, 1]
    log_px_z = model.decoder_log_prob(xs, zs).numpy().astype(np.float64)
    log_px_z = log_px_z.reshape(len(x), num_points)  # [B * N] -> [B, N]
    log_prior = -0.5 * z**2 - 0.5 * np.log(2.0 * np.pi)
    return logsumexp(log_px_z + log_prior + np.log(z[1] - z[0]), axis=1)


def test_iw_bound_rises_with_k_and_stays_below_the_exact_log_prob():
    """latent_dim = 1 and 2x2 images of 3 levels: log p(x) by quadrature over z for all 81 images
    (they sum to 1), against the importance-weighted bound with k = 1, 10, 100 samples."""
    keras.utils.set_random_seed(0)
    model = tiny(image_shape=(2, 2, 1), num_levels=3, latent_dim=1)
    tc.sharpen(model, 1.0)  # a posterior far from q: a visible gap
    x = tc.configurations((2, 2, 1), 3)
    exact = _exact_log_prob(model, x, 2001)
    np.testing.assert_allclose(exact, _exact_log_prob(model, x, 1001), atol=1e-4)  # converged
    np.testing.assert_allclose(np.exp(exact).sum(), 1.0, atol=1e-4)  # p(x) is normalised
    means = []
    for k in (1, 10, 100):
        bounds = np.stack([model.log_prob(x, num_samples=k, seed=s).numpy() for s in range(3)])
        means.append(bounds.mean())
        # E[IW_k] <= log p(x): on average over the batch and the seeds.
        assert bounds.mean() <= exact.mean(), (k, bounds.mean(), exact.mean())
    assert means[0] + 0.2 < means[1] < means[2], means  # tighter with k (clear margins)
    # Single estimates may overshoot log p(x) (the weights are heavy-tailed where q is
    # narrower than the posterior), so only their averages are held below it.


def test_kl_warmup_schedule_weights_the_training_loss_only():
    model = tiny(kl_warmup_steps=4)
    coefficient = [float(model.kl_coefficient(t)) for t in (0, 1, 2, 4, 10)]
    np.testing.assert_allclose(coefficient, [0.0, 0.25, 0.5, 1.0, 1.0])
    assert float(tiny().kl_coefficient(0)) == 1.0  # no warm-up
    with pytest.raises(ValueError, match="kl_warmup_steps"):
        tiny(kl_warmup_steps=-1)
    # Two training steps with a zero learning rate (the weights stay put): step t uses the
    # posterior noise keyed (seed, t + 1) and beta = t / 4; bits_per_dim the true ELBO.
    x = tc.random_data(model, 8)
    terms = []
    for step in (1, 2):
        eps = tf.random.stateless_normal([4, model.latent_size], seed=[model.seed, step], alg="philox")
        log_px, _, kl = model._inference(tf.constant(x[4 * (step - 1) : 4 * step]), eps)
        terms.append((log_px.numpy(), kl.numpy()))
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    history = model.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), epochs=1, verbose=0).history
    want_loss = np.mean([-np.mean(terms[0][0]), -np.mean(terms[1][0] - 0.25 * terms[1][1])])
    np.testing.assert_allclose(history["loss"][0], want_loss, rtol=1e-5)
    want_bpd = -np.mean(np.concatenate([lp - kl for lp, kl in terms])) / (16 * np.log(2.0))
    np.testing.assert_allclose(history["bits_per_dim"][0], want_bpd, rtol=1e-5)
    # evaluate (and val_loss) is the true negative ELBO, beta = 1, noise keyed (seed, 0).
    eps = tf.random.stateless_normal([8, model.latent_size], seed=[model.seed, 0], alg="philox")
    log_px, _, kl = model._inference(tf.constant(x), eps)
    loss = model.evaluate(tf.data.Dataset.from_tensor_slices(x).batch(8), verbose=0, return_dict=True)
    np.testing.assert_allclose(loss["loss"], -np.mean(log_px - kl), rtol=1e-5)


def test_decoder_is_causal_given_z_with_no_blind_spot():
    """Flipping element j (raster order, channels innermost) never changes the decoder's
    conditionals of elements <= j, for a fixed z; every later element depends on some j."""
    keras.utils.set_random_seed(1)
    model = tiny(image_shape=(3, 3, 2), num_layers=3)
    tc.sharpen(model, 1.5)
    decoder, D = model.decoder(), 18
    z = tf.random.normal([1, model.latent_dim])
    depends = np.zeros((D, D), bool)
    for trial in range(6):
        x = tc.random_data(model, 1, seed=trial).reshape(1, D)  # [1, H, W, C] -> [1, D]
        flipped = np.repeat(x, D, axis=0)  # [D, D]: row j flips x_j
        flipped[np.arange(D), np.arange(D)] = (x[0] + 1 + trial % 3) % model.num_levels
        both = np.concatenate([x, flipped]).reshape(-1, 3, 3, 2)  # [1 + D, H, W, C]
        flat = both.reshape(-1, D)  # [1 + D, H, W, C] -> [1 + D, D]
        params = decoder.element_params(flat, tf.repeat(z, D + 1, axis=0)).numpy()  # [1 + D, D, P]
        changed = np.abs(params[1:] - params[:1]).max(-1) > 1e-6  # [j, k]
        for j in range(D):
            assert not changed[j, : j + 1].any(), f"conditional of an element <= {j} saw x_{j}"
        depends |= changed
    later = np.triu(np.ones((D, D), bool), k=1)
    assert depends[later].all(), f"blind spot: {np.argwhere(later & ~depends).tolist()}"
    # z reaches every conditional: the per-layer bias.
    other = decoder.element_params(x, z + 1.0).numpy()  # x: [1, D]
    base = decoder.element_params(x, z).numpy()
    assert (np.abs(other - base).max(-1) > 1e-6).all()


def test_two_level_elbo_is_finite_and_includes_both_kl_terms():
    keras.utils.set_random_seed(2)
    model = two_level()
    tc.sharpen(model, 1.5)
    assert model.map_shape == (2, 2, 2) and model.latent_size == 2 + 8
    x = tc.random_data(model, 4)
    elbo, iw = model.elbo(x, num_samples=8).numpy(), model.log_prob(x, num_samples=8).numpy()
    assert np.isfinite(elbo).all() and np.all(iw >= elbo - 1e-4)
    # The ELBO by hand from one posterior sample: log p(x|z1) + log p(z1|z2) (the latent
    # PixelCNN's Gaussian density) + log p(z2) - log q(z1|x) - log q(z2|z1).
    eps = tf.random.stateless_normal([4, model.latent_size], seed=[0, 1], alg="philox")
    top_eps, map_eps = model._split_noise(eps)
    m1, s1 = model._encode(x)
    z1 = m1 + tf.exp(s1) * map_eps
    t = tf.reshape(tf.nn.elu(model.top_encoder_conv(z1)), [4, -1])  # [4, 1, 1, F] -> [4, F]
    m2, s2 = tf.split(model.top_encoder_out(t), 2, axis=-1)
    z2 = m2 + tf.exp(s2) * top_eps

    def normal(v, m, s):
        log_n = -0.5 * ((v - m) / tf.exp(s)) ** 2 - s - 0.5 * np.log(2 * np.pi)
        return tf.reduce_sum(tf.reshape(log_n, [4, -1]), axis=1)  # [4, ...] -> [4, N] -> [4]

    params = model.latent_prior().network(z1, z2)  # [4, 2, 2, 2, 3]
    mean, log_scale = params[..., 1], params[..., 2]
    log_p1 = normal(z1, mean, 7.0 * tf.tanh(log_scale / 7.0))
    want = (
        model.decoder_log_prob(x, z1)
        + log_p1
        + normal(z2, 0.0, 0.0)
        - normal(z1, m1, s1)
        - normal(z2, m2, s2)
    )
    np.testing.assert_allclose(
        model.elbo(x, num_samples=1, seed=0).numpy(), want.numpy(), rtol=1e-4, atol=1e-3
    )


def test_two_level_latent_prior_is_causal_over_positions():
    keras.utils.set_random_seed(3)
    model = two_level(image_shape=(8, 8, 1), num_encoder_downsamples=1, num_prior_layers=4)  # 4x4 map
    tc.sharpen(model, 1.5)
    prior, (h, w, c) = model.latent_prior(), model.map_shape
    z1 = tf.random.normal([1, h, w, c])
    z2 = tf.random.normal([1, model.latent_dim])
    base = prior.network(z1, z2).numpy()
    for s in range(h * w):
        bumped = z1.numpy().copy()
        bumped[0, s // w, s % w] += 1.0
        delta = np.abs(prior.network(bumped, z2).numpy() - base)  # [1, h, w, c, 3]
        delta = delta.reshape(h * w, -1).max(-1)  # -> [h w, c 3] -> [h w]
        assert not (delta[: s + 1] > 1e-6).any(), f"position {s} leaked to positions <= {s}"
        assert (delta[s + 1 :] > 1e-6).all(), f"a later position ignores position {s}"


def test_two_level_fit_step_changes_every_weight_and_round_trips(tmp_path):
    contract.check_fit_changes_every_weight(two_level())
    model = two_level()
    tc.sharpen(model, 1.5)
    contract.check_serialization(model, str(tmp_path / "two_level.keras"))


@pytest.mark.parametrize("num_latent_layers", [1, 2])
def test_sampling_cache_equals_full_and_given_noise(num_latent_layers):
    model = tiny(image_shape=(3, 3, 2)) if num_latent_layers == 1 else two_level()
    tc.sharpen(model, 1.5)
    tc.check_cache_equals_recompute(model, num_samples=5)
    noise = ark.sampling.seeded_noise(5, 3, model.noise_size, 1)
    np.testing.assert_array_equal(model.sample_from_noise(noise).numpy(), model.sample(3, seed=5).numpy())
    np.testing.assert_array_equal(
        model.sample_from_noise(noise, cache=False).numpy(), model.sample(3, seed=5).numpy()
    )
    cold = model.sample(5, seed=5, temperature=0.3).numpy()
    assert not np.array_equal(cold, model.sample(5, seed=5).numpy())


def test_bad_input_is_refused_clearly():
    model = tiny()
    x = tc.random_data(model, 2)
    with pytest.raises(ValueError, match="integer levels"):
        model.elbo(x.astype(np.float32))
    with pytest.raises(ValueError, match=r"values in \[0, 4\)"):
        model.log_prob(np.full_like(x, 4))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(x[:, :3])
    with pytest.raises(ValueError, match="unconditional"):
        model.log_prob(x, np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="num_samples"):
        model.log_prob(x, num_samples=0)
    with pytest.raises(ValueError, match="num_samples"):
        model.elbo(x, num_samples=-1)
    with pytest.raises(NotImplementedError, match="latent-variable"):
        model.conditional_log_probs(x)
    with pytest.raises(ValueError, match=r"z must have shape \[B, 2\]"):
        model.decoder_log_prob(x, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"values in \[0, 4\)"):
        model.decoder_log_prob(x + 4, np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match=r"noise must have shape"):
        model.sample_from_noise(np.zeros((2, 3, 1), np.float32))
    for bad, match in (
        (dict(num_latent_layers=3), "num_latent_layers must be 1 or 2"),
        (dict(kernel_size=4), "kernel_size must be odd"),
        (dict(num_latent_layers=2, image_shape=(6, 6, 1), num_encoder_downsamples=2), "divisible"),
        (dict(num_classes=3), "unconditional"),
        (dict(image_shape=(4, 4)), r"\(H, W, C\)"),
        (dict(image_shape=(4, 4, 3), hidden_dim=2), "channel count"),
        (dict(latent_dim=0), "latent_dim"),
    ):
        with pytest.raises(ValueError, match=match):
            tiny(**bad)
