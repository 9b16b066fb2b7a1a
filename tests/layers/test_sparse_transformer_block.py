"""SparseTransformerBlock: step == call for every pattern, serialization, the 1/sqrt(2N)
initialisation, and recomputation that changes memory, not gradients."""

import math

import keras
import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import SparseTransformerBlock
from ar_keras.layers.sparse_transformer_block import gelu

PATTERNS = [
    ("dense", {}),
    ("strided", dict(block_length=3)),
    ("strided_local", dict(block_length=3)),
    ("strided_stride", dict(block_length=3)),
    ("fixed", dict(block_length=4, num_summary=2)),
    ("fixed_block", dict(block_length=4, num_summary=1)),
    ("fixed_summary", dict(block_length=4, num_summary=2)),
]


def _block(pattern="strided", **kwargs):
    kwargs = dict(dict(PATTERNS)[pattern], **kwargs)
    return SparseTransformerBlock(8, num_heads=2, ff_dim=16, pattern=pattern, **kwargs)


@pytest.mark.parametrize("pattern", [p for p, _ in PATTERNS])
def test_step_equals_the_full_pass(pattern):
    block = _block(pattern)
    x = tf.random.stateless_normal([2, 11, 8], seed=[1, 2])
    full = block(x)

    def step(t, cache):
        return block.step(x[:, t], cache, tf.constant(t))

    lc.check_step_matches_call(full, step, block.init_cache(2, 11), range(11), atol=2e-5)


def test_the_block_is_causal_and_residual():
    block = _block("strided")
    x = tf.random.stateless_normal([1, 9, 8], seed=[3, 4]).numpy()
    y = block(x).numpy()
    x2 = x.copy()
    x2[0, 5] += 1.0
    y2 = block(x2).numpy()
    np.testing.assert_allclose(y2[0, :5], y[0, :5], atol=1e-6)  # earlier positions untouched
    assert not np.allclose(y2[0, 5:], y[0, 5:])


def test_serialization():
    lc.check_serialization(
        _block("fixed", dropout=0.1, output_scale=0.5), tf.random.stateless_normal([2, 8, 8], seed=[0, 1])
    )


def test_gelu_is_the_papers_approximation():
    x = np.linspace(-4, 4, 17).astype(np.float32)
    np.testing.assert_allclose(gelu(x).numpy(), x / (1 + np.exp(-1.702 * x)), rtol=1e-5, atol=1e-6)


def test_projections_into_the_residual_stream_are_scaled():
    # Kernels N(0, 0.125 / sqrt(d_in)); W_p and W_2 times output_scale (1 / sqrt(2N) in the model).
    d, ff, scale = 128, 512, 1.0 / math.sqrt(2 * 16)
    block = SparseTransformerBlock(d, num_heads=2, ff_dim=ff, output_scale=scale)
    block.build((None, None, d))
    std = lambda w: float(np.std(w.numpy()))  # noqa: E731
    np.testing.assert_allclose(std(block.ff_in.kernel), 0.125 / math.sqrt(d), rtol=0.05)
    np.testing.assert_allclose(std(block.ff_out.kernel), scale * 0.125 / math.sqrt(ff), rtol=0.05)
    np.testing.assert_allclose(std(block.attention.out.kernel), scale * 0.125 / math.sqrt(d), rtol=0.05)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_recompute_gives_the_same_outputs_and_gradients(dropout):
    x = tf.random.stateless_normal([2, 12, 8], seed=[5, 6])
    results = []
    for recompute in (False, True):
        keras.utils.set_random_seed(1)
        block = _block("strided", dropout=dropout, recompute=recompute)
        block.build(x.shape)
        if results:
            block.set_weights(results[0][2])
        with tf.GradientTape() as tape:
            y = block(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        grads = tape.gradient(loss, block.trainable_weights)
        assert all(g is not None for g in grads)
        results.append((y.numpy(), [g.numpy() for g in grads], block.get_weights()))
    (y0, g0, _), (y1, g1, _) = results
    np.testing.assert_allclose(y1, y0, rtol=1e-5, atol=1e-6)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    if dropout:  # the masks were drawn, and drawn alike
        keras.utils.set_random_seed(1)
        block = _block("strided", dropout=dropout)
        block.build(x.shape)
        block.set_weights(results[0][2])
        assert not np.allclose(block(x, training=False).numpy(), y0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        SparseTransformerBlock(10, num_heads=3)
    with pytest.raises(ValueError, match="dropout"):
        SparseTransformerBlock(8, dropout=1.0)
    with pytest.raises(ValueError, match="block_length"):
        SparseTransformerBlock(8, pattern="strided")
    with pytest.raises(ValueError, match=r"\[batch, n, 8\]"):
        _block("dense")(tf.zeros([1, 4, 6]))
