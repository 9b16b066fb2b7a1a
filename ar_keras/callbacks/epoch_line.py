"""`EpochLine`: one flushed line per epoch, for logs and for tools that watch a run.

Example:
    >>> import ar_keras as ark
    >>> ark.callbacks.EpochLine(total_epochs=20).total_epochs
    20
"""

import sys
import time

import keras
import numpy as np

__all__ = ["EpochLine"]


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
        parts = [
            f"{k} {v:.4f}"
            for k, v in sorted((logs or {}).items())
            if isinstance(v, (int, float, np.floating))
        ]
        elapsed = time.time() - (self._start or time.time())
        print(
            f"[ar_keras] epoch {epoch + 1}/{self.total_epochs} done: {', '.join(parts)} ({elapsed:.1f} s)",
            file=stream,
            flush=True,
        )
