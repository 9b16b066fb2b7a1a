"""The generic ancestral sampler: full recompute, and the cache protocol.

An autoregressive model factorises ``p(x) = prod_t p(x_{o(t)} | x_{o(<t)})``
for an ordering ``o``.  Sampling draws the elements one at a time in that
order.  Both paths below run inside one `tf.while_loop`:

* `sample_full`: the reference.  At step ``t`` it runs the whole network on
  the partial sample and keeps only element ``o(t)``'s parameters: D network
  passes for D elements.
* `sample_cached`: a model that can do better provides
  ``init_cache(batch, conditional) -> cache`` and
  ``step(x_prev, cache, t, conditional) -> (params [n, P], cache)``, where
  ``x_prev [n]`` is the value just drawn for element ``o(t-1)`` (ignored at
  ``t = 0``) and ``params`` are element ``o(t)``'s head parameters.

Noise is drawn before the loop by a stateless generator keyed by
``(seed, sample index, element index)``, ``noise_depth`` uniforms per element, so
element ``d`` of sample ``i`` always sees the same noise whichever path runs:
the two paths give identical samples, and the same seed gives the same sample
whatever the batch size.  TFLite, which cannot run stateless random ops, gets
the noise tensor as an input (`ar_keras.export.tflite`).

Example:
    >>> noise = seeded_noise(seed=0, num_samples=4, num_elements=64, depth=17)
    >>> noise.shape
    TensorShape([4, 64, 17])
"""

import tensorflow as tf

__all__ = ["sample_keys", "seeded_noise", "uniform_noise", "sample_full", "sample_cached"]


def sample_keys(seed, num_samples):
    """Stateless keys ``[(seed, 0), (seed, 1), ...]``: ``[n, 2]`` int64."""
    index = tf.range(num_samples, dtype=tf.int64)
    return tf.stack([tf.fill([num_samples], tf.cast(seed, tf.int64)), index], axis=1)


def seeded_noise(seed, num_samples, num_elements, depth):
    """Uniform(0, 1) noise ``[n, D, depth]`` for samples ``0..n-1`` of ``seed``.

    One Philox stream seeded ``(seed, 0)`` fills the tensor in row-major
    order, so the noise of sample ``i``, element ``d`` is a fixed function of
    ``(seed, i, d)``: drawing fewer or more samples never changes the first
    ones.  Philox is named explicitly so CPU and GPU draw the same numbers.
    """
    return tf.random.stateless_uniform(
        [num_samples, num_elements, depth],
        seed=tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)]), alg="philox")


def uniform_noise(keys, num_elements, depth):
    """Noise for explicit keys ``[n, 2]``: key ``(s, i)`` is sample ``i`` of seed ``s``.

    Row ``j`` equals ``seeded_noise(keys[j, 0], i + 1, ...)[i]`` for
    ``i = keys[j, 1]``; it costs ``O(i)``, so use small indices (a serving
    request passes ``(seed, 0)``).
    """

    def one(key):
        rows = seeded_noise(key[0], key[1] + 1, num_elements, depth)   # [i+1, D, depth]
        return rows[-1]

    return tf.map_fn(one, tf.cast(keys, tf.int64),
                     fn_output_signature=tf.TensorSpec([num_elements, depth], tf.float32))


def _write(x, position, value, num_elements):
    """``x[:, position] = value`` for ``x [n, D]``, ``value [n]``."""
    hit = tf.equal(tf.range(num_elements), position)[None, :]  # [1, D]; D may be dynamic
    return tf.where(hit, value[:, None], x)


def sample_full(model, noise, conditional=None, temperature=1.0):
    """Reference sampler: one whole network pass per element.

    Args:
        model: an `AutoregressiveModel` (uses ``element_params``, ``head`` and
            ``sampling_order``).
        noise: ``[n, D, noise_depth]`` uniforms.
        conditional: optional conditioning, batch ``n``.
        temperature: scalar > 0.

    Returns:
        int32 ``[n, D]`` in the flattened element order.
    """
    n, num = tf.shape(noise)[0], tf.shape(noise)[1]
    order = model.sampling_order(num)

    def body(t, x):
        d = order[t]
        params = model.element_params(x, conditional)          # [n, D, P]
        value = model.head.sample(tf.gather(params, d, axis=1),
                                  tf.gather(noise, d, axis=1), temperature)  # [n]
        return t + 1, _write(x, d, value, num)

    _, x = tf.while_loop(lambda t, x: t < num, body,
                         [tf.constant(0), tf.zeros([n, num], tf.int32)],
                         maximum_iterations=num)
    return x


def sample_cached(model, noise, conditional=None, temperature=1.0):
    """Cached sampler over the model's ``init_cache`` / ``step`` protocol.

    Same arguments and result as `sample_full`.
    """
    n, num = tf.shape(noise)[0], tf.shape(noise)[1]
    order = model.sampling_order(num)
    cache = model.init_cache(n, conditional)

    def body(t, x, x_prev, cache):
        params, cache = model.step(x_prev, cache, t, conditional)   # [n, P]
        d = order[t]
        value = model.head.sample(params, tf.gather(noise, d, axis=1), temperature)  # [n]
        return t + 1, _write(x, d, value, num), value, cache

    _, x, _, _ = tf.while_loop(
        lambda t, *_: t < num, body,
        [tf.constant(0), tf.zeros([n, num], tf.int32), tf.zeros([n], tf.int32), cache],
        maximum_iterations=num)
    return x
