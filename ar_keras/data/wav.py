"""WAV files: 16-bit mono PCM in and out, with the standard library's `wave`.

Floats are scaled by 32768 both ways (`ar_keras.data.pcm16_to_float` /
`float_to_pcm16`), so int16 PCM written and read back is exact, and floats in
``[-1, 1]`` come back within ``1 / 32768``.

Example:
    >>> write_wav("runs/x.wav", np.sin(np.linspace(0, 2000, 16000)) * 0.5, sample_rate=16000)
    'runs/x.wav'
    >>> audio, rate = read_wav("runs/x.wav")          # float32 [16000] in [-1, 1), 16000
    >>> pcm, rate = read_wav("runs/x.wav", dtype="int16")
"""

import os
import wave

import numpy as np

from ar_keras import checks
from ar_keras.data.mu_law import float_to_pcm16

__all__ = ["write_wav", "read_wav"]

#: The WAV header stores the byte rate (2 x the sample rate for 16-bit mono) in 32 bits.
_MAX_RATE = 2**31 - 1


def write_wav(path, audio, sample_rate):
    """Writes mono audio ``[T]`` as a 16-bit PCM WAV; returns ``path``.

    Args:
        path: the file; its parents are created.
        audio: floats in ``[-1, 1]`` (values outside are clipped, NaN raises) or
            int16 PCM (written unchanged).
        sample_rate: Hz, an integer in ``[1, 2**31 - 1]``.
    """
    audio = np.asarray(audio)
    if audio.dtype == object or audio.dtype.kind in "USV":
        raise ValueError(f"write_wav expects a numeric array, got dtype {audio.dtype}.")
    if audio.ndim != 1:
        raise ValueError(f"write_wav expects mono audio [T], got shape {list(audio.shape)}.")
    rate = checks.check_positive_int(sample_rate, "sample_rate", maximum=_MAX_RATE)
    if audio.dtype == np.int16:
        pcm = audio
    elif audio.dtype.kind == "f":
        pcm = float_to_pcm16(audio).numpy()  # int16 [T]
    else:
        raise ValueError(f"write_wav expects float audio in [-1, 1] or int16 PCM, got dtype {audio.dtype}.")
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.astype("<i2").tobytes())
    return path


def read_wav(path, dtype="float32"):
    """Reads a 16-bit mono WAV: ``(audio [T], sample_rate)``.

    ``dtype="float32"`` gives ``pcm / 32768`` in ``[-1, 1)``; ``"int16"`` the PCM itself.
    A file that is not a 16-bit mono PCM WAV is a ValueError.
    """
    if dtype not in ("float32", "int16"):
        raise ValueError(f"dtype must be 'float32' or 'int16', got {dtype!r}.")
    try:
        with wave.open(os.fspath(path), "rb") as f:
            if f.getsampwidth() != 2 or f.getnchannels() != 1:
                raise ValueError(
                    f"{path}: expected 16-bit mono PCM, got {f.getsampwidth() * 8}-bit "
                    f"with {f.getnchannels()} channels."
                )
            rate = f.getframerate()
            pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2")
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{path} is not a readable WAV file (expected 16-bit mono PCM): {e}") from e
    if dtype == "int16":
        return pcm.astype(np.int16), rate
    return pcm.astype(np.float32) / 32768.0, rate
