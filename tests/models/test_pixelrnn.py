"""PixelRNN: receptive fields on 8x8, the down-shift mutation test, cached sampling.

The receptive field each variant should have is derived here from the
architecture alone, as boolean reachability between the 64 positions of an
8x8 single-channel image (``derived_dependencies``), and the pairs measured
from the gradients of the network on the float relaxation of the input
(``measured_dependencies``: does the conditional of pixel k have any path
from pixel j?) must equal it exactly:

* ``diagonal_bilstm``: 1,988 of the 2,016 earlier-pixel pairs.  The 28 it
  misses are ``x(i - 1, 7) -> (i, j < 4)``: the last pixel of the row above
  enters only through the 7x7 mask-A input convolution of row i (the model
  docstring explains why no depth helps); with a 15x15 input convolution
  all 2,016 are seen;
* ``row_lstm``: the triangle (row ``i - d`` up to column ``j + 3 + d - 1``,
  and a bounded reach to the left);
* ``pixelcnn``: fewer still (the blind spot above-right, and a finite reach).

The mutation test drops the Diagonal BiLSTM's down-shift and watches the
shared causality check (integer flips, `test_case.check_causality`) fail.
"""

import keras
import numpy as np
import pixel_case
import pytest
import tensorflow as tf
import test_case as tc

import ar_keras as ark

H = W = 8
D = H * W


def model_8x8(variant, **overrides):
    keras.utils.set_random_seed(0)
    kw = dict(image_shape=(H, W, 1), num_levels=4, variant=variant)
    kw.update(overrides)
    return ark.models.get("pixelrnn", preset="tiny", **kw)


# ------------------------------------------------------------------ derivation
def _pos(i, j):
    return i * W + j


def _closure(local):
    """``dep[p]``: the layer inputs position p reads, closing a recurrence in raster order.

    ``local(i, j)`` -> (input positions read directly, state positions read);
    state positions must come earlier in the processing order used here
    (rows top to bottom; columns left to right, or right to left when the
    state reads ``(i, j + 1)``).
    """
    dep = np.zeros((D, D), bool)
    for i in range(H):
        cols = range(W)
        if any(s == (i, j + 1) for j in range(W - 1) for s in local(i, j)[1]):
            cols = range(W - 1, -1, -1)
        for j in cols:
            inputs, states = local(i, j)
            for q in inputs:
                dep[_pos(i, j), _pos(*q)] = True
            for s in states:
                dep[_pos(i, j)] |= dep[_pos(*s)]
    return dep


def _inside(cells):
    return [(i, j) for i, j in cells if 0 <= i < H and 0 <= j < W]


def derived_dependencies(variant, num_layers, first_kernel_size=7, row_kernel_size=3, conv_kernel_size=3):
    """``[D, D]`` bool: the conditional of pixel k can depend on pixel j (k, j raster indices)."""
    a = first_kernel_size // 2
    first = np.zeros((D, D), bool)  # mask A, one channel: strictly before
    for i in range(H):
        for j in range(W):
            for q in _inside(
                [(i + di, j + dj) for di in range(-a, 1) for dj in range(-a, a + 1) if di < 0 or dj < 0]
            ):
                first[_pos(i, j), _pos(*q)] = True
    eye = np.eye(D, dtype=bool)
    if variant == "row_lstm":
        half = row_kernel_size // 2
        layer = eye | _closure(
            lambda i, j: (
                _inside([(i, j - d) for d in range(half + 1)]),  # input-to-state, mask B
                _inside([(i - 1, j + d) for d in (-1, 0, 1)]),
            )
        )  # state-to-state, row above
    elif variant == "diagonal_bilstm":
        forward = _closure(lambda i, j: ([(i, j)], _inside([(i - 1, j), (i, j - 1)])))
        backward = _closure(lambda i, j: ([(i, j)], _inside([(i - 1, j), (i, j + 1)])))
        shifted = np.zeros((D, D), bool)  # out(i, j) += bw(i - 1, j)
        for i in range(1, H):
            for j in range(W):
                shifted[_pos(i, j)] = backward[_pos(i - 1, j)]
        layer = eye | forward | shifted
    else:
        c = conv_kernel_size // 2
        layer = eye.copy()  # residual + k x k mask B
        for i in range(H):
            for j in range(W):
                for q in _inside(
                    [(i + di, j + dj) for di in range(-c, 1) for dj in range(-c, c + 1) if di < 0 or dj <= 0]
                ):
                    layer[_pos(i, j), _pos(*q)] = True
    total = first
    for _ in range(num_layers):
        total = (layer.astype(np.int64) @ total.astype(np.int64)) > 0
    return total


def measured_dependencies(model, images=4, seed=0):
    """``[D, D]`` bool: the conditional of pixel k moves with pixel j (k, j raster indices).

    Measured on the float relaxation of the input (`network` casts the
    levels to floats and scales them): example k of a batch of D copies of
    one random image scores a random projection of the head parameters of
    pixel k, and one backward pass gives, in row k, which pixels that
    conditional has a path from.  A gradient is exactly zero where no path
    exists (masked taps are exact zeros), whatever the float rounding of the
    batch; where a path exists it is non-zero unless a ReLU of the output
    layers is off or a gate saturates at that image, so the pattern is the
    union over a few random images.  (A flip of an integer pixel can move a
    far conditional by less than float32 rounding.)
    """
    rng = np.random.RandomState(seed)
    depends = np.zeros((D, D), bool)
    for _ in range(images):
        image = rng.randint(0, model.num_levels, size=(1, H, W, 1))
        x = tf.constant(np.repeat(image, D, 0).astype(np.float32))  # [D, H, W, 1]
        r = tf.constant(rng.normal(size=(D, model.head.num_params)).astype(np.float32))
        with tf.GradientTape() as tape:
            tape.watch(x)
            params = tf.reshape(model.network(x), [D, D, -1])  # [D, H, W, 1, P] -> [D, D, P]
            own = tf.linalg.diag_part(tf.transpose(params, [2, 0, 1]))  # [P, D]: example k, pixel k
            score = tf.reduce_sum(own * tf.transpose(r))
        depends |= tape.gradient(score, x).numpy().reshape(D, D) != 0  # [k, j]
    return depends


EARLIER = np.tril(np.ones((D, D), bool), -1)  # [k, j]: j before k


def test_derivation_sanity():
    # The derivation alone: causal for every variant, complete only for a wide input conv.
    for variant in ("diagonal_bilstm", "row_lstm", "pixelcnn"):
        assert not (derived_dependencies(variant, 2) & ~EARLIER).any()
    assert derived_dependencies("diagonal_bilstm", 2).sum() == 2016 - 28
    assert derived_dependencies("diagonal_bilstm", 1, first_kernel_size=15).sum() == 2016


@pytest.mark.parametrize(
    "variant,expected", [("diagonal_bilstm", 1988), ("row_lstm", None), ("pixelcnn", None)]
)
def test_receptive_field_on_8x8(variant, expected):
    model = model_8x8(variant)
    derived = derived_dependencies(variant, model.num_layers)
    measured = measured_dependencies(model)
    assert not (measured & ~EARLIER).any(), "a conditional depends on a later pixel"
    np.testing.assert_array_equal(measured, derived)
    seen = int(measured.sum())
    if expected is not None:
        assert seen == expected
    else:
        assert seen < 1988  # less context than the Diagonal BiLSTM
    if variant == "row_lstm":
        # The triangle: pixel (4, 2) sees row 3 up to column 2 + 3 = 5, row 1 up to 7,
        # and never the pixels right of that.
        k = _pos(4, 2)
        assert measured[k, _pos(3, 5)] and not measured[k, _pos(3, 6)]
        assert measured[k, _pos(2, 6)] and not measured[k, _pos(2, 7)]
        assert measured[k, _pos(1, 7)]
    if variant == "pixelcnn":
        # Blind spot: (4, 2) never sees (2, 7), which the Diagonal BiLSTM sees.
        assert not measured[_pos(4, 2), _pos(2, 7)]
        assert derived_dependencies("diagonal_bilstm", 2)[_pos(4, 2), _pos(2, 7)]


def test_diagonal_bilstm_full_context_with_wide_input_conv():
    model = model_8x8("diagonal_bilstm", num_layers=1, first_kernel_size=15)
    measured = measured_dependencies(model)
    assert int(measured.sum()) == 2016 and not (measured & ~EARLIER).any()


def test_dropping_the_down_shift_breaks_causality():
    good = ark.models.get("pixelrnn", preset="tiny", image_shape=(4, 4, 1), num_levels=3)
    tc.check_causality(good, trials=2)
    bad = ark.models.get("pixelrnn", preset="tiny", image_shape=(4, 4, 1), num_levels=3, shift_backward=False)
    with pytest.raises(AssertionError, match="changed conditionals of elements of its own or earlier groups"):
        tc.check_causality(bad, trials=2)
    with pytest.raises(ValueError, match="shift_backward=False"):
        bad.sample(1, seed=0)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(variant="diagonal_bilstm", image_shape=(4, 5, 3), num_levels=4, skip_connections=True),
        dict(variant="row_lstm", image_shape=(5, 4, 2), num_levels=5, row_kernel_size=5, num_classes=2),
        # The window (3 rows x 5 columns for R = 2) is smaller than the 6x7 image.
        dict(variant="pixelcnn", image_shape=(6, 7, 1), num_levels=3, first_kernel_size=3, num_layers=1),
        dict(variant="diagonal_bilstm", image_shape=(3, 4, 1), num_levels=2),  # Bernoulli head
    ],
)
def test_cached_sampling_equals_full_recompute(overrides):
    model = ark.models.get("pixelrnn", preset="tiny", **overrides)
    assert model.supports_cache
    pixel_case.check_cached_sampling_equals_full(model, [0, 1, 1, 0], seed=3)


def test_bernoulli_head_for_two_levels_and_bad_arguments():
    assert isinstance(
        ark.models.get("pixelrnn", preset="tiny", num_levels=2).head, ark.distributions.Bernoulli
    )
    with pytest.raises(ValueError, match="variant"):
        ark.models.get("pixelrnn", preset="tiny", variant="grid_lstm")
    with pytest.raises(ValueError, match="first_kernel_size"):
        ark.models.get("pixelrnn", preset="tiny", first_kernel_size=4)
    with pytest.raises(ValueError, match="hidden_dim"):
        ark.models.get("pixelrnn", preset="tiny", image_shape=(3, 3, 3), hidden_dim=2)


def test_paper_presets():
    config = ark.models.model_class("pixelrnn").PRESETS
    assert config["paper"]["variant"] == "diagonal_bilstm" and config["paper"]["num_layers"] == 7
    assert config["paper"]["hidden_dim"] == 16 and config["paper"]["num_levels"] == 2
    assert config["cifar10"]["num_layers"] == 12
