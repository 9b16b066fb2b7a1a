"""Keras callbacks: sample grids in TensorBoard and PNG, and a line per epoch.

Bits per dimension are a model metric (``bits_per_dim``, ``val_bits_per_dim``)
and reach TensorBoard through `keras.callbacks.TensorBoard`; `SampleLogger`
adds what a person wants to look at.

Example:
    >>> model.fit(ds, epochs=20, validation_data=val, callbacks=[
    ...     ark.callbacks.SampleLogger(log_dir="runs/pcnn"),
    ...     keras.callbacks.TensorBoard("runs/pcnn")])
    >>> # tensorboard --logdir runs  -> IMAGES tab, "samples"
"""

import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

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
        write_png: also write PNG files.
    """

    def __init__(self, log_dir, num_samples=16, every_n_epochs=1, seed=0,
                 temperature=1.0, write_png=True):
        super().__init__()
        self.log_dir = log_dir
        self.num_samples = int(num_samples)
        self.every_n_epochs = int(every_n_epochs)
        self.seed = int(seed)
        self.temperature = float(temperature)
        self.write_png = bool(write_png)
        self._writer = None
        self.last_png = None

    def _labels(self):
        classes = getattr(self.model, "num_classes", None)
        if not classes:
            return None
        return np.arange(self.num_samples, dtype=np.int32) % classes

    def draw(self):
        """The current sample grid, uint8 ``[H, W, 3]``."""
        samples = self.model.sample(self.num_samples, conditional=self._labels(), seed=self.seed,
                                    temperature=self.temperature)
        return image_grid(samples.numpy(), self.model.num_levels)

    def write_final(self, path_stem):
        """Writes the current samples next to ``path_stem`` (``.png`` for images); returns the path."""
        return save_png(self.draw(), path_stem + ".png")

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
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
