"""Keras callbacks: samples in TensorBoard and files (by the model's event kind), a line per epoch.

Bits per dimension are a model metric (``bits_per_dim``, ``val_bits_per_dim``)
and reach TensorBoard through `keras.callbacks.TensorBoard`; `SampleLogger`
adds what a person wants to look at.

Example:
    >>> model.fit(ds, epochs=20, validation_data=val, callbacks=[
    ...     ark.callbacks.SampleLogger(log_dir="runs/pcnn"),
    ...     keras.callbacks.TensorBoard("runs/pcnn")])
    >>> # tensorboard --logdir runs  -> IMAGES tab, "samples"
    >>> # audio models: AUDIO tab and samples_epoch_NNN.wav; byte models: TEXT tab and .txt
"""

import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from ar_keras.data.mu_law import mu_law_decode
from ar_keras.data.wav import write_wav
from ar_keras.visualize import image_grid, save_png

__all__ = ["SampleLogger", "EpochLine"]


class SampleLogger(keras.callbacks.Callback):
    """Draws samples every few epochs and writes them where a person would look.

    What is written follows the model's event kind (``model.event.kind``):

    =================  ==========================================================
    ``image``          a grid: TensorBoard IMAGES and ``samples_epoch_NNN.png``
    ``vector``         2-d: a scatter picture; more: the vectors as images (PNG)
    ``sequence``       audio (models with a ``sample_rate``: mu-law codes decoded,
                       TensorBoard AUDIO and ``.wav``, clips 0.1 s apart) or bytes
                       (TensorBoard TEXT and ``.txt``, decoded as UTF-8)
    ``video``          one strip of frames per sample: IMAGES and PNG
    ``float_sequence`` each trajectory as a heat map [T, F]: IMAGES and PNG
    =================  ==========================================================

    Plus ``samples_latest.*``.  The seed is fixed, so successive epochs show the
    same noise passing through a model that learns.  Class-conditional models
    get labels ``0, 1, 2, ...`` cycled over the samples.

    Args:
        log_dir: TensorBoard directory (summaries in ``log_dir/samples``).
        num_samples: samples per grid (images, vectors, video).
        every_n_epochs: sampling period.
        seed: sampling seed.
        temperature: sampling temperature.
        write_png: also write files (PNG, WAV or TXT).
        audio_clips: sequences drawn per epoch (each is thousands of steps).
        length: sequences: steps per sample; default half a second of audio
            (``sample_rate // 2``) or 256 bytes (at most the model's ``max_length``).
        sample_rate: audio: Hz; default the model's ``sample_rate``.
        conditional: the ``conditional`` of the drawn samples; default labels
            ``0, 1, 2, ...`` for class-conditional models.
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
        self.last_text = None

    # ----------------------------------------------------------------- kinds
    @property
    def kind(self):
        """``image``, ``vector``, ``audio``, ``text``, ``video`` or ``float_sequence``."""
        kind = self.model.event.kind
        if kind == "sequence":
            return "audio" if getattr(self.model, "sample_rate", None) or self.sample_rate else "text"
        return kind

    @property
    def is_audio(self):
        return self.kind == "audio"

    def _labels(self, count=None):
        if self.conditional is not None:
            return self.conditional
        classes = getattr(self.model, "num_classes", None)
        if not classes:
            return None
        return np.arange(count or self.num_samples, dtype=np.int32) % classes

    def _rate(self):
        return self.sample_rate or int(getattr(self.model, "sample_rate", None) or 16000)

    def _sample(self, count, length=None):
        return self.model.sample(count, conditional=self._labels(count), seed=self.seed,
                                 temperature=self.temperature, length=length).numpy()

    def draw_audio(self):
        """The current clips: float32 ``[audio_clips, length]`` in ``[-1, 1]``."""
        codes = self._sample(self.audio_clips, self.length or self._rate() // 2)
        return mu_law_decode(codes, self.model.num_levels).numpy()

    def draw_text(self):
        """The current byte samples decoded as text: a list of ``audio_clips`` strings."""
        # 256 bytes, or fewer for a model of shorter sequences (a Sparse Transformer's max_length).
        codes = self._sample(self.audio_clips,
                             self.length or min(256, getattr(self.model, "max_length", None) or 256))
        return [bytes(int(b) % 256 for b in row).decode("utf-8", errors="replace")
                for row in codes]

    def draw(self):
        """The current picture (images, vectors, video, float sequences): uint8 ``[H, W, 3]``."""
        kind = self.kind
        if kind == "vector":
            from ar_keras.flows.pictures import sample_picture
            return sample_picture(self.model, self.num_samples, self.seed, self.temperature)
        if kind == "float_sequence":
            x = self._sample(self.num_samples, self.length or 64)                # [n, T, F]
            low, high = np.percentile(x, 1), np.percentile(x, 99)
            levels = np.clip((x - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.int32)
            return image_grid(np.transpose(levels, (0, 2, 1))[..., None], 256, columns=1)  # [n, F, T, 1]
        x = self._sample(self.num_samples)
        if kind == "video":
            n, T, H, W, C = x.shape
            strips = np.transpose(x, (0, 2, 1, 3, 4)).reshape(n, H, T * W, C)  # [n, T, H, W, C] -> [n, H, T W, C]
            return image_grid(strips, self.model.num_levels, columns=1)
        return image_grid(x, self.model.num_levels)

    # ---------------------------------------------------------------- writing
    def _write_audio(self, clips, path):
        gap = np.zeros([self._rate() // 10], np.float32)                     # 0.1 s of silence
        joined = np.concatenate([part for clip in clips for part in (clip, gap)][:-1])
        return write_wav(path, joined, self._rate())

    @staticmethod
    def _write_text(texts, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n\n----\n\n".join(texts))
        return path

    def write_final(self, path_stem):
        """Writes the current samples next to ``path_stem`` (``.png``, ``.wav`` or ``.txt``)."""
        kind = self.kind
        if kind == "audio":
            return self._write_audio(self.draw_audio(), path_stem + ".wav")
        if kind == "text":
            return self._write_text(self.draw_text(), path_stem + ".txt")
        return save_png(self.draw(), path_stem + ".png")

    def _summary_writer(self):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
        return self._writer

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        kind, step = self.kind, epoch + 1
        stem = os.path.join(self.log_dir, f"samples_epoch_{step:03d}")
        latest = os.path.join(self.log_dir, "samples_latest")
        with self._summary_writer().as_default():
            if kind == "audio":
                clips = self.draw_audio()                                    # [n, T]
                tf.summary.audio("samples", clips[..., None], self._rate(), step=step,
                                 max_outputs=len(clips))                     # [n, T] -> [n, T, 1]
            elif kind == "text":
                texts = self.draw_text()
                tf.summary.text("samples", tf.constant(texts), step=step)
            else:
                grid = self.draw()
                tf.summary.image("samples", grid[None], step=step)
        self._writer.flush()
        if not self.write_png:
            return
        if kind == "audio":
            self.last_wav = self._write_audio(clips, stem + ".wav")
            self._write_audio(clips, latest + ".wav")
        elif kind == "text":
            self.last_text = self._write_text(texts, stem + ".txt")
            self._write_text(texts, latest + ".txt")
        else:
            self.last_png = save_png(grid, stem + ".png")
            save_png(grid, latest + ".png")

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
