"""The training checks every model is held to, whatever its kind, written once.

Each check reads the model's own specs for its data: the event spec
(``model.event.random(batch, length, seed)``: levels, vectors, trajectories, videos)
and the conditioning spec (``model.conditioning.random(batch, length, seed)``: labels,
local features, a low-resolution image, a source sequence, context frames):

* `check_serialization`: a `.keras` round trip gives the same class, config,
  ``log_prob`` and seeded samples;
* `check_fit_changes_every_weight`: every variable the loss touches is a tracked Keras
  weight, one `fit` step changes every trainable weight, and ``bits_per_dim`` is the
  NLL over ``D ln 2`` (``D`` = elements of one example, ``T F`` for a trajectory);
* `check_mirrored_equals_single`: one SGD step under `MirroredStrategy` on two logical
  CPUs leaves every weight (statistics included) where one device does;
* `check_level_errors`: floats, NaN and a missing batch axis given to a model of levels
  are refused with errors that say what was expected.

tests/models/test_every_model.py runs them on every ``(name, preset)`` of `harness.cases()`;
model modules call them on their other configurations (conditional, two-level, ...).

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("nade", preset="tiny")
    >>> check_fit_changes_every_weight(model)
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.core.conditioning import ContextFrames

#: The shortest sequence the checks use for a model of sequences of any length.
MIN_TEST_LENGTH = 8


def length_of(model, length=None):
    """T for a free-length ``model`` (None for a fixed-size one): ``length`` when given, else the
    smallest multiple of ``model.example_length`` (one local frame, one frame of a tier, the
    window) of at least `MIN_TEST_LENGTH` steps."""
    if not model.event.free_length:
        return None
    if length is not None:
        return int(length)
    unit = max(int(model.example_length), 1)
    return unit * -(-max(MIN_TEST_LENGTH, model.min_length) // unit)


def examples(model, batch, length=None, seed=0, optional=True):
    """Random data ``x`` and conditioning ``c`` for ``batch`` examples, from the model's specs.

    Args:
        model: any registered model.
        batch: B.
        length: T of a free-length model (`length_of`); ignored by fixed-size models.
        seed: of both (the same seed gives the same batch).
        optional: whether to condition on the optional parts too (vpn's context frames);
            with False an optional conditioning is left out (None).

    Returns:
        ``(x, c)``: numpy ``[B, *event]`` and ``conditional`` (None, an array or a dict).
    """
    T = length_of(model, length)
    x = model.event.random(batch, T, seed)
    if not optional and not model.conditioning.required:
        return x, None
    named = model.conditioning.to_named(model.conditioning.random(batch, T, seed + 1))
    for part in model.conditioning.parts:
        if isinstance(part, ContextFrames):  # the first frames of the video it conditions
            named[part.export_name] = context_of(part, x)
    return x, model.conditioning.from_named(named)


def context_of(part, x):
    """Context frames for the videos ``x``: their first ``T - 1`` frames (`ContextFrames`)."""
    return x[:, : part.video_shape[0] - 1]


def take(conditional, rows):
    """Rows ``rows`` of a ``conditional`` (None, an array or a dict of arrays)."""
    if conditional is None:
        return None
    if isinstance(conditional, dict):
        return {k: np.asarray(v)[rows] for k, v in conditional.items()}
    return np.asarray(conditional)[rows]


def perturb(model, scale=0.3, seed=0):
    """Adds fixed noise to every trainable weight, so that no weight keeps its initial value
    (zero-initialised outputs, unit scales) and the law is far from the initial one."""
    rng = np.random.RandomState(seed)
    for w in model.trainable_weights:
        w.assign(w.numpy() + scale * rng.standard_normal(w.shape).astype(np.float32))


def check_serialization(model, path, x=None, c=None, sample=None, length=None):
    """`.keras` round trip: same class, config, log_prob and seeded samples.

    Args:
        model: the model to save.
        path: a ``.keras`` file to write.
        x, c: data and conditioning to score (default: `examples` of 4, with every
            conditioning part, and unconditioned too where the conditioning is optional).
        sample: keyword arguments of the `sample` calls compared (default: 2 samples with
            seed 3, on the first two rows of ``c``).
        length: T of a free-length model (`length_of`).
    """
    T = length_of(model, length)
    given = x is not None
    if not given:
        x, c = examples(model, 4, T)
    if sample is None:
        sample = dict(num_samples=2, conditional=take(c, slice(0, 2)), seed=3)
        if T is not None:
            sample["length"] = T
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    conditionals = [c]
    if not given and c is not None and not model.conditioning.required:
        conditionals.append(None)  # the optional parts left out: the model's other path
    for cond in conditionals:
        np.testing.assert_allclose(
            loaded.log_prob(x, cond).numpy(), model.log_prob(x, cond).numpy(), rtol=1e-5, atol=1e-5
        )
    np.testing.assert_allclose(
        loaded.sample(**sample).numpy(), model.sample(**sample).numpy(), rtol=1e-5, atol=1e-5
    )


def dataset(x, c):
    """One batch of ``(x, c)`` (``x`` alone when ``c`` is None) as a `tf.data.Dataset`."""
    return tf.data.Dataset.from_tensor_slices(x if c is None else (x, c)).batch(len(x))


def check_weights_tracked(model, x, c=None):
    """Every variable the loss touches is one of the model's Keras 3 weights, and vice versa,
    and each gets a gradient."""
    backing = {id(getattr(w, "value", w)) for w in model.trainable_weights}
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(x, c))
    watched = tape.watched_variables()
    assert watched and loss.dtype == tf.float32
    stray = [v.name for v in watched if id(v) not in backing]
    assert not stray, f"variables outside the Keras model: {stray}"
    grads = tape.gradient(loss, watched)
    assert len(watched) == len(model.trainable_weights), (
        f"log_prob touches {len(watched)} of the {len(model.trainable_weights)} trainable weights"
    )
    assert all(g is not None for g in grads)


def check_fit_changes_every_weight(model, batch=8, x=None, c=None, length=None, tracked=True):
    """One Adam step of `fit` changes every trainable weight and reports ``bits_per_dim``.

    ``bits_per_dim`` is the NLL in nats over ``D ln 2``, D the elements of one example
    (``T`` for a sequence, ``T F`` for a trajectory of F features).

    Args:
        model: the model (compiled here).
        batch: B of the default data (`examples`).
        x, c: the data and conditioning to fit on (default: `examples`, required parts only).
        length: T of a free-length model (`length_of`).
        tracked: also run `check_weights_tracked` (``log_prob`` reaches every weight).
    """
    T = length_of(model, length)
    if x is None:
        x, c = examples(model, batch, T, optional=False)
    else:
        T = x.shape[1] if model.event.free_length else None
    if tracked:
        check_weights_tracked(model, x, c)
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(dataset(x, c), epochs=1, verbose=0)
    nll = history.history["loss"][0]
    assert np.isfinite(nll)
    assert "bits_per_dim" in history.history
    D = model.event.num_elements(T)
    np.testing.assert_allclose(
        history.history["bits_per_dim"][0],
        nll / (D * np.log(2.0)),
        rtol=1e-4,
        atol=0.0 if model.event.discrete else 1e-6,  # a density's NLL may sum to ~0
    )
    unchanged = [w.path for w, b in zip(model.trainable_weights, before) if np.array_equal(w.numpy(), b)]
    assert not unchanged, f"weights not updated by a fit step: {unchanged}"


_STRATEGY = []


def mirrored_strategy():
    """One MirroredStrategy over two logical CPUs, shared by the whole test process.

    Several strategies in one process reuse collective instance keys and
    collide, so the tests share one, as a training process would.
    """
    if not _STRATEGY:
        devices = tf.config.list_logical_devices("CPU")
        assert len(devices) >= 2, "conftest.py must create two logical CPUs"
        _STRATEGY.append(tf.distribute.MirroredStrategy([d.name for d in devices[:2]]))
    return _STRATEGY[0]


def check_mirrored_equals_single(build, batch=8, x=None, c=None, length=None, learning_rate=0.5):
    """One SGD step under MirroredStrategy on two logical CPUs == one on a single device.

    Every weight (non-trainable statistics included) must agree to ``rtol=1e-4, atol=1e-5``
    and stay finite, and the step must move some trainable weight.

    Args:
        build: a function returning a fresh model.
        batch: B of the default data (split over the two replicas).
        x, c: the data and conditioning (default: `examples`, required parts only).
        length: T of a free-length model (`length_of`).
        learning_rate: of the SGD step (a large one magnifies any gradient mismatch).
    """
    single = build()
    if x is None:
        x, c = examples(single, batch, length_of(single, length), optional=False)
    init = [w.numpy() for w in single.weights]
    single.compile(optimizer=keras.optimizers.SGD(learning_rate))
    single.fit(dataset(x, c), epochs=1, verbose=0)

    with mirrored_strategy().scope():
        mirrored = build()
        for w, v in zip(mirrored.weights, init):
            w.assign(v)
        mirrored.compile(optimizer=keras.optimizers.SGD(learning_rate))
    mirrored.fit(dataset(x, c), epochs=1, verbose=0)
    assert len(single.weights) == len(mirrored.weights)
    for a, b in zip(single.weights, mirrored.weights):
        assert np.all(np.isfinite(a.numpy())), f"{a.path} is not finite after one step"
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
    start = {id(w): v for w, v in zip(single.weights, init)}
    moved = any(not np.allclose(w.numpy(), start[id(w)]) for w in single.trainable_weights)
    assert moved, "one SGD step moved no trainable weight"


def check_level_errors(model, good, rank="rank"):
    """``log_prob`` of a model of levels refuses floats, NaN and ``good`` without its batch
    axis, with errors that name integer levels and the rank (``rank``: the pattern)."""
    with pytest.raises(ValueError, match="integer levels"):
        model.log_prob(good.astype(np.float32))
    with pytest.raises(ValueError, match="integer levels"):
        model.log_prob(np.full(good.shape, np.nan, np.float32))
    with pytest.raises(ValueError, match=rank):
        model.log_prob(good[0])
