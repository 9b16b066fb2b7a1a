"""Property-based fuzzing of every registered model's public API (hypothesis).

For each case ``(name, preset)`` of ``harness.cases()`` (every registered model's test presets:
``tiny``, and ``tiny_sequence`` for sparse_transformer; built once per worker and kept in
`_MODELS`), random inputs are generated from the model's event spec (``model.event``: kind,
shape, ``num_levels``), valid and invalid alike, and fed to ``log_prob``,
``conditional_log_probs``, ``sample``, ``sample_from_noise`` and, for latent-variable models,
``elbo`` and the importance-sample count of ``log_prob``.  The property, for every call:

* a valid input gets the right answer: the right shape and dtype, no NaN, a discrete
  ``log_prob`` finite and ``<= 0``, samples inside ``[0, K)`` or finite, an empty batch an
  empty result;
* an invalid input raises `ValueError` or `TypeError` whose message says what was expected
  (and names the argument where there is one) -- never a raw ``tf.errors.*``, never a
  silently wrong answer.

Every test knows whether the input it drew is valid, so a check that lets bad input through
fails as surely as one that refuses good input.

Profiles: ``ci`` (the default: a handful of examples per model and case, derandomized, so the
default run is bounded and reproducible) and ``deep`` (``AR_KERAS_FUZZ=deep``: many more
examples, still derandomized unless ``AR_KERAS_FUZZ_SEED`` is set)::

    AR_KERAS_FUZZ=deep python -m pytest -q tests/fuzz -p no:cacheprovider
"""

import os

import harness
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ar_keras as ark

_HEALTH = [
    HealthCheck.too_slow,
    HealthCheck.function_scoped_fixture,
    HealthCheck.differing_executors,
    HealthCheck.data_too_large,
]
settings.register_profile(
    "ci", max_examples=4, deadline=None, derandomize=True, suppress_health_check=_HEALTH, print_blob=True
)
settings.register_profile(
    "deep",
    max_examples=60,
    deadline=None,
    derandomize=not os.environ.get("AR_KERAS_FUZZ_SEED"),
    suppress_health_check=_HEALTH,
    print_blob=True,
)
PROFILE = os.environ.get("AR_KERAS_FUZZ", "ci")
# Examples per test: the "ci" numbers keep the default run bounded (23 cases of 22 models); "deep" x15.
SCALE = 15 if PROFILE == "deep" else 1


def fuzz_settings(examples):
    return settings(settings.get_profile(PROFILE), max_examples=examples * SCALE)


CASES = harness.cases()
_MODELS = {}


def model(name, preset="tiny", conditional=False):
    """Preset ``preset`` of ``name`` (with ``num_classes=3`` when ``conditional``), built once."""
    key = (name, preset, conditional)
    if key not in _MODELS:
        extra = {"num_classes": 3} if conditional else {}
        _MODELS[key] = ark.models.get(name, preset=preset, **extra)
    return _MODELS[key]


def takes_labels(name, preset="tiny"):
    """Whether the model takes class labels (``num_classes``)."""
    try:
        model(name, preset, conditional=True)
        return True
    except ValueError:
        return False


LABELLED = [case for case in CASES if takes_labels(*case)]
LATENT = [case for case in CASES if isinstance(model(*case), ark.models.LatentVariableModel)]

# ------------------------------------------------------------------------------------ outcome


def _outcome(fn):
    """``(result, None)`` or ``(None, error)`` for a ValueError/TypeError; anything else escapes."""
    try:
        return fn(), None
    except (ValueError, TypeError) as e:
        return None, e


def _clear(error, names=()):
    """A message that says what was expected (and names the argument, where there is one)."""
    msg = str(error)
    assert len(msg) > 15, f"unhelpful message: {msg!r}"
    assert any(w in msg for w in ("must", "expected", "pass ", "got")), (
        f"the message does not say what was expected: {msg!r}"
    )
    if names:
        assert any(n in msg for n in names), f"the message does not name {names}: {msg!r}"


def expect(fn, valid, check, names=()):
    """Runs ``fn``: valid input -> ``check(result)``, returned; invalid -> a clear
    ValueError/TypeError."""
    result, error = _outcome(fn)
    if valid:
        assert error is None, f"valid input refused: {error!r}"
        check(result)
        return result
    else:
        assert error is not None, f"invalid input accepted: returned {result!r:.200}"
        _clear(error, names)


# ------------------------------------------------------------------------------ data builders

X_CASES = [
    "valid",
    "empty_batch",
    "int64",
    "uint8_or_f64",
    "nested_list",
    "rank_plus",
    "rank_minus",
    "wrong_size",
    "zero_axis",
    "wrong_dtype",
    "bool",
    "strings",
    "below_range",
    "above_range",
    "huge",
    "nan",
    "inf",
    "scalar",
]


def _valid_values(m, rng, shape):
    ev = m.event
    if ev.discrete:
        return rng.randint(0, ev.num_levels, size=shape).astype(np.int32)
    if ev.support is not None:
        lo, hi = ev.support
        return rng.uniform(lo, hi, size=shape).astype(np.float32)
    return (rng.standard_normal(shape) * 2.0).astype(np.float32)


def _event_shape(m, length):
    return m.event.event_shape(length)


def make_x(m, case, batch, length, seed):
    """``(x, valid)`` for one fuzz ``case`` of the model's event spec."""
    ev = m.event
    rng = np.random.RandomState(seed)
    shape = (batch,) + _event_shape(m, length)
    x = _valid_values(m, rng, shape)
    if case == "valid":
        return x, True
    if case == "empty_batch":
        return _valid_values(m, rng, (0,) + shape[1:]), True
    if case == "int64":
        return x.astype(np.int64 if ev.discrete else np.float64), True
    if case == "uint8_or_f64":
        return x.astype(np.uint8 if ev.discrete else np.float16), True
    if case == "nested_list":
        return x.tolist(), True
    if case == "rank_plus":
        return x[..., None], False
    if case == "rank_minus":
        return x[0], False
    if case == "scalar":
        return x.reshape(-1)[0], False
    if case == "wrong_size":
        fixed = [i for i, s in enumerate(ev.shape) if s is not None]
        if not fixed:  # a free-length sequence: wrong trailing size impossible; add an axis
            return x[..., None], False
        axis = 1 + fixed[rng.randint(len(fixed))]
        new = list(shape)
        new[axis] += 1 + rng.randint(3)
        return _valid_values(m, rng, tuple(new)), False
    if case == "zero_axis":
        new = list(shape)
        new[1 + rng.randint(len(ev.shape))] = 0
        return _valid_values(m, rng, tuple(new)), False
    if case == "wrong_dtype":  # floats for int levels, ints for floats
        return (x.astype(np.float32) if ev.discrete else np.round(x).astype(np.int32)), False
    if case == "bool":
        return x.astype(bool) if ev.discrete else (x > 0), False
    if case == "strings":
        return x.astype(str), False
    if case == "below_range":
        if not ev.discrete:
            if ev.support is None:
                return -x * np.float32(1e4), True  # large finite values: a density answers
            x.reshape(-1)[rng.randint(x.size)] = ev.support[0] - 1.0
            return x, False
        x.reshape(-1)[rng.randint(x.size)] = -1 - rng.randint(5)
        return x, False
    if case == "above_range":
        if not ev.discrete:
            if ev.support is None:
                return x.astype(np.float64) * 1e300, False  # overflows float32: inf
            x.reshape(-1)[rng.randint(x.size)] = ev.support[1] + 1.0
            return x, False
        x.reshape(-1)[rng.randint(x.size)] = ev.num_levels + rng.randint(5)
        return x, False
    if case == "huge":  # int64 levels that wrap to valid int32 levels when cast
        if not ev.discrete:
            return x * np.float32(1e30), True
        big = x.astype(np.int64)
        big.reshape(-1)[rng.randint(big.size)] += 2**32
        return big, False
    if case == "nan":
        bad = x.astype(np.float32)
        bad.reshape(-1)[rng.randint(bad.size)] = np.nan
        return bad, False
    if case == "inf":
        bad = x.astype(np.float32)
        bad.reshape(-1)[rng.randint(bad.size)] = np.inf * (1 if rng.randint(2) else -1)
        return bad, False
    raise AssertionError(case)


def _batch_of(x):
    return np.shape(x)[0]


def check_log_prob(m, batch):
    def check(lp):
        assert isinstance(lp, tf.Tensor) and lp.dtype == tf.float32, lp
        assert lp.shape.as_list() == [batch], lp.shape
        v = lp.numpy()
        assert not np.isnan(v).any(), f"silent NaN: {v}"
        assert not (v == np.inf).any(), f"log_prob = +inf: {v}"
        if m.event.discrete:
            assert np.isfinite(v).all() and (v <= 1e-4).all(), f"discrete log_prob must be <= 0: {v}"

    return check


def check_conditionals(m, x_shape, lp):
    def check(cl):
        assert isinstance(cl, tf.Tensor) and cl.dtype == tf.float32, cl
        assert cl.shape.as_list() == list(x_shape), (cl.shape, x_shape)
        v = cl.numpy()
        assert not np.isnan(v).any(), f"silent NaN: {v}"
        if m.event.discrete:
            assert np.isfinite(v).all() and (v <= 1e-4).all(), v
        if lp is not None and np.isfinite(v).all():
            total = v.reshape(v.shape[0], int(np.prod(v.shape[1:]))).sum(axis=1)
            np.testing.assert_allclose(total, lp.numpy(), rtol=1e-4, atol=1e-3)

    return check


def _length(m, data):
    if not m.event.free_length:
        return None
    return data.draw(st.integers(m.min_length, m.min_length + 3), label="length")


# ---------------------------------------------------------------------------------- log_prob


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
@fuzz_settings(2)
@given(data=st.data())
def test_log_prob_any_input(name, preset, data):
    """log_prob / conditional_log_probs answer valid x correctly and refuse invalid x clearly.

    Each example runs every case of `X_CASES` (so each is covered in every profile) with a
    drawn batch size, length and values.
    """
    m = model(name, preset)
    batch = data.draw(st.integers(1, 3), label="batch")
    length = _length(m, data)
    seed = data.draw(st.integers(0, 2**16), label="values")
    for case in X_CASES:
        x, valid = make_x(m, case, batch, length, seed)
        n = _batch_of(x) if np.ndim(x) else 0
        try:
            lp = expect(lambda: m.log_prob(x), valid, check_log_prob(m, n))
            if m.exact_conditionals:
                expect(lambda: m.conditional_log_probs(x), valid, check_conditionals(m, np.shape(x), lp))
        except AssertionError as e:
            raise AssertionError(f"case {case!r}: {e}") from e


# ------------------------------------------------------------------------------ conditional

LABEL_CASES = [
    "valid",
    "missing",
    "negative",
    "too_big",
    "huge_int64",
    "floats",
    "wrong_rank",
    "wrong_count",
    "strings",
    "bool",
]


def make_labels(case, batch, rng):
    c = rng.randint(0, 3, size=batch).astype(np.int32)
    return {
        "valid": (c, True),
        "missing": (None, False),
        "negative": (c - 3, False),
        "too_big": (c + 3, False),
        "huge_int64": (c.astype(np.int64) + 2**32, False),
        "floats": (c.astype(np.float32), False),
        "wrong_rank": (c[:, None], False),
        "wrong_count": (np.concatenate([c, c]), False),
        "strings": (c.astype(str), False),
        "bool": (c.astype(bool), False),
    }[case]


@pytest.mark.parametrize("name,preset", LABELLED, ids=harness.case_ids(LABELLED))
@fuzz_settings(len(LABEL_CASES))
@given(data=st.data())
def test_class_labels(name, preset, data):
    """Labels of a class-conditional model (num_classes=3) through log_prob and sample."""
    m = model(name, preset, conditional=True)
    case = data.draw(st.sampled_from(LABEL_CASES), label="case")
    batch = data.draw(st.integers(1, 3), label="batch")
    rng = np.random.RandomState(data.draw(st.integers(0, 2**16)))
    length = _length(m, data)
    x, _ = make_x(m, "valid", batch, length, rng.randint(2**16))
    c, valid = make_labels(case, batch, rng)
    names = ("conditional", "labels", "class")
    expect(lambda: m.log_prob(x, c), valid, check_log_prob(m, batch), names)
    if not valid:  # (valid labelled sampling: the contract suites; a trace per model costs)
        expect(lambda: m.sample(batch, conditional=c, seed=0, length=length), False, None, names)


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_labels_to_an_unconditional_model(name, preset):
    """An unconditional model refuses labels clearly (not silently ignoring them)."""
    m = model(name, preset)
    length = m.min_length if m.event.free_length else None
    x, _ = make_x(m, "valid", 2, length, 0)
    expect(lambda: m.log_prob(x, np.zeros([2], np.int32)), False, None)


# ---------------------------------------------------------------------------------- sample


def _check_samples(m, n, length):
    def check(x):
        assert isinstance(x, tf.Tensor) and x.dtype == m.event.dtype, x
        assert x.shape.as_list() == [n, *_event_shape(m, length)], x.shape
        v = x.numpy()
        if m.event.discrete:
            assert v.size == 0 or (v.min() >= 0 and v.max() < m.num_levels), v
        else:
            assert np.isfinite(v).all(), f"non-finite samples: {v}"
            if m.event.support is not None:
                assert v.size == 0 or (v.min() >= m.event.support[0] and v.max() <= m.event.support[1]), v

    return check


# (value, valid) pairs: each argument's edge cases.
NUM_SAMPLES = [
    (1, True),
    (2, True),
    (np.int64(2), True),
    (0, False),
    (-1, False),
    (10**9, False),
    (2**40, False),
    (2.5, False),
    (True, False),
    ("2", False),
    (None, False),
    (float("nan"), False),
    (float("inf"), False),
]
TEMPERATURES = [
    (1.0, True),
    (0.5, True),
    (np.float32(2.0), True),
    (1e-30, True),
    (1e30, True),
    (0.0, False),
    (-1.0, False),
    (float("inf"), False),
    (float("-inf"), False),
    (float("nan"), False),
    ("hot", False),
    (None, False),
    (1e-50, False),
    (1e39, False),
]  # the last two are 0 and inf in float32
SEEDS = [
    (None, True),
    (0, True),
    (-1, True),
    (2**31, True),
    (2**62, True),
    (np.int64(7), True),
    (2**64, False),
    (-(2**64), False),
    (1.5, False),
    ("seed", False),
]
LENGTHS = [
    (1, True),
    (1, True),
    (0, False),
    (-2, False),
    (10**9, False),
    (2.5, False),
    (None, False),
    ("3", False),
]  # valid ones are offsets from the model's min_length


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
@fuzz_settings(10)
@given(data=st.data())
def test_sample_arguments(name, preset, data):
    """sample(n, seed=, temperature=, length=, cache=): right samples or a clear error."""
    m = model(name, preset)
    n, n_ok = data.draw(st.sampled_from(NUM_SAMPLES), label="num_samples")
    t, t_ok = data.draw(st.sampled_from(TEMPERATURES), label="temperature")
    seed, s_ok = data.draw(st.sampled_from(SEEDS), label="seed")
    cache = data.draw(st.booleans(), label="cache")
    if m.event.free_length:
        i = data.draw(st.integers(0, len(LENGTHS)), label="length case")
        if i == len(LENGTHS):  # beyond the model's longest sequence (where it has one)
            length, l_ok = (m.max_length or m.min_length) + 1, m.max_length is None
        else:
            length, l_ok = LENGTHS[i]
        if i < 2:
            length += m.min_length
    else:
        length, l_ok = data.draw(st.sampled_from([(None, True), (3, False)]), label="length")
    valid = n_ok and t_ok and s_ok and l_ok
    names = tuple(
        a
        for a, ok in (("num_samples", n_ok), ("temperature", t_ok), ("seed", s_ok), ("length", l_ok))
        if not ok
    )
    # With several bad arguments any one of them may be named first.
    expect(
        lambda: m.sample(n, seed=seed, temperature=t, cache=cache, length=length),
        valid,
        _check_samples(m, int(n) if valid else 0, length if valid else None),
        names,
    )


# --------------------------------------------------------------------------- sample_from_noise

NOISE_CASES = [
    "valid",
    "empty",
    "rank",
    "wrong_elements",
    "wrong_depth",
    "nan",
    "outside",
    "zero_or_one",
    "ints",
    "strings",
    "bad_temperature",
    "too_long",
]


def _noise_shape(m, n, length):
    if isinstance(m, ark.models.LatentVariableModel):
        return (n, m.noise_size, 1)
    D = m.event.num_elements(length)
    return (n, D, m.noise_depth)


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
@fuzz_settings(2)
@given(seed=st.integers(0, 2**16))
def test_sample_from_noise(name, preset, seed):
    """sample_from_noise: uniforms in (0, 1) of shape [n, D, depth]; anything else refused.

    Each example runs every case of `NOISE_CASES` (n fixed: a new n would trace the sampler
    again, the costly part).
    """
    for case in NOISE_CASES:
        try:
            _noise_case(model(name, preset), case, 2, seed)
        except AssertionError as e:
            raise AssertionError(f"case {case!r}: {e}") from e


def _noise_case(m, case, n, seed):
    length = m.min_length + 1 if m.event.free_length else None
    rng = np.random.RandomState(seed)
    shape = _noise_shape(m, n, length)
    u = rng.uniform(0.01, 0.99, size=shape).astype(np.float32)
    t, valid = 1.0, case == "valid"
    if case == "empty":
        u, valid, n = u[:0], True, 0
    elif case == "rank":
        u = u[0]
    elif case == "wrong_elements":
        per = shape[1] // length if m.event.free_length else 1
        u = rng.uniform(0.01, 0.99, size=(n, shape[1] + per, shape[2])).astype(np.float32)
        valid = m.event.free_length and not isinstance(m, ark.models.LatentVariableModel)
        length = length + 1 if valid else None
    elif case == "too_long":  # beyond max_length (valid where the model has none: cheap n = 0)
        long = (getattr(m, "max_length", None) or 0) + 1
        if not m.event.free_length or long == 1:
            return
        u = rng.uniform(0.01, 0.99, size=(0, long * shape[1] // length, shape[2])).astype(np.float32)
    elif case == "wrong_depth":
        u = rng.uniform(0.01, 0.99, size=(n, shape[1], shape[2] + 1)).astype(np.float32)
    elif case == "nan":
        u.reshape(-1)[rng.randint(u.size)] = np.nan
    elif case == "outside":
        u.reshape(-1)[rng.randint(u.size)] = rng.choice([-0.5, 1.5, 1e9])
    elif case == "zero_or_one":
        u.reshape(-1)[rng.randint(u.size)] = rng.choice([0.0, 1.0])
    elif case == "ints":
        u = (u * 2).astype(np.int32)
    elif case == "strings":
        u = u.astype(str)
    elif case == "bad_temperature":
        t = rng.choice([0.0, -1.0, np.inf, np.nan])
    names = {"bad_temperature": ("temperature",), "too_long": ("length",), "wrong_elements": ()}.get(
        case, ("noise",)
    )
    expect(lambda: m.sample_from_noise(u, temperature=t), valid, _check_samples(m, n, length), names)


# ------------------------------------------------------------------------------ latent models

S_CASES = [
    (1, True),
    (3, True),
    (0, False),
    (-4, False),
    (10**9, False),
    (1.5, False),
    (None, None),
    ("3", False),
]


@pytest.mark.parametrize("name,preset", LATENT, ids=harness.case_ids(LATENT))
@fuzz_settings(12)
@given(data=st.data())
def test_latent_bounds(name, preset, data):
    """elbo / log_prob(num_samples=S, seed=): bounds <= 0 of shape [B], or a clear error."""
    m = model(name, preset)
    case = data.draw(st.sampled_from(X_CASES[:8] + ["nan", "above_range"]), label="case")
    S, s_ok = data.draw(st.sampled_from(S_CASES), label="num_samples")
    seed, seed_ok = data.draw(
        st.sampled_from([(0, True), (-3, True), (2**40, True), (1.5, False), (2**64, False)]), label="seed"
    )
    x, x_ok = make_x(m, case, data.draw(st.integers(1, 3)), None, data.draw(st.integers(0, 99)))
    n = _batch_of(x) if np.ndim(x) else 0
    elbo_ok = x_ok and s_ok is not False and seed_ok
    names = (
        () if not x_ok else tuple(a for a, ok in (("num_samples", s_ok), ("seed", seed_ok)) if ok is False)
    )
    if S is None:  # elbo's default S; log_prob's default num_importance_samples
        expect(lambda: m.elbo(x, seed=seed), x_ok and seed_ok, check_log_prob(m, n), names)
    else:
        expect(lambda: m.elbo(x, num_samples=S, seed=seed), elbo_ok, check_log_prob(m, n), names)
    expect(lambda: m.log_prob(x, num_samples=S, seed=seed), elbo_ok, check_log_prob(m, n), names)
