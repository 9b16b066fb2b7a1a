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

A group keeps the width G of every other: a step that draws fewer elements lists
some as *padding*, either an element drawn for real at a later step (the value
drawn here is replaced then), or ``-(d + 1)`` for element d, whose parameters are
computed with the group's but whose value is left as it is (`group_elements`).

Noise: step ``s`` asks its noise source for the uniforms of ``G_s`` only
(`ar_keras.core.noise`: keyed by ``(seed, sample, element)``), so memory does
not grow with ``D x levels``, and both paths see the same noise.  The head
turns ``(params, uniforms, temperature)`` into values of its ``sample_dtype``
(int32 levels or float32 values), written into ``x`` with one scatter of the
group's ``n x G`` entries.

The draw is the model's hook `SamplingProtocol.draw_group` (the head's sample
by default; a staged draw, such as a dual softmax's coarse then fine bits, asks
for the parameters again in between).  With a ``prefix`` and ``start``, the groups ``G_<start`` are
observed rather than drawn (video context frames, completion of a prompt): the
loop starts at group ``start``, the cache filled from the prefix first
(`SamplingProtocol.fill_cache`).

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

__all__ = [
    "run",
    "raster_groups",
    "scatter_group",
    "element_steps",
    "group_elements",
    "write_group",
    "draw_with_head",
    "fill_cache_by_steps",
    "SamplingProtocol",
]


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


def write_group(x, group, values):
    """``values [n, G]`` into the elements of ``group [G]`` that it draws (`group_elements`:
    its ``-(d + 1)`` padding keeps the value it has)."""
    elements, drawn = group_elements(group)
    values = tf.where(drawn[None, :], values, tf.gather(x, elements, axis=1))
    return scatter_group(x, elements, values)


def _draw(head, params, uniforms, temperature, truncation=None):
    """``params [n, G, P]``, ``uniforms [n, G, depth]`` -> values ``[n, G]``."""
    n, g = tf.shape(params)[0], tf.shape(params)[1]
    # Static P and d where known: TFLite folds the heads' slicing only on static shapes.
    flat = head.sample(
        tf.reshape(params, [n * g, params.shape[-1] or -1]),  # [n, G, P] -> [nG, P]
        tf.reshape(uniforms, [n * g, uniforms.shape[-1] or -1]),  # [n, G, d] -> [nG, d]
        temperature,
        truncation,
    )
    return tf.reshape(flat, [n, g])  # [nG] -> [n, G]


def group_elements(group):
    """``group [..., G]`` -> ``(elements, drawn)``: the element of each entry (``-(d + 1)``
    lists element d as padding) and whether the step draws it (False for such padding).

    Example:
        >>> elements, drawn = group_elements(tf.constant([4, -3]))
        >>> elements.numpy().tolist(), drawn.numpy().tolist()
        ([4, 2], [True, False])
    """
    group = tf.convert_to_tensor(group, tf.int32)
    drawn = group >= 0
    return tf.where(drawn, group, -group - 1), drawn


def element_steps(groups, num_elements):
    """``[D]`` int32: the step at which each element is drawn (``S`` for an element of no group).

    ``groups [S, G]`` as `SamplingProtocol.sampling_groups` gives them; an element listed in
    several groups (padding) takes its last one, not counting the ``-(d + 1)`` listings.
    """
    elements, drawn = group_elements(groups)  # [S, G]
    steps, g = tf.shape(elements)[0], tf.shape(elements)[1]
    at = tf.where(tf.reshape(drawn, [-1]), tf.repeat(tf.range(steps), g), -1)  # [S G]
    last = tf.tensor_scatter_nd_max(
        tf.fill(tf.reshape(num_elements, [1]), -1), tf.reshape(elements, [-1, 1]), at
    )  # [D]: the last step drawing each element, -1 for none
    return tf.where(last < 0, steps, last)


def draw_with_head(head, params, uniforms, temperature, truncation=None):
    """The default draw: ``head.sample`` per element, ``params [n, G, P]`` -> values ``[n, G]``
    (``truncation``: None, or the top-k / top-p `Truncation` the head applies)."""
    return _draw(head, params, uniforms, temperature, truncation)


def _init_cache(model, batch, num_elements, conditional):
    """`SamplingProtocol.init_cache_for` where the model has it (a plain protocol object
    may not), else its ``init_cache``."""
    init = getattr(model, "init_cache_for", None)
    return init(batch, num_elements, conditional) if init else model.init_cache(batch, conditional)


def fill_cache_by_steps(model, x, start, conditional=None):
    """The cache state before step ``start``: `init_cache`, then ``step`` over the groups
    ``G_<start`` of ``x [n, D]``, step ``s`` seeing the partial sample of ``G_<s`` only."""
    groups = model.sampling_groups(tf.shape(x)[1])
    drawn_at = element_steps(groups, tf.shape(x)[1])  # [D]
    cache = _init_cache(model, tf.shape(x)[0], x.shape[1] or tf.shape(x)[1], conditional)

    staged = getattr(model, "staged_draw", False)

    def body(s, cache):
        partial = tf.where(drawn_at[None, :] < s, x, tf.zeros_like(x))  # the groups before s
        _, stepped = model.step(partial, cache, s, conditional)
        if staged:  # the state after the group's values (`SamplingProtocol.staged_draw`)
            values = tf.gather(x, group_elements(tf.gather(groups, s))[0], axis=1)  # [n, G]
            _, stepped = model.restep(partial, values, cache, stepped, s, conditional)
        return [s + 1, stepped]

    _, cache = tf.while_loop(lambda s, _: s < start, body, [tf.constant(0), cache])
    return cache


def _as_group_params(params):
    """``[n, P]`` (a group of one) -> ``[n, 1, P]``; ``[n, G, P]`` unchanged."""
    return tf.expand_dims(params, 1) if params.shape.rank == 2 else params


def run(
    model,
    noise,
    num_samples,
    num_elements=None,
    conditional=None,
    temperature=1.0,
    cache=True,
    prefix=None,
    start=0,
    truncation=None,
):
    """Samples ``num_samples`` examples: ``[n, D]`` of the head's ``sample_dtype``.

    With a ``prefix``, the groups ``G_0 .. G_{start-1}`` are observed, not drawn:
    the sample keeps their values and the loop draws ``G_start, G_start+1, ...``
    from ``p(x_{G_s} | x_{G_<s})``, the noise of element d still keyed
    ``(seed, sample, d)``.  The cached path fills the cache from the prefix
    first (`SamplingProtocol.fill_cache`).  Each group's values come from the
    model's draw hook, `SamplingProtocol.draw_group`.

    Args:
        model: an `ar_keras.core.AutoregressiveModel` (``head``,
            ``sampling_groups``, ``element_params``, ``draw_group``; ``init_cache`` /
            ``step`` / ``fill_cache`` when ``cache``).
        noise: a `KeyedNoise` or `GivenNoise`.
        num_samples: n (int or scalar tensor).
        num_elements: D; None takes the model's fixed event size.
        conditional: checked conditioning for the n samples, or None.
        temperature: scalar > 0.
        cache: True for the cache protocol, False for full recompute.
        prefix: None, or ``[n, D]`` of the head's ``sample_dtype``: the observed
            values of the elements of groups ``< start`` (the other entries are
            ignored: zeroed before the first draw).
        start: the first group drawn (int or scalar int32 tensor, ``0 <= start <= S``);
            only with a ``prefix``.
        truncation: None, or a top-k / top-p `ar_keras.distributions.truncation.Truncation`
            of every draw (a discrete head's).

    Example:
        >>> import ar_keras as ark
        >>> from ar_keras.core import noise, sampler
        >>> model = ark.models.get("nade", preset="tiny")
        >>> keys = noise.sample_keys(0, 2)
        >>> prefix = tf.constant([[1, 0, 0, 0], [0, 1, 0, 0]])        # elements 0, 1 observed
        >>> x = sampler.run(model, noise.KeyedNoise(keys, model.head.noise_depth), 2, prefix=prefix, start=2)
        >>> x.numpy()[:, :2].tolist()
        [[1, 0], [0, 1]]
    """
    head = model.head
    D = model.event.num_elements() if num_elements is None else num_elements
    groups = model.sampling_groups(D)  # [S, G]
    steps = tf.shape(groups)[0]
    x = tf.zeros(tf.stack([num_samples, D]), head.sample_dtype)
    temperature = tf.convert_to_tensor(temperature, tf.float32)
    if prefix is None:
        if not (isinstance(start, int) and start == 0):
            raise ValueError(f"start={start!r} needs a prefix (the values of the groups before it).")
        first = tf.constant(0)
    else:
        first = tf.convert_to_tensor(start, tf.int32)
        with tf.control_dependencies(
            [
                tf.debugging.assert_greater_equal(first, 0, message="start must be >= 0"),
                tf.debugging.assert_less_equal(
                    first, steps, message="start must be at most the number of sampling groups S"
                ),
            ]
        ):
            observed = element_steps(groups, D) < first  # [D]
        prefix = tf.cast(prefix, head.sample_dtype)
        x = tf.where(observed[None, :], prefix, x)  # [n, D]

    # A plain protocol object (not a `SamplingProtocol`) may lack the hooks: their defaults.
    draw_group = getattr(model, "draw_group", None) or (
        lambda params, uniforms, temperature, refine, truncation=None: draw_with_head(
            head, params, uniforms, temperature, truncation
        )
    )

    def draw(s, x, params, refine):
        group = tf.gather(groups, s)  # [G]
        elements, _ = group_elements(group)
        uniforms = noise.at(elements)  # [n, G, depth]
        values = draw_group(_as_group_params(params), uniforms, temperature, refine, truncation)  # [n, G]
        return write_group(x, group, values)

    # A plain protocol object may lack `restep`: its default, the step again on the values.
    restep = getattr(model, "restep", None) or (
        lambda x, values, cache, stepped, index, conditional: model.step(
            write_group(x, tf.gather(groups, index), values), cache, index, conditional
        )
    )

    if cache:
        if prefix is None:
            state = _init_cache(model, num_samples, D, conditional)
        else:
            fill = getattr(model, "fill_cache", None)
            state = fill(x, first, conditional) if fill else fill_cache_by_steps(model, x, first, conditional)

        def body(s, x, state):
            params, stepped = model.step(x, state, s, conditional)
            restepped = []  # the states of the draw's refines, in order (traced once)

            def refine(values):  # the group's params again, with ``values`` in the group
                params, after = restep(x, values, state, stepped, s, conditional)
                restepped.append(after)
                return _as_group_params(params)

            x = draw(s, x, params, refine)
            # A staged draw carries on the state of its last refine: the one that saw the group.
            return [s + 1, x, restepped[-1] if restepped else stepped]

        _, x, _ = tf.while_loop(lambda s, *_: s < steps, body, [first, x, state], maximum_iterations=steps)
        return x

    def full_body(s, x):
        group, _ = group_elements(tf.gather(groups, s))

        def refine(values):
            again = write_group(x, tf.gather(groups, s), values)
            return tf.gather(model.element_params(again, conditional), group, axis=1)

        params = tf.gather(model.element_params(x, conditional), group, axis=1)  # [n, G, P]
        return [s + 1, draw(s, x, params, refine)]

    _, x = tf.while_loop(lambda s, *_: s < steps, full_body, [first, x], maximum_iterations=steps)
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

    def init_cache_for(self, batch, num_elements, conditional=None):
        """Cache protocol: the state before the first step of a request of ``num_elements``
        elements (an int where the request's length is static, else a scalar tensor), what
        the sampler calls.  The default is `init_cache`; a model whose cache grows with the
        length it can hold (a Transformer's keys and values) sizes it by the request."""
        del num_elements
        return self.init_cache(batch, conditional)

    def step(self, x, cache, index, conditional=None):
        """Cache protocol (optional): params of group ``index`` from the partial sample ``x [n, D]``."""
        raise NotImplementedError

    def fill_cache(self, x, start, conditional=None):
        """Cache protocol: the state before step ``start``, the groups ``G_<start`` of ``x`` observed.

        ``x [n, D]`` holds the prefix (the elements of the groups before
        ``start``; the others zero).  The default runs `init_cache`, then `step`
        over the prefix's groups, step ``s`` seeing the partial sample of
        ``G_<s`` only, as in sampling, so the state is the one sampling would
        have reached after drawing those values.  A model that can read the
        whole prefix in one parallel pass overrides it.

        Args:
            x: ``[n, D]`` of the head's ``sample_dtype``.
            start: scalar int32, the first group still to draw.
            conditional: checked conditioning for the n rows, or None.
        """
        return fill_cache_by_steps(self, x, start, conditional)

    #: True when `draw_group` draws a group in stages, asking for its parameters again
    #: (``refine``) with the parts drawn so far: on the cached path that is `restep`, and the
    #: state the sampler carries on is the one `restep` returns, which saw the group's values.
    staged_draw = False

    def restep(self, x, values, cache, stepped, index, conditional=None):
        """Cache protocol: ``(params, cache)`` of group ``index`` again, with ``values [n, G]``,
        what a staged `draw_group` has drawn of the group so far, in the group (its ``refine``
        on the cached path); ``x [n, D]`` is the partial sample `step` saw.

        ``cache`` is the state `step` started from, ``stepped`` the one it returned.  The
        default writes the values and runs `step` again from ``cache``; a model whose
        ``stepped`` already holds what the second pass needs (WaveRNN: the recurrent product
        of its GRU state) overrides it to skip the repeated work and the copy of ``x``.
        """
        del stepped
        group = tf.gather(self.sampling_groups(tf.shape(x)[1]), index)  # [G]
        return self.step(write_group(x, group, values), cache, index, conditional)

    def draw_group(self, params, uniforms, temperature, refine, truncation=None):
        """The values of one group from its parameters: the sampler's draw, ``[n, G]``.

        The default is the head's sample, ``head.sample(params, uniforms,
        temperature)`` element by element.  A model whose element is drawn in
        stages (a value split into parts, each part's distribution conditioned
        on the parts before it) overrides this and calls ``refine``.

        Args:
            params: ``[n, G, P]``, the group's parameters on the partial sample
                (the group itself zero).
            uniforms: ``[n, G, depth]``, the group's noise (`ar_keras.core.noise`).
            temperature: scalar float32 > 0.
            refine: ``values [n, G] -> params [n, G, P]``: the group's parameters
                recomputed with ``values`` written into the group (the full network, or
                the cache step from the same state).
            truncation: None, or the top-k / top-p `Truncation` of the draw.
        """
        del refine
        return draw_with_head(self.head, params, uniforms, temperature, truncation)

    def previous_value(self, x, index):
        """The value drawn at step ``index - 1`` (``x [n, D]`` partial sample; zeros at step 0).

        For groups of one: ``x[:, o(index - 1)]``.
        """
        groups = self.sampling_groups(tf.shape(x)[1])
        previous = tf.gather(groups[:, 0], tf.maximum(index - 1, 0))
        value = tf.gather(x, previous, axis=1)  # [n]
        return tf.where(index > 0, value, tf.zeros_like(value))

    def sample_elements(
        self,
        noise,
        num_samples,
        num_elements,
        conditional=None,
        temperature=1.0,
        cache=True,
        prefix=None,
        start=0,
        truncation=None,
    ):
        """`run` over this model: ``[n, D]`` of ``head.sample_dtype``, the cached path where
        the model has one; with a ``prefix`` ``[n, D]``, its groups before ``start`` are kept
        (``truncation``: the top-k / top-p `Truncation` of every draw)."""
        return run(
            self,
            noise,
            num_samples,
            num_elements,
            conditional,
            temperature,
            cache=bool(cache) and self.supports_cache,
            prefix=prefix,
            start=start,
            truncation=truncation,
        )
