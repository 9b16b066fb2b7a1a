"""Sampling helpers at the package's top level: the keyed noise and the one sampler.

`ar_keras.core.noise` holds the noise keyed by (seed, sample, element) and
`ar_keras.core.sampler` the sampler; this module names what scripts and
benchmarks use.

Example:
    >>> import ar_keras as ark
    >>> from ar_keras.sampling import sample_cached, seeded_noise
    >>> model = ark.models.get("nade", preset="tiny")
    >>> D = model.event.num_elements()
    >>> noise = seeded_noise(seed=0, num_samples=4, num_elements=D, depth=model.noise_depth)
    >>> x = sample_cached(model, noise)          # == model.sample(4, seed=0), flattened
"""

import tensorflow as tf

from ar_keras.core import sampler
from ar_keras.core.noise import GivenNoise, KeyedNoise, sample_keys, seeded_noise, uniform_noise

__all__ = [
    "sample_keys",
    "seeded_noise",
    "uniform_noise",
    "KeyedNoise",
    "GivenNoise",
    "sample_full",
    "sample_cached",
]


def _run(model, noise, conditional, temperature, cache):
    source = GivenNoise(noise)
    D = source.noise.shape[1] if source.noise.shape[1] is not None else tf.shape(source.noise)[1]
    return sampler.run(model, source, source.num_samples, D, conditional, temperature, cache)


def sample_full(model, noise, conditional=None, temperature=1.0):
    """Full recompute from given uniforms ``noise [n, D, depth]``: ``[n, D]`` (flattened)."""
    return _run(model, noise, conditional, temperature, cache=False)


def sample_cached(model, noise, conditional=None, temperature=1.0):
    """The cache protocol from given uniforms ``noise [n, D, depth]``: ``[n, D]`` (flattened)."""
    return _run(model, noise, conditional, temperature, cache=True)
