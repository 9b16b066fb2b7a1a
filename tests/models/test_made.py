"""MADE: mask ensembles, order/connectivity agnosticism, the probability-averaging ensemble."""

import keras
import numpy as np
import test_case as tc

import ar_keras as ark


def made(**kw):
    base = dict(image_shape=(2, 2, 1), num_levels=3, hidden_units=[12, 12])
    base.update(kw)
    return ark.models.get("made", preset="tiny", **base)


def test_jacobian_is_strictly_triangular_in_every_mask():
    model = made(num_masks=4, order_agnostic=True, direct_connection=True)
    tc.sharpen(model)
    for m in range(4):
        order = np.argsort(model.made.degrees(m)[0])
        rank = np.empty(4, int)
        rank[order] = np.arange(4)
        base = tc.random_data(model, 1)
        ref = model.network(base, mask_index=m).numpy().reshape(4, -1)
        for j in range(4):
            changed = base.copy().reshape(-1)
            changed[j] = (changed[j] + 1) % 3
            out = model.network(changed.reshape(base.shape), mask_index=m).numpy().reshape(4, -1)
            moved = np.abs(out - ref).max(1) > 0
            assert not np.any(moved & (rank <= rank[j])), f"mask {m}: output depends on a later input"


def test_order_agnostic_masks_have_different_orderings():
    model = made(image_shape=(3, 3, 1), num_masks=6, order_agnostic=True)
    orders = {tuple(np.argsort(model.made.degrees(m)[0])) for m in range(6)}
    assert len(orders) > 1
    np.testing.assert_array_equal(np.argsort(model.made.degrees(0)[0]), np.arange(9))


def test_training_cycles_masks():
    model = made(num_masks=3)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x = tc.random_data(model, 8)
    seen = []
    for _ in range(3):
        seen.append(int(model._mask_index(True, None)))
        model.fit(x, epochs=1, batch_size=8, verbose=0)
    assert seen == [0, 1, 2]


def test_ensemble_averages_probabilities_and_normalizes():
    model = made(num_masks=3, order_agnostic=True)
    tc.sharpen(model)
    x = tc.random_data(model, 5)
    per_mask = np.stack(
        [
            model.head.log_prob(model.network(x, mask_index=m), x).numpy().reshape(5, -1).sum(1)
            for m in range(3)
        ]
    )
    expected = np.log(np.exp(per_mask.astype(np.float64)).mean(0))
    np.testing.assert_allclose(model.ensemble_log_prob(x).numpy(), expected, rtol=1e-5)
    configs = tc.configurations(model.image_shape, 3)
    total = np.exp(model.ensemble_log_prob(configs).numpy().astype(np.float64)).sum()
    assert abs(total - 1) < 1e-4
    # Averaging logits instead would give a different (unnormalised) answer.
    assert not np.allclose(per_mask.mean(0), expected)


def test_reload_keeps_masks(tmp_path):
    model = made(ordering="random", num_masks=2, seed=5)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.ordering, model.ordering)
    x = tc.random_data(model, 3)
    np.testing.assert_allclose(loaded.ensemble_log_prob(x), model.ensemble_log_prob(x), rtol=1e-6)


def test_random_ordering_causality_and_cache():
    model = made(image_shape=(2, 3, 1), ordering="random", seed=2, direct_connection=True)
    assert not np.array_equal(model.ordering, np.arange(6))
    tc.check_causality(model, full_dependency=True)
    tc.check_cache_equals_recompute(model)
