"""NADE: the parallel O(DH) pass equals the paper's per-element recurrence."""

import numpy as np

import ar_keras as ark
import test_case as tc


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
    model = ark.models.get("nade", preset="tiny", image_shape=(4, 4, 1), num_levels=3, hidden_units=7)
    D, K, H = 16, 3, 7
    assert model.count_params() == D * K * H + H + D * H * K + D * K


def test_binary_nade_uses_one_logit():
    model = ark.models.get("nade", preset="tiny", num_levels=2)
    assert model.network(tc.random_data(model, 1)).shape[-1] == 1
    tc.check_normalization(model)
