"""ByteNetBlock: the block maths, step == call, causal vs centred convolution, serialization."""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import ByteNetBlock
from ar_keras.layers.bytenet_block import multiplicative_unit


def test_the_multiplicative_unit():
    h = tf.random.normal([3, 4], seed=0)
    a = tf.random.normal([3, 16], seed=1)
    g1, g2, g3, u = (a[:, 4 * i : 4 * (i + 1)] for i in range(4))
    want = tf.sigmoid(g1) * tf.tanh(tf.sigmoid(g2) * h + tf.sigmoid(g3) * tf.tanh(u))
    np.testing.assert_allclose(multiplicative_unit(h, a).numpy(), want.numpy(), rtol=1e-6)


def test_the_relu_block_maths():
    block = ByteNetBlock(hidden_channels=3, kernel_size=3, dilation_rate=2, block_type="relu")
    x = tf.random.normal([2, 7, 6], seed=2)
    y = block(x)
    h = block.reduce(tf.nn.relu(block.norm_in(x)))
    h = block.conv(tf.nn.relu(block.norm_conv(h)))
    want = x + block.expand(tf.nn.relu(block.norm_out(h)))
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("block_type", ["rmb", "relu"])
def test_step_equals_call(block_type):
    block = ByteNetBlock(hidden_channels=4, kernel_size=3, dilation_rate=3, block_type=block_type)
    x = tf.random.normal([2, 12, 8], seed=3)
    full = block(x)
    queue = block.init_cache(2)
    assert queue.shape == (2, 6, 4) and block.queue_length == 6  # r (k - 1) x d
    lc.check_step_matches_call(full, lambda t, q: block.step(x[:, t], q), queue, range(12))


@pytest.mark.parametrize("causal", [True, False])
def test_causal_and_centred_reach(causal):
    """Row t of a causal block sees t - r (k-1) .. t; a centred one t - r .. t + r (k = 3)."""
    block = ByteNetBlock(hidden_channels=3, kernel_size=3, dilation_rate=2, causal=causal)
    x = tf.random.normal([1, 15, 6], seed=4)
    bumped = np.repeat(x.numpy(), 15, axis=0)  # row j bumps x_j
    bumped[np.arange(15), np.arange(15)] += np.linspace(-1.0, 1.0, 6)  # not a shift: LN
    moved = np.abs(block(bumped).numpy()[:, 7] - block(x).numpy()[:, 7]).max(-1)  # [j]
    reach = np.flatnonzero(moved > 1e-6)
    assert reach.tolist() == ([3, 5, 7] if causal else [5, 7, 9])


def test_serialization():
    block = ByteNetBlock(hidden_channels=3, kernel_size=2, dilation_rate=4, block_type="relu", causal=False)
    lc.check_serialization(block, tf.random.normal([2, 5, 6], seed=5))
