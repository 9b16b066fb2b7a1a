"""skew / unskew: the skew puts x[i, j] at column i + j, zeros elsewhere; unskew inverts it."""

import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import skew, unskew


@pytest.mark.parametrize("shape", [(2, 4, 4, 3), (1, 3, 5, 2), (2, 5, 2, 1), (1, 1, 6, 1)])
def test_skew_places_pixel_at_column_i_plus_j(shape):
    x = np.random.RandomState(0).normal(size=shape).astype(np.float32)
    _, H, W, _ = shape
    s = skew(x).numpy()
    assert s.shape == (shape[0], H, W + H - 1, shape[3])
    want = np.zeros_like(s)
    for i in range(H):
        for j in range(W):
            want[:, i, i + j] = x[:, i, j]
    np.testing.assert_array_equal(s, want)  # zeros off the shifted rows
    np.testing.assert_array_equal(unskew(s).numpy(), x)
    np.testing.assert_array_equal(unskew(s, width=W).numpy(), x)


def test_square_skew_is_n_by_2n_minus_1_and_dynamic_shapes_work():
    assert skew(tf.zeros([1, 7, 7, 1])).shape == (1, 7, 13, 1)
    spec = tf.TensorSpec([None, None, None, 2], tf.float32)
    round_trip = tf.function(lambda x: unskew(skew(x)), input_signature=[spec])
    x = np.random.RandomState(1).normal(size=(3, 4, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(round_trip(x).numpy(), x)


def test_bad_rank():
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        skew(tf.zeros([3, 4]))
    with pytest.raises(ValueError, match="skewed map"):
        unskew(tf.zeros([3, 4, 5]))
