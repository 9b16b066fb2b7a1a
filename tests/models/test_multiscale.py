"""Parallel Multiscale PixelCNN: its groups, their independence, and the O(log N) step count.

The shared image suite (tests/models/test_contract.py, test_every_model.py) already runs
causality in the model's own groups, normalisation by enumeration, samples against log_prob
and cache == recompute on the tiny preset.  Here:

* the groups are a partition of the elements in the paper's order (base, then per doubling
  upper-right, lower-left, lower-right corners, one channel per group) and `ordering` is them
  concatenated;
* causality with full dependency on every earlier group on a 4x4, two-channel image (two
  doublings from a 1x1 base: the head's channel mask and the ResNet are both exercised);
* a cached step equals the full network at its group's elements, on a partial sample;
* the cache's counters, driven step by step: one network evaluation per group, of the
  group's own scale only, equal to `network_evaluations`; evaluations(2s) - evaluations(s) is
  the constant 3C; at 64x64x3 the count is far below N;
* bad shapes and arguments get clear errors.
"""

import numpy as np
import pytest
import tensorflow as tf
import test_case as tc

import ar_keras as ark
from ar_keras.models.multiscale.multiscale import MultiscalePixelCNN


def tiny(**overrides):
    return ark.models.get("multiscale", preset="tiny", **overrides)


def test_groups_partition_in_paper_order():
    model = tiny(image_shape=(4, 4, 2), num_levels=3)
    groups = model.groups
    index = np.arange(4 * 4 * 2).reshape(4, 4, 2)  # flattened element ids
    expected = [
        index[0, 0, [0]],
        index[0, 0, [1]],  # 1x1 base: R then G
        # scale 1 (the 2x2 image x[::2, ::2]): upper-right, lower-left, lower-right
        index[0, 2, [0]],
        index[0, 2, [1]],
        index[2, 0, [0]],
        index[2, 0, [1]],
        index[2, 2, [0]],
        index[2, 2, [1]],
    ]
    for dy, dx in ((0, 1), (1, 0), (1, 1)):  # scale 2: 2x2 corner grids
        for c in range(2):
            expected.append(index[dy::2, dx::2, c].reshape(-1))
    assert len(groups) == len(expected) == model.num_network_evaluations
    for got, want in zip(groups, expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(model.ordering, np.concatenate(expected))
    np.testing.assert_array_equal(np.sort(model.ordering), np.arange(32))
    # The core's padded [S, G] form: each group, then elements of the last group (G = 4).
    padded = model.sampling_groups(32).numpy()
    assert padded.shape == (len(groups), 4)
    for row, group in zip(padded, groups):
        np.testing.assert_array_equal(row[: len(group)], group)
        assert set(row[len(group) :].tolist()) <= set(groups[-1].tolist())


def test_full_dependency_on_earlier_groups():
    """No element depends on another of its group; each depends on every earlier group."""
    model = tiny(image_shape=(4, 4, 2), num_levels=3)
    tc.sharpen(model, 1.5)
    tc.check_causality(model, full_dependency=True, trials=3)


def test_a_cached_step_equals_the_network_on_a_partial_sample():
    model = tiny(image_shape=(4, 4, 2), num_levels=3, num_classes=2)
    tc.sharpen(model, 1.5)
    groups = model.sampling_groups(32).numpy()
    full = tc.random_data(model, 2, seed=3).reshape(2, 32)
    labels = np.array([0, 1], np.int32)
    cache = model.init_cache(2, labels)
    for s in range(len(groups)):
        known = np.isin(np.arange(32), np.concatenate(model.groups[:s] + [[]]))
        x = tf.constant(np.where(known, full, 0), tf.int32)  # earlier groups drawn
        params, cache = model.step(x, cache, tf.constant(s), labels)
        size = len(model.groups[s])  # the padding is not read
        want = tf.gather(model.element_params(x, labels), groups[s, :size], axis=1)  # [2, g, K]
        np.testing.assert_allclose(params.numpy()[:, :size], want.numpy(), rtol=1e-5, atol=1e-5)


def count(model):
    """Drives the cache protocol over every group: the cache's counters at the end."""
    D = model.event_size
    cache = model.init_cache(1)
    x = tf.zeros([1, D], tf.int32)
    for s in range(len(model.groups)):
        _, cache = model.step(x, cache, tf.constant(s))
    return cache["evaluations"].numpy(), int(cache["pixels"].numpy())


@pytest.mark.parametrize("channels", [1, 3])
def test_one_evaluation_per_group_of_its_own_scale_only(channels):
    counted = {}
    for side in (1, 2, 4, 8):
        model = tiny(image_shape=(side, side, channels))
        evaluations, pixels = count(model)
        L = int(np.log2(side))
        # Per network: the base (1x1, C steps), then 3C evaluations at every scale.
        np.testing.assert_array_equal(evaluations, [channels] + [3 * channels] * L)
        assert (
            evaluations.sum()
            == len(model.groups)
            == MultiscalePixelCNN.network_evaluations((side, side, channels), 1)
        )
        # Each evaluation read only its own scale's image (side 2^l), not the whole image.
        assert pixels == channels + sum(3 * channels * 4**l for l in range(1, L + 1))
        counted[side] = evaluations.sum()
    # evaluations(2s) - evaluations(s) is a constant (3C): const x log2(side) in all.
    assert {counted[2 * s] - counted[s] for s in (1, 2, 4)} == {3 * channels}


def test_evaluation_count_grows_with_log_side():
    f = MultiscalePixelCNN.network_evaluations
    for b in (1, 2, 4):
        steps = [f((b * 2**k, b * 2**k, 3), b) for k in range(10)]
        assert set(np.diff(steps).tolist()) == {9}
    # 64x64x3 from a 4x4 base: 48 + 4 x 9 = 84 evaluations against N = 12,288 elements.
    assert f((64, 64, 3), 4) == 84
    assert f((64, 64, 3), 4) * 100 < 64 * 64 * 3


def test_bad_shapes_and_arguments():
    with pytest.raises(ValueError, match="base_size x 2"):
        tiny(image_shape=(3, 3, 1))
    with pytest.raises(ValueError, match="base_size x 2"):
        tiny(image_shape=(2, 4, 1))  # not square
    with pytest.raises(ValueError, match="base_size x 2"):
        tiny(image_shape=(12, 12, 1), base_size=4, num_base_layers=1)  # 12 = 4 x 3
    with pytest.raises(ValueError, match="num_base_layers"):
        tiny(image_shape=(4, 4, 1), base_size=2, num_base_layers=0)
    with pytest.raises(ValueError, match="base_size"):
        tiny(base_size=0)
    with pytest.raises(ValueError, match="base_size x 2"):
        MultiscalePixelCNN.network_evaluations((48, 48, 3), 4)
