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
