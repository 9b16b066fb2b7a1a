"""The maf model: MAF(K), MAF MoG, batch norm, the logit transform, its TFP bijector."""

import continuous_case as cc
import contract
import keras
import numpy as np
import pytest
import tensorflow as tf

import ar_keras as ark


def tiny(**overrides):
    return ark.models.get("maf", preset="tiny", **overrides)


def test_log_prob_equals_tfp_transformed_distribution():
    model = tiny(num_layers=3, batch_norm=True, permutation="random")
    cc.perturb(model, 0.3)
    for bn in model.batch_norms:  # non-trivial moving statistics
        bn.moving_mean.assign([0.3, -0.2])
        bn.moving_variance.assign([2.0, 0.5])
    x = np.random.RandomState(0).standard_normal((6, 2)).astype(np.float32)
    np.testing.assert_allclose(
        model.log_prob(x).numpy(), model.distribution().log_prob(x).numpy(), rtol=1e-5, atol=1e-5
    )
    # sample() runs the bijector's forward: inverting the samples recovers the base noise.
    z = model.bijector().inverse(tf.constant(model.sample(4, seed=1).numpy())).numpy()
    noise = ark.sampling.seeded_noise(1, 4, 2, 1).numpy()[..., 0]
    np.testing.assert_allclose(
        z, ark.distributions.inverse_normal.uniform_to_normal(noise).numpy(), atol=1e-4
    )


@pytest.mark.parametrize(
    "overrides",
    [
        dict(num_layers=3, batch_norm=True, permutation="random"),
        dict(base="mog", num_mixtures=3, num_classes=3),
        dict(data_transform="logit", logit_alpha=0.05, batch_norm=True),
        dict(num_layers=1, permutation="none"),
    ],
)
def test_bijector_log_prob_equals_the_dimension_walk(overrides):
    """log_prob goes through the TFP bijector; the per-dimension walk sums to the same."""
    model, twin = tiny(**overrides), tiny(**overrides)
    cc.perturb(model, 0.3)
    twin.set_weights(model.get_weights())
    rng = np.random.RandomState(3)
    x = tf.constant(rng.uniform(0.05, 0.95, (9, 2)).astype(np.float32))
    c = None if model.num_classes is None else tf.constant(rng.randint(0, 3, 9).astype(np.int32))
    walk = model.dimension_log_probs(x, c).numpy().sum(1)
    np.testing.assert_allclose(model.log_prob(x, c).numpy(), walk, rtol=1e-5, atol=1e-5)
    # In training (batch statistics), with the moving statistics updated once, as by the walk.
    trained = model._log_prob(x, c, training=True).numpy()
    np.testing.assert_allclose(trained, twin._terms(x, c, training=True).numpy().sum(1), rtol=1e-5, atol=1e-5)
    for bn, bn_twin in zip(model.batch_norms, twin.batch_norms):
        np.testing.assert_allclose(bn.moving_mean.numpy(), bn_twin.moving_mean.numpy(), rtol=1e-6)
        np.testing.assert_allclose(bn.moving_variance.numpy(), bn_twin.moving_variance.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(base="mog", num_mixtures=3),
        dict(batch_norm=True),
        dict(num_layers=1, permutation="none", base="mog", num_mixtures=2),
    ],
)
def test_variants_integrate_to_one_and_sample_right(overrides):
    model = tiny(**overrides)
    cc.perturb(model, 0.2)
    cc.check_integrates_to_one(model, lim=16.0, n=400)
    cc.check_samples_match_density(model)
    if model.exact_conditionals:
        cc.check_exact_conditionals(model)


def test_batch_norm_uses_batch_statistics_in_training_and_syncs_across_replicas():
    build = lambda: tiny(batch_norm=True)  # noqa: E731
    model = build()
    x = (np.random.RandomState(1).standard_normal((8, 2)) * [3.0, 0.5] + 2.0).astype(np.float32)
    train_lp = model._log_prob(tf.constant(x), None, training=True).numpy()
    assert not np.allclose(train_lp, model.log_prob(x).numpy())
    assert not np.allclose(model.batch_norms[0].moving_mean.numpy(), 0.0)  # updated
    contract.check_fit_changes_every_weight(build(), x=x)
    contract.check_mirrored_equals_single(build, x=x)  # synchronised statistics


def test_logit_transform_support_and_density_on_the_unit_square():
    model = tiny(data_transform="logit", logit_alpha=0.05)
    cc.perturb(model, 0.3)
    low, high = model.support
    np.testing.assert_allclose([low, high], [-0.05 / 0.9, 0.95 / 0.9])
    edges = np.linspace(low, high, 301)
    centres = 0.5 * (edges[1:] + edges[:-1])
    pts = np.stack(np.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2).astype(np.float32)
    total = np.exp(model.log_prob(pts).numpy().astype(np.float64)).sum() * (edges[1] - edges[0]) ** 2
    assert abs(total - 1.0) < 0.01
    # With a = 0.05 samples stay within the transform's image, (-a, 1 + a) / (1 - 2a).
    x = model.sample(500, seed=0).numpy()
    assert x.min() > -0.06 and x.max() < 1.06
    with pytest.raises(ValueError, match=r"lie in \[-0.0555"):
        model.log_prob(np.array([[0.5, 1.5]], np.float32))
    # The transform's Jacobian is included: a uniform density on the square has log p = 0.
    flat = tiny(data_transform="logit", logit_alpha=0.0, num_layers=1)
    y = np.array([[0.3, 0.6]], np.float32)
    s = y
    expect = (-0.5 * np.log(s / (1 - s)) ** 2 - 0.5 * np.log(2 * np.pi) - np.log(s) - np.log1p(-s)).sum()
    for w in flat.trainable_weights:
        w.assign(tf.zeros_like(w))
    np.testing.assert_allclose(flat.log_prob(y).numpy()[0], expect, rtol=1e-5)


def test_digits_preset_learns_dequantized_digits_quickly():
    keras.utils.set_random_seed(0)
    model = ark.models.get("maf", preset="digits")
    assert model.event_size == 64 and model.data_transform == "logit" and model.batch_norm
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    train = ark.data.load("digits_continuous", "train").shuffle(1297, seed=0).batch(128)
    valid = ark.data.load("digits_continuous", "validation").batch(250)
    before = model.evaluate(valid, return_dict=True, verbose=0)["loss"]
    history = model.fit(train, validation_data=valid, epochs=3, verbose=0)
    after = history.history["val_loss"][-1]
    assert after < before - 40.0, (before, after)  # nats of validation NLL
    result = model.evaluate(valid, return_dict=True, verbose=0)
    np.testing.assert_allclose(result["bits_per_dim"], result["loss"] / (64 * np.log(2)), rtol=1e-4)


def test_presets_follow_the_paper():
    paper = ark.models.model_class("maf").PRESETS["paper"]
    assert paper["event_size"] == 784 and paper["num_layers"] == 5
    assert paper["hidden_units"] == (1024, 1024) and paper["batch_norm"]
    assert paper["data_transform"] == "logit" and paper["logit_alpha"] == 1e-6


def test_constructor_errors():
    with pytest.raises(ValueError, match="base"):
        tiny(base="flow")
    with pytest.raises(ValueError, match="data_transform"):
        tiny(data_transform="log")
    with pytest.raises(ValueError, match="permutation"):
        tiny(permutation="shuffle")
    with pytest.raises(ValueError, match="num_layers"):
        tiny(num_layers=0)
    with pytest.raises(ValueError, match="distribution"):
        tiny(base="mog").distribution()


def test_mog_base_is_sampled_by_the_one_sampler(monkeypatch):
    from ar_keras.core import sampler
    from ar_keras.models.density.maf import _MADEMoG

    assert not hasattr(ark.models.MAF, "_sample_base")
    assert "_sample_from_noise" not in ark.models.MAF.__dict__
    model = tiny(base="mog", num_mixtures=3, num_classes=3, event_size=3)
    cc.perturb(model, 0.3)
    calls, run = [], sampler.run
    monkeypatch.setattr(sampler, "run", lambda *a, **k: calls.append(a[0]) or run(*a, **k))
    c = np.array([2, 0, 1, 1], np.int32)
    a = model.sample(4, conditional=c, seed=3, cache=True, temperature=0.7).numpy()
    b = model.sample(4, conditional=c, seed=3, cache=False, temperature=0.7).numpy()
    np.testing.assert_array_equal(a, b)
    assert len(calls) == 2 and all(isinstance(m, _MADEMoG) for m in calls)
    base = calls[0]
    assert isinstance(base, ark.core.AutoregressiveDensity) and not base.supports_cache
    np.testing.assert_array_equal(base.sampling_groups(3).numpy()[:, 0], model.base_made.ordering)
    # The flow's inverse of the samples is the base draw of the same noise and temperature.
    noise = ark.sampling.GivenNoise(ark.sampling.seeded_noise(3, 4, 3, model.noise_depth))
    u = tf.function(lambda: sampler.run(base, noise, 4, 3, tf.constant(c), 0.7, cache=False))()
    kw = ark.flows.conditional_kwargs(model.bijector(), tf.one_hot(c, 3))
    np.testing.assert_allclose(
        model.bijector().inverse(tf.constant(a), **kw).numpy(), u.numpy(), rtol=1e-4, atol=1e-4
    )
    # The base's parameters are the ones log_prob scores u with.
    c1h = tf.one_hot(c, 3)
    np.testing.assert_allclose(
        model._base_log_probs(u, c1h).numpy(),
        base.head.log_prob(base.element_params(u, tf.constant(c)), u).numpy(),
        rtol=1e-6,
    )
