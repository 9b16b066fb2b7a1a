"""NADE: the parallel O(DH) pass equals the paper's per-element recurrence."""

import numpy as np
import pytest
import test_case as tc

import ar_keras as ark


def reference_logits(model, x_flat):
    """The recurrence a_{d+1} = a_d + W[d, x_d], one element at a time (numpy)."""
    W = model.W.numpy().reshape(model.event_size, model.num_levels, -1)
    V, b, c = model.V.numpy(), model.b.numpy(), model.c.numpy()
    out = []
    for row in x_flat:
        a = c.copy()
        logits = []
        for d in range(model.event_size):
            h = 1.0 / (1.0 + np.exp(-a))
            logits.append(h @ V[d] + b[d])
            a = a + W[d, row[d]]
        out.append(logits)
    return np.array(out)


def test_parallel_pass_equals_recurrence():
    model = ark.models.get("nade", preset="tiny", image_shape=(2, 3, 1), num_levels=5)
    tc.sharpen(model)
    x = tc.random_data(model, 4)
    params = model.network(x).numpy().reshape(4, model.event_size, -1)
    np.testing.assert_allclose(params, reference_logits(model, x.reshape(4, -1)), rtol=1e-4, atol=1e-4)


def test_weight_count_is_linear_in_d():
    # Shared weights: D*K*H + H + D*H*P + D*P, not D separate networks.
    model = ark.models.get("nade", preset="tiny", image_shape=(4, 4, 1), num_levels=3, hidden_dim=7)
    D, K, H = 16, 3, 7
    assert model.count_params() == D * K * H + H + D * H * K + D * K


def test_binary_nade_uses_one_logit():
    model = ark.models.get("nade", preset="tiny", num_levels=2)
    assert model.network(tc.random_data(model, 1)).shape[-1] == 1
    tc.check_normalization(model)


def cumsum_formulation_log_prob(model, x, conditional=None):
    """The pass before the speed-up: ``[B, D, H]`` gather, `tf.cumsum`, einsum."""
    import tensorflow as tf

    batch, D, K = x.shape[0], model.event_size, model.num_levels
    x_flat = tf.reshape(x, [batch, D])  # [B, *shape] -> [B, D]
    e = tf.gather(model.W, tf.range(D)[None, :] * K + x_flat)  # [B, D, H]
    a = tf.cumsum(e, axis=1, exclusive=True) + model.c
    if model.class_bias is not None:
        a = a + model.class_bias(conditional)[:, None]
    params = tf.einsum("bdh,dhp->bdp", tf.sigmoid(a), model.V) + model.b  # [B, D, P]
    return tf.reduce_sum(model.head.log_prob(params, x_flat), axis=1)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(image_shape=(8, 8, 1), num_levels=2, hidden_dim=24),  # one matmul, Bernoulli
        dict(image_shape=(3, 4, 1), num_levels=5, hidden_dim=6, num_classes=3),  # categorical, classes
        dict(image_shape=(13, 11, 1), num_levels=2, hidden_dim=5),  # D = 143: blocked
    ],
)
def test_matmul_pass_equals_cumsum_pass_with_gradients(overrides):
    import tensorflow as tf

    model = ark.models.get("nade", preset="tiny", **overrides)
    tc.sharpen(model)
    x = tc.random_data(model, 5)
    c = tc.labels_for(model, 5) if model.num_classes else None
    with tf.GradientTape(persistent=True) as tape:
        new = model.log_prob(x, c)
        old = cumsum_formulation_log_prob(model, x, c)
        new_total, old_total = tf.reduce_sum(new), tf.reduce_sum(old)
    np.testing.assert_allclose(new.numpy(), old.numpy(), rtol=1e-5, atol=1e-4)
    new_grads = tape.gradient(new_total, model.trainable_weights)
    old_grads = tape.gradient(old_total, model.trainable_weights)
    for w, g_new, g_old in zip(model.trainable_weights, new_grads, old_grads):
        np.testing.assert_allclose(
            tf.convert_to_tensor(g_new).numpy(),
            tf.convert_to_tensor(g_old).numpy(),
            rtol=1e-4,
            atol=1e-4,
            err_msg=w.path,
        )


@pytest.mark.parametrize("length", [1, 7, 128, 129, 300])
def test_prefix_sum_equals_cumsum(length):
    import tensorflow as tf

    from ar_keras.models.density.nade import prefix_sum

    e = tf.random.stateless_normal([length, 3, 4], seed=[length, 0])
    np.testing.assert_allclose(prefix_sum(e).numpy(), tf.cumsum(e, axis=0).numpy(), rtol=1e-5, atol=1e-4)
