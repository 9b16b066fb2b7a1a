"""Masked layers: the mask is applied in call, weights are never altered."""

import keras
import layer_case as lc
import numpy as np
import tensorflow as tf

from ar_keras.layers import GatedActivation, MaskedConv2D, MaskedDense, masking


def test_masked_dense_output_ignores_masked_inputs():
    degrees = masking.made_degrees(4, [6], seed=0)
    m0, m1 = masking.made_masks(degrees)
    layer = MaskedDense(6, kernel_mask=m0)
    x = np.random.RandomState(0).randn(3, 4).astype(np.float32)
    y = layer(x).numpy()
    kernel_before = layer.kernel.numpy().copy()
    for i in range(4):
        x2 = x.copy()
        x2[:, i] += 5.0
        changed = np.abs(layer(x2).numpy() - y).max(0) > 0
        assert not np.any(changed & (m0[i] == 0))
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel_before)
    # Config round trip: the same mask and function.
    clone = lc.check_serialization(layer, x)
    np.testing.assert_array_equal(clone.kernel_mask, m0)


def test_masked_conv_is_causal_in_space_and_channels():
    conv = MaskedConv2D(6, (3, 3), mask_type="A", data_channels=3)
    x = tf.random.normal([1, 4, 4, 3])
    y = conv(x).numpy()
    groups = masking.channel_groups(6, 3)
    # Perturb pixel (2, 1) channel 1 (G): outputs above/left are unaffected, and
    # at (2, 1) only the B-group outputs (group 2) may change (mask A).
    x2 = x.numpy().copy()
    x2[0, 2, 1, 1] += 3.0
    diff = np.abs(conv(x2).numpy() - y)[0]  # [H, W, F]
    assert np.all(diff[:2] == 0) and np.all(diff[2, 0] == 0)
    assert np.all(diff[2, 1][groups <= 1] == 0)
    assert np.all(diff[2, 1][groups == 2] > 0)
    assert diff.shape == (4, 4, 6)
    lc.check_serialization(conv, x)
    lc.check_symbolic_matches_eager(conv, x)


def test_gated_activation_conditioning():
    gate = GatedActivation(conditional=True)
    x = tf.zeros([2, 3, 3, 8])
    h = tf.one_hot([0, 1], 2)
    y = gate(x, h).numpy()
    assert y.shape == (2, 3, 3, 4)
    gate.projection.kernel.assign(tf.ones_like(gate.projection.kernel))
    y = gate(x, h).numpy()
    assert np.all(y > 0)
    assert lc.check_serialization(gate, x, {"conditioning": h}).conditional
    keras.utils.set_random_seed(0)
