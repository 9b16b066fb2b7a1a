"""The iaf_vae model: bounds, free bits, the IAF posterior, sampling, training, serialization."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
import test_case as tc

import ar_keras as ark
from ar_keras import flows


def tiny(**overrides):
    return ark.models.get("iaf_vae", preset="tiny", **overrides)


def images(model, n, seed=0):
    return np.random.RandomState(seed).randint(0, model.num_levels, (n,) + model.image_shape).astype(np.int32)


def test_contract_basics():
    model = tiny()
    assert isinstance(model, ark.models.LatentVariableModel)
    assert not isinstance(model, ark.models.AutoregressiveModel)
    assert model.monitor == "val_loss" and model.count_params() < 10_000
    assert ark.models.model_class("iaf_vae").overrides_from_data(ark.data.info("digits")) == {
        "image_shape": (8, 8, 1),
        "num_levels": 17,
    }
    with pytest.raises(ValueError, match="images"):
        ark.models.model_class("iaf_vae").overrides_from_data(ark.data.info("two_moons"))


def test_importance_weighted_bound_dominates_the_elbo_of_the_same_samples():
    model = tiny()
    tc.sharpen(model, 1.5)
    x = images(model, 5)
    for s in (1, 4, 32):
        iwae = model.log_prob(x, num_samples=s, seed=3).numpy()
        elbo = model.elbo(x, num_samples=s, seed=3).numpy()
        assert np.all(iwae >= elbo - 1e-4)  # Jensen, sample by sample
        if s == 1:
            np.testing.assert_allclose(iwae, elbo, rtol=1e-5)
    # Deterministic per seed; an example's estimate does not depend on the batch size.
    np.testing.assert_array_equal(model.log_prob(x, seed=1).numpy(), model.log_prob(x, seed=1).numpy())
    np.testing.assert_allclose(
        model.log_prob(x[:2], seed=1).numpy(), model.log_prob(x, seed=1).numpy()[:2], rtol=1e-5
    )
    assert not np.allclose(model.log_prob(x, seed=1).numpy(), model.log_prob(x, seed=2).numpy())
    # More samples tighten the bound (on average).
    assert model.log_prob(x, num_samples=64).numpy().mean() >= model.elbo(x, num_samples=64).numpy().mean()


def test_decoder_likelihood_is_normalised_by_enumeration():
    model = tiny(image_shape=(2, 2, 1), num_levels=3)
    tc.sharpen(model, 1.5)
    configs = np.array(list(itertools.product(range(3), repeat=4)), np.int32).reshape(-1, 2, 2, 1)
    # p(x) = E_{z ~ prior} p(x | z): draw prior states through the top-down path.
    z = np.random.RandomState(0).standard_normal((5, model.latent_size)).astype(np.float32)
    h = model._top(5)
    for block, e in reversed(list(zip(model.blocks, model._split_noise(tf.constant(z))))):
        h, _ = block.down(h, None, e)
    params = model._decode_params(h)  # [5, 2, 2, 1, P]
    for i in range(5):
        p = tf.broadcast_to(params[i : i + 1], (len(configs),) + params.shape[1:])
        lp = tf.reduce_sum(model.head.log_prob(p, configs), axis=[1, 2, 3]).numpy()
        np.testing.assert_allclose(np.exp(lp.astype(np.float64)).sum(), 1.0, atol=1e-5)


def test_posterior_uses_the_iaf_bijector_step():
    model = tiny()
    tc.sharpen(model, 1.5)
    made = model.blocks[0].iaf_mades[0]
    z = tf.random.normal([6, model.latent_dim])
    ctx = tf.random.normal([6, model.hidden_dim])
    shift, log_scale = made(z, conditional_input=ctx)
    step = flows.iaf(made)
    np.testing.assert_allclose(
        step.forward(z, conditional_input=ctx).numpy(),
        (z * tf.exp(log_scale) + shift).numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_free_bits_change_the_training_objective_only():
    x = tf.constant(images(tiny(), 6))
    plain, free = tiny(), tiny(free_bits=5.0)
    free.set_weights(plain.get_weights())
    obj_p, elbo_p = (t.numpy() for t in plain._objective(x, None, training=True))
    obj_f, elbo_f = (t.numpy() for t in free._objective(x, None, training=True))
    np.testing.assert_allclose(elbo_p, elbo_f, rtol=1e-6)  # the metric is the ELBO
    np.testing.assert_allclose(obj_p, elbo_p, rtol=1e-6)
    # Each of the latent_dim channels is held at >= 5 nats of KL in the objective.
    log_px, kl, _ = plain._inference(x, plain._training_noise(6, True))
    assert np.all(obj_f <= log_px.numpy() - 5.0 * plain.latent_dim + 1e-3)
    obj_eval, elbo_eval = (t.numpy() for t in free._objective(x, None, training=False))
    np.testing.assert_allclose(obj_eval, elbo_eval)  # no free bits outside training


def test_bad_input():
    model = tiny()
    good = images(model, 2)
    with pytest.raises(ValueError, match="integer levels"):
        model.log_prob(good.astype(np.float32))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model.elbo(good + 4)
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((2, 8, 8, 1), np.int32))
    with pytest.raises(ValueError, match="unconditional"):
        model.log_prob(good, np.zeros(2, np.int32))
    with pytest.raises(NotImplementedError, match="latent-variable"):
        model.conditional_log_probs(good)
    with pytest.raises(ValueError, match="divisible"):
        tiny(image_shape=(6, 6, 1), num_scales=2)
    with pytest.raises(ValueError, match="unconditional"):
        tiny(num_classes=3)
