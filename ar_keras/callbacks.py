"""Keras callbacks: sample grids (or audio clips) in TensorBoard and files, and a line per epoch.

Bits per dimension are a model metric (``bits_per_dim``, ``val_bits_per_dim``)
and reach TensorBoard through `keras.callbacks.TensorBoard`; `SampleLogger`
adds what a person wants to look at.

Example:
    >>> model.fit(ds, epochs=20, validation_data=val, callbacks=[
    ...     ark.callbacks.SampleLogger(log_dir="runs/pcnn"),
    ...     keras.callbacks.TensorBoard("runs/pcnn")])
    >>> # tensorboard --logdir runs  -> IMAGES tab, "samples"
    >>> # sequence (audio) models: AUDIO tab, "samples", and runs/.../samples_epoch_NNN.wav
"""

import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from ar_keras.data.mu_law import mu_law_decode
from ar_keras.data.wav import write_wav
from ar_keras.models.sequence import SequenceModel
from ar_keras.visualize import image_grid, save_png

__all__ = ["SampleLogger", "EpochLine"]


class SampleLogger(keras.callbacks.Callback):
    """Draws samples every few epochs; writes a TensorBoard image and a PNG grid.

    The seed is fixed, so successive grids show the same noise passing through
    a model that learns.  Class-conditional models get labels ``0, 1, 2, ...``
    cycled over the grid.

    Args:
        log_dir: TensorBoard directory; images go to ``log_dir/samples`` and
            PNGs to ``log_dir/samples_epoch_NNN.png`` (plus
            ``samples_latest.png``).
        num_samples: samples per grid.
        every_n_epochs: sampling period.
        seed: sampling seed.
        temperature: sampling temperature.
        write_png: also write PNG files (WAV files for sequence models).
        audio_clips: sequence (audio) models: clips drawn per epoch (in place of
            ``num_samples``: each clip is thousands of sequential steps).
        length: sequence models: samples per clip; default half a second.
        sample_rate: sequence models: Hz of the audio; default the model's
            ``sample_rate`` attribute, else 16000.
        conditional: the ``conditional`` of the drawn samples (e.g. local
            features ``[audio_clips, length / hop, E]`` for a locally conditioned
            WaveNet); default: labels ``0, 1, 2, ...`` for class-conditional models.

    Sequence models (`ar_keras.models.SequenceModel`, data int ``[B, T]``) are
    audio: their levels are mu-law codes, decoded with `mu_law_decode` and
    written with ``tf.summary.audio`` (TensorBoard's AUDIO tab) and to
    ``log_dir/samples_epoch_NNN.wav`` (plus ``samples_latest.wav``): the clips
    one after the other, 0.1 s of silence between them.
    """

    def __init__(self, log_dir, num_samples=16, every_n_epochs=1, seed=0,
                 temperature=1.0, write_png=True, audio_clips=4, length=None, sample_rate=None,
                 conditional=None):
        super().__init__()
        self.log_dir = log_dir
        self.num_samples = int(num_samples)
        self.every_n_epochs = int(every_n_epochs)
        self.seed = int(seed)
        self.temperature = float(temperature)
        self.write_png = bool(write_png)
        self.audio_clips = int(audio_clips)
        self.length = None if length is None else int(length)
        self.sample_rate = None if sample_rate is None else int(sample_rate)
        self.conditional = conditional
        self._writer = None
        self.last_png = None
        self.last_wav = None

    def _labels(self, count=None):
        if self.conditional is not None:
            return self.conditional
        classes = getattr(self.model, "num_classes", None)
        if not classes:
            return None
        return np.arange(count or self.num_samples, dtype=np.int32) % classes

    @property
    def is_audio(self):
        return isinstance(self.model, SequenceModel)

    def _rate(self):
        return self.sample_rate or int(getattr(self.model, "sample_rate", None) or 16000)

    def draw_audio(self):
        """The current clips: float32 ``[audio_clips, length]`` in ``[-1, 1]``."""
        length = self.length or self._rate() // 2
        codes = self.model.sample(self.audio_clips, conditional=self._labels(self.audio_clips),
                                  seed=self.seed, temperature=self.temperature, length=length)
        return mu_law_decode(codes, self.model.num_levels).numpy()

    def _write_audio(self, clips, path):
        gap = np.zeros([self._rate() // 10], np.float32)                     # 0.1 s of silence
        joined = np.concatenate([part for clip in clips for part in (clip, gap)][:-1])
        return write_wav(path, joined, self._rate())

    def draw(self):
        """The current sample grid, uint8 ``[H, W, 3]``."""
        if getattr(self.model, "num_levels", 0) is None:     # continuous models: float vectors
            from ar_keras.flows.pictures import sample_picture
            return sample_picture(self.model, self.num_samples, self.seed, self.temperature)
        samples = self.model.sample(self.num_samples, conditional=self._labels(), seed=self.seed,
                                    temperature=self.temperature)
        return image_grid(samples.numpy(), self.model.num_levels)

    def write_final(self, path_stem):
        """Writes the current samples next to ``path_stem`` (``.png`` for images, ``.wav`` for
        audio); returns the path."""
        if self.is_audio:
            return self._write_audio(self.draw_audio(), path_stem + ".wav")
        return save_png(self.draw(), path_stem + ".png")

    def _log_audio(self, epoch):
        clips = self.draw_audio()                                            # [n, T]
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
        with self._writer.as_default():
            tf.summary.audio("samples", clips[..., None], self._rate(), step=epoch + 1,
                             max_outputs=len(clips))                         # [n, T] -> [n, T, 1]
        self._writer.flush()
        if self.write_png:
            self.last_wav = self._write_audio(
                clips, os.path.join(self.log_dir, f"samples_epoch_{epoch + 1:03d}.wav"))
            self._write_audio(clips, os.path.join(self.log_dir, "samples_latest.wav"))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        if self.is_audio:
            self._log_audio(epoch)
            return
        grid = self.draw()
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
        with self._writer.as_default():
            tf.summary.image("samples", grid[None], step=epoch + 1)
        self._writer.flush()
        if self.write_png:
            self.last_png = save_png(grid, os.path.join(self.log_dir, f"samples_epoch_{epoch + 1:03d}.png"))
            save_png(grid, os.path.join(self.log_dir, "samples_latest.png"))

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class EpochLine(keras.callbacks.Callback):
    """Prints one flushed line per epoch: ``epoch 3/20: loss ... bits_per_dim ... (2.1 s)``.

    Readable in logs where a progress bar is not, and a marker for tools that
    watch a run (the resume test kills a run after a given line).
    """

    def __init__(self, total_epochs, stream=None):
        super().__init__()
        self.total_epochs = int(total_epochs)
        self.stream = stream
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        stream = self.stream or sys.stdout
        parts = [f"{k} {v:.4f}" for k, v in sorted((logs or {}).items())
                 if isinstance(v, (int, float, np.floating))]
        elapsed = time.time() - (self._start or time.time())
        print(f"[ar_keras] epoch {epoch + 1}/{self.total_epochs} done: {', '.join(parts)} "
              f"({elapsed:.1f} s)", file=stream, flush=True)
