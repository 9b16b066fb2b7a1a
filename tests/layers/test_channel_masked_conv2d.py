"""ChannelMaskedConv2D: R -> G -> B at every tap, every spatial tap open."""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import ChannelMaskedConv2D, masking


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_channel_mask_holds_at_every_tap(mask_type):
    conv = ChannelMaskedConv2D(6, 3, mask_type=mask_type, data_channels=3)
    x = tf.random.normal([1, 4, 4, 3])
    y = conv(x).numpy()
    groups = masking.channel_groups(6, 3)
    for channel in range(3):
        x2 = x.numpy().copy()
        x2[0, 1, 2, channel] += 3.0  # one input channel at pixel (1, 2)
        diff = np.abs(conv(x2).numpy() - y)[0]  # [H, W, F]
        near = diff[0:3, 1:4]  # the 3x3 taps around (1, 2), above too
        sees = groups > channel if mask_type == "A" else groups >= channel
        assert np.all(near[..., ~sees] == 0)  # later channels never see it
        assert np.all(near[..., sees] > 0)  # the allowed ones do, at every tap
        assert np.all(diff[3] == 0) and np.all(diff[:, 0] == 0)  # outside the 3x3 window


def test_serialization_and_bad_mask():
    conv = ChannelMaskedConv2D(4, 3, mask_type="B", data_channels=2)
    x = tf.random.normal([2, 3, 3, 2])
    clone = lc.check_serialization(conv, x)
    np.testing.assert_array_equal(clone._mask, conv._mask)
    lc.check_symbolic_matches_eager(conv, x)
    with pytest.raises(ValueError, match="mask_type"):
        ChannelMaskedConv2D(4, 3, mask_type=None)
