"""WAV files: 16-bit mono PCM in and out, with the standard library's `wave`.

Example:
    >>> write_wav("runs/x.wav", np.sin(np.linspace(0, 2000, 16000)) * 0.5, sample_rate=16000)
    'runs/x.wav'
    >>> audio, rate = read_wav("runs/x.wav")          # float32 [16000] in [-1, 1), 16000
"""

import os
import wave

import numpy as np

from ar_keras.data.mu_law import float_to_pcm16

__all__ = ["write_wav", "read_wav"]


def write_wav(path, audio, sample_rate):
    """Writes float audio ``[T]`` in ``[-1, 1]`` as a 16-bit mono WAV; returns ``path``.

    Values outside ``[-1, 1]`` are clipped; parents of ``path`` are created.
    """
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"write_wav expects mono audio [T], got shape {list(audio.shape)}.")
    rate = int(sample_rate)
    if rate < 1:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}.")
    pcm = float_to_pcm16(audio).numpy()                                       # int16 [T]
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.astype("<i2").tobytes())
    return path


def read_wav(path):
    """Reads a 16-bit mono WAV: ``(float32 [T] in [-1, 1), sample_rate)``."""
    with wave.open(os.fspath(path), "rb") as f:
        if f.getsampwidth() != 2 or f.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM, got {f.getsampwidth() * 8}-bit "
                             f"with {f.getnchannels()} channels.")
        rate = f.getframerate()
        pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2")
    return pcm.astype(np.float32) / 32768.0, rate
