"""Shifted convolutions: causal by construction at every size and stride, and streamable."""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import (
    DownRightShiftedConv2D,
    DownRightShiftedConv2DTranspose,
    DownShiftedConv2D,
    DownShiftedConv2DTranspose,
)
from ar_keras.layers.shifted_conv import down_shift, right_shift


def _influence(layer, shape, **call_kwargs):
    """influence[r, c] = output positions that change when input (r, c) changes."""
    rng = np.random.RandomState(0)
    x = rng.randn(1, *shape).astype(np.float32)
    base = layer(x, **call_kwargs).numpy()[0]
    out = {}
    for r in range(shape[0]):
        for c in range(shape[1]):
            moved = x.copy()
            moved[0, r, c] += 1.0
            diff = np.abs(layer(moved, **call_kwargs).numpy()[0] - base).max(-1)
            out[r, c] = diff > 0
    return out


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 2), (5, 5)])
@pytest.mark.parametrize("strides", [1, 2])
def test_down_shifted_conv_sees_rows_up_to_its_own(size, strides):
    layer = DownShiftedConv2D(3, (2, 3), strides=strides)
    for (r, _), changed in _influence(layer, size + (2,)).items():
        assert changed.shape == tuple(-(-s // strides) for s in size)
        rows = np.nonzero(changed)[0]
        # Input row r reaches output row i only if r <= s*i (and within kh - 1 rows above).
        assert np.all(strides * rows >= r) and np.all(strides * rows - r <= 1)


@pytest.mark.parametrize("size", [(1, 2), (3, 3), (4, 5)])
@pytest.mark.parametrize("strides", [1, 2])
def test_down_right_shifted_conv_sees_above_and_left_only(size, strides):
    layer = DownRightShiftedConv2D(3, (2, 2), strides=strides)
    for (r, c), changed in _influence(layer, size + (2,)).items():
        for i, j in zip(*np.nonzero(changed)):
            assert strides * i >= r and strides * j >= c


@pytest.mark.parametrize("cls", [DownShiftedConv2DTranspose, DownRightShiftedConv2DTranspose])
@pytest.mark.parametrize("low,out", [((1, 1), (1, 1)), ((1, 2), (2, 3)), ((2, 2), (3, 4)), ((3, 3), (6, 6))])
def test_transposed_convs_keep_causality_and_crop_to_any_size(cls, low, out):
    layer = cls(3)
    down_right = cls is DownRightShiftedConv2DTranspose
    for (i, j), changed in _influence(layer, low + (2,), output_size=out).items():
        assert changed.shape == out
        for r, c in zip(*np.nonzero(changed)):
            assert r >= 2 * i
            if down_right:
                assert c >= 2 * j


def test_shifts():
    x = tf.reshape(tf.range(1, 7, dtype=tf.float32), [1, 2, 3, 1])
    np.testing.assert_array_equal(down_shift(x).numpy()[0, :, :, 0], [[0, 0, 0], [1, 2, 3]])
    np.testing.assert_array_equal(right_shift(x).numpy()[0, :, :, 0], [[0, 1, 2], [0, 4, 5]])


@pytest.mark.parametrize(
    "cls,kernel,strides",
    [
        (DownShiftedConv2D, (2, 3), 1),
        (DownShiftedConv2D, (2, 3), 2),
        (DownShiftedConv2D, (1, 3), 1),
        (DownRightShiftedConv2D, (2, 2), 1),
        (DownRightShiftedConv2D, (2, 2), 2),
        (DownRightShiftedConv2D, (2, 1), 1),
    ],
)
def test_streaming_rows_and_pixels_equal_the_full_convolution(cls, kernel, strides):
    H, W, C = 5, 5, 3
    layer = cls(4, kernel, strides=strides)
    x = np.random.RandomState(1).randn(2, H, W, C).astype(np.float32)
    full = layer(x).numpy()
    assert full.shape[1] == -(-H // strides)

    # Input row r gives output row r / s when s divides r (nothing otherwise).
    def row(r, buf):
        buf = layer.push_row(buf, x[:, r : r + 1])
        return (layer.row_output(buf) if r % strides == 0 else None), buf

    def take_row(full, r):
        return full[:, r // strides : r // strides + 1] if r % strides == 0 else None

    lc.check_step_matches_call(full, row, layer.init_buffer(2, W, C), range(H), take=take_row, rtol=0)
    if cls is DownRightShiftedConv2D:  # pixel by pixel, left to right

        def pixel(position, buf):
            r, c = position
            if c == 0:
                buf = layer.start_row(buf)
            buf = layer.write_column(buf, tf.constant(c), x[:, r : r + 1, c : c + 1])
            aligned = r % strides == 0 and c % strides == 0
            return (layer.position_output(buf, tf.constant(c // strides)) if aligned else None), buf

        def take_pixel(full, position):
            (r, c), s = position, strides
            return full[:, r // s : r // s + 1, c // s : c // s + 1] if r % s == c % s == 0 else None

        lc.check_step_matches_call(
            full, pixel, layer.init_buffer(2, W, C), np.ndindex(H, W), take=take_pixel, rtol=0
        )


def test_config_round_trip_and_validation():
    x = tf.random.normal([2, 3, 4, 2])
    for layer in (
        DownShiftedConv2D(4, (2, 3), strides=2),
        DownRightShiftedConv2D(4),
        DownShiftedConv2DTranspose(4),
        DownRightShiftedConv2DTranspose(4),
    ):
        lc.check_serialization(layer, x)
    lc.check_serialization(DownRightShiftedConv2DTranspose(3, use_bias=False), x, {"output_size": (5, 7)})
    with pytest.raises(ValueError, match="odd width"):
        DownShiftedConv2D(4, (2, 2))
    with pytest.raises(ValueError, match="exceeds"):
        DownRightShiftedConv2DTranspose(2)(tf.zeros([1, 2, 2, 1]), output_size=(5, 4))
