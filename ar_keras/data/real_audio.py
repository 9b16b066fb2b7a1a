"""Real speech datasets through TensorFlow Datasets, read offline: LJSpeech, VCTK, Speech Commands.

As for the real image datasets (`ar_keras.data.real`), nothing downloads:
each dataset is read with ``tfds.load(..., download=False)`` from a prepared
tfds folder in the data directory (``data_dir=``, else ``$AR_KERAS_DATA_DIR``,
else ``~/tensorflow_datasets``), and a missing folder raises a
`DatasetNotFoundError` at once, before tensorflow_datasets is imported,
saying what to put where.  Prepare a folder on a machine with network with
``tfds build NAME --data_dir DIR`` and copy ``DIR/NAME/`` over::

    name             tfds folder                rate    example            label
    ljspeech         ljspeech/1.1.1/            22050   1 s windows        --
    vctk             vctk/mic1/1.0.1/           16000   1 s windows        speaker (110)
    speech_commands  speech_commands/0.0.3/     16000   the 1 s clip       word (12)

Every example is int32 mu-law codes (256 levels, `mu_law_encode` of the
int16 PCM / 32768) of one second: LJSpeech and VCTK utterances are cut into
consecutive 1 s windows (the last one padded with silence); Speech Commands
clips (at most 1 s) are padded with silence to 1 s.  VCTK's 48 kHz is
brought to 16 kHz, the paper's rate, by a windowed-sinc low-pass at 7.2 kHz
(63 taps, Hann window) and keeping every third sample.  LJSpeech stays at its
22,050 Hz.

Splits: Speech Commands has its own train / validation / test.  LJSpeech and
VCTK have only ``train`` in tfds; train, validation and test are its
``train[:90%]``, ``train[90%:95%]`` and ``train[95%:]`` (`TFDS_SPLITS`), cut
by utterance before windowing.

Example:
    >>> # after `tfds build speech_commands --data_dir ~/tensorflow_datasets` elsewhere
    >>> import ar_keras as ark
    >>> ds = ark.data.load("speech_commands", "validation", with_labels=True)  # doctest: +SKIP
    >>> # -> (int32 [16000] mu-law codes, int32 word id)
"""

import numpy as np
import tensorflow as tf

from ar_keras.data.audio_info import AudioDatasetInfo
from ar_keras.data.mu_law import mu_law_encode
from ar_keras.data.offline import DATA_DIR_ENV, not_found, read_tfds, resolve_data_dir, tfds_build_hint

__all__ = [
    "LJSPEECH_INFO",
    "VCTK_INFO",
    "SPEECH_COMMANDS_INFO",
    "TFDS_SPLITS",
    "load_audio",
    "decimate",
    "to_windows",
]

_LEVELS = 256
_COMMANDS = ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "_silence_", "_unknown_")

_TAIL_SPLITS = {"train": "train[:90%]", "validation": "train[90%:95%]", "test": "train[95%:]"}
#: name -> canonical split -> tfds split string.
TFDS_SPLITS = {
    "ljspeech": dict(_TAIL_SPLITS),
    "vctk": dict(_TAIL_SPLITS),
    "speech_commands": {"train": "train", "validation": "validation", "test": "test"},
}
# The prepared folder tfds 4.9 writes (<name>/[<config>/]<version>/).
_FOLDERS = {
    "ljspeech": "ljspeech/1.1.1",
    "vctk": "vctk/mic1/1.0.1",
    "speech_commands": "speech_commands/0.0.3",
}


def _info(name, sample_rate, num_classes, what, **kwargs):
    """256-level mu-law sequences of one second (sample_rate samples), read from _FOLDERS[name]."""
    return AudioDatasetInfo(
        name=name,
        event_shape=(None,),
        num_levels=_LEVELS,
        num_classes=num_classes,
        splits={"train": None, "validation": None, "test": None},
        description=f"{what} Read offline from a prepared tfds folder {_FOLDERS[name]}/.",
        kind="sequence",
        sample_rate=sample_rate,
        example_length=sample_rate,
        **kwargs,
    )


LJSPEECH_INFO = _info(
    "ljspeech",
    22050,
    None,
    "LJSpeech 1.1 (Ito & Johnson 2017), one reader, 13,100 clips, 22,050 Hz; 1 s windows of "
    "256-level mu-law codes. Splits: tfds train[:90%] / [90%:95%] / [95%:].",
)

VCTK_INFO = _info(
    "vctk",
    16000,
    110,
    "CSTR VCTK 0.92 (Yamagishi et al. 2019; WaveNet's multi-speaker data), 110 speakers, "
    "mic1, decimated 48 -> 16 kHz; 1 s windows of 256-level mu-law codes; labels are "
    "speaker ids. Splits: tfds train[:90%] / [90%:95%] / [95%:].",
)

SPEECH_COMMANDS_INFO = _info(
    "speech_commands",
    16000,
    len(_COMMANDS),
    "Speech Commands v0.02 (Warden 2018), 1 s clips at 16 kHz padded with silence to "
    "16,000 samples of 256-level mu-law codes; labels are the 10 words, _silence_ and "
    "_unknown_ (tfds speech_commands 0.0.3). Its own train / validation / test.",
    label_names=_COMMANDS,
)

_INFOS = {"ljspeech": LJSPEECH_INFO, "vctk": VCTK_INFO, "speech_commands": SPEECH_COMMANDS_INFO}
# name -> (tfds name, audio feature, label feature or None, decimation factor)
_FEATURES = {
    "ljspeech": ("ljspeech", "speech", None, 1),
    "vctk": ("vctk", "speech", "speaker", 3),
    "speech_commands": ("speech_commands", "audio", "label", 1),
}


def _not_found(name, data_dir, origin, notes, cause):
    return not_found(
        name,
        data_dir,
        origin,
        notes,
        cause,
        [
            "It reads a prepared tensorflow-datasets folder:",
            f"  {data_dir}/{_FOLDERS[name]}/ (with its dataset_info.json). "
            + tfds_build_hint(_FEATURES[name][0]),
            f"Or set ${DATA_DIR_ENV} (or pass data_dir=) to a directory that holds it.",
        ],
    )


def _lowpass(factor, taps=63):
    """Windowed-sinc low-pass for decimation by ``factor``: cutoff 0.9 x the new Nyquist.

    ``h[n] = 2 f_c sinc(2 f_c (n - m)) hann[n]``, normalised to unit DC gain,
    with ``f_c = 0.45 / factor`` cycles per input sample and ``m = (taps-1)/2``.
    """
    n = np.arange(taps) - (taps - 1) / 2
    fc = 0.45 / factor
    h = 2 * fc * np.sinc(2 * fc * n) * np.hanning(taps)
    return (h / h.sum()).astype(np.float32)


def decimate(audio, factor):
    """``audio [n]`` float -> ``[ceil(n / factor)]``: low-pass, then every ``factor``-th sample."""
    if factor == 1:
        return audio
    taps = _lowpass(factor)
    h = tf.constant(taps[:, None, None])  # [taps, 1, 1]
    half = (len(taps) - 1) // 2
    # Output i is the filter centred on input i * factor (zero phase: h is symmetric and
    # conv1d correlates); zeros beyond the ends.
    x = tf.pad(tf.reshape(audio, [-1]), [[half, half]])  # [n + taps - 1]
    x = tf.reshape(x, [1, -1, 1])  # [m] -> [1, m, 1]
    y = tf.nn.conv1d(x, h, stride=factor, padding="VALID")  # [1, ceil(n / f), 1]
    return tf.reshape(y, [-1])  # [1, m, 1] -> [m]


def to_windows(codes, length, silence):
    """``codes [n]`` -> ``[ceil(n / length), length]``, the last window padded with ``silence``."""
    n = tf.shape(codes)[0]
    windows = tf.maximum((n + length - 1) // length, 1)
    padded = tf.pad(codes, [[0, windows * length - n]], constant_values=silence)
    return tf.reshape(padded, [windows, length])  # [W L] -> [W, L]


def _convert(name, features):
    """One tfds example -> the registry's dict of windows {"image": [W, L], "label": [W]}.

    (The registry calls the example "image" whatever it holds.)
    """
    _, audio_key, label_key, factor = _FEATURES[name]
    info = _INFOS[name]
    audio = tf.cast(features[audio_key], tf.float32) / 32768.0  # int16 PCM -> [-1, 1)
    if audio.shape.rank == 2:  # [n, channels] -> [n]
        audio = audio[:, 0]
    audio = tf.clip_by_value(decimate(audio, factor), -1.0, 1.0)
    codes = mu_law_encode(audio, _LEVELS)
    silence = _LEVELS // 2
    windows = to_windows(codes, info.example_length, silence)  # [W, L]
    out = {"image": windows}
    if label_key is not None:
        out["label"] = tf.fill([tf.shape(windows)[0]], tf.cast(features[label_key], tf.int64))
    return tf.data.Dataset.from_tensor_slices(out)


def load_audio(name, split, data_dir=None):
    """Reads one split of a real audio dataset offline: a `tf.data.Dataset` of window dicts.

    Raises:
        DatasetNotFoundError: no prepared tfds folder (raised before tfds is
            imported), or tfds failed to read it.
    """
    if name not in _FEATURES:
        raise ValueError(f"Unknown audio dataset {name!r}; expected one of {sorted(_FEATURES)}.")
    data_dir, origin = resolve_data_dir(data_dir)
    ds = read_tfds(
        _FEATURES[name][0],
        TFDS_SPLITS[name][split],
        data_dir,
        [],
        lambda notes, cause: _not_found(name, data_dir, origin, notes, cause),
    )
    return ds.flat_map(lambda features: _convert(name, features))
