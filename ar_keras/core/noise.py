"""Sampling noise keyed by (seed, sample, element): drawn per step, never up front.

Every sampler of ar_keras takes its randomness from uniforms

    u(s, i, d, k) in (0, 1)      seed s, sample i, element d, draw k < depth

that are a pure function of those four integers (a counter-based generator,
like Philox, but written with plain integer ops so that it runs for any
shape of indices in one vectorised call, on CPU, GPU and under XLA alike).
Hence:

* the same seed gives the same samples, whatever the batch size n (sample i
  sees the same noise in ``sample(2)`` and ``sample(64)``) and whatever path
  draws them (``cache=True`` or full recompute);
* a step draws only the noise of the elements it writes:
  ``[n, group, depth]`` floats, so sampling memory does not grow with the
  size of the example times the levels (64 clips x 16,000 samples x 256
  levels up front would be 1 GB);
* a SavedModel request with per-sample seeds ``seeds[j]`` uses the key
  ``(seeds[j], 0)``: exactly ``model.sample(1, seed=seeds[j])``.

The generator: the four integers are folded into one 32-bit state by the
MurmurHash3 finaliser (``fmix32``, Appleby 2008), one round per integer, and
the top 24 bits of the result give ``u = (b + 0.5) / 2^24``, never 0 or 1.
32-bit arithmetic is emulated in int64 (multiply, then mask the low 32 bits),
which TensorFlow and XLA support on every device.

`GivenNoise` serves a noise tensor ``[n, D, depth]`` through the same
interface: TFLite cannot run the generator's bit ops in all runtimes, so its
signatures take the noise as an input.

Example:
    >>> keys = sample_keys(seed=0, num_samples=4)                  # [4, 2] int64
    >>> u = KeyedNoise(keys, depth=17).at(tf.constant([0, 1]))     # [4, 2, 17]
    >>> bool(tf.reduce_all((u > 0) & (u < 1)))
    True
"""

import tensorflow as tf

__all__ = ["sample_keys", "keyed_uniform", "KeyedNoise", "GivenNoise", "seeded_noise", "uniform_noise"]

_MASK = 0xFFFFFFFF


def _mul32(a, b):
    """``a * b mod 2^32`` for int64 ``a`` holding 32-bit values and a 32-bit constant ``b``.

    Multiplied in 16-bit halves so that no int64 product overflows (signed
    overflow is undefined behaviour in the C++ kernels).
    """
    a_lo, a_hi = tf.bitwise.bitwise_and(a, 0xFFFF), tf.bitwise.right_shift(a, 16)
    b_lo, b_hi = b & 0xFFFF, b >> 16
    cross = tf.bitwise.bitwise_and(a_hi * b_lo + a_lo * b_hi, 0xFFFF)
    return tf.bitwise.bitwise_and(a_lo * b_lo + tf.bitwise.left_shift(cross, 16), _MASK)


def _fmix32(h):
    """MurmurHash3's 32-bit finaliser: full avalanche of a 32-bit state (int64 holder)."""
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 16))
    h = _mul32(h, 0x85EBCA6B)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 13))
    h = _mul32(h, 0xC2B2AE35)
    return tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 16))


def _fold(h, value):
    """Mixes one more integer (any int64, folded to 32 bits) into the state ``h``."""
    v = tf.bitwise.bitwise_xor(
        tf.bitwise.bitwise_and(value, _MASK), tf.bitwise.bitwise_and(tf.bitwise.right_shift(value, 32), _MASK)
    )
    mixed = tf.bitwise.bitwise_and(tf.bitwise.bitwise_xor(_mul32(h, 0x9E3779B1), v) + 0x7F4A7C15, _MASK)
    return _fmix32(mixed)


def keyed_uniform(seed, sample, element, depth):
    """Uniforms ``u(seed, sample, element, k)`` for ``k < depth``: shape ``[..., depth]``.

    Args:
        seed, sample, element: int tensors broadcastable to one shape ``S``.
        depth: int, the uniforms per element.

    Returns:
        float32 ``[*S, depth]`` in ``(0, 1)``.
    """
    seed, sample, element = (tf.cast(v, tf.int64) for v in (seed, sample, element))
    h = _fold(_fold(_fold(tf.constant(0x3C6EF372, tf.int64), seed), sample), element)
    draws = tf.range(depth, dtype=tf.int64)  # [depth]
    h = _fold(h[..., None], draws)  # [*S, depth]
    top = tf.bitwise.right_shift(h, 8)  # 24 bits
    return (tf.cast(top, tf.float32) + 0.5) * (1.0 / 16777216.0)


def sample_keys(seed, num_samples):
    """Stateless keys ``[(seed, 0), (seed, 1), ...]``: ``[n, 2]`` int64."""
    index = tf.range(num_samples, dtype=tf.int64)
    return tf.stack([tf.fill([num_samples], tf.cast(seed, tf.int64)), index], axis=1)


class KeyedNoise:
    """The noise of samples keyed ``keys [n, 2]`` (``(seed, sample)`` rows)."""

    def __init__(self, keys, depth):
        self.keys = tf.cast(keys, tf.int64)
        self.depth = int(depth)

    @property
    def num_samples(self):
        return tf.shape(self.keys)[0]

    def at(self, elements):
        """Noise of the elements ``elements [G]``: float32 ``[n, G, depth]``."""
        elements = tf.cast(elements, tf.int64)
        return keyed_uniform(self.keys[:, :1], self.keys[:, 1:], elements[None, :], self.depth)

    def all(self, num_elements):
        """Noise of every element ``0 .. D-1``: ``[n, D, depth]`` (small events only)."""
        return self.at(tf.range(num_elements))


class GivenNoise:
    """A noise tensor ``[n, D, depth]`` served through the `KeyedNoise` interface."""

    def __init__(self, noise):
        self.noise = tf.convert_to_tensor(noise, tf.float32)
        self.depth = self.noise.shape[-1]

    @property
    def num_samples(self):
        return tf.shape(self.noise)[0]

    def at(self, elements):
        return tf.gather(self.noise, elements, axis=1)  # [n, G, depth]

    def all(self, num_elements):
        del num_elements
        return self.noise


def seeded_noise(seed, num_samples, num_elements, depth):
    """The whole noise ``[n, D, depth]`` that ``sample(n, seed=seed)`` uses (for tests and TFLite)."""
    return KeyedNoise(sample_keys(seed, num_samples), depth).all(num_elements)


def uniform_noise(keys, num_elements, depth):
    """The whole noise ``[n, D, depth]`` of explicit keys ``[n, 2]``."""
    return KeyedNoise(keys, depth).all(num_elements)
