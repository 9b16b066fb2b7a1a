"""The generic sampler's noise: keyed by (seed, sample, element), prefix-stable."""

import numpy as np

from ar_keras import sampling


def test_seeded_noise_is_prefix_stable_and_matches_keys():
    big = sampling.seeded_noise(5, 6, 7, 3).numpy()
    small = sampling.seeded_noise(5, 2, 7, 3).numpy()
    np.testing.assert_array_equal(big[:2], small)
    keyed = sampling.uniform_noise(sampling.sample_keys(5, 6), 7, 3).numpy()
    np.testing.assert_array_equal(keyed, big)
    assert big.min() > 0 and big.max() < 1
    assert not np.array_equal(big, sampling.seeded_noise(6, 6, 7, 3).numpy())


def test_noise_is_keyed_per_element_and_uniform():
    from ar_keras.core import noise

    keys = noise.sample_keys(3, 4)
    whole = noise.KeyedNoise(keys, 5).all(40).numpy()  # [4, 40, 5]
    some = noise.KeyedNoise(keys, 5).at(np.array([7, 31], np.int32)).numpy()
    np.testing.assert_array_equal(some, whole[:, [7, 31]])  # per element, any group
    longer = noise.seeded_noise(3, 4, 80, 5).numpy()
    np.testing.assert_array_equal(longer[:, :40], whole)  # a longer sequence extends
    u = noise.seeded_noise(0, 200, 100, 10).numpy().ravel()  # 200,000 draws
    hist = np.histogram(u, bins=20, range=(0, 1))[0] / u.size
    assert np.abs(hist - 0.05).max() < 0.003
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


def test_xla_sampling_equals_full_recompute():
    """`jit_sampling` (what `sample` takes by itself from 256 steps on) gives the same samples."""
    import test_case as tc

    import ar_keras as ark

    for name in ("nade", "gated_pixelcnn", "pixelcnn_pp"):
        model = ark.models.get(name, preset="tiny")
        tc.sharpen(model, 1.5)
        full = model.sample(3, seed=4, cache=False).numpy()
        model.jit_sampling = True
        np.testing.assert_array_equal(model.sample(3, seed=4).numpy(), full)


def test_sampling_memory_does_not_hold_noise_for_every_element():
    """A step draws the noise of its group only: no [n, D, depth] tensor in the cached loop."""
    import tensorflow as tf

    import ar_keras as ark
    from ar_keras.core import noise, sampler

    model = ark.models.get("wavenet", preset="tiny")
    keys = noise.sample_keys(0, 2)
    graph = (
        tf.function(lambda k: sampler.run(model, noise.KeyedNoise(k, model.noise_depth), 2, 300))
        .get_concrete_function(keys)
        .graph
    )
    shapes = [
        tuple(o.shape.as_list()) for op in graph.get_operations() for o in op.outputs if o.shape.rank == 3
    ]
    assert not any(s[1:] == (300, model.noise_depth) for s in shapes), shapes
