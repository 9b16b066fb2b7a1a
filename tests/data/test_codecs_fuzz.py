"""Round trips of the data codecs under hypothesis: mu-law, uniform quantization, WAV files.

* mu-law (`ar_keras.data.mu_law`): ``encode(decode(k)) == k`` for every code of any K;
  ``decode(encode(x))`` within the quantisation step the module docstring states for x in
  ``[-1, 1]``; NaN, values outside ``[-1, 1]``, wrong dtypes and bad K are clear ValueErrors;
  PCM16 <-> float is exact one way (``float_to_pcm16(pcm16_to_float(p)) == p``) and within
  ``1/32768`` the other.
* quantize (`ar_keras.data.quantize`): ``quantize(dequantize(k)) == k``,
  ``|dequantize(quantize(x)) - x| <= 1/(2K)``; out-of-range and NaN refused.
* WAV (`ar_keras.data.wav`): int16 PCM written and read back exactly, floats in ``[-1, 1]``
  within ``1/32768``, any sample rate, empty clips; bad input (multi-channel, NaN, bad rate,
  a file that is not a WAV) a clear ValueError.

The profiles are those of tests/fuzz/test_fuzz_models.py (``AR_KERAS_FUZZ=deep`` for more).
"""

import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ar_keras.data import mu_law, wav
from ar_keras.data.quantize import dequantize, quantize

_DEEP = os.environ.get("AR_KERAS_FUZZ", "ci") == "deep"
FUZZ = settings(
    max_examples=400 if _DEEP else 25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

levels = st.integers(2, 2**16)
unit = st.floats(-1.0, 1.0, allow_nan=False, width=32)
audio = hnp.arrays(np.float32, st.integers(0, 64), elements=unit)


def _raises_clearly(fn, *words):
    with pytest.raises(ValueError) as info:
        fn()
    msg = str(info.value)
    assert any(w in msg for w in words), msg


# -------------------------------------------------------------------------------------- mu-law


@FUZZ
@given(k=levels, data=st.data())
def test_mu_law_codes_round_trip(k, data):
    """encode(decode(q)) == q for every code (all of them when K is small, a sample otherwise)."""
    codes = (
        np.arange(k)
        if k <= 4096
        else np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=64)))
    )
    decoded = mu_law.mu_law_decode(codes, k, dtype="float64").numpy()
    assert decoded.min() >= -1.0 and decoded.max() <= 1.0
    np.testing.assert_array_equal(mu_law.mu_law_encode(decoded, k).numpy(), codes)


@FUZZ
@given(k=levels, x=audio)
def test_mu_law_audio_within_the_step(k, x):
    """|decode(encode(x)) - x| <= (|x| + 1/mu) ((1 + mu)^(1/mu) - 1), and codes in [0, K)."""
    codes = mu_law.mu_law_encode(x, k).numpy()
    assert codes.dtype == np.int32 and codes.shape == x.shape
    assert codes.size == 0 or (codes.min() >= 0 and codes.max() < k)
    back = mu_law.mu_law_decode(codes, k, dtype="float64").numpy()
    mu = k - 1.0
    bound = (np.abs(x) + 1.0 / mu) * np.expm1(np.log1p(mu) / mu) + 1e-7
    assert (np.abs(back - x.astype(np.float64)) <= bound).all()


@FUZZ
@given(
    bad=st.sampled_from([np.nan, np.inf, -np.inf, 1.0000001, -1.5, 1e30]),
    k=st.integers(2, 1024),
    n=st.integers(1, 8),
)
def test_mu_law_refuses_bad_audio(bad, k, n):
    x = np.zeros(n, np.float32)
    x[n // 2] = bad
    _raises_clearly(lambda: mu_law.mu_law_encode(x, k), "[-1, 1]", "NaN")


@FUZZ
@given(k=st.integers(2, 1024), offset=st.sampled_from([-1, -(2**40), 0, 1, 2**33]))
def test_mu_law_refuses_bad_codes(k, offset):
    codes = np.array([0, k - 1, (k if offset >= 0 else 0) + offset], np.int64)
    _raises_clearly(lambda: mu_law.mu_law_decode(codes, k), f"[0, {k})")


@pytest.mark.parametrize("k", [1, 0, -3, 2.0, True, "256", None, 256.5])
def test_codecs_refuse_bad_num_levels(k):
    for fn in (
        lambda: mu_law.mu_law_encode([0.0], k),
        lambda: mu_law.mu_law_decode([0], k),
        lambda: quantize([0.5], k),
        lambda: dequantize([0], k),
    ):
        _raises_clearly(fn, "num_levels")


def test_codecs_refuse_wrong_dtypes():
    _raises_clearly(lambda: mu_law.mu_law_encode(np.array([1, 2], np.int16)), "float", "pcm16")
    _raises_clearly(lambda: mu_law.mu_law_decode(np.array([0.5])), "integer")
    _raises_clearly(lambda: mu_law.mu_law_encode(["a"]), "numeric")
    _raises_clearly(lambda: quantize(np.array([0, 1]), 4), "float")
    _raises_clearly(lambda: dequantize(np.array([0.5]), 4), "integer")
    _raises_clearly(lambda: dequantize([1], 4, dtype="int32"), "floating")


@FUZZ
@given(pcm=hnp.arrays(np.int16, st.integers(0, 64)))
def test_pcm16_float_round_trip_exact(pcm):
    """pcm16 -> float -> pcm16 is the identity (the scale is 32768 both ways)."""
    x = mu_law.pcm16_to_float(pcm).numpy()
    assert x.size == 0 or (x.min() >= -1.0 and x.max() < 1.0)
    np.testing.assert_array_equal(mu_law.float_to_pcm16(x).numpy(), pcm)


@FUZZ
@given(x=audio)
def test_float_pcm16_within_one_step(x):
    back = mu_law.pcm16_to_float(mu_law.float_to_pcm16(x)).numpy()
    assert (np.abs(back - x) <= 1.0 / 32768 + 1e-9).all()


# ------------------------------------------------------------------------------------ quantize


@FUZZ
@given(k=st.integers(2, 2**31 - 1), data=st.data())
def test_quantize_levels_round_trip(k, data):
    """quantize(dequantize(k)) == k: every level for small K (float32), a sample for any K
    (float64: a float32 bin centre is exact only while 1/(2K) exceeds float32's spacing)."""
    if k <= 2**12:
        lv, dtype = np.arange(k), "float32"
    else:
        lv = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=32)))
        dtype = "float64"
    centres = dequantize(lv, k, dtype=dtype).numpy()
    assert centres.min() > 0 and centres.max() < 1
    np.testing.assert_array_equal(quantize(centres, k).numpy(), lv)


@FUZZ
@given(k=st.integers(2, 2**20), x=hnp.arrays(np.float64, st.integers(0, 64), elements=st.floats(0.0, 1.0)))
def test_quantize_values_within_half_a_bin(k, x):
    lv = quantize(x, k).numpy()
    assert lv.dtype == np.int32 and (lv.size == 0 or (lv.min() >= 0 and lv.max() < k))
    back = dequantize(lv, k, dtype="float64").numpy()
    assert (np.abs(back - x) <= 0.5 / k + 1e-12).all()


@FUZZ
@given(bad=st.sampled_from([np.nan, np.inf, -np.inf, -1e-6, 1.0000001, 7.0]), k=st.integers(2, 1024))
def test_quantize_refuses_out_of_range(bad, k):
    x = np.array([0.0, bad, 1.0])
    _raises_clearly(lambda: quantize(x, k), "[0, 1]", "NaN")
    lv = np.array([0, k + (2**32 if bad == 7.0 else 0), -1])
    _raises_clearly(lambda: dequantize(lv, k), f"[0, {k})")


# ----------------------------------------------------------------------------------------- WAV

rates = st.integers(1, 2**31 - 1)  # the header's byte rate (2 x rate) is 32-bit


@FUZZ
@given(pcm=hnp.arrays(np.int16, st.integers(0, 256)), rate=rates)
def test_wav_int16_round_trip_exact(pcm, rate):
    with tempfile.TemporaryDirectory() as d:
        path = wav.write_wav(os.path.join(d, "a", "x.wav"), pcm, rate)
        back, got_rate = wav.read_wav(path)
        assert got_rate == rate and back.dtype == np.float32 and back.shape == pcm.shape
        np.testing.assert_array_equal(mu_law.float_to_pcm16(back).numpy(), pcm)
        np.testing.assert_array_equal(wav.read_wav(path, dtype="int16")[0], pcm)


@FUZZ
@given(x=audio, rate=rates)
def test_wav_float_round_trip(x, rate):
    with tempfile.TemporaryDirectory() as d:
        back, got_rate = wav.read_wav(wav.write_wav(os.path.join(d, "x.wav"), x, rate))
    assert got_rate == rate and back.shape == x.shape
    assert (np.abs(back - x) <= 1.0 / 32768 + 1e-9).all()


@pytest.mark.parametrize(
    "audio, rate, words",
    [
        (np.zeros((4, 2), np.float32), 16000, ("mono",)),
        (np.zeros(()), 16000, ("mono",)),
        (np.array([0.0, np.nan]), 16000, ("NaN",)),
        (np.array(["a", "b"]), 16000, ("numeric",)),
        (np.zeros(4), 0, ("sample_rate",)),
        (np.zeros(4), -8000, ("sample_rate",)),
        (np.zeros(4), 16000.5, ("sample_rate",)),
        (np.zeros(4), "16k", ("sample_rate",)),
        (np.zeros(4), None, ("sample_rate",)),
        (np.zeros(4), 2**31, ("sample_rate",)),
        (np.zeros(4, np.int32), 16000, ("int16", "float")),
        (np.zeros(4, bool), 16000, ("int16", "float")),
    ],
)
def test_wav_refuses_bad_input(tmp_path, audio, rate, words):
    _raises_clearly(lambda: wav.write_wav(str(tmp_path / "x.wav"), audio, rate), *words)


def test_wav_reading_a_file_that_is_not_a_wav(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(b"not a wav file at all")
    _raises_clearly(lambda: wav.read_wav(str(path)), "WAV")
    with pytest.raises(FileNotFoundError):
        wav.read_wav(str(tmp_path / "missing.wav"))
