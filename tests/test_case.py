"""Shared property checks every autoregressive model is held to (docs/architecture.md, section 8).

Each check asserts a property that a wrong mask, a wrong ordering, a broken
head or a broken sampler would violate:

1. causality (and, optionally, no blind spot);
2. normalisation by enumeration on a tiny shape;
3. sample frequencies agree with exp(log_prob);
4. cache == recompute, seeded determinism.

The training checks (`.keras` round trip, one fit step, MirroredStrategy) are
tests/contract.py's; export is tests/test_export.py's.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf


def configurations(shape, num_levels):
    """Every configuration of ``shape`` with values in ``[0, K)``: ``[K^D, *shape]``."""
    size = int(np.prod(shape))
    grid = np.array(list(itertools.product(range(num_levels), repeat=size)), np.int32)
    return grid.reshape((-1,) + tuple(shape))  # [K^D, D] -> [K^D, *shape]


def sharpen(model, factor=3.0):
    """Scales every trainable weight so that the model's law is far from uniform."""
    for w in model.trainable_weights:
        w.assign(w * factor + tf.random.normal(w.shape, stddev=0.3))


def random_data(model, batch, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randint(0, model.num_levels, size=(batch,) + model.image_shape).astype(np.int32)


def labels_for(model, batch, seed=0):
    if model.num_classes is None:
        return None
    return np.random.RandomState(seed + 1).randint(0, model.num_classes, size=batch).astype(np.int32)


def generation_steps(model):
    """``[D]``: the sampler step (group, `model.sampling_groups`) at which each element is drawn.

    For raster models (groups of one) this is the element's position in the ordering; models
    that draw several elements per step (multiscale) give all of a group's elements one step.
    """
    D = model.event_size
    groups = np.asarray(model.sampling_groups(D))  # [S, G]
    step = np.full(D, -1, np.int64)
    for s, group in enumerate(groups):
        step[group[group >= 0]] = s  # -(d + 1): element d listed as padding, not drawn
    assert np.all(step >= 0), "sampling_groups leave elements out"
    return step


def check_causality(model, full_dependency=True, trials=6, seed=0):
    """Changing element j never changes the conditionals of the elements of j's group or of
    earlier groups in the model's own generation order (`generation_steps`; groups of one in
    raster order for most models): no element depends on another of its own group.

    With ``full_dependency`` every element of every later group must also depend on j (no
    blind spot).  All changed copies are scored in one batch.
    """
    D = model.event_size
    rank = generation_steps(model)
    depends = np.zeros((D, D), bool)  # depends[k, j]: conditional k changed when x_j changed
    for trial in range(trials):
        x = random_data(model, 1, seed + trial).reshape(1, D)
        changed = np.repeat(x, D, axis=0)  # [D, D]: row j changes element j
        changed[np.arange(D), np.arange(D)] = (
            changed[np.arange(D), np.arange(D)] + 1 + trial
        ) % model.num_levels
        batch = np.concatenate([x, changed]).reshape((D + 1,) + model.image_shape)
        c = labels_for(model, 1, seed)
        c = None if c is None else np.repeat(c, D + 1)
        clp = model.conditional_log_probs(batch, c).numpy().reshape(D + 1, D)
        diff = np.abs(clp[1:] - clp[:1])  # [j, k]
        for j in range(D):
            before = (rank <= rank[j]) & (np.arange(D) != j)
            assert np.all(diff[j, before] < 1e-6), (
                f"changing element {j} changed conditionals of elements of its own or earlier groups "
                f"{np.flatnonzero(before & (diff[j] >= 1e-6)).tolist()}"
            )
        depends |= (diff > 1e-7).T
    if full_dependency:
        for k in range(D):
            for j in range(D):
                if rank[j] < rank[k]:
                    assert depends[k, j], f"conditional of element {k} ignores earlier element {j}"


def check_normalization(model, conditional=None, atol=2e-4):
    """``sum_x exp(log_prob(x)) == 1`` over every configuration."""
    configs = configurations(model.image_shape, model.num_levels)
    c = None if conditional is None else np.full(len(configs), conditional, np.int32)
    total = float(np.exp(model.log_prob(configs, c).numpy().astype(np.float64)).sum())
    assert abs(total - 1.0) < atol, f"probabilities sum to {total}"
    return total


def check_samples_match_log_prob(model, num_samples=8000, seed=0, max_tv=0.05, conditional=None):
    """Empirical frequencies of samples agree with ``exp(log_prob)`` (total variation)."""
    configs = configurations(model.image_shape, model.num_levels)
    c = None if conditional is None else np.full(len(configs), conditional, np.int32)
    probs = np.exp(model.log_prob(configs, c).numpy().astype(np.float64))
    cs = None if conditional is None else np.full(num_samples, conditional, np.int32)
    samples = model.sample(num_samples, conditional=cs, seed=seed).numpy()
    return check_frequencies(samples, probs, model.num_levels, max_tv)


def check_frequencies(samples, probs, num_levels, max_tv):
    """Total variation between the configurations' frequencies among ``samples [n, ...]`` and
    ``probs`` (indexed like `configurations`): below ``max_tv``, on a law far from uniform."""
    flat = samples.reshape(len(samples), -1)  # [n, *S] -> [n, D]
    index = flat @ (num_levels ** np.arange(flat.shape[1] - 1, -1, -1))  # configuration id
    freq = np.bincount(index, minlength=len(probs)) / len(samples)
    tv = 0.5 * np.abs(freq - probs).sum()
    uniform_tv = 0.5 * np.abs(probs - 1.0 / len(probs)).sum()
    assert uniform_tv > 2 * max_tv, f"model too close to uniform ({uniform_tv}) for a meaningful check"
    assert tv < max_tv, f"sample frequencies are {tv:.3f} from exp(log_prob) in total variation"
    return tv


def declares_cache(cls):
    """True when ``cls`` implements any of the cache protocol's ``init_cache`` / ``step``."""
    from ar_keras.core.sampler import SamplingProtocol

    return issubclass(cls, SamplingProtocol) and (
        cls.init_cache is not SamplingProtocol.init_cache or cls.step is not SamplingProtocol.step
    )


# The methods that tell the sampler's two paths apart: the cache protocol, and the full network.
_STEP_METHODS = ("init_cache", "init_cache_for", "step")
_NETWORK_METHODS = ("element_params", "network")


def sample_on_path(model, cache, **kwargs):
    """``model.sample(cache=cache, **kwargs)``, asserting which path the sampler took.

    A model that implements ``init_cache`` / ``step`` must declare it (``supports_cache``).
    ``cache=True`` then traces ``init_cache`` (or ``init_cache_for``, the cache sized by the
    request) and ``step`` and neither ``element_params`` nor
    ``network`` (no full pass per step); ``cache=False`` traces the full network and never
    ``step``.  The calls are counted while the sampler's graph is traced, so this must be the
    model's first sample of that path and shape (a reused trace counts nothing and fails).

    Args:
        model: an autoregressive model (a model without a cache samples unchecked).
        cache: the ``cache`` argument of `sample`.
        **kwargs: the other arguments of `sample`.

    Example:
        >>> model = ark.models.get("nade", preset="tiny")
        >>> sample_on_path(model, True, num_samples=2, seed=0).shape
        TensorShape([2, 2, 2, 1])
    """
    if not declares_cache(type(model)):
        return model.sample(cache=cache, **kwargs)
    assert model.supports_cache, (
        f"{type(model).__name__} implements init_cache/step but supports_cache is False"
    )
    from ar_keras.core import sampler as sampler_lib

    counts = dict.fromkeys(_STEP_METHODS + _NETWORK_METHODS, 0)

    def counting(target):
        """``target``'s protocol methods, each counting its calls (instance attributes, out of
        Keras' tracking)."""
        names = [name for name in counts if hasattr(target, name)]
        for name in names:

            def counted(*args, _original=getattr(target, name), _name=name, **kw):
                counts[_name] += 1
                return _original(*args, **kw)

            object.__setattr__(target, name, counted)
        return names

    # A model may sample through protocol objects of its own (subscale's stages): the calls
    # `sampler.run` makes on whatever it is given count too.
    original_run = sampler_lib.run
    delegates = []

    def run(protocol, *args, **kw):
        if protocol is not model and not hasattr(protocol, "_counted"):
            object.__setattr__(protocol, "_counted", counting(protocol))
            delegates.append(protocol)
        return original_run(protocol, *args, **kw)

    wrapped = counting(model)
    sampler_lib.run = run
    try:
        samples = model.sample(cache=cache, **kwargs)
    finally:
        sampler_lib.run = original_run
        for target, names in [(model, wrapped)] + [(d, d._counted) for d in delegates]:
            for name in names:
                object.__delattr__(target, name)
    network = {k: counts[k] for k in _NETWORK_METHODS}
    if cache:
        assert counts["init_cache"] + counts["init_cache_for"] >= 1 and counts["step"] >= 1, (
            f"sampling with cache=True never called init_cache/step (calls traced: {counts})"
        )
        assert not any(network.values()), f"sampling with cache=True ran the full network: {network}"
    else:
        assert counts["step"] == 0, "sampling with cache=False called step"
        assert any(network.values()), f"sampling with cache=False never ran the network (calls: {counts})"
    return samples


def check_step_equals_network(
    model, conditional=None, length=None, num_samples=2, seed=0, rtol=1e-4, atol=1e-6
):
    """The cache protocol's parameters equal the full network's, at every step.

    The sampler's two paths draw from the same parameters: at step ``s``, with the partial
    sample ``x`` (the elements of groups ``G_<s`` set, the others zero),
    ``step(x, cache, s)`` must give ``element_params(x)[:, G_s]`` to ``rtol`` (``atol`` is
    relative to the step's largest parameter).  Padding columns of a group (elements drawn
    for real at another step) are not compared.  A model with a staged draw (WaveRNN's coarse
    then fine) is also checked at its `restep`, on the partial sample with the group's values
    written in, whose state the sampler carries on.

    Args:
        model: an autoregressive model with a cache (``supports_cache``).
        conditional: its conditioning for ``num_samples`` examples, unchecked, or None.
        length: T for models of sequences of any length.
        num_samples: n.
        seed: of the data filling the partial samples (`EventSpec.random`).

    Example:
        >>> check_step_equals_network(ark.models.get("nade", preset="tiny"))
    """
    assert model.supports_cache, f"{type(model).__name__} has no cache (supports_cache is False)"
    n = num_samples
    D = model.event.num_elements(length)
    x = model.event.random(n, length, seed).reshape(n, D)  # [n, *event] -> [n, D]
    groups = np.asarray(model.sampling_groups(D))  # [S, G]
    listed = groups >= 0  # -(d + 1): element d listed as padding, computed but not drawn
    groups = np.where(listed, groups, -groups - 1)  # [S, G] elements
    drawn_at = np.full(D, -1)
    for s, group in enumerate(groups):
        drawn_at[group[listed[s]]] = s  # a padding element is drawn for real at its last group
    c = model.check_conditional(conditional, batch=n, length=length)
    # Each traced once and run at every step (several times faster than eager calls).
    step = tf.function(lambda x, cache, s: model.step(x, cache, s, c), autograph=False)
    restep = tf.function(
        lambda x, values, cache, stepped, s: model.restep(x, values, cache, stepped, s, c), autograph=False
    )
    network = tf.function(lambda x: tf.cast(model.element_params(x, c), tf.float32), autograph=False)

    def compare(params, partial, s, group, what):
        params = np.asarray(tf.cast(params, tf.float32))
        params = params[:, None] if params.ndim == 2 else params  # [n, P] -> [n, 1, P]
        real = (drawn_at[group] == s) & listed[s]
        full = np.asarray(network(tf.constant(partial)))[:, group[real]]  # [n, D, P] -> [n, G', P]
        np.testing.assert_allclose(
            params[:, real],
            full,
            rtol=rtol,
            atol=atol * max(1.0, float(np.abs(full).max())),
            err_msg=f"step {s} (elements {group[real].tolist()}): cached parameters ({what}) differ "
            "from the full network's on the same partial sample",
        )

    with model.precision_scope():
        cache = model.init_cache(n, c)
        for s, group in enumerate(groups):
            partial = np.where(np.isin(np.arange(D), groups[:s][listed[:s]]), x, np.zeros_like(x))
            params, stepped = step(tf.constant(partial), cache, tf.constant(s))
            compare(params, partial, s, group, "step")
            if model.staged_draw:  # the second stage sees the group's values; its state goes on
                drawn = np.where(np.isin(np.arange(D), groups[: s + 1][listed[: s + 1]]), x, 0 * x)
                values = tf.constant(drawn[:, group])  # [n, G]
                params, stepped = restep(tf.constant(partial), values, cache, stepped, tf.constant(s))
                compare(params, drawn, s, group, "restep")
            cache = stepped


def check_cache_equals_recompute(model, num_samples=6, seed=7):
    c = labels_for(model, num_samples)
    cached = sample_on_path(model, True, num_samples=num_samples, conditional=c, seed=seed).numpy()
    full = sample_on_path(model, False, num_samples=num_samples, conditional=c, seed=seed).numpy()
    np.testing.assert_array_equal(cached, full)
    again = model.sample(num_samples, conditional=c, seed=seed).numpy()
    np.testing.assert_array_equal(cached, again)
    other = model.sample(num_samples, conditional=c, seed=seed + 1).numpy()
    assert not np.array_equal(cached, other), "different seeds gave the same samples"
    # Sample i depends on (seed, i) only, not on how many are drawn.
    fewer = model.sample(2, conditional=None if c is None else c[:2], seed=seed).numpy()
    np.testing.assert_array_equal(fewer, cached[:2])
    assert cached.dtype == np.int32 and cached.shape == (num_samples,) + model.image_shape
    assert cached.min() >= 0 and cached.max() < model.num_levels


def check_common_bad_input(model, good, conditional_model=None, length=None):
    """The errors every model gives alike, whatever its kind.

    Labels passed to an unconditional model; ``num_samples`` < 1; a temperature
    that is not > 0; ``length`` given to a fixed-size model, or missing / not
    positive for a model of sequences of any length (``length`` = a valid one);
    a class-conditional model (``conditional_model``, two classes) called with
    no labels or with labels out of range.
    """
    kw = {} if length is None else {"length": length}
    with pytest.raises(ValueError, match="unconditional"):
        model.log_prob(good, np.zeros(len(good), np.int32))
    with pytest.raises(ValueError, match="num_samples"):
        model.sample(0, **kw)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, temperature=0.0, **kw)
    if length is None:
        with pytest.raises(ValueError, match="length"):
            model.sample(2, length=5)
    else:
        with pytest.raises(ValueError, match="length=T"):
            model.sample(2)
        with pytest.raises(ValueError, match="length must be a positive integer"):
            model.sample(2, length=0)
    if conditional_model is not None:
        with pytest.raises(ValueError, match="class-conditional"):
            conditional_model.log_prob(good)
        with pytest.raises(ValueError, match=r"class ids in \[0, 2\)"):
            conditional_model.log_prob(good, np.array([0, 2], np.int32))
        with pytest.raises(ValueError, match=r"class ids in \[0, 2\)"):
            conditional_model.sample(2, conditional=np.array([0, -1], np.int32), **kw)
