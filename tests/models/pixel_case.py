"""A check the pixel models' own tests share (beyond the harness's contract)."""

import numpy as np
import test_case as tc


def check_cached_sampling_equals_full(model, labels, seed, sharpness=1.5):
    """``sample(cache=True) == sample(cache=False)`` on a sharpened model, and not constant.

    ``labels``: the class of each of the samples (their number), or None for
    an unconditional model.  Sharpening the weights makes the conditionals
    peaked, so that a wrong cache shows up as different samples.
    """
    tc.sharpen(model, sharpness)
    labels = None if model.num_classes is None else np.asarray(labels, np.int32)
    n = 4 if labels is None else len(labels)
    cached = model.sample(n, conditional=labels, seed=seed, cache=True).numpy()
    full = model.sample(n, conditional=labels, seed=seed, cache=False).numpy()
    np.testing.assert_array_equal(cached, full)
    assert len(np.unique(cached)) > 1
    return cached
