"""SpatialLSTM and CausalNeighbourhood: the wavefront equals a pixel-by-pixel reference, step == call."""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import CausalNeighbourhood, SpatialLSTM
from ar_keras.layers.causal_neighbourhood import causal_window_mask, reachable_region


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _reference(lstm, x, bias=None):
    """The equations of the module docstring, one pixel at a time in raster order (numpy)."""
    K, R, b = (w.numpy() for w in (lstm.kernel, lstm.recurrent_kernel, lstm.bias))
    B, H, W, _ = x.shape
    U = lstm.units
    h = np.zeros([B, H + 1, W + 1, U])  # index (i + 1, j + 1); row/col 0 = outside
    c = np.zeros_like(h)
    for i in range(H):
        for j in range(W):
            z = x[:, i, j] @ K + b + (0 if bias is None else bias)
            z = z + np.concatenate([h[:, i + 1, j], h[:, i, j + 1]], -1) @ R
            gi, fl, fu, o, g = np.split(z, 5, axis=-1)
            c[:, i + 1, j + 1] = (
                _sigmoid(fl) * c[:, i + 1, j] + _sigmoid(fu) * c[:, i, j + 1] + _sigmoid(gi) * np.tanh(g)
            )
            h[:, i + 1, j + 1] = np.tanh(_sigmoid(o) * c[:, i + 1, j + 1])
    return h[:, 1:, 1:]


def _perturbed(lstm, scale=0.4, seed=0):
    rng = np.random.RandomState(seed)
    for w in lstm.weights:
        w.assign(rng.normal(scale=scale, size=w.shape).astype(np.float32))
    return lstm


@pytest.mark.parametrize("shape", [(4, 5), (6, 3), (1, 3), (3, 1)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_wavefront_equals_pixel_by_pixel_reference(shape, with_bias):
    lstm = SpatialLSTM(4)
    x = np.random.RandomState(1).normal(size=(2,) + shape + (3,)).astype(np.float32)
    bias = np.random.RandomState(2).normal(size=(2, 20)).astype(np.float32) if with_bias else None
    lstm(x, bias=bias)
    _perturbed(lstm)
    np.testing.assert_allclose(lstm(x, bias=bias).numpy(), _reference(lstm, x, bias), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("with_bias", [False, True])
def test_step_equals_call(with_bias):
    B, H, W, D = 2, 4, 5, 3
    lstm = SpatialLSTM(6)
    x = np.random.RandomState(3).normal(size=(B, H, W, D)).astype(np.float32)
    bias = np.random.RandomState(4).normal(size=(B, 30)).astype(np.float32) if with_bias else None
    lstm(x, bias=bias)
    _perturbed(lstm, seed=5)
    full = lstm(x, bias=bias).numpy()

    def pixel(position, cache):
        i, j = position
        return lstm.step(x[:, i, j], cache, tf.constant(j), bias=bias)

    lc.check_step_matches_call(
        full, pixel, lstm.init_cache(B, W), np.ndindex(H, W), take=lambda f, p: f[:, p[0], p[1]]
    )


def test_state_flows_right_and_down_only():
    lstm = SpatialLSTM(3)
    x = np.random.RandomState(6).normal(size=(1, 4, 5, 2)).astype(np.float32)
    lstm(x)
    _perturbed(lstm, 0.8)
    base = lstm(x).numpy()
    for i, j in np.ndindex(4, 5):
        y = x.copy()
        y[0, i, j] += 1.0
        diff = np.abs(lstm(y).numpy() - base).max(-1)[0]
        for r, c in np.ndindex(4, 5):
            assert (diff[r, c] > 0) == (r >= i and c >= j), (i, j, r, c)


def test_serialization():
    x = np.random.RandomState(7).normal(size=(2, 3, 4, 5)).astype(np.float32)
    lc.check_serialization(SpatialLSTM(3), x)
    lc.check_serialization(CausalNeighbourhood(3), x)


def test_layers_in_a_functional_model_survive_save(tmp_path):
    import keras

    x = np.random.RandomState(8).normal(size=(2, 3, 4, 2)).astype(np.float32)
    inp = keras.Input((3, 4, 2))
    out = SpatialLSTM(3)(CausalNeighbourhood(5)(inp))
    model = keras.Model(inp, out)
    want = model(x).numpy()
    model.save(str(tmp_path / "m.keras"))
    np.testing.assert_allclose(
        keras.models.load_model(str(tmp_path / "m.keras"))(x).numpy(), want, rtol=1e-6, atol=1e-6
    )


def test_causal_window_of_ride():
    mask = causal_window_mask(5)
    # cmt.tools.generate_masks(5): 3 x 5, output at (2, 2); 12 causal pixels.
    assert mask.shape == (3, 5) and mask.sum() == 12
    assert mask[:2].all() and mask[2, :2].all() and not mask[2, 2:].any()
    assert reachable_region((8, 8), 5) == (slice(2, 8), slice(2, 6))
    with pytest.raises(ValueError, match="odd"):
        causal_window_mask(4)
    with pytest.raises(ValueError, match="odd"):
        causal_window_mask(1)
    with pytest.raises(ValueError, match="reachable"):
        reachable_region((2, 8), 5)


@pytest.mark.parametrize("nb_size", [3, 5, 7])
def test_neighbourhood_features_are_the_causal_window(nb_size):
    H, W, C = 4, 6, 2
    x = np.random.RandomState(9).normal(size=(2, H, W, C)).astype(np.float32)
    layer = CausalNeighbourhood(nb_size)
    out = layer(x).numpy()
    positions = np.argwhere(causal_window_mask(nb_size))
    R, half = nb_size // 2 + 1, nb_size // 2
    assert out.shape == (2, H, W, len(positions) * C)
    for i, j in np.ndindex(H, W):
        want = []
        for r, c in positions:
            row, col = i - (R - 1) + r, j - half + c
            inside = 0 <= row < H and 0 <= col < W
            want.append(x[:, row, col] if inside else np.zeros([2, C], np.float32))
        want = np.stack(want, 1).reshape(2, -1)  # [2, P, C] -> [2, P C]
        np.testing.assert_array_equal(out[:, i, j], want)
        # step on a partial image (pixel (i, j) and later ones garbage) gives the same features
        partial = x.copy().reshape(2, H * W, C)
        partial[:, i * W + j :] = 99.0
        got = layer.step(partial.reshape(2, H, W, C), tf.constant(i), tf.constant(j)).numpy()
        np.testing.assert_array_equal(got, want)
