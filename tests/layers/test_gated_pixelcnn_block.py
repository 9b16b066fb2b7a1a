"""GatedPixelCNNBlock: streaming (init_cache / step_row / step) equals call."""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import GatedPixelCNNBlock

B, H, W, F, E = 2, 4, 5, 6, 3


def _inputs(channels, first, conditional, seed=0):
    rng = np.random.RandomState(seed)
    features = channels if first else F
    v = rng.normal(size=(B, H, W, features)).astype(np.float32)
    h = rng.normal(size=(B, H, W, features)).astype(np.float32)
    cond = rng.normal(size=(B, E)).astype(np.float32) if conditional else None
    return v, h, cond


def _check_stream(block, v, h, cond, full):
    """Streams the block in raster order: at pixel (i, 0), i >= 1, the vertical row i - 1
    (`step_row`), at every pixel the horizontal output (`step`); both equal `call`."""
    v_out, h_out = full

    def pixel(position, cache):
        i, j = position
        v_row = None
        if i > 0 and j == 0:
            v_row, cache = block.step_row(v[:, i - 1 : i], cache, cond)  # row i - 1
        h_ij, cache = block.step(h[:, i : i + 1, j : j + 1], cache, tf.constant(j), cond)
        return (v_row, h_ij), cache

    def take(full, position):
        i, j = position
        v_row = None if v_out is None or i == 0 or j > 0 else v_out[:, i - 1 : i]
        return v_row, h_out[:, i : i + 1, j : j + 1]

    lc.check_step_matches_call(full, pixel, block.init_cache(B, W), np.ndindex(H, W), take)


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize("kernel_size", [3, 5])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("conditional", [False, True])
def test_streaming_equals_call(first, kernel_size, channels, conditional):
    block = GatedPixelCNNBlock(F, kernel_size, data_channels=channels, first=first, conditional=conditional)
    v, h, cond = _inputs(channels, first, conditional)
    v_out, h_out = block(v, h, conditioning=cond)
    _check_stream(block, v, h, cond, (v_out, h_out))
    # The last row of v_out never feeds the horizontal stack; enter it anyway.
    cache = block.init_cache(B, W)
    for i in range(H):
        row, cache = block.step_row(v[:, i : i + 1], cache, cond)
    np.testing.assert_allclose(row.numpy()[:, 0], v_out.numpy()[:, -1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("first", [True, False])
def test_conditioning_map_streams_row_by_row_and_pixel_by_pixel(first):
    """A conditioning map [B, H, W, E] (per-position bias, eq. 5): step_row gets its row i - 1,
    step its pixel; streaming equals call, and the bias differs between positions."""
    block = GatedPixelCNNBlock(F, 3, data_channels=1, first=first, conditional=True)
    v, h, _ = _inputs(1, first, False, seed=2)
    cond = np.random.RandomState(3).normal(size=(B, H, W, E)).astype(np.float32)
    v_out, h_out = block(v, h, conditioning=cond)
    flat = np.broadcast_to(cond[:, :1, :1], cond.shape)
    assert not np.allclose(h_out.numpy(), block(v, h, conditioning=flat)[1].numpy())
    cache = block.init_cache(B, W)
    for i, j in np.ndindex(H, W):
        if i > 0 and j == 0:
            v_row, cache = block.step_row(v[:, i - 1 : i], cache, cond[:, i - 1 : i])
            np.testing.assert_allclose(v_row.numpy(), v_out.numpy()[:, i - 1 : i], rtol=1e-5, atol=1e-5)
        h_ij, cache = block.step(
            h[:, i : i + 1, j : j + 1], cache, tf.constant(j), cond[:, i : i + 1, j : j + 1]
        )
        np.testing.assert_allclose(h_ij.numpy(), h_out.numpy()[:, i : i + 1, j : j + 1], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="conditioning must be"):
        block(v, h, conditioning=cond[:, 0])  # rank 3: neither


@pytest.mark.parametrize("first", [True, False])
def test_streaming_without_vertical_output(first):
    block = GatedPixelCNNBlock(F, 3, data_channels=3, first=first, vertical_output=False, conditional=True)
    v, h, cond = _inputs(3, first, True, seed=1)
    v_out, h_out = block(v, h, conditioning=cond)
    assert v_out is None and block.v_gate is None
    _check_stream(block, v, h, cond, (v_out, h_out))  # step_row gives None too


def test_cache_layout():
    block = GatedPixelCNNBlock(F, 5, data_channels=3, first=True)
    block(*_inputs(3, True, False)[:2])
    cache = block.init_cache(B, W)
    assert {k: tuple(t.shape) for k, t in cache.items()} == {
        "v": (B, 3, W + 4, 3),
        "v_to_h": (B, 1, W, 2 * F),
        "h": (B, 1, W + 2, 3),
    }


@pytest.mark.parametrize("kernel_size,set_row", [(3, True), (5, True), (3, False)])
def test_channel_by_channel_with_set_horizontal_row(kernel_size, set_row):
    # A first block over RGB data drawn one channel per step: at channel g the
    # pixel's channels >= g are not drawn yet (zeros), which mask A hides from
    # output group g; each pixel is completed after its last step, so the row
    # so far is handed over before each step.
    block = GatedPixelCNNBlock(F, kernel_size, data_channels=3, first=True)
    v, x, _ = _inputs(3, True, False, seed=2)
    x[:] = v  # the data feed both stacks
    h_out = block(v, x)[1].numpy()
    groups = np.arange(F) * 3 // F  # output feature -> channel group
    cache, errors = block.init_cache(B, W), []
    for i in range(H):
        if i > 0:
            _, cache = block.step_row(v[:, i - 1 : i], cache)
        for j in range(W):
            for g in range(3):
                partial = x[:, i : i + 1].copy()
                partial[:, :, j, g:] = 0.0  # drawn so far: (i, <j) and (i, j, <g)
                partial[:, :, j + 1 :] = 0.0
                if set_row:
                    cache = block.set_horizontal_row(partial, cache)
                h_ij, cache = block.step(partial[:, :, j : j + 1], cache, j)
                errors.append(np.abs(h_ij.numpy()[:, 0, 0, groups == g] - h_out[:, i, j, groups == g]).max())
    if set_row:
        assert max(errors) < 1e-5
    else:  # the stale last channels show
        assert max(errors) > 1e-3


def test_init_cache_needs_a_built_block_and_build_works():
    block = GatedPixelCNNBlock(F, 3, data_channels=1, first=True, conditional=True)
    with pytest.raises(ValueError, match="init_cache"):
        block.init_cache(B, W)
    block.build((None, None, None, 1), (None, None, None, 1), (None, E))
    assert block.init_cache(B, W)["h"].shape == (B, 1, W + 1, 1)
    with pytest.raises(ValueError, match="odd"):
        GatedPixelCNNBlock(F, 4)


def test_get_config_round_trip():
    block = GatedPixelCNNBlock(
        F, 5, data_channels=3, first=True, vertical_output=False, conditional=True, name="b"
    )
    config = block.get_config()
    assert config["kernel_size"] == 5 and config["data_channels"] == 3 and config["first"]
    assert not config["vertical_output"] and config["conditional"]
    # Also: registered under the package with the class name (old .keras files still load).
    v, h, cond = _inputs(3, True, True, seed=4)
    lc.check_serialization(block, [v, h], {"conditioning": cond})
    v, h, _ = _inputs(1, False, False, seed=5)
    lc.check_serialization(GatedPixelCNNBlock(F, 3, data_channels=1), [v, h])


def test_symbolic_equals_eager_and_saves(tmp_path):
    # A functional graph cannot carry None: its blocks keep vertical_output=True.
    first = GatedPixelCNNBlock(F, 3, data_channels=3, first=True, conditional=True)
    last = GatedPixelCNNBlock(F, 5, data_channels=3, conditional=True)
    v_x, h_x, cond = _inputs(3, True, True, seed=3)
    lc.check_symbolic_matches_eager(first, [v_x, h_x], {"conditioning": cond}, path=tmp_path / "first.keras")
    v1, h1 = first(v_x, h_x, conditioning=cond)
    lc.check_symbolic_matches_eager(last, [v1, h1], {"conditioning": cond}, path=tmp_path / "last.keras")
