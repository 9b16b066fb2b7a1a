"""The Video Pixel Network's layers: ConvLSTM (step == full pass), MU and RMB (masks, resolution)."""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import ConvLSTM, MultiplicativeUnit, ResidualMultiplicativeBlock


def test_conv_lstm_step_equals_full_pass_and_round_trips():
    layer = ConvLSTM(3, kernel_size=3)
    x = tf.random.stateless_normal([2, 4, 3, 5, 2], seed=[0, 1])  # [B, T, H, W, F_in]
    full = layer(x)
    assert full.shape == (2, 4, 3, 5, 3)
    lc.check_step_matches_call(
        full, lambda t, cache: layer.step(x[:, t], cache), layer.init_cache(2, 3, 5), range(4)
    )
    lc.check_serialization(layer, x)


def test_conv_lstm_is_causal_in_time():
    layer = ConvLSTM(2)
    x = tf.random.stateless_normal([1, 3, 2, 2, 1], seed=[1, 1]).numpy()
    changed = x.copy()
    changed[:, 2] += 1.0  # the last frame only
    a, b = layer(x).numpy(), layer(changed).numpy()
    np.testing.assert_array_equal(a[:, :2], b[:, :2])
    assert not np.allclose(a[:, 2], b[:, 2])


@pytest.mark.parametrize("dilation", [1, 4])
def test_encoder_block_keeps_resolution_and_round_trips(dilation):
    block = ResidualMultiplicativeBlock(3, dilation=dilation)
    x = tf.random.stateless_normal([2, 7, 5, 6], seed=[2, 1])
    assert block(x).shape == x.shape
    lc.check_serialization(block, x)
    with pytest.raises(ValueError, match="2c = 6"):
        ResidualMultiplicativeBlock(3)(tf.zeros([1, 4, 4, 5]))


def test_masked_block_is_causal_over_pixels_and_channels():
    """Output (i, j, group g) of a masked RMB stack moves only with inputs before it:
    rows above, pixels to the left, and at (i, j) the groups < g after the 'A' input."""
    from ar_keras.layers import MaskedConv2D

    C, H, W = 3, 3, 3
    first = MaskedConv2D(6, 3, mask_type="A", data_channels=C)
    blocks = [ResidualMultiplicativeBlock(3, mask_type="B", data_channels=C) for _ in range(2)]
    mu = MultiplicativeUnit(mask_type="B", data_channels=C)

    def net(x):
        h = first(x)
        for b in blocks:
            h = b(h)
        return mu(h)  # [B, H, W, 6], groups 0 0 1 1 2 2

    x = tf.random.stateless_normal([1, H, W, C], seed=[3, 1]).numpy()
    changed = np.repeat(x, H * W * C, axis=0)  # row d changes element d
    changed.reshape(H * W * C, -1)[np.arange(H * W * C), np.arange(H * W * C)] += 1.0
    out = net(np.concatenate([x, changed])).numpy()  # [1 + HWC, H, W, 6]
    moved = np.abs(out[1:] - out[:1]) > 1e-6  # batch rows: float noise
    group = np.array([0, 0, 1, 1, 2, 2])
    for d in range(H * W * C):
        i, j, c = d // (W * C), (d // C) % W, d % C
        for r in range(H):
            for s in range(W):
                if (r, s) < (i, j):
                    assert not moved[d, r, s].any(), (i, j, c, r, s)
                elif (r, s) == (i, j):
                    assert not (moved[d, r, s] & (group <= c)).any(), (i, j, c)
                    assert moved[d, r, s][group > c].all(), (i, j, c)
    with pytest.raises(ValueError, match="no dilation"):
        ResidualMultiplicativeBlock(3, dilation=2, mask_type="B")
