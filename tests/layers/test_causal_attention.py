"""Causal attention: strictly earlier positions only, empty rows give zeros, the cache step agrees."""

import numpy as np
import tensorflow as tf

import layer_case as lc
from ar_keras.layers import CausalAttention
from ar_keras.layers.causal_attention import masked_attention


def _inputs(seed=0, H=3, W=4):
    rng = np.random.RandomState(seed)
    q = rng.randn(2, H, W, 5).astype(np.float32)
    k = rng.randn(2, H, W, 5).astype(np.float32)
    v = rng.randn(2, H, W, 7).astype(np.float32)
    return q, k, v


def test_position_i_reads_keys_and_values_before_i_only():
    q, k, v = _inputs()
    layer = CausalAttention()
    base = layer(q, k, v).numpy().reshape(2, 12, 7)
    assert np.all(base[:, 0] == 0)                                    # nothing to attend to
    for j in range(12):
        k2, v2 = k.copy().reshape(2, 12, 5), v.copy().reshape(2, 12, 7)
        k2[:, j] += 1.0
        v2[:, j] += 1.0
        out = layer(q, k2.reshape(k.shape), v2.reshape(v.shape)).numpy().reshape(2, 12, 7)
        changed = np.abs(out - base).max(-1).max(0) > 0
        assert not changed[:j + 1].any() and changed[j + 1:].all()
    inclusive = CausalAttention(strict=False)(q, k, v).numpy().reshape(2, 12, 7)
    np.testing.assert_allclose(inclusive[:, 0], v.reshape(2, 12, 7)[:, 0], rtol=1e-6)
    assert not lc.check_serialization(CausalAttention(strict=False), [q, k, v]).strict
    lc.check_symbolic_matches_eager(layer, [q, k, v])


def test_matches_a_plain_softmax_and_the_cache_step():
    q, k, v = _inputs(1)
    full = CausalAttention()(q, k, v).numpy().reshape(2, 12, 7)
    qf, kf, vf = q.reshape(2, 12, 5), k.reshape(2, 12, 5), v.reshape(2, 12, 7)
    for i in range(1, 12):
        logits = np.einsum("bd,bnd->bn", qf[:, i], kf[:, :i]) / np.sqrt(5)
        w = np.exp(logits - logits.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        np.testing.assert_allclose(full[:, i], np.einsum("bn,bnd->bd", w, vf[:, :i]), atol=1e-5)
        # Entries at and after i in the cache may hold anything.
        cache_k = np.concatenate([kf[:, :i], 99 * np.ones_like(kf[:, i:])], 1)
        cache = {"keys": cache_k, "values": vf}
        step = CausalAttention().step(qf[:, i], cache, tf.constant(i)).numpy()
        np.testing.assert_allclose(step, full[:, i], atol=1e-5)


def test_saturated_logits_stay_finite_with_finite_gradients():
    q = tf.Variable(tf.random.normal([1, 4, 3]) * 1e4)
    k = tf.random.normal([1, 4, 3]) * 1e4
    v = tf.random.normal([1, 4, 2])
    mask = tf.range(4)[None, :] < tf.range(4)[:, None]
    with tf.GradientTape() as tape:
        out = masked_attention(q, k, v, mask)
        total = tf.reduce_sum(out)
    assert np.all(np.isfinite(out.numpy())) and np.all(out.numpy()[0, 0] == 0)
    assert np.all(np.isfinite(tape.gradient(total, q).numpy()))


def test_streaming_through_init_cache_write_step_equals_call():
    q, k, v = _inputs(2)
    for strict in (True, False):
        layer = CausalAttention(strict=strict)
        full = layer(q, k, v).numpy().reshape(2, 12, 7)
        qf, kf, vf = q.reshape(2, 12, 5), k.reshape(2, 12, 5), v.reshape(2, 12, 7)

        def step(i, cache):
            if not strict:                          # position i reads its own key: write first
                cache = layer.write(cache, kf[:, i:i + 1], vf[:, i:i + 1], i)
            out = layer.step(qf[:, i], cache, tf.constant(i))
            if strict:                              # pixel i's key is complete after its step
                cache = layer.write(cache, kf[:, i:i + 1], vf[:, i:i + 1], i)
            return out, cache

        cache = layer.init_cache(2, 12, 5, 7)
        assert cache["keys"].shape == (2, 12, 5) and cache["values"].shape == (2, 12, 7)
        cache = lc.check_step_matches_call(full, step, cache, range(12))
        np.testing.assert_array_equal(cache["keys"].numpy(), kf)
    unchanged = layer.write(cache, kf[:, :1] + 1, vf[:, :1] + 1, -1)      # no position -1
    np.testing.assert_array_equal(unchanged["values"].numpy(), vf)
