"""WaveNetBlock (gated residual block, skip output, conditioning) and Upsample1D."""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import Upsample1D, WaveNetBlock


def _block(**kwargs):
    block = WaveNetBlock(
        residual_channels=4, gate_channels=3, skip_channels=5, kernel_size=2, dilation_rate=3, **kwargs
    )
    return block


def test_maths_of_the_block():
    block = _block(num_classes=2, local_channels=2)
    x = tf.random.normal([2, 9, 4], seed=0)
    ids = tf.constant([1, 0])
    local = tf.random.normal([2, 9, 2], seed=1)
    residual, skip = block(x, ids, local)
    a = block.conv(x) + block.global_bias(ids)[:, None] + local @ block.local_projection.kernel
    z = tf.tanh(a[..., :3]) * tf.sigmoid(a[..., 3:])
    np.testing.assert_allclose(skip.numpy(), block.skip(z).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(residual.numpy(), (x + block.residual(z)).numpy(), rtol=1e-5, atol=1e-6)
    assert residual.shape == (2, 9, 4) and skip.shape == (2, 9, 5)


@pytest.mark.parametrize(
    "conditioning", [{}, {"num_classes": 3}, {"local_channels": 2}, {"num_classes": 3, "local_channels": 2}]
)
def test_step_equals_call(conditioning):
    block = _block(**conditioning)
    x = tf.random.normal([2, 11, 4], seed=2)
    ids = tf.constant([2, 0]) if "num_classes" in conditioning else None
    local = tf.random.normal([2, 11, 2], seed=3) if "local_channels" in conditioning else None
    full = block(x, ids, local)  # (residual, skip)
    queue = block.init_cache(2)
    assert queue.shape == (2, 3, 4)

    def step(t, queue):
        r, s, queue = block.step(x[:, t], queue, ids, None if local is None else local[:, t])
        return (r, s), queue

    lc.check_step_matches_call(full, step, queue, range(11), atol=1e-6)


def test_last_block_has_no_residual_and_causality():
    block = _block(residual_output=False)
    x = np.random.RandomState(0).normal(size=(1, 10, 4)).astype(np.float32)
    residual, skip = block(x)
    assert residual is None and block.residual is None
    moved = x.copy()
    moved[0, 4] += 1
    changed = np.abs(block(moved)[1].numpy() - skip.numpy()).max(-1)[0] > 1e-6
    assert np.flatnonzero(changed).tolist() == [4, 7]  # taps t and t - 3


def test_conditioning_is_required_and_serializes(tmp_path):
    block = _block(num_classes=3)
    with pytest.raises(ValueError, match="global_ids"):
        block(tf.zeros([1, 4, 4]))
    config = block.get_config()
    assert config["num_classes"] == 3 and config["dilation_rate"] == 3
    x = tf.random.normal([2, 5, 4], seed=4)
    lc.check_serialization(block, x, {"global_ids": tf.constant([2, 1])})
    lc.check_serialization(
        _block(local_channels=2, residual_output=False), x, {"local": tf.random.normal([2, 5, 2], seed=5)}
    )


def test_upsample_repeat_and_transposed():
    frames = np.random.RandomState(0).normal(size=(2, 3, 4)).astype(np.float32)
    repeat = Upsample1D(hop=5, mode="repeat")
    np.testing.assert_array_equal(repeat(frames).numpy(), np.repeat(frames, 5, axis=1))
    assert repeat.weights == []
    up = Upsample1D(hop=5, mode="transposed", channels=6)
    y = up(frames).numpy()
    assert y.shape == (2, 15, 6)
    # Sample t reads frame t // hop only.
    moved = frames.copy()
    moved[:, 1] += 1.0
    changed = np.abs(up(moved).numpy() - y).max(-1) > 1e-6  # [2, 15]
    assert (np.flatnonzero(changed[0]) == np.arange(5, 10)).all()
    # A transposed convolution with kernel = stride = hop, written out.
    w = up.projection.kernel.numpy().reshape(4, 5, 6)  # [E, hop, F]
    b = up.projection.bias.numpy().reshape(5, 6)
    want = np.einsum("bje,erf->bjrf", frames, w) + b  # [B, T_c, hop, F]
    np.testing.assert_allclose(y, want.reshape(2, 15, 6), rtol=1e-5, atol=1e-5)
    lc.check_serialization(up, frames)
    lc.check_serialization(repeat, frames)


def test_upsample_bad_arguments():
    with pytest.raises(ValueError, match="hop"):
        Upsample1D(hop=0)
    with pytest.raises(ValueError, match="mode"):
        Upsample1D(hop=2, mode="linear")
    with pytest.raises(ValueError, match="channels is only"):
        Upsample1D(hop=2, mode="repeat", channels=3)


def test_symbolic_equals_eager_and_keras_round_trip(tmp_path):
    x = np.random.RandomState(1).normal(size=(1, 7, 4)).astype(np.float32)
    lc.check_symbolic_matches_eager(
        _block(), x, shapes={0: (None, 4)}, path=tmp_path / "b.keras", rtol=1e-6, atol=1e-6
    )
    ids = np.array([1], np.int32)
    local = np.random.RandomState(2).normal(size=(1, 7, 2)).astype(np.float32)
    # (A functional graph cannot carry the None residual of residual_output=False.)
    lc.check_symbolic_matches_eager(
        _block(num_classes=2, local_channels=2),
        x,
        {"global_ids": ids, "local": local},
        path=tmp_path / "c.keras",
    )
