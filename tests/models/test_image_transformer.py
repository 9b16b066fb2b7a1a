"""Image Transformer beyond the shared contract: 2-D attention in block-raster order, the shift,
the heads, class and super-resolution conditioning, bad configurations.

The shared image suite (tests/models/test_contract.py) runs on the tiny preset, whose attention
is local 1-D; the same checks run here on local 2-D models, in the model's own generation order.
"""

import contract
import keras
import numpy as np
import pytest
import tensorflow as tf
import test_case as tc

import ar_keras as ark
from ar_keras.layers.attention import timing_signal


def model_of(**overrides):
    return ark.models.get("image_transformer", preset="tiny", **overrides)


def two_d(image_shape, block_shape, flange=(1, 1), num_levels=3, **overrides):
    return model_of(
        attention="local_2d",
        image_shape=image_shape,
        block_shape=block_shape,
        flange=flange,
        num_levels=num_levels,
        **overrides,
    )


# ------------------------------------------------------------------------------ local 2-D order
def test_local_2d_ordering_is_block_raster():
    # (2, 4, 1) image, 2 x 2 blocks: the left block (raster 0, 1, 4, 5) before the right one.
    model = two_d((2, 4, 1), (2, 2))
    np.testing.assert_array_equal(model.ordering, [0, 1, 4, 5, 2, 3, 6, 7])
    # RGB: the grid is H x (W C); a block 2 grid positions wide splits the pixels' channels,
    # yet R comes before G before B inside every pixel.
    model = two_d((2, 2, 3), (2, 2))
    np.testing.assert_array_equal(model.ordering, [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11])
    # The sampler draws in that order (groups of one).
    groups = model.sampling_groups(model.event_size).numpy()
    np.testing.assert_array_equal(groups[:, 0], model.ordering)


@pytest.mark.parametrize("shape,block", [((2, 4, 1), (2, 2)), ((2, 2, 3), (2, 2)), ((4, 2, 1), (2, 1))])
def test_local_2d_causality_in_block_raster_order(shape, block):
    model = two_d(shape, block, flange=(1, 1), num_layers=3)
    tc.check_causality(model, full_dependency=True, trials=2)


@pytest.mark.parametrize("right_shift", ["sequence", "blockwise"])
def test_local_2d_normalization_by_enumeration(right_shift):
    model = two_d((2, 2, 1), (2, 1), num_levels=4, right_shift=right_shift)  # order 0, 2, 1, 3
    tc.sharpen(model)
    tc.check_normalization(model)


def test_local_2d_samples_follow_the_block_raster_order():
    # The law sampled is the model's law, generated in block-raster order (0, 2, 1, 3).
    model = two_d((2, 2, 1), (2, 1), num_levels=2)
    tc.sharpen(model)
    tc.check_samples_match_log_prob(model, max_tv=0.05)


def test_local_2d_cached_steps_follow_the_block_raster_order():
    """Step s of the cached sampler, given only the elements of steps < s, returns the
    conditional of element ordering[s] (what the full network gives it from the whole image)."""
    model = two_d((2, 4, 1), (2, 2), num_levels=5, num_layers=2)
    tc.sharpen(model, 1.5)
    D, order = model.event_size, model.ordering
    x = tc.random_data(model, 3).reshape(3, D)  # [3, 2, 4, 1] -> [3, D]
    full = model.element_params(tf.constant(x)).numpy()  # [3, D, P], raster
    cache = model.init_cache(3)
    for s in range(D):
        partial = np.zeros_like(x)
        partial[:, order[:s]] = x[:, order[:s]]  # steps < s drawn
        params, cache = model.step(tf.constant(partial), cache, tf.constant(s))
        np.testing.assert_allclose(params.numpy(), full[:, order[s]], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(image_shape=(4, 2, 2), block_shape=(2, 2)),
        dict(
            image_shape=(2, 3, 3),
            block_shape=(1, 3),
            right_shift="blockwise",
            positions="learned",
            head="dmol",
            num_mixtures=2,
        ),
    ],
)
def test_local_2d_cache_equals_recompute(overrides):
    model = two_d(num_levels=5, **overrides)
    tc.sharpen(model, 1.5)
    tc.check_cache_equals_recompute(model)


def test_global_raster_shift_with_2d_blocks_leaks():
    """Mutation: shifting in raster order, not generation order, breaks causality."""
    model = two_d((2, 4, 1), (2, 2))
    tc.check_causality(model, full_dependency=False, trials=2)
    raster = np.arange(model.event_size) - 1  # raster element each slot carries
    rank = np.argsort(model.ordering)
    leaky = np.where(raster[model.ordering] < 0, -1, rank[np.maximum(raster[model.ordering], 0)])
    model._shift_sources = lambda: leaky
    with pytest.raises(AssertionError, match="changed conditionals"):
        tc.check_causality(model, full_dependency=False, trials=2)


def test_blockwise_shift_never_reads_the_last_element_of_a_block():
    """tensor2tensor's right_shift_blockwise: causal, and blind to each block's last element."""
    model = two_d((2, 4, 1), (2, 2), right_shift="blockwise", num_layers=3)
    tc.check_causality(model, full_dependency=False, trials=2)
    x = tc.random_data(model, 1)
    last = model.ordering[3]  # the last element of block 0
    changed = x.copy().reshape(1, -1)  # [1, 2, 4, 1] -> [1, D]
    changed[0, last] = (changed[0, last] + 1) % model.num_levels
    before = model.conditional_log_probs(x).numpy().reshape(-1)  # [1, 2, 4, 1] -> [D]
    after = model.conditional_log_probs(changed.reshape(x.shape)).numpy().reshape(-1)  # -> [D]
    others = np.arange(model.event_size) != last
    np.testing.assert_allclose(after[others], before[others], atol=1e-6)
    # The default shift carries it into the next block's first slot.
    model = two_d((2, 4, 1), (2, 2), num_layers=3)
    before = model.conditional_log_probs(x).numpy().reshape(-1)  # [1, 2, 4, 1] -> [D]
    after = model.conditional_log_probs(changed.reshape(x.shape)).numpy().reshape(-1)  # -> [D]
    assert not np.allclose(after[model.ordering[4:]], before[model.ordering[4:]])


# ------------------------------------------------------------------------ local 1-D, heads, positions
def test_local_1d_memory_is_the_block_and_the_block_before():
    # One layer, blocks of 3: element t (conditioned through slot t, which carries t - 1) sees
    # slots from the start of the previous block, so x_j reaches x_t iff j + 1 >= 3 (t // 3 - 1).
    model = model_of(image_shape=(1, 9, 1), num_levels=3, num_layers=1, block_length=3)
    D = model.event_size
    x = tc.random_data(model, 1).reshape(1, D)  # [1, 1, 9, 1] -> [1, D]
    changed = np.repeat(x, D, axis=0)
    changed[np.arange(D), np.arange(D)] = (changed[np.arange(D), np.arange(D)] + 1) % 3
    batch = np.concatenate([x, changed]).reshape(D + 1, 1, 9, 1)  # [D+1, D] -> [D+1, 1, 9, 1]
    clp = model.conditional_log_probs(batch)
    clp = clp.numpy().reshape(D + 1, D)  # [D+1, 1, 9, 1] -> [D+1, D]
    depends = np.abs(clp[1:] - clp[:1]) > 1e-5  # [j, t] (above float noise)
    for t in range(D):
        for j in set(range(D)) - {t}:  # x_t's own score changes with it
            expected = j < t and j + 1 >= 3 * (t // 3 - 1)
            assert depends[j, t] == expected, (j, t, np.abs(clp[1 + j, t] - clp[0, t]))


@pytest.mark.parametrize("overrides", [dict(head="dmol", num_mixtures=3), dict(positions="learned")])
def test_heads_and_positions_contract(overrides):
    model = model_of(image_shape=(1, 2, 3), num_levels=3, **overrides)
    tc.check_causality(model, trials=2)
    tc.sharpen(model)
    tc.check_normalization(model)


def test_timing_signal_covers_row_column_and_channel():
    coords = np.array([[0, 0, 0], [2, 1, 2]])
    signal = timing_signal(coords, 14)  # 2 timescales per axis, 2 zeros
    assert signal.shape == (2, 14)
    np.testing.assert_allclose(signal[0], [0, 0, 1, 1] * 3 + [0, 0], atol=1e-7)
    np.testing.assert_allclose(signal[1, :4], [np.sin(2), np.sin(2e-4), np.cos(2), np.cos(2e-4)], rtol=1e-5)
    np.testing.assert_allclose(signal[1, 8:10], [np.sin(2), np.sin(2e-4)], rtol=1e-5)
    # The three channels of a pixel get three different positions.
    model = model_of(image_shape=(1, 1, 3))
    positions = model._position_signal().numpy()
    assert len({tuple(p) for p in positions.round(6)}) == 3


# ------------------------------------------------------------------------------- conditioning
def low_res_of(x, factor=2):
    """A low-resolution image: the mean level of each factor x factor patch."""
    B, H, W, C = x.shape
    patches = x.reshape(B, H // factor, factor, W // factor, factor, C)  # [B, H, W, C] -> [B, h, f, w, f, C]
    return np.round(patches.mean(axis=(2, 4))).astype(np.int32)  # -> [B, h, w, C]


def test_super_resolution_conditioning(tmp_path):
    model = model_of(image_shape=(2, 2, 1), num_levels=3, low_resolution=(1, 1))
    assert model.is_conditional
    tc.sharpen(model)
    configs = tc.configurations(model.image_shape, 3)
    for level in range(3):  # a law over x for each low-res image
        low = np.full((len(configs), 1, 1, 1), level, np.int32)
        total = np.exp(model.log_prob(configs, low).numpy().astype(np.float64)).sum()
        assert abs(total - 1.0) < 2e-4
    x = tc.random_data(model, 4)
    lp = [model.log_prob(x, np.full((4, 1, 1, 1), v, np.int32)).numpy() for v in range(3)]
    assert not np.allclose(lp[0], lp[2]), "the low-resolution image has no effect"
    low = low_res_of(tc.random_data(model, 6, seed=3))
    cached = model.sample(6, conditional=low, seed=2, cache=True).numpy()
    np.testing.assert_array_equal(cached, model.sample(6, conditional=low, seed=2, cache=False).numpy())
    # Fit on (x, low-res) pairs changes every weight (the encoder's included).
    data = tc.random_data(model, 8)
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(
        tf.data.Dataset.from_tensor_slices((data, low_res_of(data))).batch(8), epochs=1, verbose=0
    )
    assert np.isfinite(history.history["bits_per_dim"][0])
    unchanged = [w.path for w, b in zip(model.trainable_weights, before) if np.array_equal(w.numpy(), b)]
    assert not unchanged
    contract.check_serialization(model, str(tmp_path / "sr.keras"), x=x, c=low_res_of(x))


def test_super_resolution_with_labels_and_bad_conditionals():
    model = model_of(image_shape=(4, 2, 1), num_levels=3, low_resolution=(2, 1), num_classes=2)
    x = tc.random_data(model, 2)
    low = low_res_of(x)  # [2, 2, 1, 1]
    c = {"labels": np.array([0, 1], np.int32), "low_resolution": low}
    lp = model.log_prob(x, c).numpy()
    other = model.log_prob(x, dict(c, labels=np.array([1, 0], np.int32))).numpy()
    assert lp.shape == (2,) and not np.allclose(lp, other)
    assert model.sample(2, conditional=c, seed=0).shape == (2, 4, 2, 1)
    with pytest.raises(ValueError, match="low_resolution"):
        model.log_prob(x, low)
    sr = model_of(image_shape=(4, 2, 1), num_levels=3, low_resolution=(2, 1))
    with pytest.raises(ValueError, match="super-resolution"):
        sr.log_prob(x)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        sr.log_prob(x, low + 3)
    with pytest.raises(ValueError, match="shape"):
        sr.log_prob(x, np.zeros((2, 4, 2, 1), np.int32))
    with pytest.raises(ValueError, match="3 images for a batch of 2"):
        sr.log_prob(x, np.zeros((3, 2, 1, 1), np.int32))


# ------------------------------------------------------------------------------- bad input
def test_bad_configurations_and_input():
    model = model_of()
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model.log_prob(np.full((1, 3, 3, 1), 4, np.int32))
    with pytest.raises(ValueError, match="block_shape .* must divide"):
        two_d((2, 4, 1), (2, 3))
    with pytest.raises(ValueError, match="block_shape .* must divide"):
        two_d((3, 2, 1), (2, 1))
    with pytest.raises(ValueError, match="low_resolution .* must divide"):
        model_of(image_shape=(4, 4, 1), low_resolution=(3, 2))
    with pytest.raises(ValueError, match="block_length"):
        model_of(block_length=0)
    with pytest.raises(ValueError, match="attention must be one of"):
        model_of(attention="global")
    with pytest.raises(ValueError, match="multiple of num_heads"):
        model_of(hidden_dim=6, num_heads=4)
    with pytest.raises(ValueError, match="at least 6"):
        model_of(hidden_dim=4, num_heads=2)
    with pytest.raises(ValueError, match="flange"):
        two_d((2, 4, 1), (2, 2), flange=(-1, 0))
