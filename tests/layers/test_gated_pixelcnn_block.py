"""GatedPixelCNNBlock: streaming (init_cache / step_row / step) equals call."""

import keras
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


def _stream(block, v, h, cond):
    """Runs the block in raster order; returns (v_out rows, h_out) as arrays."""
    cache = block.init_cache(B, W)
    v_rows, h_out = [], np.zeros((B, H, W, F), np.float32)
    for i in range(H):
        if i > 0:
            v_row, cache = block.step_row(v[:, i - 1:i], cache, cond)       # row i - 1
            v_rows.append(None if v_row is None else v_row.numpy())
        for j in range(W):
            h_ij, cache = block.step(h[:, i:i + 1, j:j + 1], cache, tf.constant(j), cond)
            h_out[:, i, j] = h_ij.numpy()[:, 0, 0]
    return v_rows, h_out


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize("kernel_size", [3, 5])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("conditional", [False, True])
def test_streaming_equals_call(first, kernel_size, channels, conditional):
    block = GatedPixelCNNBlock(F, kernel_size, data_channels=channels, first=first,
                               conditional=conditional)
    v, h, cond = _inputs(channels, first, conditional)
    v_out, h_out = block(v, h, conditioning=cond)
    v_rows, h_streamed = _stream(block, v, h, cond)
    np.testing.assert_allclose(h_streamed, h_out.numpy(), rtol=1e-5, atol=1e-5)
    for i, row in enumerate(v_rows):                                         # rows 0 .. H-2
        np.testing.assert_allclose(row[:, 0], v_out.numpy()[:, i], rtol=1e-5, atol=1e-5)
    # The last row of v_out never feeds the horizontal stack; enter it anyway.
    cache = block.init_cache(B, W)
    for i in range(H):
        row, cache = block.step_row(v[:, i:i + 1], cache, cond)
    np.testing.assert_allclose(row.numpy()[:, 0], v_out.numpy()[:, -1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("first", [True, False])
def test_streaming_without_vertical_output(first):
    block = GatedPixelCNNBlock(F, 3, data_channels=3, first=first, vertical_output=False,
                               conditional=True)
    v, h, cond = _inputs(3, first, True, seed=1)
    v_out, h_out = block(v, h, conditioning=cond)
    assert v_out is None and block.v_gate is None
    v_rows, h_streamed = _stream(block, v, h, cond)
    assert v_rows == [None] * (H - 1)
    np.testing.assert_allclose(h_streamed, h_out.numpy(), rtol=1e-5, atol=1e-5)


def test_cache_layout():
    block = GatedPixelCNNBlock(F, 5, data_channels=3, first=True)
    block(*_inputs(3, True, False)[:2])
    cache = block.init_cache(B, W)
    assert {k: tuple(t.shape) for k, t in cache.items()} == {
        "v": (B, 3, W + 4, 3), "v_to_h": (B, 1, W, 2 * F), "h": (B, 1, W + 2, 3)}


@pytest.mark.parametrize("kernel_size,set_row", [(3, True), (5, True), (3, False)])
def test_channel_by_channel_with_set_horizontal_row(kernel_size, set_row):
    # A first block over RGB data drawn one channel per step: at channel g the
    # pixel's channels >= g are not drawn yet (zeros), which mask A hides from
    # output group g; each pixel is completed after its last step, so the row
    # so far is handed over before each step.
    block = GatedPixelCNNBlock(F, kernel_size, data_channels=3, first=True)
    v, x, _ = _inputs(3, True, False, seed=2)
    x[:] = v                                              # the data feed both stacks
    h_out = block(v, x)[1].numpy()
    groups = np.arange(F) * 3 // F                        # output feature -> channel group
    cache, errors = block.init_cache(B, W), []
    for i in range(H):
        if i > 0:
            _, cache = block.step_row(v[:, i - 1:i], cache)
        for j in range(W):
            for g in range(3):
                partial = x[:, i:i + 1].copy()
                partial[:, :, j, g:] = 0.0                  # drawn so far: (i, <j) and (i, j, <g)
                partial[:, :, j + 1:] = 0.0
                if set_row:
                    cache = block.set_horizontal_row(partial, cache)
                h_ij, cache = block.step(partial[:, :, j:j + 1], cache, j)
                errors.append(np.abs(h_ij.numpy()[:, 0, 0, groups == g]
                                     - h_out[:, i, j, groups == g]).max())
    if set_row:
        assert max(errors) < 1e-5
    else:                                                  # the stale last channels show
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
    block = GatedPixelCNNBlock(F, 5, data_channels=3, first=True, vertical_output=False,
                               conditional=True, name="b")
    config = block.get_config()
    assert config["kernel_size"] == 5 and config["data_channels"] == 3 and config["first"]
    assert not config["vertical_output"] and config["conditional"]
    assert GatedPixelCNNBlock.from_config(config).get_config() == config
    # Registered under the package with the class name: old .keras files still load.
    assert keras.saving.get_registered_name(GatedPixelCNNBlock) == "ar_keras>GatedPixelCNNBlock"


def test_symbolic_equals_eager_and_saves(tmp_path):
    # A functional graph cannot carry None: its blocks keep vertical_output=True.
    v_in, h_in, c_in = keras.Input((H, W, 3)), keras.Input((H, W, 3)), keras.Input((E,))
    first = GatedPixelCNNBlock(F, 3, data_channels=3, first=True, conditional=True)
    last = GatedPixelCNNBlock(F, 5, data_channels=3, conditional=True)
    v, h = first(v_in, h_in, conditioning=c_in)
    _, h = last(v, h, conditioning=c_in)
    model = keras.Model([v_in, h_in, c_in], h)
    v_x, h_x, cond = _inputs(3, True, True, seed=3)
    v1, h1 = first(v_x, h_x, conditioning=cond)
    eager = last(v1, h1, conditioning=cond)[1].numpy()
    np.testing.assert_allclose(model([v_x, h_x, cond]).numpy(), eager, rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "blocks.keras")
    loaded = keras.models.load_model(tmp_path / "blocks.keras")
    np.testing.assert_allclose(loaded([v_x, h_x, cond]).numpy(), eager, rtol=1e-5, atol=1e-5)
