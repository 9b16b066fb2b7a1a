"""RowLSTM and DiagonalBiLSTM: streaming equals the full pass; causality of the layer alone.

Layer-level causality (one data channel): the output at position p may read
the input at positions up to p in raster order (mask B: p itself included)
and nothing later.  The Diagonal BiLSTM without its down-shift
(``shift_backward=False``, the mutation) reads the rest of its own row.
"""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import DiagonalBiLSTM, RowLSTM

B, H, W, F = 2, 4, 5, 6


def _layer(kind, channels=1, **kw):
    if kind == "row":
        return RowLSTM(4 if channels == 1 else 6, data_channels=channels, **kw)
    return DiagonalBiLSTM(4 if channels == 1 else 6, data_channels=channels, **kw)


def _stream(layer, x, full, resteps=0):
    """Raster order; ``resteps`` extra `step` calls per pixel with garbage first (as a model's
    later channels do): only the last call at a pixel counts."""

    def pixel(position, cache):
        i, j = position
        if i > 0 and j == 0:
            cache = layer.step_row(cache)
        for r in range(resteps):
            noise = tf.random.normal(tf.shape(x[:, :1, :1]), seed=r)
            _, cache = layer.step(noise, cache, tf.constant(j))
        return layer.step(x[:, i : i + 1, j : j + 1], cache, tf.constant(j))

    lc.check_step_matches_call(
        full,
        pixel,
        layer.init_cache(B, W),
        np.ndindex(H, W),
        take=lambda full, p: full.numpy()[:, p[0] : p[0] + 1, p[1] : p[1] + 1],
    )


@pytest.mark.parametrize("kind", ["row", "diagonal"])
@pytest.mark.parametrize("channels", [1, 3])
def test_streaming_equals_call(kind, channels):
    layer = _layer(kind, channels)
    x = tf.constant(np.random.RandomState(0).normal(size=(B, H, W, F)).astype(np.float32))
    full = layer(x)
    assert full.shape == (B, H, W, layer.units)
    _stream(layer, x, full)
    _stream(layer, x, full, resteps=2)


@pytest.mark.parametrize("kind", ["row", "diagonal"])
def test_unrolled_loops_equal_the_while_loop(kind):
    # The form the layers take while a model traces its TFLite signatures.
    layer = _layer(kind, channels=3)
    x = tf.constant(np.random.RandomState(5).normal(size=(B, H, W, F)).astype(np.float32))
    want = layer(x).numpy()
    cache = layer.init_cache(B, W)
    _, cache = layer.step(x[:, :1, :1], cache, tf.constant(0))
    row_want = layer.step_row(cache)
    layer.unroll = True
    try:
        np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-5, atol=1e-6)
        lc.assert_outputs_close(layer.step_row(cache), row_want)
    finally:
        layer.unroll = False


def test_row_lstm_wider_input_kernel_streams():
    layer = RowLSTM(4, kernel_size=5, state_kernel_size=5)
    x = tf.constant(np.random.RandomState(2).normal(size=(B, H, W, F)).astype(np.float32))
    _stream(layer, x, layer(x))


def _dependencies(layer, seed=0):
    """``[H W, H W]`` bool: the output at position p has a non-zero gradient w.r.t. the input at q.

    Example p of a batch of H W copies of one input scores a random projection
    of its output at position p, so one backward pass gives every row of the
    Jacobian's pattern.  A gradient is exactly zero where no path exists (the
    masked taps are exact zeros), whatever the float rounding of the batch.
    """
    rng = np.random.RandomState(seed)
    x = tf.constant(np.repeat(rng.normal(size=(1, H, W, F)), H * W, 0).astype(np.float32))
    r = tf.constant(rng.normal(size=(H * W, layer.units)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reshape(layer(x), [H * W, H * W, -1])  # [HW, H, W, h] -> [HW, HW, h]
        score = tf.reduce_sum(tf.linalg.diag_part(tf.transpose(out, [2, 0, 1])) * tf.transpose(r))
    grad = tape.gradient(score, x).numpy().reshape(H * W, H * W, F)  # [p, q, F]
    return (grad != 0).any(-1)


@pytest.mark.parametrize("kind", ["row", "diagonal"])
def test_layer_reads_no_later_position(kind):
    dep = _dependencies(_layer(kind))
    later = np.triu(np.ones_like(dep), 1)
    assert not (dep & later).any()
    assert dep.diagonal().all()  # mask B: the position itself


def test_diagonal_bilstm_sees_every_earlier_position_in_one_layer():
    dep = _dependencies(_layer("diagonal"))
    assert (dep == np.tril(np.ones_like(dep))).all()


def test_row_lstm_triangle():
    dep = _dependencies(_layer("row")).reshape(H, W, H, W)
    # (3, 1) reads row 2 at columns 0..2, row 1 at 0..3, row 0 at 0..4; its own row at 0..1.
    for d, right in ((1, 2), (2, 3), (3, 4)):
        assert dep[3, 1, 3 - d, right] and (right + 1 >= W or not dep[3, 1, 3 - d, right + 1])
    assert dep[3, 1, 3, 0] and dep[3, 1, 3, 1] and not dep[3, 1, 2, 3]


def test_without_down_shift_the_diagonal_bilstm_reads_its_own_row():
    dep = _dependencies(_layer("diagonal", shift_backward=False))
    later = np.triu(np.ones_like(dep), 1)
    assert (dep & later).any()
    assert dep.reshape(H, W, H, W)[1, 0, 1, W - 1]  # (1, 0) reads (1, W - 1)
    with pytest.raises(ValueError, match="shift_backward=False"):
        _layer("diagonal", shift_backward=False).init_cache(B, W)


@pytest.mark.parametrize("kind", ["row", "diagonal"])
def test_channel_groups(kind):
    # Output group g at a pixel reads input groups <= g there (mask B), later pixels never.
    layer = _layer(kind, channels=3)
    x = np.random.RandomState(3).normal(size=(1, 2, 3, F)).astype(np.float32)
    base = layer(x).numpy()[0, 1, 1]  # [6]: groups 0,0,1,1,2,2
    groups = np.arange(6) * 3 // 6
    for g_in in range(3):
        changed = x.copy()
        changed[0, 1, 1, g_in * 2 : (g_in + 1) * 2] += 1.0
        moved = np.abs(layer(changed).numpy()[0, 1, 1] - base) > 0
        np.testing.assert_array_equal(moved, groups >= g_in)


@pytest.mark.parametrize("kind", ["row", "diagonal"])
def test_serialization(kind):
    layer = _layer(kind, channels=3)
    x = np.random.RandomState(4).normal(size=(B, H, W, F)).astype(np.float32)
    clone = lc.check_serialization(layer, x)
    assert clone.get_config()["units"] == 6


def test_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        RowLSTM(4, kernel_size=2)
    with pytest.raises(ValueError, match="units"):
        DiagonalBiLSTM(2, data_channels=3)
