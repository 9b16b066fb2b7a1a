"""SampleLogger writes what the model's event modality calls for: PNG for images, text for bytes."""

import os

import keras
import numpy as np
import tensorflow as tf

import ar_keras as ark
from ar_keras.core import AutoregressiveModel, SequenceEvent
from ar_keras.distributions import Categorical


class Bytes(AutoregressiveModel):
    """A byte model with no sample rate: its samples are text, not audio."""

    def __init__(self, **kwargs):
        super().__init__(event=SequenceEvent(256), **kwargs)
        self.head = Categorical(256)
        self.table = keras.layers.Embedding(257, 256, name="table")
        self._finish_init()

    def network(self, x, conditional=None, training=False):
        return self.table(tf.pad(x + 1, [[0, 0], [1, 0]])[:, :-1])  # [B, T] -> [B, T, 256]


def _run_one_epoch(logger, model):
    logger.set_model(model)
    logger.on_epoch_end(0)
    logger.on_train_end()


def test_bytes_are_written_as_text(tmp_path):
    logger = ark.callbacks.SampleLogger(str(tmp_path), audio_clips=2, length=16)
    _run_one_epoch(logger, Bytes())
    assert logger.modality == "text" and logger.last_wav is None and logger.last_png is None
    text = open(logger.last_text, encoding="utf-8").read()
    assert text.count("----") == 1 and len(text) >= 2 * 8  # two samples
    assert os.path.exists(tmp_path / "samples_latest.txt")
    assert os.listdir(tmp_path / "samples")  # TensorBoard events


def test_images_are_written_as_png(tmp_path):
    logger = ark.callbacks.SampleLogger(str(tmp_path), num_samples=4)
    _run_one_epoch(logger, ark.models.get("nade", preset="tiny"))
    assert logger.modality == "image" and logger.last_png.endswith("samples_epoch_001.png")
    assert os.path.getsize(logger.last_png) > 0


def test_audio_models_are_audio():
    logger = ark.callbacks.SampleLogger("unused")
    logger.set_model(ark.models.get("wavenet", preset="tiny"))
    assert logger.modality == "audio"
    np.testing.assert_array_equal(logger.is_audio, True)


def test_videos_are_written_as_strips_of_frames(tmp_path):
    logger = ark.callbacks.SampleLogger(str(tmp_path), num_samples=3)
    model = ark.models.get("vpn", preset="tiny", video_shape=(4, 2, 3, 1))
    _run_one_epoch(logger, model)
    assert logger.modality == "video" and logger.last_png.endswith("samples_epoch_001.png")
    grid = logger.draw()  # [rows, cols, 3] uint8
    # One strip per sample, in one column: each strip is 2 rows by 4 frames x 3 columns.
    from ar_keras.visualize import image_grid

    assert grid.shape == image_grid(np.zeros((3, 2, 4 * 3, 1), np.int32), 3, columns=1).shape
    assert os.path.getsize(logger.last_png) > 0
