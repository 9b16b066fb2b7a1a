"""The one ancestral sampler: full recompute or the cache protocol, groups of elements per step.

An autoregressive model factorises ``p(x) = prod_s p(x_{G_s} | x_{G_<s})`` over
a partition of the D elements into groups ``G_0, G_1, ...`` that are generated
in turn; the elements of one group are conditionally independent given the
earlier groups.  Raster models have groups of one element (``G_s = {o(s)}``
for an ordering ``o``); multiscale and subscale models generate many elements
per network evaluation.  `run` draws the groups in order inside one
`tf.while_loop`:

* ``cache=False`` (the reference): at step ``s`` the whole network runs on the
  partial sample and the parameters of group ``G_s`` are kept: one network
  pass per group.
* ``cache=True``: the model's cache protocol,
  ``init_cache(n, conditional) -> cache`` and
  ``step(x, cache, s, conditional) -> (params, cache)``, where ``x [n, D]`` is
  the partial sample (every element of ``G_<s`` drawn, the others zero) and
  ``params`` are the parameters of ``G_s``: ``[n, P]`` for a group of one,
  ``[n, G, P]`` otherwise.

Noise: step ``s`` asks its noise source for the uniforms of ``G_s`` only
(`ar_keras.core.noise`: keyed by ``(seed, sample, element)``), so memory does
not grow with ``D x levels``, and both paths see the same noise.  The head
turns ``(params, uniforms, temperature)`` into values of its ``sample_dtype``
(int32 levels or float32 values), written into ``x`` with one scatter of the
group's ``n x G`` entries.

Example:
    >>> import ar_keras as ark
    >>> from ar_keras.core import noise, sampler
    >>> model = ark.models.get("nade", preset="tiny")
    >>> keys = noise.sample_keys(0, 4)
    >>> x = sampler.run(model, noise.KeyedNoise(keys, model.head.noise_depth), 4, cache=True)
    >>> x.shape                                              # [n, D], flattened
    TensorShape([4, 4])
"""

import tensorflow as tf

__all__ = ["run", "raster_groups", "scatter_group", "SamplingProtocol"]


def raster_groups(order):
    """An ordering ``[D]`` -> groups of one ``[D, 1]``."""
    return tf.reshape(tf.cast(order, tf.int32), [-1, 1])  # [D] -> [D, 1]


def scatter_group(x, group, values):
    """``x[:, group] = values`` for ``x [n, D]``, ``group [G]``, ``values [n, G]``: O(n G) writes."""
    n, g = tf.shape(values)[0], tf.shape(group)[0]
    rows = tf.repeat(tf.range(n), g)  # [n G]
    cols = tf.tile(group, [n])  # [n G]
    index = tf.stack([rows, cols], axis=1)  # [n G, 2]
    return tf.tensor_scatter_nd_update(x, index, tf.reshape(values, [-1]))  # [n, G] -> [n G]


def _draw(head, params, uniforms, temperature):
    """``params [n, G, P]``, ``uniforms [n, G, depth]`` -> values ``[n, G]``."""
    n, g = tf.shape(params)[0], tf.shape(params)[1]
    # Static P and d where known: TFLite folds the heads' slicing only on static shapes.
    flat = head.sample(
        tf.reshape(params, [n * g, params.shape[-1] or -1]),  # [n, G, P] -> [nG, P]
        tf.reshape(uniforms, [n * g, uniforms.shape[-1] or -1]),  # [n, G, d] -> [nG, d]
        temperature,
    )
    return tf.reshape(flat, [n, g])  # [nG] -> [n, G]


def run(model, noise, num_samples, num_elements=None, conditional=None, temperature=1.0, cache=True):
    """Samples ``num_samples`` examples: ``[n, D]`` of the head's ``sample_dtype``.

    Args:
        model: an `ar_keras.core.AutoregressiveModel` (``head``,
            ``sampling_groups``, ``element_params``; ``init_cache`` / ``step``
            when ``cache``).
        noise: a `KeyedNoise` or `GivenNoise`.
        num_samples: n (int or scalar tensor).
        num_elements: D; None takes the model's fixed event size.
        conditional: checked conditioning for the n samples, or None.
        temperature: scalar > 0.
        cache: True for the cache protocol, False for full recompute.
    """
    head = model.head
    D = model.event.num_elements() if num_elements is None else num_elements
    groups = model.sampling_groups(D)  # [S, G]
    steps = tf.shape(groups)[0]
    x = tf.zeros(tf.stack([num_samples, D]), head.sample_dtype)
    temperature = tf.convert_to_tensor(temperature, tf.float32)

    def draw(s, x, params):
        group = tf.gather(groups, s)  # [G]
        if params.shape.rank == 2:
            params = tf.expand_dims(params, 1)  # [n, P] -> [n, 1, P]
        values = _draw(head, params, noise.at(group), temperature)  # [n, G]
        return scatter_group(x, group, values)

    if cache:
        state = model.init_cache(num_samples, conditional)

        def body(s, x, state):
            params, state = model.step(x, state, s, conditional)
            return [s + 1, draw(s, x, params), state]

        _, x, _ = tf.while_loop(
            lambda s, *_: s < steps, body, [tf.constant(0), x, state], maximum_iterations=steps
        )
        return x

    def full_body(s, x):
        params = tf.gather(model.element_params(x, conditional), tf.gather(groups, s), axis=1)  # [n, G, P]
        return [s + 1, draw(s, x, params)]

    _, x = tf.while_loop(lambda s, *_: s < steps, full_body, [tf.constant(0), x], maximum_iterations=steps)
    return x


class SamplingProtocol:
    """Mixin: the defaults of what `run` asks of a model, shared by every autoregressive kind.

    A subclass provides ``head``, ``ordering`` (``[D]``, the element drawn at
    step t) and ``element_params(x [n, D], conditional) -> [n, D, P]``; it may
    override `sampling_groups` (groups of several elements per step) and
    implement the cache protocol ``init_cache`` / ``step``.
    """

    @property
    def exact_conditionals(self):
        """True: the conditionals are ``p(x_{o(t)} | x_{o(<t)})`` by construction."""
        return True

    def sampling_groups(self, num_elements):
        """``[S, G]`` int32: the elements generated at each step (the ordering, groups of one)."""
        del num_elements  # fixed event size: the ordering says it all
        return raster_groups(tf.constant(self.ordering, tf.int32))

    def element_params(self, x, conditional=None):
        """``x [n, D]`` (partial sample, data order) -> head params ``[n, D, P]``."""
        raise NotImplementedError

    @property
    def supports_cache(self):
        """True when the model implements ``init_cache`` / ``step``."""
        return type(self).init_cache is not SamplingProtocol.init_cache

    def init_cache(self, batch, conditional=None):
        """Cache protocol (optional): the state before the first step."""
        raise NotImplementedError

    def step(self, x, cache, index, conditional=None):
        """Cache protocol (optional): params of group ``index`` from the partial sample ``x [n, D]``."""
        raise NotImplementedError

    def previous_value(self, x, index):
        """The value drawn at step ``index - 1`` (``x [n, D]`` partial sample; zeros at step 0).

        For groups of one: ``x[:, o(index - 1)]``.
        """
        groups = self.sampling_groups(tf.shape(x)[1])
        previous = tf.gather(groups[:, 0], tf.maximum(index - 1, 0))
        value = tf.gather(x, previous, axis=1)  # [n]
        return tf.where(index > 0, value, tf.zeros_like(value))

    def sample_elements(
        self, noise, num_samples, num_elements, conditional=None, temperature=1.0, cache=True
    ):
        """`run` over this model: ``[n, D]`` of ``head.sample_dtype``, the cached path where
        the model has one."""
        return run(
            self,
            noise,
            num_samples,
            num_elements,
            conditional,
            temperature,
            cache=bool(cache) and self.supports_cache,
        )
