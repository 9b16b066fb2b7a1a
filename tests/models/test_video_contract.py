"""The shared property checks on every exact autoregressive model of video (event kind ``video``).

A video ``[T, H, W, C]`` is generated frame by frame, each frame in raster order with
channels innermost: the model's ``ordering`` is the identity over the flattened video, so
the image checks of `test_case` (written over ``model.image_shape``, ``model.ordering`` and
``model.event_size``) apply unchanged: causality by flipping every element (frame t's
conditionals must not move when a later pixel of frame t, or any pixel of a later frame,
changes), normalisation by enumeration, sample frequencies against ``exp(log_prob)``,
cache == recompute.  The training checks (round trip, fit, MirroredStrategy) run from
tests/models/test_every_model.py (tests/contract.py, with context frames too).  Context frames
(the conditional) get their own checks here.
"""

import contract
import harness
import numpy as np
import pytest
import test_case as tc

import ar_keras as ark

VIDEO_NAMES = harness.names_for("video")


def tiny(name, **overrides):
    return ark.models.get(name, preset="tiny", **overrides)


def video(model, batch, seed=0):
    return tc.random_data(model, batch, seed)


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_log_prob_is_sum_of_conditionals(name):
    model = tiny(name)
    x = video(model, 4)
    clp = model.conditional_log_probs(x).numpy()
    assert clp.shape == x.shape and np.all(clp <= 0)
    np.testing.assert_allclose(model.log_prob(x).numpy(), clp.reshape(4, -1).sum(1), rtol=1e-5)


@pytest.mark.parametrize("name", VIDEO_NAMES)
@pytest.mark.parametrize("shape", [(2, 2, 2, 1), (2, 1, 2, 3)])
def test_causality_over_time_rows_columns_channels(name, shape):
    # Small frames: the receptive fields cover them, so every earlier element must matter too.
    model = tiny(name, video_shape=shape, num_levels=5, hidden_dim=3)
    tc.check_causality(model, full_dependency=True, trials=4)


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_causality_three_frames_of_3x3(name):
    # Bigger frames: a PixelCNN decoder of masked 3x3 convolutions has the original blind
    # spot (up and to the right), so only the no-peeking half is asserted.
    model = tiny(name, video_shape=(3, 3, 3, 1), num_levels=4)
    tc.check_causality(model, full_dependency=False, trials=2)


@pytest.mark.parametrize("name", VIDEO_NAMES)
@pytest.mark.parametrize("shape,levels", [((2, 1, 2, 1), 2), ((2, 1, 1, 2), 3)])
def test_normalization_by_enumeration(name, shape, levels):
    model = tiny(name, video_shape=shape, num_levels=levels, hidden_dim=shape[-1] * 2)
    tc.sharpen(model)
    tc.check_normalization(model)


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_normalization_given_context(name):
    # sum over the continuations of exp(log p(x_{T0:} | context)) = 1 for a fixed context.
    model = tiny(name, video_shape=(3, 1, 2, 1), num_levels=2)
    tc.sharpen(model)
    context = np.array([1, 0], np.int32).reshape(1, 1, 1, 2, 1)  # [1, T0=1, 1, 2, 1]
    rest = tc.configurations((2, 1, 2, 1), 2)  # [16, 2, 1, 2, 1]
    x = np.concatenate([np.repeat(context, len(rest), 0), rest], axis=1)  # [16, 3, 1, 2, 1]
    lp = model.log_prob(x, np.repeat(context, len(rest), 0)).numpy()
    np.testing.assert_allclose(np.exp(lp.astype(np.float64)).sum(), 1.0, atol=2e-4)


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_samples_match_log_prob(name):
    model = tiny(name, video_shape=(2, 1, 2, 1), num_levels=2)
    tc.sharpen(model)
    tc.check_samples_match_log_prob(model, num_samples=6000, max_tv=0.05)


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_cache_equals_recompute_and_seeds(name):
    model = tiny(name, video_shape=(3, 2, 2, 2), num_levels=5, hidden_dim=2)
    tc.sharpen(model, 1.5)
    tc.check_cache_equals_recompute(model)  # with context frames: tests/models/test_vpn.py


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_bad_input_gets_clear_errors(name):
    model = tiny(name, video_shape=(2, 2, 2, 1))  # K = 3
    good = video(model, 2)
    contract.check_level_errors(model, good)
    with pytest.raises(ValueError, match="shape"):  # frames of 3x3
        model.log_prob(np.zeros((2, 2, 3, 3, 1), np.int32))
    with pytest.raises(ValueError, match="shape"):  # 3 frames
        model.log_prob(np.zeros((2, 3, 2, 2, 1), np.int32))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model.log_prob(good + model.num_levels)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model.conditional_log_probs(good - 1)
    tc.check_common_bad_input(model, good)
    # Context frames: wrong frame shape, as many frames as the video, floats, out of range,
    # a context that is not the start of x, one video too few.
    with pytest.raises(ValueError, match="context frames"):
        model.sample(2, conditional=np.zeros((2, 1, 3, 2, 1), np.int32))
    with pytest.raises(ValueError, match="T0 < 2"):
        model.sample(2, conditional=np.zeros((2, 2, 2, 2, 1), np.int32))
    with pytest.raises(ValueError, match="integer levels"):
        model.sample(2, conditional=np.zeros((2, 1, 2, 2, 1), np.float32))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model.sample(2, conditional=np.full((2, 1, 2, 2, 1), 3, np.int32))
    with pytest.raises(ValueError, match="begin with the context"):
        model.log_prob(good, (good[:, :1] + 1) % 3)
    with pytest.raises(ValueError, match="2 videos"):
        model.log_prob(good, good[:1, :1])
    with pytest.raises(ValueError, match="T >= 2"):
        tiny(name, video_shape=(1, 2, 2, 1))
    with pytest.raises(ValueError, match="num_levels"):
        tiny(name, num_levels=1)
    with pytest.raises(ValueError, match="class labels"):
        tiny(name, num_classes=2)
