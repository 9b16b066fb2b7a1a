"""Every public layer passes Keras' own layer contract, mixed precision included.

Keras' ``run_layer_test`` (``keras.src.testing.TestCase``) checks, for a layer
class, init kwargs and an input:

* serialization: ``get_config`` / ``from_config`` and
  ``serialize_keras_object`` round trips give the same config and attributes;
* symbolic shapes: ``build`` on the input shapes and a call on ``KerasTensor``s
  build the same weights as an eager call;
* training: one compiled ``fit`` step (``jit_compile="auto"``: XLA on
  TensorFlow) of a model around the layer;
* mixed precision: the layer built with ``dtype="mixed_float16"`` (its *own*
  policy, not a global one) runs eagerly, its outputs have the dtypes of its
  ``compute_output_spec`` (float16 for float outputs) and its float weights
  stay float32.

`CASES` lists one or more small configurations of every layer in
``ar_keras.layers.__all__`` (those of ``ar_keras.layers.attention`` included);
`test_every_public_layer_has_a_case` fails when a layer is added without one.

Layers with several inputs (``GatedPixelCNNBlock(v, h)``, a conditioning
input, ``WaveNetBlock``'s int ``global_ids``) are driven through
``run_layer_test``'s dict form: ``{"<arg>_shape": shape}`` builds with
``build(<arg>_shape=...)`` and calls with ``call(<arg>=...)``, with per-input
dtypes.  Its training step cannot drive that form (its model calls
``layer(inputs)`` with the dict as one positional argument), so for those
cases `test_training_step_with_keyword_inputs` runs the same compiled ``fit``
step with the inputs passed by keyword, and asserts a finite loss and
updated weights.

Besides Keras' check, `test_mixed_float16_policy_computes_in_float16` asserts
that the mixed layer really computes in float16 (its float outputs are
float16) and stays close to the float32 layer with the same weights.
"""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src import testing

import ar_keras.layers as layers
from ar_keras.layers import attention, masking


class _KerasCase(testing.TestCase):
    """A bare ``keras.src.testing.TestCase`` to call ``run_layer_test`` from pytest."""

    def runTest(self):  # unittest needs a test method to instantiate the case
        pass


def _case(cls, init, shape, dtype=None, call=None, id=None):
    """One configuration: ``shape`` a shape tuple or ``{"<arg>_shape": shape}`` (keyword inputs)."""
    return pytest.param(cls, init, shape, dtype, call or {}, id=id or cls.__name__)


_MADE_MASK = masking.made_masks(masking.made_degrees(3, [8], seed=0))[0]  # [3, 8]

CASES = [
    _case(layers.GatedActivation, {}, (2, 3, 4, 8)),
    _case(
        layers.GatedActivation,
        {"conditional": True},
        {"inputs_shape": (2, 3, 4, 8), "conditioning_shape": (2, 5)},
        id="GatedActivation-conditional",
    ),
    _case(
        layers.GatedPixelCNNBlock,
        {"filters": 4, "kernel_size": 3, "data_channels": 1, "first": True},
        {"v_shape": (2, 4, 5, 1), "h_shape": (2, 4, 5, 1)},
    ),
    _case(
        layers.GatedPixelCNNBlock,
        {"filters": 6, "kernel_size": 3, "data_channels": 3, "conditional": True},
        {"v_shape": (2, 4, 5, 6), "h_shape": (2, 4, 5, 6), "conditioning_shape": (2, 4)},
        id="GatedPixelCNNBlock-conditional",
    ),
    _case(
        layers.GatedPixelCNNStack,
        {"filters": 4, "num_layers": 2, "kernel_size": 3, "first_kernel_size": 5},
        (2, 4, 5, 1),
    ),
    _case(
        layers.GatedPixelCNNStack,
        {"filters": 6, "num_layers": 2, "kernel_size": 3, "data_channels": 3, "conditional": True},
        {"inputs_shape": (2, 4, 5, 3), "conditioning_shape": (2, 4, 5, 4)},
        id="GatedPixelCNNStack-conditioning-map",
    ),
    _case(layers.GatedResNet, {"conv": "down_shifted"}, (2, 4, 5, 4)),
    _case(layers.GatedResNet, {"conv": "nin", "nonlinearity": "elu"}, (2, 4, 5, 4), id="GatedResNet-nin"),
    _case(
        layers.GatedResNet,
        {"conv": "down_right_shifted", "auxiliary": True, "conditional": True, "dropout": 0.5},
        {"x_shape": (2, 4, 5, 4), "aux_shape": (2, 4, 5, 3), "conditioning_shape": (2, 6)},
        id="GatedResNet-aux-conditional",
    ),
    _case(layers.DownShiftedConv2D, {"filters": 4}, (2, 5, 5, 3)),
    _case(layers.DownShiftedConv2D, {"filters": 4, "strides": 2}, (2, 5, 5, 3), id="DownShiftedConv2D-s2"),
    _case(layers.DownRightShiftedConv2D, {"filters": 4}, (2, 5, 5, 3)),
    _case(layers.DownShiftedConv2DTranspose, {"filters": 4}, (2, 3, 3, 3)),
    _case(layers.DownRightShiftedConv2DTranspose, {"filters": 4}, (2, 3, 3, 3)),
    _case(
        layers.MaskedConv2D,
        {"filters": 6, "kernel_size": 3, "mask_type": "A", "data_channels": 3},
        (2, 5, 5, 3),
    ),
    _case(
        layers.MaskedConv2D,
        {"filters": 4, "kernel_size": (2, 3), "mask_type": None},
        (2, 5, 5, 3),
        id="MaskedConv2D-none",
    ),
    _case(
        layers.ChannelMaskedConv2D,
        {"filters": 6, "kernel_size": 3, "mask_type": "A", "data_channels": 3},
        (2, 4, 4, 3),
    ),
    _case(layers.MaskedDense, {"units": 8, "kernel_mask": _MADE_MASK}, (2, 3)),
    _case(layers.MaskedDense, {"units": 5}, (2, 3, 4), id="MaskedDense-unmasked"),
    _case(layers.MADELayer, {"params": 2, "hidden_units": [8], "event_size": 3}, (4, 3)),
    _case(
        layers.MADELayer,
        {
            "params": 3,
            "hidden_units": [12],
            "input_width": 2,
            "num_masks": 2,
            "order_agnostic": True,
            "direct_connection": True,
            "conditional_size": 2,
        },
        {"inputs_shape": (4, 3, 2), "conditional_input_shape": (4, 2)},
        call={"mask_index": 1},
        id="MADELayer-params-conditional",
    ),
    _case(layers.CausalConv1D, {"filters": 4, "kernel_size": 2, "dilation_rate": 2}, (2, 7, 3)),
    _case(layers.Upsample1D, {"hop": 3, "mode": "transposed", "channels": 4}, (2, 5, 6)),
    _case(layers.Upsample1D, {"hop": 3, "mode": "repeat"}, (2, 5, 6), id="Upsample1D-repeat"),
    _case(layers.DualGRU, {"units": 4}, (2, 5, 12)),
    _case(
        layers.WaveNetBlock,
        {"residual_channels": 4, "gate_channels": 4, "skip_channels": 6, "dilation_rate": 2},
        (2, 7, 4),
    ),
    _case(
        layers.WaveNetBlock,
        {
            "residual_channels": 4,
            "gate_channels": 4,
            "skip_channels": 6,
            "kernel_size": 3,
            "num_classes": 3,
            "local_channels": 2,
        },
        {"inputs_shape": (2, 7, 4), "global_ids_shape": (2,), "local_shape": (2, 7, 2)},
        {"inputs_shape": "float32", "global_ids_shape": "int32", "local_shape": "float32"},
        id="WaveNetBlock-conditional",
    ),
    _case(layers.RowLSTM, {"units": 6, "data_channels": 3}, (2, 4, 5, 3)),
    _case(layers.DiagonalBiLSTM, {"units": 6, "data_channels": 3}, (2, 4, 5, 3)),
    _case(layers.CausalNeighbourhood, {"nb_size": 3}, (2, 4, 4, 2)),
    _case(layers.SpatialLSTM, {"units": 4}, (2, 3, 4, 5)),
    _case(
        layers.SpatialLSTM,
        {"units": 4},
        {"x_shape": (2, 3, 4, 5), "bias_shape": (2, 20)},
        id="SpatialLSTM-bias",
    ),
    _case(
        layers.SparseTransformerBlock,
        {"width": 8, "num_heads": 2, "pattern": "strided", "block_length": 2},
        (2, 6, 8),
    ),
    _case(
        layers.SparseTransformerBlock,
        {"width": 8, "num_heads": 2, "pattern": "fixed", "block_length": 3, "num_summary": 1, "dropout": 0.2},
        (2, 6, 8),
        id="SparseTransformerBlock-fixed-dropout",
    ),
    _case(layers.LearnedStateGRU, {"units": 4}, (2, 5, 3)),
    _case(layers.ByteNetBlock, {"hidden_channels": 4, "kernel_size": 3, "dilation_rate": 2}, (2, 7, 8)),
    _case(
        layers.ByteNetBlock,
        {"hidden_channels": 4, "kernel_size": 3, "block_type": "relu", "causal": False},
        (2, 7, 8),
        id="ByteNetBlock-relu-encoder",
    ),
    _case(layers.ConvLSTM, {"filters": 4, "kernel_size": 3}, (2, 3, 4, 4, 2)),
    _case(layers.MultiplicativeUnit, {"kernel_size": 3, "dilation": 2}, (2, 4, 4, 4)),
    _case(
        layers.MultiplicativeUnit,
        {"kernel_size": 3, "mask_type": "B", "data_channels": 3},
        (2, 4, 4, 6),
        id="MultiplicativeUnit-masked",
    ),
    _case(layers.ResidualMultiplicativeBlock, {"channels": 3, "dilation": 2}, (2, 4, 4, 6)),
    _case(
        layers.ResidualMultiplicativeBlock,
        {"channels": 6, "mask_type": "B", "data_channels": 3},
        (1, 4, 4, 12),
        id="ResidualMultiplicativeBlock-masked",
    ),
    _case(
        attention.CausalSelfAttention,
        {"num_heads": 2, "key_dim": 4, "pattern": "strided", "block_length": 2},
        (2, 6, 8),
    ),
    _case(
        attention.CausalSelfAttention,
        {"num_heads": 2, "key_dim": 4, "value_dim": 3, "output_dim": 5, "dropout": 0.1},
        {"x_shape": (2, 6, 8), "memory_shape": (2, 6, 7)},
        id="CausalSelfAttention-memory",
    ),
    _case(
        attention.PatternAttention,
        {"strict": True},
        {"query_shape": (2, 3, 4, 4), "key_shape": (2, 3, 4, 4), "value_shape": (2, 3, 4, 6)},
    ),
    _case(
        attention.PatternAttention,
        {"pattern": "strided", "block_length": 3},
        {"query_shape": (2, 9, 4), "key_shape": (2, 9, 4), "value_shape": (2, 9, 5)},
        id="PatternAttention-strided",
    ),
]


def _public_layers():
    found = {}
    for module in (layers, attention):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, keras.layers.Layer):
                found[name] = value
    return found


def test_every_public_layer_has_a_case():
    covered = {param.values[0].__name__ for param in CASES}
    missing = sorted(set(_public_layers()) - covered)
    assert not missing, f"public layers without a contract case in CASES: {missing}"


def _keyword(shape):
    return isinstance(shape, dict)


@pytest.mark.parametrize("cls,init,shape,dtype,call", CASES)
def test_keras_layer_contract(cls, init, shape, dtype, call):
    case = _KerasCase()
    case.setUp()
    case.run_layer_test(
        cls,
        init_kwargs=init,
        input_shape=shape,
        input_dtype=dtype,
        call_kwargs=call,
        run_training_check=not _keyword(shape),
        run_mixed_precision_check=True,
    )


def _inputs(shape, dtype, seed=0):
    """Random inputs like run_layer_test's: uniform in [0, 3), cast to each input's dtype."""
    rng = np.random.RandomState(seed)

    def make(s, dt):
        return tf.cast(rng.uniform(0, 3, size=s).astype(np.float32), dt or "float32")

    if _keyword(shape):
        dtype = dtype or {}
        return {k.removesuffix("_shape"): make(s, dtype.get(k)) for k, s in shape.items()}
    return make(shape, dtype)


def _apply(layer, inputs, call, **kwargs):
    if isinstance(inputs, dict):
        return layer(**inputs, **call, **kwargs)
    return layer(inputs, **call, **kwargs)


class AroundLayer(keras.Model):
    """A model around one layer, its keyword inputs passed by keyword."""

    def __init__(self, layer, call):
        super().__init__()
        self.layer = layer
        self.call_kwargs = call

    def call(self, inputs, training=False):
        outputs = self.layer(**inputs, **self.call_kwargs, training=training)
        flat = [tf.cast(o, "float32") for o in tf.nest.flatten(outputs) if o is not None]
        # One value per example: the sum of every output over its non-batch axes.
        return tf.add_n([tf.reduce_sum(tf.reshape(o, [tf.shape(o)[0], -1]), axis=1) for o in flat])


@pytest.mark.parametrize("cls,init,shape,dtype,call", [c for c in CASES if _keyword(c.values[2])])
def test_training_step_with_keyword_inputs(cls, init, shape, dtype, call):
    layer = cls(**init)
    inputs = _inputs(shape, dtype)
    _apply(layer, inputs, call)  # build
    if not layer.trainable_weights:
        pytest.skip(f"{cls.__name__} has no weights to train")
    model = AroundLayer(layer, call)
    before = [w.numpy().copy() for w in layer.trainable_weights]
    model.compile(optimizer="sgd", loss=lambda y_true, y_pred: tf.reduce_sum(y_pred), jit_compile="auto")
    batch = int(tf.nest.flatten(inputs)[0].shape[0])
    history = model.fit(inputs, np.zeros([batch], np.float32), batch_size=batch, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    moved = [not np.array_equal(b, w.numpy()) for b, w in zip(before, layer.trainable_weights)]
    assert any(moved), f"{cls.__name__}: one training step changed no weight"


def _is_float(tensor):
    return tensor.dtype.is_floating


@pytest.mark.parametrize("cls,init,shape,dtype,call", CASES)
def test_mixed_float16_policy_computes_in_float16(cls, init, shape, dtype, call):
    reference = cls(**init)
    mixed = cls(**init, dtype="mixed_float16")
    inputs = _inputs(shape, dtype)
    want = _apply(reference, inputs, call)
    got = _apply(mixed, inputs, call)
    assert len(mixed.weights) == len(reference.weights)
    for w, ref in zip(mixed.weights, reference.weights):
        assert w.dtype == ref.dtype, f"{w.path}: {w.dtype}, expected {ref.dtype}"
    mixed.set_weights(reference.get_weights())
    got = _apply(mixed, inputs, call)
    for g, w in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
        assert (g is None) == (w is None)
        if g is None:
            continue
        if _is_float(w):
            assert g.dtype == tf.float16, f"{cls.__name__}: output {g.dtype}, expected float16"
            scale = float(tf.reduce_max(tf.abs(w))) + 1.0
            np.testing.assert_allclose(g.numpy().astype(np.float32), w.numpy(), atol=1e-2 * scale, rtol=1e-2)
        else:
            assert g.dtype == w.dtype


# ------------------------------------------------------------------ streaming
# Each function builds the layer under ``dtype`` and streams its first positions through its
# own step methods (called directly, outside ``Layer.__call__``: no Keras autocast there),
# returning ``[(step output, full call at that position)]``.


def _x(*shape, seed=0):
    return tf.constant(np.random.RandomState(seed).normal(size=shape).astype(np.float32))


def _stream_causal_conv1d(dtype):
    layer, x = layers.CausalConv1D(4, kernel_size=2, dilation_rate=2, dtype=dtype), _x(2, 5, 3)
    full, queue, pairs = layer(x), layer.init_cache(2, 3), []
    for t in range(5):
        y, queue = layer.step(x[:, t], queue)
        pairs.append((y, full[:, t]))
    return pairs


def _stream_wavenet(dtype):
    layer = layers.WaveNetBlock(4, 4, 6, dilation_rate=2, num_classes=3, local_channels=2, dtype=dtype)
    x, ids, local = _x(2, 5, 4), tf.constant([0, 2]), _x(2, 5, 2, seed=1)
    residual, skip = layer(x, global_ids=ids, local=local)
    queue, pairs = layer.init_cache(2), []
    for t in range(5):
        r, s, queue = layer.step(x[:, t], queue, global_ids=ids, local_t=local[:, t])
        pairs += [(r, residual[:, t]), (s, skip[:, t])]
    return pairs


def _stream_bytenet(dtype):
    layer, x = layers.ByteNetBlock(4, kernel_size=3, dilation_rate=2, dtype=dtype), _x(2, 5, 8)
    full, queue, pairs = layer(x), layer.init_cache(2), []
    for t in range(5):
        y, queue = layer.step(x[:, t], queue)
        pairs.append((y, full[:, t]))
    return pairs


def _stream_learned_state_gru(dtype):
    layer, x = layers.LearnedStateGRU(4, dtype=dtype), _x(2, 5, 3)
    (full, _), h, pairs = layer(x), None, []
    h = layer.init_cache(2)
    for t in range(5):
        h = layer.step(x[:, t], h)
        pairs.append((h, full[:, t]))
    return pairs


def _stream_dual_gru(dtype):
    layer, pre = layers.DualGRU(4, dtype=dtype), _x(2, 5, 12)
    full, h, pairs = layer(pre), tf.zeros([2, 4]), []
    for t in range(5):
        h = layer.step(pre[:, t], h)
        pairs.append((h, full[:, t]))
    return pairs


def _stream_gated_resnet(dtype):
    layer = layers.GatedResNet(conv="down_right_shifted", auxiliary=True, conditional=True, dtype=dtype)
    x, aux, c = _x(2, 3, 4, 4), _x(2, 3, 4, 3, seed=1), _x(2, 5, seed=2)
    full, state, pairs = layer(x, aux=aux, conditioning=c), layer.init_cache(2, 4), []
    for r, col in np.ndindex(3, 4):
        if col == 0:
            state = layer.start_row(state)
        at = (slice(None), slice(r, r + 1), slice(col, col + 1))
        y, state = layer.step(x[at], state, column=tf.constant(col), aux=aux[at], conditioning=c)
        pairs.append((y, full[at]))
    return pairs


def _stream_gated_pixelcnn_stack(dtype):
    layer = layers.GatedPixelCNNStack(6, 2, 3, data_channels=3, conditional=True, dtype=dtype)
    x, c = _x(2, 3, 4, 3), _x(2, 4, seed=1)
    full, cache, pairs = layer(x, conditioning=c), layer.init_cache(2, width=4), []
    for r, col in np.ndindex(3, 4):
        h, cache = layer.step(x, cache, tf.constant(r), tf.constant(col), conditioning=c)
        pairs.append((h, full[:, r : r + 1, col : col + 1]))
    return pairs


def _stream_gated_pixelcnn(dtype):
    layer = layers.GatedPixelCNNBlock(6, 3, data_channels=3, conditional=True, dtype=dtype)
    x, c = _x(2, 3, 4, 6), _x(2, 4, seed=1)
    v_out, h_out = layer(x, x, conditioning=c)
    cache, pairs = layer.init_cache(2, width=4), []
    for r in range(3):
        if r > 0:
            v_row, cache = layer.step_row(x[:, r - 1 : r], cache, conditioning=c)
            pairs.append((v_row, v_out[:, r - 1 : r]))
        for col in range(4):
            at = (slice(None), slice(r, r + 1), slice(col, col + 1))
            h, cache = layer.step(x[at], cache, column=tf.constant(col), conditioning=c)
            pairs.append((h, h_out[at]))
    return pairs


def _stream_pixel_rnn(cls):
    def stream(dtype):
        layer, x = cls(units=6, data_channels=3, dtype=dtype), _x(2, 3, 4, 3)
        full, cache, pairs = layer(x), layer.init_cache(2, width=4), []
        for r, col in np.ndindex(3, 4):
            if r > 0 and col == 0:
                cache = layer.step_row(cache)
            at = (slice(None), slice(r, r + 1), slice(col, col + 1))
            y, cache = layer.step(x[at], cache, column=tf.constant(col))
            pairs.append((y, full[at]))
        return pairs

    return stream


def _stream_spatial_lstm(dtype):
    layer, x, bias = layers.SpatialLSTM(4, dtype=dtype), _x(2, 3, 4, 5), _x(2, 20, seed=1)
    full, cache, pairs = layer(x, bias=bias), layer.init_cache(2, width=4), []
    for r, col in np.ndindex(3, 4):
        h, cache = layer.step(x[:, r, col], cache, col, bias=bias)
        pairs.append((h, full[:, r, col]))
    return pairs


def _stream_causal_neighbourhood(dtype):
    layer, x = layers.CausalNeighbourhood(3, dtype=dtype), _x(2, 4, 4, 2)
    full = layer(x)
    return [(layer.step(x, i, j), full[:, i, j]) for i, j in np.ndindex(4, 4)]


def _stream_conv_lstm(dtype):
    layer, x = layers.ConvLSTM(4, kernel_size=3, dtype=dtype), _x(2, 3, 4, 4, 2)
    full, cache, pairs = layer(x), layer.init_cache(2, 4, 4), []
    for t in range(3):
        h, cache = layer.step(x[:, t], cache)
        pairs.append((h, full[:, t]))
    return pairs


def _stream_sparse_transformer(dtype):
    layer = layers.SparseTransformerBlock(8, num_heads=2, pattern="strided", block_length=2, dtype=dtype)
    x = _x(2, 6, 8)
    full, cache, pairs = layer(x), layer.init_cache(2, 6), []
    for t in range(6):
        y, cache = layer.step(x[:, t], cache, tf.constant(t))
        pairs.append((y, full[:, t]))
    return pairs


def _stream_causal_self_attention(dtype):
    layer = attention.CausalSelfAttention(
        2, 4, output_dim=5, pattern="fixed", block_length=3, num_summary=1, dtype=dtype
    )
    x, memory = _x(2, 6, 8), _x(2, 6, 7, seed=1)
    full, cache, pairs = layer(x, memory=memory), layer.init_cache(2, 6), []
    for t in range(6):
        y, cache = layer.step(x[:, t], cache, tf.constant(t), memory_t=memory[:, t])
        pairs.append((y, full[:, t]))
    return pairs


def _stream_pattern_attention(dtype):
    layer = attention.PatternAttention(strict=False, dtype=dtype)
    q, k, v = _x(2, 6, 4), _x(2, 6, 4, seed=1), _x(2, 6, 5, seed=2)
    full, cache, pairs = layer(q, k, v), layer.init_cache(2, 6, 4, 5), []
    for t in range(6):
        cache = layer.write(cache, k[:, t : t + 1], v[:, t : t + 1], t)
        pairs.append((layer.step(q[:, t], cache, tf.constant(t)), full[:, t]))
    return pairs


def _stream_shifted_conv(dtype):
    layer, x = layers.DownRightShiftedConv2D(4, dtype=dtype), _x(2, 3, 4, 3)
    full, buffer, pairs = layer(x), layer.init_buffer(2, 4, 3), []
    for r in range(3):
        buffer = layer.push_row(buffer, x[:, r : r + 1])
        pairs.append((layer.row_output(buffer), full[:, r : r + 1]))
    return pairs


STREAMS = {
    "CausalConv1D": _stream_causal_conv1d,
    "WaveNetBlock": _stream_wavenet,
    "ByteNetBlock": _stream_bytenet,
    "LearnedStateGRU": _stream_learned_state_gru,
    "DualGRU": _stream_dual_gru,
    "GatedResNet": _stream_gated_resnet,
    "GatedPixelCNNBlock": _stream_gated_pixelcnn,
    "GatedPixelCNNStack": _stream_gated_pixelcnn_stack,
    "RowLSTM": _stream_pixel_rnn(layers.RowLSTM),
    "DiagonalBiLSTM": _stream_pixel_rnn(layers.DiagonalBiLSTM),
    "SpatialLSTM": _stream_spatial_lstm,
    "CausalNeighbourhood": _stream_causal_neighbourhood,
    "ConvLSTM": _stream_conv_lstm,
    "SparseTransformerBlock": _stream_sparse_transformer,
    "CausalSelfAttention": _stream_causal_self_attention,
    "PatternAttention": _stream_pattern_attention,
    "DownRightShiftedConv2D": _stream_shifted_conv,
}

#: ``(rtol, atol)`` of step against call: float32 as the layers' own streaming tests; float16
#: rounds each of the two paths to 11 significant bits, in a different order of operations.
STREAM_TOLERANCE = {"float32": (1e-5, 1e-5), "mixed_float16": (1e-2, 1e-2)}


@pytest.mark.parametrize("dtype", ["float32", "mixed_float16"])
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_step_outside_call_follows_the_policy(name, dtype):
    rtol, atol = STREAM_TOLERANCE[dtype]
    want_dtype = tf.float16 if dtype == "mixed_float16" else tf.float32
    pairs = STREAMS[name](dtype)
    assert pairs
    for i, (got, want) in enumerate(pairs):
        assert got.dtype == want_dtype, f"{name} step output {i}: {got.dtype}, expected {want_dtype.name}"
        assert want.dtype == want_dtype, f"{name} call output {i}: {want.dtype}, expected {want_dtype.name}"
        np.testing.assert_allclose(
            got.numpy().astype(np.float32),
            want.numpy().astype(np.float32),
            rtol=rtol,
            atol=atol,
            err_msg=f"{name} under {dtype}: step output {i}",
        )
