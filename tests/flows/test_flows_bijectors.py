"""ark.flows.maf / iaf / BatchNorm as TFP bijectors: inverses, log-determinants, costs."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from ar_keras import flows

tfb, tfd = tfp.bijectors, tfp.distributions
D = 3


def mades(k=3, conditional_size=None, seed=0, scale=1.0):
    """MADEs with a large output init, so that the flows are far from the identity."""
    return [
        flows.MADE(
            hidden_units=[16, 16],
            event_size=D,
            conditional_size=conditional_size,
            output_scale=scale,
            seed=seed + i,
            log_scale_bound=2.0,
        )
        for i in range(k)
    ]


def batch_norms(k, data):
    layers = [flows.BatchNorm(momentum=0.0) for _ in range(k)]
    for bn in layers:
        bn.normalize(tf.constant(data), training=True)  # moving statistics = these data's
    return layers


def fresh(t):
    """A new tensor with t's values: defeats TFP's bijector cache."""
    return tf.constant(np.asarray(t))


def numeric_log_det(fn, x):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    jac = tape.batch_jacobian(y, x).numpy().astype(np.float64)
    return np.linalg.slogdet(jac)[1]


def round_trip(bijector, x, **kwargs):
    y = bijector.forward(x, **kwargs).numpy()
    back = bijector.inverse(fresh(y), **kwargs).numpy()
    np.testing.assert_allclose(back, x, atol=2e-5)
    fldj = bijector.forward_log_det_jacobian(x, event_ndims=1, **kwargs).numpy()
    ildj = bijector.inverse_log_det_jacobian(fresh(y), event_ndims=1, **kwargs).numpy()
    np.testing.assert_allclose(fldj, -ildj, rtol=1e-4, atol=1e-4)  # same size, opposite sign
    np.testing.assert_allclose(
        fldj, numeric_log_det(lambda t: bijector.forward(t, **kwargs), x), rtol=1e-3, atol=1e-3
    )
    assert np.abs(fldj).max() > 0.05  # not the identity
    return y


X = np.random.RandomState(0).standard_normal((6, D)).astype(np.float32)


@pytest.mark.parametrize("permutation", ["reverse", "random", "none"])
def test_maf_stack_inverts_and_log_dets_agree(permutation):
    stack = flows.maf(mades(), permutation=permutation, seed=2)
    round_trip(stack, X)
    round_trip(flows.maf(mades(1)[0]), X)


def test_maf_stack_with_batch_norm():
    layers = mades()
    stack = flows.maf(layers, batch_norm=batch_norms(3, 2.0 * X + 1.0))
    round_trip(stack, X)
    names = [type(b).__name__ for b in stack.bijectors]
    assert names.count("BatchNormBijector") == 3 and names.count("Permute") == 2


@pytest.mark.parametrize("gated", [False, True])
def test_iaf_stack_inverts_and_log_dets_agree(gated):
    stack = flows.iaf(mades(), gated=gated)
    round_trip(stack, X)
    round_trip(flows.iaf(mades(1)[0], gated=gated), X)


def test_iaf_forward_is_the_affine_step_of_its_made():
    made = mades(1)[0]
    layer = flows.iaf(made)
    shift, log_scale = made(X)
    np.testing.assert_allclose(layer.forward(X).numpy(), X * np.exp(log_scale) + shift, atol=1e-6)
    gated = flows.iaf(made, gated=True)
    sigma = tf.sigmoid(log_scale + flows.iaf_layer.__globals__["GATE_BIAS"]).numpy()
    np.testing.assert_allclose(gated.forward(X).numpy(), sigma * X + (1 - sigma) * shift.numpy(), atol=1e-6)
    assert np.all(gated.forward_log_det_jacobian(X, event_ndims=1).numpy() < 0)  # sigma < 1


def test_conditional_flows_route_the_conditioning():
    c = np.eye(2, dtype=np.float32)[[0, 1, 0, 1, 1, 0]]
    for build in (flows.maf, flows.iaf):
        stack = build(mades(conditional_size=2))
        kwargs = flows.conditional_kwargs(stack, c)
        assert len(kwargs) == 3
        y = round_trip(stack, X, **kwargs)
        other = stack.forward(X, **flows.conditional_kwargs(stack, c[::-1])).numpy()
        assert not np.allclose(y, other)
    assert flows.conditional_kwargs(flows.maf(mades(1, conditional_size=2)[0]), c) == {"conditional_input": c}


class CountingMADE(flows.MADE):
    calls = 0

    def call(self, inputs, conditional_input=None):
        CountingMADE.calls += 1
        return super().call(inputs, conditional_input)


def count_calls(fn):
    CountingMADE.calls = 0
    fn()
    return CountingMADE.calls


def test_cost_asymmetry_maf_density_one_pass_iaf_sampling_one_pass():
    D8 = 8
    made = CountingMADE(hidden_units=[8], event_size=D8)
    made(tf.zeros([1, D8]))
    x = np.random.RandomState(1).standard_normal((4, D8)).astype(np.float32)
    maf, iaf = flows.maf(made), flows.iaf(made)
    assert count_calls(lambda: maf.inverse(fresh(x))) == 1  # density: one pass
    assert count_calls(lambda: iaf.forward(fresh(x))) == 1  # sampling: one pass
    assert count_calls(lambda: maf.forward(fresh(x))) >= D8  # sampling: D passes
    assert count_calls(lambda: iaf.inverse(fresh(x))) >= D8  # outside density: D passes


def test_a_density_or_a_sample_with_its_log_det_is_one_made_pass():
    """inverse + inverse_log_det_jacobian on the same x (what a density needs) share the pass."""
    D8 = 8
    made = CountingMADE(hidden_units=[8], event_size=D8, output_scale=1.0)
    made(tf.zeros([1, D8]))
    x = fresh(np.random.RandomState(2).standard_normal((4, D8)).astype(np.float32))
    maf, iaf = flows.maf(made), flows.iaf(made)
    assert count_calls(lambda: (maf.inverse(x), maf.inverse_log_det_jacobian(x, event_ndims=1))) == 1
    assert count_calls(lambda: (iaf.forward(x), iaf.forward_log_det_jacobian(x, event_ndims=1))) == 1
    # ... and the cached log-determinant is the step's.
    shift, log_scale = made(x)
    np.testing.assert_allclose(
        maf.inverse_log_det_jacobian(x, event_ndims=1).numpy(), -log_scale.numpy().sum(1), rtol=1e-5
    )
    assert count_calls(lambda: maf.inverse_log_det_jacobian(fresh(x), event_ndims=1)) == 1


def test_transformed_distribution_is_normalised_in_2d():
    layers = [
        flows.MADE(hidden_units=[16], event_size=2, output_scale=1.0, seed=i, log_scale_bound=1.5)
        for i in range(3)
    ]
    for build in (flows.maf, flows.iaf):
        dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), [2]), build(layers))
        edges = np.linspace(-12, 12, 401)
        centres = 0.5 * (edges[1:] + edges[:-1])
        pts = np.stack(np.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2).astype(np.float32)
        total = np.exp(dist.log_prob(pts).numpy().astype(np.float64)).sum() * (edges[1] - edges[0]) ** 2
        assert abs(total - 1.0) < 0.01, total


def test_stack_arguments_are_checked():
    with pytest.raises(TypeError, match="Keras 2"):
        flows.maf(tfb.AutoregressiveNetwork(params=2, hidden_units=[4], event_shape=[3]))
    with pytest.raises(ValueError, match="output="):
        flows.maf(flows.MADE(params=2, hidden_units=[4], event_size=3, output="params"))
    with pytest.raises(ValueError, match="same event_size"):
        flows.maf([flows.MADE(hidden_units=[4], event_size=3), flows.MADE(hidden_units=[4], event_size=4)])
    with pytest.raises(ValueError, match="one BatchNorm per layer"):
        flows.maf(mades(2), batch_norm=[flows.BatchNorm()])
    with pytest.raises(ValueError, match="permutation"):
        flows.maf(mades(2), permutation="shuffle")
    with pytest.raises(ValueError, match="event_size"):
        flows.maf(flows.MADE(hidden_units=[4]))


def test_layer_permutations():
    assert flows.layer_permutations(3, 1, "reverse") == []
    assert flows.layer_permutations(3, 4, "none") == []
    rev = flows.layer_permutations(4, 3, "reverse")
    assert len(rev) == 2 and all(np.array_equal(p, [3, 2, 1, 0]) for p in rev)
    rnd = flows.layer_permutations(6, 3, "random", seed=1)
    assert all(np.array_equal(np.sort(p), np.arange(6)) for p in rnd)
    np.testing.assert_array_equal(rnd[0], flows.layer_permutations(6, 3, "random", seed=1)[0])


# ------------------------------------------------------------------ batch norm
def test_batch_norm_normalises_and_inverts_with_its_log_det():
    data = (3.0 * np.random.RandomState(2).standard_normal((50, D)) + 2.0).astype(np.float32)
    bn = flows.BatchNorm(momentum=0.5)
    u, log_det = bn.normalize(tf.constant(data), training=True)
    np.testing.assert_allclose(u.numpy().mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(u.numpy().std(0), 1.0, atol=1e-3)
    np.testing.assert_allclose(log_det.numpy(), -0.5 * np.log(data.var(0) + bn.epsilon), rtol=1e-4)
    # The moving statistics moved halfway (momentum 0.5) from (0, 1).
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.5 * data.mean(0), rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.5 + 0.5 * data.var(0), rtol=1e-4)
    bn.log_gamma.assign([0.3, -0.2, 0.1])
    bn.beta.assign([1.0, 0.0, -1.0])
    bijector = flows.BatchNormBijector(bn)
    x = data[:5]
    round_trip(bijector, x)
    # Outside training the inverse uses the moving statistics.
    mean, var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    want = (x - mean) / np.sqrt(var + bn.epsilon) * np.exp([0.3, -0.2, 0.1]) + [1.0, 0.0, -1.0]
    np.testing.assert_allclose(bijector.inverse(fresh(x)).numpy(), want, rtol=1e-5, atol=1e-5)


def test_batch_norm_weights_are_keras3_and_serialise():
    bn = flows.BatchNorm(momentum=0.8, epsilon=1e-4)
    bn.build((None, D))
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    clone = flows.BatchNorm.from_config(bn.get_config())
    assert clone.momentum == 0.8 and clone.epsilon == 1e-4


def test_tfp_batch_normalization_refuses_keras3_layers():
    """Why ark.flows has its own: tfb.BatchNormalization only takes tf_keras layers."""
    with pytest.raises(ValueError):
        tfb.BatchNormalization(batchnorm_layer=keras.layers.BatchNormalization())
