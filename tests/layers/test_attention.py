"""The attention module: set definitions, blockwise == brute force, step == call, reach, cost, bad input."""

import itertools

import layer_case as lc
import numpy as np
import pytest
import tensorflow as tf

from ar_keras.layers import CausalSelfAttention, PatternAttention
from ar_keras.layers.attention import blockwise, patterns

# (pattern, kwargs) over several (n, l, c); local_2d's n is H W.
ONE_D = [
    ("dense", {}),
    ("local_1d", dict(block_length=3)),
    ("local_1d", dict(block_length=5)),
    ("strided_local", dict(block_length=3)),
    ("strided_stride", dict(block_length=3)),
    ("strided", dict(block_length=3)),
    ("strided", dict(block_length=4)),
    ("strided", dict(block_length=1)),
    ("fixed_block", dict(block_length=4)),
    ("fixed_summary", dict(block_length=4, num_summary=1)),
    ("fixed", dict(block_length=4, num_summary=2)),
    ("fixed", dict(block_length=3, num_summary=3)),
    ("fixed", dict(block_length=5, num_summary=1)),
]
TWO_D = [
    ("local_2d", dict(grid_shape=(4, 6), block_shape=(2, 3), flange=(1, 2))),
    ("local_2d", dict(grid_shape=(6, 4), block_shape=(2, 2), flange=(3, 3))),
    ("local_2d", dict(grid_shape=(3, 4), block_shape=(1, 4), flange=(0, 1))),
]
LENGTHS = (16, 13, 1)  # a multiple of every l above but 3 and 5, and not


def _cases():
    for (pattern, kw), strict in itertools.product(ONE_D, (False, True)):
        for n in LENGTHS:
            yield pattern, kw, strict, n
    for (pattern, kw), strict in itertools.product(TWO_D, (False, True)):
        yield pattern, kw, strict, kw["grid_shape"][0] * kw["grid_shape"][1]


def _name(case):
    pattern, kw, strict, n = case
    return f"{pattern}-{'-'.join(f'{v}' for v in kw.values())}-{'strict' if strict else 'incl'}-n{n}"


CASES = list(_cases())


# ---------------------------------------------------------------- the sets
def test_sets_by_hand():
    rows = lambda m, i: list(np.nonzero(m[i])[0])  # noqa: E731
    # strided, l = 3: A1 = {4..7} (l + 1 keys), A2 = {7, 4, 1}.
    assert rows(patterns.allowed("strided", 8, block_length=3), 7) == [1, 4, 5, 6, 7]
    assert rows(patterns.allowed("strided_local", 8, block_length=3, strict=True), 7) == [4, 5, 6]
    # fixed, l = 4, c = 1: own block {8, 9}, the last position of blocks 0, 1: {3, 7}.
    assert rows(patterns.allowed("fixed", 10, block_length=4, num_summary=1), 9) == [3, 7, 8, 9]
    # c = 2 takes residues {2, 3} (our reading of the paper's "{t, ..., l}", t = l - c).
    assert rows(patterns.allowed("fixed_summary", 12, block_length=4, num_summary=2), 11) == [
        2,
        3,
        6,
        7,
        10,
        11,
    ]
    assert rows(patterns.allowed("local_1d", 10, block_length=4), 9) == [4, 5, 6, 7, 8, 9]
    assert not patterns.allowed("dense", 3, strict=True)[0].any()
    # local_2d on a 4x4 grid, blocks 2x2, flange (1, 1): raster pixel (2, 1) reads the row above
    # (cols 0..2), its block's earlier pixel (2, 0) and itself; not (2, 2) (right flange, a
    # later block), not row 3 (later in its block).
    order = patterns.block_raster_order((4, 4), (2, 2))
    np.testing.assert_array_equal(order, [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15])
    mask = patterns.allowed("local_2d", 16, grid_shape=(4, 4), block_shape=(2, 2), flange=(1, 1))
    g = int(np.nonzero(order == 2 * 4 + 1)[0][0])
    assert sorted(order[np.nonzero(mask[g])[0]]) == [4, 5, 6, 8, 9]


@pytest.mark.parametrize("case", [c for c in CASES if c[3] != 1], ids=_name)
def test_every_set_is_causal(case):
    pattern, kw, strict, n = case
    mask = patterns.allowed(pattern, n, strict=strict, **kw)
    assert not np.triu(mask, 0 if strict else 1).any()
    if pattern not in ("local_2d", "fixed_summary") and not strict:
        assert mask.diagonal().all()


# ------------------------------------------------- blockwise == brute force
def _qkv(n, seed, batch=1, heads=2):
    rng = np.random.RandomState(seed)
    return (
        rng.randn(batch, heads, n, 4).astype(np.float32),
        rng.randn(batch, heads, n, 4).astype(np.float32),
        rng.randn(batch, heads, n, 3).astype(np.float32),
    )


def _dense_masked(q, k, v, mask):
    """The plain computation: all n x n scores, masked, one softmax (empty rows give zeros)."""
    logits = tf.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(int(q.shape[-1]))
    logits = tf.where(mask, logits, -np.inf)
    top = tf.reduce_max(logits, -1, keepdims=True)
    e = tf.exp(logits - tf.where(tf.math.is_finite(top), top, 0.0)) * tf.cast(mask, tf.float32)
    w = tf.math.divide_no_nan(e, tf.reduce_sum(e, -1, keepdims=True))
    return tf.einsum("bhij,bhjd->bhid", w, v)


@pytest.mark.parametrize("case", CASES, ids=_name)
def test_blockwise_attention_set_is_the_brute_force_set(case):
    """Which keys change query i's output, found by perturbing one key/value per batch copy."""
    pattern, kw, strict, n = case
    spec = patterns.make_spec(pattern, strict=strict, **kw)
    q, k, v = _qkv(n, 0, heads=1)
    rng = np.random.RandomState(1)
    # Copy 0 untouched; copy j + 1 has key and value j replaced.
    qs, ks, vs = (np.repeat(a, n + 1, axis=0) for a in (q, k, v))
    for j in range(n):
        ks[j + 1, 0, j] = rng.randn(4)
        vs[j + 1, 0, j] = rng.randn(3) + 5.0
    out = blockwise.attend(qs, ks, vs, spec).numpy()[:, 0]  # [n + 1, n, 3]
    changed = np.abs(out[1:] - out[:1]).max(-1) > 1e-6  # [j, i]
    np.testing.assert_array_equal(changed.T, patterns.allowed(pattern, n, strict=strict, **kw))


@pytest.mark.parametrize("case", CASES, ids=_name)
def test_blockwise_equals_dense_masked_with_the_brute_force_mask(case):
    pattern, kw, strict, n = case
    spec = patterns.make_spec(pattern, strict=strict, **kw)
    q, k, v = (tf.constant(a) for a in _qkv(n, 2, batch=2))
    mask = patterns.allowed(pattern, n, strict=strict, **kw)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([q, k, v])
        got = blockwise.attend(q, k, v, spec)
        want = _dense_masked(q, k, v, mask)
        probe = tf.constant(np.random.RandomState(3).randn(*want.shape).astype(np.float32))
        loss_got, loss_want = tf.reduce_sum(got * probe), tf.reduce_sum(want * probe)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
    for g, w in zip(tape.gradient(loss_got, [q, k, v]), tape.gradient(loss_want, [q, k, v])):
        np.testing.assert_allclose(g.numpy(), w.numpy(), atol=1e-5)


@pytest.mark.parametrize("pattern,kw", [p for p in ONE_D if p[0] != "dense"])
def test_sparse_patterns_never_build_an_n_by_n_tensor(pattern, kw):
    """Every tensor of the traced graph (batch 1, 1 head, width 1) has < n^2 / 2 elements."""
    n, l = 256, 16
    spec = patterns.make_spec(pattern, block_length=l, num_summary=4 if "fixed" in pattern else None)
    x = tf.TensorSpec([1, 1, n, 1])
    fn = tf.function(lambda q, k, v: blockwise.attend(q, k, v, spec))
    dense = tf.function(lambda q, k, v: blockwise.attend(q, k, v, patterns.make_spec("dense")))

    def largest(f):
        graph = f.get_concrete_function(x, x, x).graph
        return max(t.shape.num_elements() or 0 for op in graph.get_operations() for t in op.outputs)

    assert largest(dense) >= n * n  # the check can fail
    assert largest(fn) < n * n // 2, largest(fn)


# ------------------------------------------------------------ step == call
@pytest.mark.parametrize("pattern,kw", ONE_D + TWO_D)
def test_layer_step_equals_call_for_every_pattern(pattern, kw):
    n = kw["grid_shape"][0] * kw["grid_shape"][1] if pattern == "local_2d" else 11
    x = tf.random.stateless_normal([2, n, 6], seed=[1, 2])
    memory = tf.random.stateless_normal([2, n, 5], seed=[3, 4])
    for strict in (False, True):
        layer = CausalSelfAttention(
            num_heads=2, key_dim=3, value_dim=4, output_dim=7, pattern=pattern, strict=strict, **kw
        )
        full = layer(x, memory=memory)
        assert full.shape == (2, n, 7)
        step = tf.function(lambda x_t, cache, t, m_t: layer.step(x_t, cache, t, memory_t=m_t))
        lc.check_step_matches_call(
            full,
            lambda t, cache: step(x[:, t], cache, tf.constant(t), memory[:, t]),
            layer.init_cache(2, n),
            range(n),
        )


def test_layer_is_the_dense_masked_computation_on_its_own_weights():
    x = tf.random.stateless_normal([2, 13, 6], seed=[5, 6])
    layer = CausalSelfAttention(num_heads=2, key_dim=3, pattern="fixed", block_length=4, num_summary=2)
    y = layer(x)
    heads = lambda t, d: tf.transpose(tf.reshape(t, [2, 13, 2, d]), [0, 2, 1, 3])  # noqa: E731
    o = _dense_masked(
        heads(layer.query(x), 3),
        heads(layer.key(x), 3),
        heads(layer.value(x), 3),
        patterns.allowed("fixed", 13, block_length=4, num_summary=2),
    )
    want = layer.out(tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [2, 13, 6]))
    np.testing.assert_allclose(y.numpy(), want.numpy(), atol=1e-5)


def test_layer_serialises_saves_and_runs_symbolically(tmp_path):
    x = tf.random.stateless_normal([2, 12, 6], seed=[7, 8])
    memory = tf.random.stateless_normal([2, 12, 5], seed=[9, 1])
    layer = CausalSelfAttention(
        num_heads=2,
        key_dim=3,
        pattern="local_2d",
        grid_shape=(3, 4),
        block_shape=(1, 2),
        flange=(1, 1),
        dropout=0.1,
        output_initializer="zeros",
    )
    lc.check_serialization(layer, [x], {"memory": memory})
    lc.check_symbolic_matches_eager(layer, [x], {"memory": memory}, path=str(tmp_path / "attention.keras"))
    assert np.all(layer(x, memory=memory).numpy() == layer.out.bias.numpy())  # zero W_o
    strided = CausalSelfAttention(num_heads=1, key_dim=2, pattern="strided", block_length=3)
    lc.check_symbolic_matches_eager(strided, [x], shapes={0: (None, 6)})  # any length


def test_dropout_acts_in_training_only():
    x = tf.random.stateless_normal([2, 9, 6], seed=[2, 2])
    layer = CausalSelfAttention(num_heads=2, key_dim=3, pattern="local_1d", block_length=3, dropout=0.5)
    np.testing.assert_array_equal(layer(x).numpy(), layer(x, training=False).numpy())
    assert not np.allclose(layer(x, training=True).numpy(), layer(x).numpy())


# --------------------------------------------------------------- reachability
def _reach(first, second, residual):
    """Positions that position i sees after layer ``first`` then layer ``second`` (bool [n, n])."""
    eye = np.eye(len(first), dtype=int) if residual else 0
    return ((second.astype(int) + eye) @ (first.astype(int) + eye)) > 0


@pytest.mark.parametrize("n,l", [(64, 8), (50, 7), (30, 5)])
def test_two_strided_layers_reach_every_earlier_position(n, l):
    local = patterns.allowed("strided_local", n, block_length=l)
    stride = patterns.allowed("strided_stride", n, block_length=l)
    earlier = np.tril(np.ones((n, n), bool))
    # Even without residual connections, in either order.
    np.testing.assert_array_equal(_reach(local, stride, residual=False), earlier)
    np.testing.assert_array_equal(_reach(stride, local, residual=False), earlier)
    assert not (local | stride)[-1].all()  # one layer does not


@pytest.mark.parametrize("n,l,c", [(64, 8, 2), (50, 7, 1), (30, 5, 5)])
def test_two_fixed_layers_reach_every_earlier_position(n, l, c):
    block = patterns.allowed("fixed_block", n, block_length=l)
    summary = patterns.allowed("fixed_summary", n, block_length=l, num_summary=c)
    merged = patterns.allowed("fixed", n, block_length=l, num_summary=c)
    earlier = np.tril(np.ones((n, n), bool))
    # The block half, then the summary half, through the residual stream.
    np.testing.assert_array_equal(_reach(block, summary, residual=True), earlier)
    np.testing.assert_array_equal(_reach(merged, merged, residual=False), earlier)
    if c < l:  # without the residual, position i misses its own block before the summaries
        assert not _reach(block, summary, residual=False)[l * 2 + l - c - 1, 2 * l]
        assert not merged[-1].all()  # one layer does not


# ------------------------------------------------------------ PatternAttention
def _maps(seed=0, H=3, W=4):
    rng = np.random.RandomState(seed)
    return (
        rng.randn(2, H, W, 5).astype(np.float32),
        rng.randn(2, H, W, 5).astype(np.float32),
        rng.randn(2, H, W, 7).astype(np.float32),
    )


def test_pattern_attention_strict_reads_earlier_positions_only():
    q, k, v = _maps()
    layer = PatternAttention()
    base = layer(q, k, v).numpy().reshape(2, 12, 7)
    assert np.all(base[:, 0] == 0)  # nothing to attend to
    for j in range(12):
        k2, v2 = k.copy().reshape(2, 12, 5), v.copy().reshape(2, 12, 7)
        k2[:, j] += 1.0
        v2[:, j] += 1.0
        out = layer(q, k2.reshape(k.shape), v2.reshape(v.shape)).numpy().reshape(2, 12, 7)
        changed = np.abs(out - base).max(-1).max(0) > 0
        assert not changed[: j + 1].any() and changed[j + 1 :].all()
    inclusive = PatternAttention(strict=False)(q, k, v).numpy().reshape(2, 12, 7)
    np.testing.assert_allclose(inclusive[:, 0], v.reshape(2, 12, 7)[:, 0], rtol=1e-6)
    assert not lc.check_serialization(PatternAttention(strict=False), [q, k, v]).strict
    lc.check_symbolic_matches_eager(layer, [q, k, v])


def test_saturated_logits_stay_finite_with_finite_gradients():
    q = tf.Variable(tf.random.normal([1, 1, 4, 3]) * 1e4)
    k = tf.random.normal([1, 1, 4, 3]) * 1e4
    v = tf.random.normal([1, 1, 4, 2])
    with tf.GradientTape() as tape:
        out = blockwise.attend(q, k, v, patterns.make_spec("dense", strict=True))
        total = tf.reduce_sum(out)
    assert np.all(np.isfinite(out.numpy())) and np.all(out.numpy()[0, 0, 0] == 0)
    assert np.all(np.isfinite(tape.gradient(total, q).numpy()))


@pytest.mark.parametrize(
    "pattern,kw",
    [("dense", {}), ("local_1d", dict(block_length=5)), ("fixed", dict(block_length=4, num_summary=2))],
)
def test_pattern_attention_streaming_equals_call(pattern, kw):
    q, k, v = _maps(2)
    qf, kf, vf = q.reshape(2, 12, 5), k.reshape(2, 12, 5), v.reshape(2, 12, 7)
    for strict in (True, False):
        layer = PatternAttention(pattern, strict=strict, **kw)
        full = layer(q, k, v).numpy().reshape(2, 12, 7)

        def step(i, cache):
            if not strict:  # position i reads its own key: write first
                cache = layer.write(cache, kf[:, i : i + 1], vf[:, i : i + 1], i)
            out = layer.step(qf[:, i], cache, tf.constant(i))
            if strict:  # PixelSNAIL: the key is complete after the step
                cache = layer.write(cache, kf[:, i : i + 1], vf[:, i : i + 1], i)
            return out, cache

        cache = layer.init_cache(2, 12, 5, 7)
        cache = layer.write(cache, kf[:, :1] + 9.0, vf[:, :1] + 9.0, -1)  # writes nothing
        lc.check_step_matches_call(full, step, cache, range(12))


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(pattern="sparse"), "Unknown attention pattern 'sparse'"),
        (dict(pattern="strided"), "needs block_length"),
        (dict(pattern="local_1d", block_length=0), "block_length must be a positive integer"),
        (dict(pattern="fixed", block_length=4), "needs num_summary"),
        (dict(pattern="fixed", block_length=4, num_summary=5), "at most block_length"),
        (
            dict(pattern="local_2d", grid_shape=(4, 6), block_shape=(3, 3), flange=(1, 1)),
            "must divide grid_shape",
        ),
        (dict(pattern="local_2d", grid_shape=(4, 6), block_shape=(2, 3)), "needs flange"),
        (
            dict(pattern="local_2d", grid_shape=(4, 6), block_shape=(2, 3), flange=(-1, 0)),
            "flange must be a pair of non-negative integers",
        ),
    ],
)
def test_bad_arguments_raise_clear_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CausalSelfAttention(num_heads=1, key_dim=2, **kwargs)
    with pytest.raises(ValueError, match=message):
        patterns.allowed(n=24, **kwargs)


def test_sequence_that_does_not_fit_the_grid_raises():
    layer = CausalSelfAttention(
        num_heads=1, key_dim=2, pattern="local_2d", grid_shape=(4, 6), block_shape=(2, 3), flange=(1, 1)
    )
    with pytest.raises(ValueError, match=r"grid_shape=\(4, 6\) needs 24 positions, got .* 20"):
        layer(tf.zeros([1, 20, 3]))
    with pytest.raises(ValueError, match="needs 24 positions"):
        layer.init_cache(1, 20)
    with pytest.raises(ValueError, match="must divide"):
        patterns.block_raster_order((4, 6), (3, 4))
    with pytest.raises(ValueError, match="max_length must be a positive Python int"):
        layer.init_cache(1, tf.constant(24))
    with pytest.raises(ValueError, match="num_heads must be a positive integer"):
        CausalSelfAttention(num_heads=0, key_dim=2)


def test_a_cached_step_reads_the_patterns_key_count_not_the_length():
    """K keys per step (documented in `blockwise.step_positions`), for a buffer of L = 1,024."""
    L, l, c = 1024, 32, 4
    expected = {
        "dense": L,
        "local_1d": 2 * l,
        "strided_local": l + 1,
        "strided_stride": L // l,
        "strided": l + 1 + L // l - 2,
        "fixed_block": l,
        "fixed_summary": c * L // l,
        "fixed": l + c * L // l,
    }
    for pattern, k in expected.items():
        spec = patterns.make_spec(pattern, block_length=l, num_summary=c)
        j, ok = blockwise.step_positions(spec, tf.constant(700), L)
        assert j.shape == (k,) and ok.shape == (k,), pattern
        want = patterns.allowed(pattern, L, block_length=l, num_summary=c)[700]
        assert sorted(j.numpy()[ok.numpy()]) == list(np.nonzero(want)[0]), pattern
    spec = patterns.make_spec("local_2d", grid_shape=(32, 32), block_shape=(4, 8), flange=(4, 8))
    j, ok = blockwise.step_positions(spec, tf.constant(500), L)
    assert j.shape == ((4 + 4) * (8 + 16),)
    want = patterns.allowed("local_2d", L, grid_shape=(32, 32), block_shape=(4, 8), flange=(4, 8))
    assert sorted(j.numpy()[ok.numpy()]) == list(np.nonzero(want[500])[0])
