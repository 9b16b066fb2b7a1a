"""CausalConv1D: the dilated causal convolution and its streaming step."""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import CausalConv1D


def reference(x, kernel, bias, dilation):
    """numpy: y_t = b + sum_i W_i^T x_{t - d (k-1-i)}, zeros before the start."""
    B, T, _ = x.shape
    k = kernel.shape[0]
    y = np.zeros((B, T, kernel.shape[2])) + bias
    for t in range(T):
        for i in range(k):
            s = t - dilation * (k - 1 - i)
            if s >= 0:
                y[:, t] += x[:, s] @ kernel[i]
    return y


@pytest.mark.parametrize("k,d", [(1, 1), (2, 1), (2, 4), (3, 2), (4, 3)])
def test_matches_the_reference_convolution(k, d):
    conv = CausalConv1D(5, k, d, bias_initializer="random_normal")
    x = np.random.RandomState(0).normal(size=(2, 17, 3)).astype(np.float32)
    y = conv(x).numpy()
    assert y.shape == (2, 17, 5)
    want = reference(x.astype(np.float64), conv.kernel.numpy(), conv.bias.numpy(), d)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    assert conv.queue_length == d * (k - 1)


@pytest.mark.parametrize("k,d", [(2, 1), (2, 8), (3, 3)])
def test_causal_with_exactly_the_dilated_taps(k, d):
    conv = CausalConv1D(2, k, d)
    T = 20
    x = np.random.RandomState(1).normal(size=(1, T, 2)).astype(np.float32)
    base = conv(x).numpy()
    for j in range(T):
        moved = x.copy()
        moved[0, j] += 1.0
        changed = np.abs(conv(moved).numpy() - base).max(-1)[0] > 1e-6  # [T]
        taps = {j + d * i for i in range(k)}
        assert set(np.flatnonzero(changed)) == {t for t in taps if t < T}, j


@pytest.mark.parametrize("k,d", [(1, 1), (2, 1), (2, 5), (3, 2)])
def test_streaming_equals_the_parallel_pass(k, d):
    conv = CausalConv1D(4, k, d, bias_initializer="random_normal")
    x = tf.random.normal([3, 25, 2], seed=3)
    full = conv(x)
    queue = conv.init_cache(3)
    assert queue.shape == (3, d * (k - 1), 2)
    queue = lc.check_step_matches_call(full, lambda t, q: conv.step(x[:, t], q), queue, range(25), atol=1e-6)
    # The queue holds the last d (k-1) inputs, oldest first.
    np.testing.assert_array_equal(queue.numpy(), x.numpy()[:, 25 - d * (k - 1) :])


def test_serialization_and_bad_arguments(tmp_path):
    conv = CausalConv1D(3, 2, 4, use_bias=False, name="c")
    x = np.random.RandomState(2).normal(size=(1, 6, 2)).astype(np.float32)
    lc.check_serialization(conv, x)
    assert conv.bias is None
    lc.check_symbolic_matches_eager(conv, x, shapes={0: (None, 2)}, path=tmp_path / "c.keras")
    for bad in (dict(filters=0), dict(filters=2, kernel_size=0), dict(filters=2, dilation_rate=1.5)):
        with pytest.raises(ValueError, match="positive integer"):
            CausalConv1D(**bad)
