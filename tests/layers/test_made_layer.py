"""The one MADE layer (ark.layers.MADELayer, alias ark.MADELayer): autoregressive by construction."""

import keras
import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from ar_keras import flows
from ar_keras.layers import MADELayer, masking

tfb = tfp.bijectors


def jacobians(made, x, c=None):
    """``d out / d x`` per output: ``[B, D, D]`` for shift and log_scale (or each param)."""
    x = tf.convert_to_tensor(x)
    kw = {} if c is None else {"conditional_input": tf.convert_to_tensor(c)}
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out = made(x, **kw)
        outs = list(out) if isinstance(out, tuple) else tf.unstack(out, axis=-1)
    return [tape.batch_jacobian(o, x).numpy() for o in outs]


def degrees_of(ordering, D):
    return masking.input_ordering(D, ordering, seed=0)


@pytest.mark.parametrize("ordering", ["natural", "reversed", "random", [2, 0, 4, 1, 3]])
@pytest.mark.parametrize("hidden_degrees", ["equal", "random"])
def test_jacobian_is_strictly_triangular_in_the_ordering(ordering, hidden_degrees):
    D = 5
    made = MADELayer(
        params=2,
        hidden_units=[32, 32],
        event_size=D,
        ordering=ordering,
        hidden_degrees=hidden_degrees,
        output_scale=1.0,
        seed=3,
    )
    x = np.random.RandomState(0).standard_normal((6, D)).astype(np.float32)
    deg = made.input_degrees
    np.testing.assert_array_equal(np.sort(deg), np.arange(1, D + 1))
    allowed = deg[:, None] > deg[None, :]  # [out d, in j]: j strictly earlier than d
    for jac in jacobians(made, x):
        assert np.all(jac[:, ~allowed] == 0.0), "an output depends on itself or a later input"
    if hidden_degrees == "equal":
        # Wide "equal" layers hold every degree: no connection is missing.
        dep = np.zeros((D, D), bool)
        for jac in jacobians(made, x):
            dep |= (np.abs(jac) > 0).any(axis=0)
        np.testing.assert_array_equal(dep, allowed)
    np.testing.assert_array_equal(np.argsort(deg), made.ordering)


def test_conditioning_keeps_the_jacobian_triangular_and_has_an_effect():
    D, C = 4, 3
    made = MADELayer(hidden_units=[16], event_size=D, conditional_size=C, output_scale=1.0)
    x = np.random.RandomState(1).standard_normal((5, D)).astype(np.float32)
    c = np.eye(C, dtype=np.float32)[[0, 1, 2, 0, 1]]
    upper = np.triu_indices(D)  # j >= d: not allowed
    for jac in jacobians(made, x, c):
        assert np.all(jac[:, upper[0], upper[1]] == 0)
    s0, _ = made(x, conditional_input=c)
    s1, _ = made(x, conditional_input=np.roll(c, 1, axis=0))
    assert not np.allclose(s0.numpy(), s1.numpy())
    # The first dimension sees no input, only the conditioning.
    assert not np.allclose(s0.numpy()[:, 0], s0.numpy()[0, 0])


def test_outputs_init_near_identity_and_log_scale_is_soft_clamped():
    D = 3
    made = MADELayer(hidden_units=[16], event_size=D)
    x = np.random.RandomState(2).standard_normal((64, D)).astype(np.float32)
    shift, log_scale = made(x)
    assert np.abs(shift.numpy()).max() < 0.5 and np.abs(log_scale.numpy()).max() < 0.5
    made.output_layer.kernel.assign(made.output_layer.kernel * 1e4)
    _, log_scale = made(x)
    assert np.abs(log_scale.numpy()).max() <= 5.0
    assert np.abs(log_scale.numpy()).max() > 4.0  # saturates smoothly, not clipped at 0
    raw = MADELayer(hidden_units=[16], event_size=D, log_scale_bound=None)
    raw(x)
    raw.set_weights(made.get_weights())
    assert np.abs(raw(x)[1].numpy()).max() > 5.0


def test_any_number_of_params_per_dimension():
    made = MADELayer(params=7, hidden_units=[8, 8])
    out = made(tf.zeros([3, 4]))
    assert out.shape == (3, 4, 7)
    assert made.event_size == 4
    pair = MADELayer(params=2, hidden_units=[8], output="params")
    assert pair(tf.zeros([2, 4])).shape == (2, 4, 2)
    assert made(tf.zeros([2, 5, 4])).shape == (2, 5, 4, 7)  # extra leading axes


def test_works_as_shift_and_log_scale_fn_of_tfp():
    D = 4
    made = MADELayer(hidden_units=[16, 16], event_size=D, output_scale=1.0)
    flow = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)
    x = np.random.RandomState(3).standard_normal((5, D)).astype(np.float32)
    y = flow.forward(x).numpy()
    np.testing.assert_allclose(flow.inverse(tf.constant(y)).numpy(), x, atol=1e-5)
    shift, log_scale = made(y)
    np.testing.assert_allclose(y, x * np.exp(log_scale.numpy()) + shift.numpy(), atol=1e-5)
    np.testing.assert_allclose(
        flow.inverse_log_det_jacobian(tf.constant(y), event_ndims=1).numpy(),
        -log_scale.numpy().sum(1),
        atol=1e-5,
    )


def test_weights_are_keras3_variables_and_a_model_tracks_them():
    made = MADELayer(hidden_units=[8], event_size=3, conditional_size=2)
    made(tf.zeros([1, 3]), conditional_input=tf.zeros([1, 2]))
    assert all(isinstance(w, keras.Variable) for w in made.weights)
    assert len(made.trainable_weights) == 6  # 2 kernels, 2 biases, 2 conditioning

    class Holder(keras.Model):
        def __init__(self):
            super().__init__()
            self.made = made

    assert len(Holder().trainable_weights) == 6


def test_tfp_autoregressive_network_is_not_tracked_by_keras3():
    """The trap this package exists for (docs/architecture.md, section 9)."""

    class Holder(keras.Model):
        def __init__(self):
            super().__init__()
            self.net = tfb.AutoregressiveNetwork(params=2, hidden_units=[8], event_shape=[3])

    holder = Holder()
    holder.net(tf.zeros([1, 3]))
    assert len(holder.net.trainable_variables) > 0 and holder.trainable_weights == []


def test_config_round_trip_gives_the_same_masks_and_function():
    made = MADELayer(
        params=3,
        hidden_units=[12, 6],
        event_size=4,
        ordering="random",
        hidden_degrees="random",
        activation="tanh",
        conditional_size=2,
        seed=5,
        log_scale_bound=3.0,
        output_scale=0.5,
    )
    x, c = tf.random.normal([3, 4]), tf.random.normal([3, 2])
    clone = lc.check_serialization(made, x, {"conditional_input": c})
    np.testing.assert_array_equal(clone.input_degrees, made.input_degrees)
    for a, b in zip(clone.masks(), made.masks()):
        np.testing.assert_array_equal(a, b)


def test_output_mask_is_the_made_mask_repeated_per_param():
    made = MADELayer(params=3, hidden_units=[6], event_size=3)
    hidden, out = made.masks()
    base = masking.made_masks(masking.made_degrees(3, [6], hidden_degrees="equal", seed=0))
    np.testing.assert_array_equal(hidden, base[0])
    np.testing.assert_array_equal(out, np.repeat(base[1], 3, axis=1))


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="params=2"):
        MADELayer(params=3, output="shift_and_log_scale")
    with pytest.raises(ValueError, match="hidden_units"):
        MADELayer(hidden_units=[])
    with pytest.raises(ValueError, match="hidden_degrees"):
        MADELayer(hidden_degrees="sparse")
    made = MADELayer(hidden_units=[4], event_size=3)
    with pytest.raises(ValueError, match="event_size=3"):
        made(tf.zeros([2, 4]))
    with pytest.raises(ValueError, match="no conditioning input"):
        made(tf.zeros([2, 3]), conditional_input=tf.zeros([2, 1]))
    cond = MADELayer(hidden_units=[4], event_size=3, conditional_size=2)
    with pytest.raises(ValueError, match="conditional_input=c"):
        cond(tf.zeros([2, 3]))


def test_serialization_name_does_not_shadow_the_discrete_made_model(tmp_path):
    import ar_keras as ark

    assert flows.MADE is MADELayer
    assert keras.saving.get_registered_name(MADELayer) == "ar_keras>MADELayer"
    assert keras.saving.get_registered_object("ar_keras>MADE") is ark.models.MADE
    model = ark.models.get("made", preset="tiny")
    model.save(str(tmp_path / "made.keras"))
    assert type(keras.models.load_model(str(tmp_path / "made.keras"))) is ark.models.MADE


def test_old_flow_made_configs_still_load():
    """``.keras`` files from before the one layer name it "ar_keras>FlowMADE"."""
    made = MADELayer(hidden_units=[8], event_size=3, seed=2)
    serialized = keras.saving.serialize_keras_object(made)
    old_keys = {
        "params",
        "hidden_units",
        "event_size",
        "ordering",
        "hidden_degrees",
        "activation",
        "conditional_size",
        "output",
        "log_scale_bound",
        "output_scale",
        "seed",
        "kernel_initializer",
        "name",
        "trainable",
        "dtype",
    }
    serialized["registered_name"] = "ar_keras>FlowMADE"
    serialized["config"] = {k: v for k, v in serialized["config"].items() if k in old_keys}
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is MADELayer and restored.get_config() == made.get_config()


# ----------------------------------------------------------- mask sets (ensembles)
def ensemble(**kw):
    base = dict(
        params=3,
        hidden_units=[24, 24],
        event_size=5,
        hidden_degrees="random",
        num_masks=4,
        order_agnostic=True,
        direct_connection=True,
        output="params",
        output_scale=1.0,
        seed=7,
    )
    base.update(kw)
    return MADELayer(**base)


@pytest.mark.parametrize("input_width", [1, 3])
def test_jacobian_is_autoregressive_in_every_mask_set(input_width):
    made = ensemble(input_width=input_width, conditional_size=2)
    rng = np.random.RandomState(0)
    shape = (4, 5) if input_width == 1 else (4, 5, input_width)
    x = tf.constant(rng.standard_normal(shape).astype(np.float32))
    c = tf.constant(rng.standard_normal((4, 2)).astype(np.float32))
    for m in range(made.num_masks):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = made(x, conditional_input=c, mask_index=m)  # [B, D, P]
        jac = tape.batch_jacobian(out, x).numpy()  # [B, D, P, D(, W)]
        if input_width > 1:
            jac = jac.sum(-1)  # [B, D, P, D]
        dep = (np.abs(jac) > 0).any(axis=(0, 2))  # [out d, in j]
        deg = made.degrees(m)[0]
        allowed = deg[:, None] > deg[None, :]
        assert not np.any(dep & ~allowed), f"mask set {m}: an output sees itself or a later input"
        assert dep[allowed].any()
        # The mask tensors are the pure-numpy masks of masking.py.
        want = masking.made_masks(made.degrees(m))
        unit_in = np.repeat(want[0], input_width, axis=0)  # [D*W, H1]
        got = made.masks(m)
        np.testing.assert_array_equal(got[0], unit_in)
        np.testing.assert_array_equal(got[-1], np.repeat(want[-1], 3, axis=1))
        np.testing.assert_array_equal(
            made.direct_mask(m), np.repeat(np.repeat(masking.made_direct_mask(deg), input_width, 0), 3, 1)
        )
        tensors = made.mask_tensors(m)
        for a, b in zip(tensors[0] + [tensors[1]], got):
            np.testing.assert_array_equal(a.numpy(), b)


def test_mask_sets_differ_and_are_masking_degree_sets():
    made = ensemble()
    sets = masking.made_degree_sets(5, [24, 24], 4, order_agnostic=True, seed=7, hidden_degrees="random")
    for m in range(4):
        for got, want in zip(made.degrees(m), sets):
            np.testing.assert_array_equal(got, want[m])
    assert len({made.masks(m)[0].tobytes() for m in range(4)}) == 4
    assert len({tuple(made.degrees(m)[0]) for m in range(4)}) > 1  # order-agnostic
    np.testing.assert_array_equal(made.ordering, np.arange(5))  # set 0: `ordering`
    x = tf.random.normal([3, 5])
    outs = [made(x, mask_index=m).numpy() for m in range(4)]
    assert not np.allclose(outs[0], outs[1])
    with pytest.raises(ValueError, match="mask_index"):
        made.masks(4)


def test_mask_index_can_be_a_variable_inside_a_compiled_function():
    made = ensemble()
    x = tf.random.normal([3, 5])
    index = tf.Variable(0)
    run = tf.function(lambda x: made(x, mask_index=index))
    for m in (2, 0, 3):
        index.assign(m)
        np.testing.assert_allclose(run(x).numpy(), made(x, mask_index=m).numpy(), rtol=1e-6)


def test_ensemble_layer_config_round_trip():
    made = ensemble(
        input_width=2,
        conditional_size=3,
        conditional_to_output=False,
        activation="tanh",
        ordering=[4, 2, 0, 1, 3],
        output_scale=None,
    )
    x, c = tf.random.normal([2, 5, 2]), tf.random.normal([2, 3])
    clone = lc.check_serialization(made, x, {"conditional_input": c, "mask_index": 2})
    assert made.conditional_output is None and made.direct_layer is not None
    for m in range(made.num_masks):
        for a, b in zip(clone.degrees(m), made.degrees(m)):
            np.testing.assert_array_equal(a, b)
    assert MADELayer(hidden_units=16).hidden_units == [16]  # an int is one layer
