"""Datasets and codecs: `ark.data.load(name, split)` -> int images ready for the models.

Embedded datasets (scikit-learn's 8x8 digits, no download) and real ones
(MNIST, binarized MNIST, CIFAR-10) read offline from local files or prepared
TensorFlow Datasets folders; never a download.  `quantize` / `dequantize` map
between floats in ``[0, 1]`` and K integer levels.

Example:
    >>> import ar_keras as ark
    >>> ark.data.names()
    ['binarized_mnist', 'binary_digits', 'bsds300', 'cifar10', 'digits', 'digits_continuous', 'enwik8',
     'gas', 'hepmass', 'ljspeech', 'maf_figure1', 'miniboone', 'mnist', 'moving_digits', 'moving_mnist',
     'power', 'rings', 'speech', 'speech_commands', 'speech_features', 'text', 'two_moons', 'vctk']
    >>> meta = ark.data.info("digits")               # event_shape (8, 8, 1), num_levels 17
    >>> ds = ark.data.load("digits", split="train")  # int32 [8, 8, 1] in [0, 17), 1,297 of them
    >>> model_kwargs = dict(image_shape=meta.event_shape, num_levels=meta.num_levels)
"""

from ar_keras.data import parallel, text
from ar_keras.data.audio_info import AudioDatasetInfo
from ar_keras.data.dataset_info import SPLITS, DatasetInfo
from ar_keras.data.mu_law import float_to_pcm16, mu_law_decode, mu_law_encode, pcm16_to_float
from ar_keras.data.offline import DATA_DIR_ENV, DatasetNotFoundError
from ar_keras.data.quantize import dequantize, quantize
from ar_keras.data.registry import as_numpy, info, load, names
from ar_keras.data.resumable import resumable_dataset
from ar_keras.data.speech_features import FeatureDatasetInfo
from ar_keras.data.text import TextDatasetInfo
from ar_keras.data.wav import read_wav, write_wav

__all__ = [
    "load",
    "info",
    "names",
    "as_numpy",
    "resumable_dataset",
    "DatasetInfo",
    "DatasetNotFoundError",
    "SPLITS",
    "DATA_DIR_ENV",
    "quantize",
    "dequantize",
    "AudioDatasetInfo",
    "TextDatasetInfo",
    "text",
    "FeatureDatasetInfo",
    "parallel",
    "mu_law_encode",
    "mu_law_decode",
    "pcm16_to_float",
    "float_to_pcm16",
    "read_wav",
    "write_wav",
]
