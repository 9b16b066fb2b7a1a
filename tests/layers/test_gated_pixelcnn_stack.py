"""GatedPixelCNNStack: its call chains the blocks, and its raster-order step equals its call."""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import GatedPixelCNNBlock, GatedPixelCNNStack

B, H, W, F, E = 2, 4, 5, 6, 3


def _conditioning(kind, seed=1):
    rng = np.random.RandomState(seed)
    if kind == "vector":
        return rng.normal(size=(B, E)).astype(np.float32)
    if kind == "map":
        return rng.normal(size=(B, H, W, E)).astype(np.float32)
    return None


def _stream(stack, x, cond, channels, garbage_seed=7):
    """Steps in raster order, one step per channel of each pixel (``channels`` of them), on the
    partial input: the pixels before (i, j) and channels < g of (i, j) drawn, the rest random.

    Returns ``[(i, j, g, h_L [B, F])]``.
    """
    garbage = np.random.RandomState(garbage_seed).normal(size=x.shape).astype(np.float32)
    drawn = np.zeros(x.shape[1:], bool)  # [H, W, C_in]
    cache, outputs = stack.init_cache(B, W), []
    for i, j in np.ndindex(H, W):
        for g in range(channels):
            partial = np.where(drawn, x, garbage)
            h, cache = stack.step(
                partial, cache, tf.constant(i), tf.constant(j), tf.constant(g), conditioning=cond
            )
            assert tuple(h.shape) == (B, 1, 1, F)
            outputs.append((i, j, g, h.numpy()[:, 0, 0]))
            if g < channels - 1:
                drawn[i, j, g] = True
        drawn[i, j] = True
    return outputs


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("cond_kind", [None, "vector", "map"])
@pytest.mark.parametrize("first_kernel_size,kernel_size,num_layers", [(5, 3, 3), (3, 5, 2), (1, 1, 1)])
def test_step_equals_call_channel_by_channel(channels, cond_kind, first_kernel_size, kernel_size, num_layers):
    """At channel g of pixel (i, j), output groups <= g equal the full pass on the complete image
    (the groups read channels < g of the pixel and the earlier pixels only)."""
    stack = GatedPixelCNNStack(
        F,
        num_layers,
        kernel_size,
        first_kernel_size=first_kernel_size,
        data_channels=channels,
        conditional=cond_kind is not None,
    )
    x = np.random.RandomState(0).normal(size=(B, H, W, channels)).astype(np.float32)
    cond = _conditioning(cond_kind)
    full = stack(x, conditioning=cond).numpy()  # [B, H, W, F]
    groups = np.arange(F) * channels // F  # output feature -> channel group
    for i, j, g, h in _stream(stack, x, cond, channels):
        seen = groups <= g
        np.testing.assert_allclose(
            h[:, seen], full[:, i, j, seen], rtol=1e-5, atol=1e-5, err_msg=f"pixel ({i}, {j}) channel {g}"
        )


def test_step_per_position_hides_the_whole_pixel():
    """``data_channels=1`` over several input channels, one step per pixel (channel 0): the
    pixel's own values, still undrawn, are hidden; every step equals the full pass."""
    stack = GatedPixelCNNStack(F, 3, 3, data_channels=1, conditional=True)
    x = np.random.RandomState(2).normal(size=(B, H, W, 2)).astype(np.float32)
    cond = _conditioning("vector")
    full = stack(x, conditioning=cond).numpy()
    outputs = _stream(stack, x, cond, channels=1)
    assert len(outputs) == H * W
    for i, j, _, h in outputs:
        np.testing.assert_allclose(h, full[:, i, j], rtol=1e-5, atol=1e-5, err_msg=f"pixel ({i}, {j})")


def test_call_chains_the_blocks():
    stack = GatedPixelCNNStack(F, 3, 3, first_kernel_size=5, data_channels=3, conditional=True)
    x = np.random.RandomState(3).normal(size=(B, H, W, 3)).astype(np.float32)
    cond = _conditioning("map")
    got = stack(x, conditioning=cond).numpy()
    assert [b.kernel_size for b in stack.blocks] == [5, 3, 3]
    assert [b.first for b in stack.blocks] == [True, False, False]
    assert [b.vertical_output for b in stack.blocks] == [True, True, False]
    v = h = x
    for block in stack.blocks:
        v, h = block(v, h, conditioning=cond)
    np.testing.assert_allclose(got, h.numpy(), rtol=1e-6, atol=1e-6)
    # The map is a per-position bias: a constant map gives another output.
    flat = np.broadcast_to(cond[:, :1, :1], cond.shape)
    assert not np.allclose(got, stack(x, conditioning=flat).numpy(), atol=1e-3)


def test_cache_layout():
    stack = GatedPixelCNNStack(F, 2, 3, first_kernel_size=5, data_channels=3)
    stack.build((None, None, None, 3))
    cache = stack.init_cache(B, W)
    assert sorted(cache) == ["block_0", "block_1"]
    assert tuple(cache["block_0"]["v"].shape) == (B, 3, W + 4, 3)  # k = 5, the data's channels
    assert tuple(cache["block_1"]["h"].shape) == (B, 1, W + 1, F)  # k = 3, F features


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="num_layers must be >= 1"):
        GatedPixelCNNStack(F, 0, 3)
    with pytest.raises(ValueError, match="odd"):
        GatedPixelCNNStack(F, 2, 4)
    with pytest.raises(ValueError, match="at least data_channels"):
        GatedPixelCNNStack(2, 2, 3, data_channels=3)
    stack = GatedPixelCNNStack(F, 2, 3, conditional=True)
    with pytest.raises(ValueError, match="init_cache"):
        stack.init_cache(B, W)
    x = np.zeros((B, H, W, 1), np.float32)
    with pytest.raises(ValueError, match="is conditional"):
        stack(x)
    with pytest.raises(ValueError, match=r"conditioning must be \[B, E\]"):
        stack(x, conditioning=np.zeros((B, W, E), np.float32))
    with pytest.raises(ValueError, match="unconditional"):
        GatedPixelCNNStack(F, 2, 3)(x, conditioning=np.zeros((B, E), np.float32))


def test_get_config_round_trip_and_saves(tmp_path):
    stack = GatedPixelCNNStack(F, 3, 3, first_kernel_size=5, data_channels=3, conditional=True, name="s")
    config = stack.get_config()
    assert (config["filters"], config["num_layers"], config["kernel_size"]) == (F, 3, 3)
    assert config["first_kernel_size"] == 5 and config["data_channels"] == 3 and config["conditional"]
    x = np.random.RandomState(4).normal(size=(B, H, W, 3)).astype(np.float32)
    cond = _conditioning("vector", seed=5)
    lc.check_serialization(stack, x, {"conditioning": cond})
    other = GatedPixelCNNStack(F, 2, 3, data_channels=1)
    lc.check_symbolic_matches_eager(other, x[..., :1], path=tmp_path / "stack.keras")


def test_blocks_are_those_of_gated_pixelcnn_block():
    stack = GatedPixelCNNStack(F, 2, 3)
    assert all(isinstance(b, GatedPixelCNNBlock) for b in stack.blocks)
    assert [b.name for b in stack.blocks] == ["block_0", "block_1"]
