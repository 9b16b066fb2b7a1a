"""The gated ResNet block: shapes, inputs, dropout, and streaming == full."""

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import GatedResNet
from ar_keras.layers.gated_resnet import concat_elu


def test_concat_elu():
    x = tf.constant([[-1.0, 2.0]])
    np.testing.assert_allclose(concat_elu(x).numpy(), tf.nn.elu([[-1.0, 2.0, 1.0, -2.0]]).numpy())


@pytest.mark.parametrize("conv", ["down_shifted", "down_right_shifted", "nin"])
@pytest.mark.parametrize("nonlinearity", ["concat_elu", "elu"])
def test_streaming_equals_full(conv, nonlinearity):
    H, W, F = 4, 5, 6
    block = GatedResNet(conv=conv, nonlinearity=nonlinearity, auxiliary=True, conditional=True)
    rng = np.random.RandomState(0)
    x = rng.randn(2, H, W, F).astype(np.float32)
    aux = rng.randn(2, H, W, 3).astype(np.float32)
    h = np.eye(2, dtype=np.float32)
    full = block(x, aux=aux, conditioning=h).numpy()

    def row(r, state):
        return block.step(x[:, r : r + 1], state, aux=aux[:, r : r + 1], conditioning=h)

    state = lc.check_step_matches_call(
        full, row, block.init_cache(2, W), range(H), take=lambda full, r: full[:, r : r + 1], rtol=0
    )
    if conv == "down_shifted":
        with pytest.raises(ValueError, match="row by row"):
            block.step(x[:, :1, :1], state, column=tf.constant(0), aux=aux[:, :1, :1], conditioning=h)
        return

    def pixel(position, state):
        r, c = position
        if c == 0:
            state = block.start_row(state)
        return block.step(
            x[:, r : r + 1, c : c + 1],
            state,
            column=tf.constant(c),
            aux=aux[:, r : r + 1, c : c + 1],
            conditioning=h,
        )

    lc.check_step_matches_call(
        full,
        pixel,
        block.init_cache(2, W),
        np.ndindex(H, W),
        take=lambda full, p: full[:, p[0] : p[0] + 1, p[1] : p[1] + 1],
        rtol=0,
    )


def test_inputs_are_checked_and_dropout_only_trains():
    x = tf.random.normal([2, 3, 3, 4])
    block = GatedResNet(conv="down_right_shifted", dropout=0.5)
    np.testing.assert_array_equal(block(x).numpy(), block(x).numpy())
    assert not np.allclose(block(x, training=True).numpy(), block(x).numpy())
    with pytest.raises(ValueError, match="auxiliary"):
        block(x, aux=x)
    with pytest.raises(ValueError, match="pass aux"):
        GatedResNet(auxiliary=True)(x)
    with pytest.raises(ValueError, match="conditional"):
        GatedResNet(conditional=True)(x)
    with pytest.raises(ValueError, match="conv must be"):
        GatedResNet(conv="masked")
    with pytest.raises(ValueError, match="nonlinearity"):
        GatedResNet(nonlinearity="tanh")
    lc.check_serialization(GatedResNet(conv="nin", dropout=0.1, auxiliary=True), x, {"aux": x})
    lc.check_serialization(
        GatedResNet(conv="down_shifted", nonlinearity="elu", conditional=True),
        x,
        {"conditioning": tf.one_hot([0, 1], 3)},
    )


def test_conditioning_shifts_every_position_equally_and_is_causal():
    block = GatedResNet(conv="down_shifted", conditional=True)
    x = tf.random.normal([2, 4, 4, 5])
    a = block(x, conditioning=tf.one_hot([0, 0], 3)).numpy()
    b = block(x, conditioning=tf.one_hot([0, 1], 3)).numpy()
    np.testing.assert_array_equal(a[0], b[0])
    assert np.all(np.abs(a[1] - b[1]).max(-1) > 0)
