"""Regenerates ar_keras/data/assets/speech.npz, the embedded ``speech`` dataset.

The ten English digits ("zero" ... "nine") spoken by a few synthetic voices
of the espeak-ng formant synthesizer, resampled to 16 kHz, trimmed of
leading and trailing silence and peak-normalised, stored as int16 PCM in a
compressed ``.npz``::

    audio        int16 [N_total]   every utterance, one after the other
    offsets      int64 [U + 1]     utterance u is audio[offsets[u]:offsets[u + 1]]
    speaker      int32 [U]         index into `speakers`
    word         int32 [U]         index into `words` (the digit)
    speakers     str   [S]         espeak-ng voice of each speaker
    words        str   [W]
    sample_rate  int64 []          16000
    espeak       str   []          the espeak-ng version that made them

Needs ``espeak-ng`` on the PATH (Debian/Ubuntu: ``apt-get install -y espeak-ng``)
and scipy (already installed with scikit-learn).  Other espeak-ng versions
may produce slightly different waveforms; the labels and the layout stay the
same.

    python scripts/make_speech.py            # writes ar_keras/data/assets/speech.npz
    python scripts/make_speech.py --out x.npz
"""

import argparse
import io
import os
import shutil
import subprocess
import sys
import wave

import numpy as np

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: espeak-ng voice (language + variant) and words per minute of each speaker.
SPEAKERS = (
    ("en-us+m3", 190),
    ("en-us+f2", 180),
    ("en-gb+m1", 185),
    ("en-gb-x-rp+f4", 175),
    ("en-us+m7", 170),
)
SAMPLE_RATE = 16000
_ESPEAK_RATE = 22050  # espeak-ng's native output rate
_SILENCE = 0.02  # |sample| below 2% of the peak counts as silence when trimming
_MARGIN = 0.01  # seconds kept either side of the speech
_PEAK = 0.8  # peak amplitude after normalisation (of int16 full scale)

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(_ROOT, "ar_keras", "data", "assets", "speech.npz")


def _espeak(text, voice, wpm):
    """One utterance from espeak-ng: float64 [n] in [-1, 1] at 22,050 Hz."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(wpm), "--stdout", text], check=True, capture_output=True
    ).stdout
    with wave.open(io.BytesIO(wav)) as f:
        if f.getframerate() != _ESPEAK_RATE or f.getsampwidth() != 2 or f.getnchannels() != 1:
            raise RuntimeError(f"unexpected espeak-ng output: {f.getparams()}")
        # espeak-ng streams to stdout with an unknown length in the header: read all frames.
        frames = f.readframes(1 << 30)
    return np.frombuffer(frames, np.int16).astype(np.float64) / 32768.0


def _trim(x, rate):
    """Cuts leading and trailing silence, keeping `_MARGIN` seconds either side."""
    loud = np.flatnonzero(np.abs(x) >= _SILENCE * np.abs(x).max())
    margin = int(_MARGIN * rate)
    return x[max(loud[0] - margin, 0) : loud[-1] + margin + 1]


def utterance(text, voice, wpm):
    """int16 [n] at `SAMPLE_RATE`: synthesized, resampled, trimmed, peak-normalised."""
    from scipy.signal import resample_poly

    x = _espeak(text, voice, wpm)
    # 22,050 Hz -> 16,000 Hz: the exact rational ratio 320 / 441 (polyphase FIR, Kaiser window).
    x = resample_poly(x, 320, 441)
    x = _trim(x, SAMPLE_RATE)
    x = x * (_PEAK / np.abs(x).max())
    return np.round(x * 32767).astype(np.int16)


def espeak_version():
    out = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True)
    return out.stdout.split("  Data at")[0].strip()  # "eSpeak NG text-to-speech: 1.51"


def build():
    """All utterances as the arrays of the module docstring."""
    clips, speaker, word = [], [], []
    for s, (voice, wpm) in enumerate(SPEAKERS):
        for w, text in enumerate(WORDS):
            clips.append(utterance(text, voice, wpm))
            speaker.append(s)
            word.append(w)
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in clips])]).astype(np.int64)
    return {
        "audio": np.concatenate(clips),
        "offsets": offsets,
        "speaker": np.asarray(speaker, np.int32),
        "word": np.asarray(word, np.int32),
        "speakers": np.asarray([v for v, _ in SPEAKERS]),
        "words": np.asarray(WORDS),
        "sample_rate": np.int64(SAMPLE_RATE),
        "espeak": np.asarray(espeak_version()),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=DEFAULT_OUT)
    args = p.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("error: espeak-ng is not installed (apt-get install -y espeak-ng)", file=sys.stderr)
        return 2
    arrays = build()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    lengths = np.diff(arrays["offsets"]) / SAMPLE_RATE
    print(
        f"wrote {args.out}: {len(lengths)} utterances, {lengths.sum():.1f} s of audio "
        f"({lengths.min():.2f}-{lengths.max():.2f} s each), {os.path.getsize(args.out) / 1024:.0f} KB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
