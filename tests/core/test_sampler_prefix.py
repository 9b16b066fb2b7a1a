"""The sampler's prefix entry point: a sample started at group ``start`` keeps the prefix.

`ar_keras.core.sampler.run(..., prefix=x, start=s)` observes the groups ``G_<s``
of ``x`` and draws the rest.  The cached path fills the cache from the prefix
(`SamplingProtocol.fill_cache`), the full-recompute path only reads it; with the
same keyed noise both must draw the same values after the prefix, and a prefix
cut from an unconditional sample must give that sample back (the noise of
element d is keyed ``(seed, sample, d)``, so the continuation sees the noise the
unconditional sample drew with).
"""

import numpy as np
import pytest
import sequence_case as sc
import tensorflow as tf
import test_case as tc

import ar_keras as ark
from ar_keras.core import noise, sampler

N = 3
# (model, overrides, T for sequences): an image model with labels, a multiscale image
# model (groups of several elements, padded), a sequence model with labels and a subscale
# WaveRNN (staggered groups with padding that is not drawn; a staged coarse-then-fine draw).
CASES = [
    ("gated_pixelcnn", {"num_classes": 3}, None),
    ("multiscale", {}, None),
    ("wavenet", {"num_classes": 3}, 10),
    ("wavernn", {"num_levels": 16, "subscale": 2, "horizon": 1}, 8),
]


def _model_and_conditional(name, overrides, length):
    model = ark.models.get(name, preset="tiny", **overrides)
    tc.sharpen(model, 1.5)
    if length is None:
        c = tc.labels_for(model, N)
    else:
        c = sc.conditional_for(model, N, length)
    return model, model.check_conditional(c, batch=N, length=length)


def _run(model, seed, D, c, cache, prefix=None, start=0):
    keys = noise.sample_keys(seed, N)
    source = noise.KeyedNoise(keys, model.noise_depth)
    with model.precision_scope():
        x = sampler.run(model, source, N, D, c, 1.0, cache=cache, prefix=prefix, start=start)
    return np.asarray(x)


@pytest.mark.parametrize("name, overrides, length", CASES, ids=[c[0] for c in CASES])
def test_a_sample_from_a_prefix_keeps_it_and_both_paths_draw_the_same(name, overrides, length):
    model, c = _model_and_conditional(name, overrides, length)
    D = model.event.num_elements(length)
    groups = np.asarray(model.sampling_groups(D))  # [S, G]
    drawn_at = np.asarray(sampler.element_steps(groups, D))  # [D]
    start = len(groups) // 2 + 1  # not at a row or frame boundary of the tiny shapes
    observed = drawn_at < start
    assert observed.any() and not observed.all()
    prefix = model.event.random(N, length, seed=5).reshape(N, D)  # [n, D] of levels
    cached = _run(model, 7, D, c, True, prefix, start)
    full = _run(model, 7, D, c, False, prefix, start)
    np.testing.assert_array_equal(cached[:, observed], prefix[:, observed], err_msg="prefix not kept")
    np.testing.assert_array_equal(
        cached, full, err_msg="cached and full recompute draw differently after the prefix"
    )


@pytest.mark.parametrize("name, overrides, length", CASES, ids=[c[0] for c in CASES])
def test_the_prefix_of_a_sample_gives_that_sample_back(name, overrides, length):
    model, c = _model_and_conditional(name, overrides, length)
    D = model.event.num_elements(length)
    whole = _run(model, 11, D, c, True)
    assert np.array_equal(whole, _run(model, 11, D, c, False))
    S = int(model.sampling_groups(D).shape[0])
    for start in (0, 1, S // 2, S):
        for cache in (True, False):
            again = _run(model, 11, D, c, cache, whole, start)
            np.testing.assert_array_equal(again, whole, err_msg=f"start={start}, cache={cache}")


def test_prefix_arguments_are_checked():
    model = ark.models.get("nade", preset="tiny")
    source = noise.KeyedNoise(noise.sample_keys(0, 2), model.noise_depth)
    with pytest.raises(ValueError, match="needs a prefix"):
        sampler.run(model, source, 2, start=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most the number of sampling groups"):
        sampler.run(model, source, 2, prefix=tf.zeros([2, 4], tf.int32), start=5)


def test_vpn_context_frames_are_its_prefix():
    """vpn's conditional is the video's first frames: `sampling_prefix` hands them to the sampler."""
    model = ark.models.get("vpn", preset="tiny")
    tc.sharpen(model, 1.5)
    whole = model.sample(N, seed=3).numpy()  # [n, T, H, W, C]
    for frames in (1, 2):
        context = whole[:, :frames]
        for cache in (True, False):
            again = model.sample(N, conditional=context, seed=3, cache=cache).numpy()
            np.testing.assert_array_equal(again, whole, err_msg=f"T0={frames}, cache={cache}")
    prefix, start = model.sampling_prefix(N, model.event_size, tf.constant(whole[:, :2]))
    assert int(start) == 2 * model.frame_size
    np.testing.assert_array_equal(np.asarray(prefix)[:, : int(start)], whole[:, :2].reshape(N, -1))
