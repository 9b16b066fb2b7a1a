"""`StopOnNaN`: stops `fit` at the first non-finite loss, naming the step and the last good backup.

Example:
    >>> import ar_keras as ark
    >>> ark.callbacks.StopOnNaN("runs/x/backup").stopped
    False
"""

import os

import keras

from ar_keras.callbacks.resume import ResumableBackup, is_finite_number

__all__ = ["StopOnNaN"]


class StopOnNaN(keras.callbacks.Callback):
    """Stops `fit` at the first non-finite loss, naming the step and the last good backup.

    `keras.callbacks.TerminateOnNaN` only stops; this also records where:
    ``message`` names the epoch, the batch within it and the global step
    (1-based; with ``steps_per_execution = k`` the loss is seen once per k
    steps, so the message names the block of k steps), and the path and step of
    the last backup `ResumableBackup` kept (it refuses to back up non-finite
    weights, so that file holds the last good state). ``stopped`` tells the
    caller to exit non-zero (``python -m train`` exits with status 3).

    Keras logs carry the epoch's running mean of the loss, which turns NaN at the
    first non-finite step and stays so: the first non-finite value seen is the
    step that diverged.

    Args:
        backup_dir: the `ResumableBackup`'s directory (or None: no checkpoint named).
        stream: where to print the message the moment it is known (e.g.
            ``sys.stderr``; the epoch's validation and sampling still run after
            the stop), or None to leave printing to the caller.

    Example:
        >>> import ar_keras as ark
        >>> nan_stop = ark.callbacks.StopOnNaN("runs/x/backup")
        >>> model.fit(ds, epochs=20, steps_per_epoch=steps,  # doctest: +SKIP
        ...           callbacks=[ark.callbacks.ResumableBackup("runs/x/backup"), nan_stop])
        >>> if nan_stop.stopped: print(nan_stop.message)  # doctest: +SKIP
    """

    def __init__(self, backup_dir=None, stream=None):
        super().__init__()
        self.backup_dir = backup_dir
        self.stream = stream
        self.stopped = False
        self.message = None
        self.step = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.stopped, self.message, self.step = False, None, None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if self.stopped or loss is None or is_finite_number(loss):
            return
        spe = int(getattr(self.model, "steps_per_execution", 1) or 1)
        steps = int((self.params or {}).get("steps") or 0)
        last = batch + 1  # 1-based, last step of this execution
        first = max(1, last - spe + 1)
        where = f"batch {last}" if first == last else f"batches {first}-{last}"
        where = f"epoch {self._epoch + 1}, {where}" + (f" of {steps}" if steps else "")
        if steps:
            g_last, g_first = self._epoch * steps + last, self._epoch * steps + first
            where += (
                f" (global step {g_last})"
                if g_first == g_last
                else f" (global steps {g_first}-{g_last}, one execution of steps_per_execution={spe})"
            )
        self.step = {
            "epoch": self._epoch + 1,
            "batch": last,
            "global_step": self._epoch * steps + last if steps else None,
        }
        self.message = f"loss became {float(loss)} at {where}; training stopped. " + self._checkpoint()
        self.stopped = True
        self.model.stop_training = True
        if self.stream is not None:
            print(f"error: {self.message}", file=self.stream, flush=True)

    def _checkpoint(self):
        state = ResumableBackup.read_state(self.backup_dir) if self.backup_dir else None
        if state is None:
            return (
                f"No checkpoint was written before it (no backup in {self.backup_dir})."
                if self.backup_dir
                else "No backup directory was given."
            )
        path = os.path.join(self.backup_dir, "latest.weights.h5")
        return (
            f"Last good checkpoint: {path} (after global step {state['global_step']}: "
            f"epoch {state['epoch'] + 1}, {state['batch']} batches into it): model and "
            "optimizer weights (learning rate included), for model.load_weights or --resume."
        )
