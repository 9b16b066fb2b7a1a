"""The ``speech_features`` dataset: MFCC trajectories with deltas of the embedded speech.

From the 50 embedded utterances of `ar_keras.data.speech` (the digits "zero" ...
"nine" by 5 espeak-ng voices, 16 kHz) with the same split by (speaker, word),
computed with `tf.signal`:

* frames of 25 ms (400 samples) every 10 ms (160), Hann window, 512-point FFT,
  magnitude spectrum;
* 40 mel bands over 80-7600 Hz, ``log(mel + 1e-6)``;
* 13 MFCCs (the DCT-II of the log-mel, `tf.signal.mfccs_from_log_mel_spectrograms`,
  ``c_0 .. c_12``);
* their deltas by the usual regression over +-2 frames (edges repeated)::

      delta_t = sum_{n=1}^{2} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1}^{2} n^2)

  so ``F = 26`` features per frame (13 statics, then 13 deltas);
* **normalised per feature**: minus the mean, divided by the standard deviation,
  both over every frame of the 40 *training* utterances (the same constants for
  every split; `normalisation()` returns them);
* cut into **non-overlapping segments of 20 frames** (0.2 s) from each utterance's
  first frame (the remainder dropped), so that examples batch: float32
  ``[20, 26]``.

Labels (``with_labels=True``): the context, one int32 ``10 * speaker + word`` in
``[0, 50)`` (speaker ``0..4`` as in `ar_keras.data.speech`, word ``0..9`` the
digit); `trajectory_rnade` with ``context_factors=(5, 10)`` embeds the speaker and
the word separately.  Held-out utterances are (speaker, word) pairs never heard in
training, though each speaker and each word is.

Example:
    >>> import ar_keras as ark
    >>> x, c = ark.data.as_numpy("speech_features", "test", with_labels=True)
    >>> x.shape[1:], x.dtype
    ((20, 26), dtype('float32'))
    >>> ds = ark.data.load("speech_features", "train", with_labels=True).batch(16)
"""

import dataclasses
import functools

import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.data import speech
from ar_keras.data.dataset_info import DatasetInfo
from ar_keras.data.mu_law import pcm16_to_float

__all__ = ["SPEECH_FEATURES_INFO", "FeatureDatasetInfo", "features", "feature_arrays", "normalisation"]

SAMPLE_RATE = 16000
FRAME_LENGTH = 400  # 25 ms
FRAME_STEP = 160  # 10 ms
FFT_LENGTH = 512
NUM_MEL = 40
NUM_CEPSTRA = 13
DELTA_WINDOW = 2
SEGMENT_FRAMES = 20
NUM_FEATURES = 2 * NUM_CEPSTRA


@dataclasses.dataclass(frozen=True)
class FeatureDatasetInfo(DatasetInfo):
    """`DatasetInfo` of feature trajectories (``kind="float_sequence"``, ``event_shape=(None, F)``).

    Attributes:
        frame_rate: frames per second.
        example_length: frames per example (T of ``[T, F]``).
        context_factors: the mixed-radix sizes of the label (``label = 10 speaker + word``:
            ``(5, 10)``).
    """

    frame_rate: float = 100.0
    example_length: int = SEGMENT_FRAMES
    context_factors: tuple = ()


SPEECH_FEATURES_INFO = FeatureDatasetInfo(
    name="speech_features",
    event_shape=(None, NUM_FEATURES),
    num_levels=None,
    num_classes=50,
    splits={"train": 59, "validation": 7, "test": 8},  # segments (tests check them)
    description=(
        "13 MFCCs + 13 deltas (tf.signal: 25 ms frames every 10 ms, 40 mel bands) of the "
        "embedded espeak-ng digits, normalised per feature by the training frames' mean and "
        "standard deviation, in non-overlapping segments of 20 frames; label 10 speaker + word. "
        "Split by (speaker, word) as the speech dataset."
    ),
    kind="float_sequence",
    frame_rate=SAMPLE_RATE / FRAME_STEP,
    example_length=SEGMENT_FRAMES,
    context_factors=(5, 10),
)


def deltas(c, window=DELTA_WINDOW):
    """Regression deltas over ``+-window`` frames, edges repeated: ``[T, K]`` -> ``[T, K]``."""
    c = tf.convert_to_tensor(c, tf.float32)
    T = tf.shape(c)[0]
    padded = tf.concat(
        [tf.repeat(c[:1], window, axis=0), c, tf.repeat(c[-1:], window, axis=0)], axis=0
    )  # [T + 2 window, K]
    total = tf.zeros_like(c)
    for n in range(1, window + 1):
        ahead = padded[window + n : window + n + T]
        behind = padded[window - n : window - n + T]
        total += n * (ahead - behind)
    return total / (2.0 * sum(n * n for n in range(1, window + 1)))


def features(clip):
    """int16 PCM ``[n]`` at 16 kHz -> unnormalised float32 ``[T, 26]`` (13 MFCCs, 13 deltas)."""
    audio = tf.cast(pcm16_to_float(clip, tf.float32), tf.float32)  # [n] in [-1, 1)
    stft = tf.signal.stft(
        audio, FRAME_LENGTH, FRAME_STEP, FFT_LENGTH, window_fn=tf.signal.hann_window
    )  # [T, FFT/2+1]
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        NUM_MEL, FFT_LENGTH // 2 + 1, SAMPLE_RATE, 80.0, 7600.0
    )  # [FFT/2+1, M]
    log_mel = tf.math.log(tf.matmul(tf.abs(stft), mel_matrix) + 1e-6)  # [T, M]
    mfcc = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[:, :NUM_CEPSTRA]  # [T, 13]
    return tf.concat([mfcc, deltas(mfcc)], axis=1).numpy()  # [T, 26]


@functools.lru_cache(maxsize=1)
def _all_features():
    """Unnormalised features of every utterance, with their split and label."""
    u = speech.utterances(None)
    out = []
    for clip, s, w in zip(u["clips"], u["speaker"], u["word"]):
        out.append((features(clip), speech.split_of(s, w), int(10 * s + w)))
    return out


@functools.lru_cache(maxsize=1)
def normalisation():
    """Per-feature ``(mean [26], std [26])`` over every frame of the training utterances."""
    train = np.concatenate([f for f, split, _ in _all_features() if split == "train"])
    return train.mean(0).astype(np.float32), train.std(0).astype(np.float32)


@functools.lru_cache(maxsize=3)
def _split_arrays(split):
    mean, std = normalisation()
    xs, labels = [], []
    for f, s, label in _all_features():
        if s != split:
            continue
        f = (f - mean) / std
        for k in range(len(f) // SEGMENT_FRAMES):
            xs.append(f[k * SEGMENT_FRAMES : (k + 1) * SEGMENT_FRAMES])  # [20, 26]
            labels.append(label)
    x = np.stack(xs).astype(np.float32)  # [N, 20, 26]
    c = np.asarray(labels, np.int32)
    x.flags.writeable = False
    c.flags.writeable = False
    return x, c


def feature_arrays(split):
    """One split: float32 ``[N, 20, 26]`` normalised segments and int32 labels ``[N]``."""
    checks.check_split(split)
    return _split_arrays(split)
