"""`ResumableBackup`: backups every N steps that a restarted run resumes *mid-epoch*.

Same weights, optimizer state and data position as an uninterrupted run (with
`ar_keras.data.resumable_dataset`), and never a backup of non-finite weights.

Example:
    >>> import ar_keras as ark
    >>> ark.callbacks.ResumableBackup.read_state("runs/x/backup") is None   # no backup yet
    True
"""

import json
import math
import os
import shutil

import keras
import numpy as np

from ar_keras import distribute

__all__ = ["ResumableBackup", "is_finite_number"]


def is_finite_number(value):
    """True unless ``value`` is a number that is NaN or infinite (a log that is no number is
    nothing to judge)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True  # not a number (e.g. a string log): nothing to judge


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` that resumes mid-epoch and never backs up NaN.

    What Keras 3.15's ``BackupAndRestore(save_freq=N)`` does: every N batches it
    writes ``model.save_weights`` (the model's variables AND the optimizer's:
    moments, ``iterations``, learning rate) and ``{"epoch", "batch"}``; on
    restore it loads the weights and sets ``model._initial_epoch``, but ignores
    ``batch``: the interrupted epoch restarts from its first batch, replaying the
    batches already trained on (and a fresh data iterator replays the first
    epoch's shuffle order). It also forgets the epoch on restore, so a second
    interruption inside the first resumed epoch records epoch 0.

    What this subclass adds, nothing more:

    * the metadata holds ``epoch``, ``batch`` (batches of that epoch done) and
      ``global_step`` (``epoch * steps_per_epoch + batch``), written atomically;
      also the states of the model's Keras seed generators (dropout masks),
    * on restore the first ``batch`` steps of the resumed epoch are no-ops: the
      train function is not called (no update, no data read), so together with a
      data stream that starts at ``global_step`` (`ar_keras.data.resumable_dataset`) the run
      continues exactly where the backup was taken;
    * a backup is also written at every epoch end; with
      ``steps_per_execution = k`` batch callbacks only run every k steps, so a
      backup is taken at the first execution boundary at least ``save_freq``
      steps after the previous one (a run loses at most
      ``ceil(save_freq / k) * k`` steps; choose ``save_freq`` a multiple of k);
    * no backup once the loss or a weight is not finite, and the backup is kept
      (not deleted at the end of ``fit``) when training stopped on NaN: it is the
      last good checkpoint.

    ``steps_per_epoch`` must be fixed (``fit(..., steps_per_epoch=S)``, as with
    `ar_keras.data.resumable_dataset`) and a multiple of ``steps_per_execution``.

    Args:
        backup_dir: directory of this run's backup (nothing else may write there).
        save_freq: steps between backups (int) or ``"epoch"``.
        double_checkpoint: keep the previous backup too (a torn write falls back to it).
        delete_checkpoint: remove the backup after a finished ``fit``.

    Example:
        >>> import ar_keras as ark
        >>> backup = ark.callbacks.ResumableBackup("runs/x/backup", save_freq=100)
        >>> model.fit(ds, epochs=20, steps_per_epoch=steps, callbacks=[backup])  # doctest: +SKIP
    """

    def __init__(self, backup_dir, save_freq=100, double_checkpoint=True, delete_checkpoint=True):
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ValueError(
                f"ResumableBackup: save_freq must be a positive number of steps or "
                f"'epoch', got {save_freq!r}."
            )
        super().__init__(
            backup_dir,
            save_freq=save_freq,
            double_checkpoint=double_checkpoint,
            delete_checkpoint=delete_checkpoint,
        )
        self._batches_done = 0  # batches of the current epoch trained on
        self._last_saved_step = 0  # global step of the last backup
        self._skip = 0  # no-op steps left in the resumed epoch
        self._original_train_function = None
        self.nonfinite = False  # the loss or a weight stopped being finite
        self.restored = None  # the metadata restored at the start of fit, if any

    # ------------------------------------------------------------------ state
    @staticmethod
    def read_state(backup_dir):
        """The backup's metadata ``{"epoch", "batch", "global_step", ...}``, or None."""
        path = os.path.join(backup_dir, "training_metadata.json")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            state = json.load(f)
        state.setdefault("batch", 0)
        state.setdefault("global_step", None)
        return state

    @property
    def weights_path(self):
        """Path of the latest backup's weights (model + optimizer)."""
        return distribute.backup_paths(self)[0]

    def _steps_per_epoch(self):
        steps = (self.params or {}).get("steps")
        if not steps:
            raise ValueError(
                "ResumableBackup needs a fixed number of steps per epoch: "
                "fit(..., steps_per_epoch=S) (see ark.data.resumable_dataset)."
            )
        return int(steps)

    def _steps_per_execution(self):
        return int(getattr(self.model, "steps_per_execution", 1) or 1)

    def _global_step(self):
        return self._epoch * self._steps_per_epoch() + self._batches_done

    def _seed_generators(self):
        return distribute.seed_generators(self.model)

    # ---------------------------------------------------------------- restore
    def on_train_begin(self, logs=None):
        steps, spe = self._steps_per_epoch(), self._steps_per_execution()
        if steps % spe:
            raise ValueError(
                f"ResumableBackup: steps_per_epoch ({steps}) must be a multiple of "
                f"steps_per_execution ({spe}) for backups at execution boundaries."
            )
        self.nonfinite = False
        super().on_train_begin(logs)  # loads weights + optimizer, sets the epoch fit starts from
        state = self.read_state(self.backup_dir)
        self.restored = state
        self._epoch = distribute.initial_epoch(self.model)
        self._batches_done = 0
        self._last_saved_step = self._global_step()
        if state is None:
            return
        self._epoch = int(state["epoch"])
        self._batches_done = int(state["batch"])
        self._last_saved_step = self._global_step()
        for sg, value in zip(self._seed_generators(), state.get("seed_generators", [])):
            sg.state.assign(np.asarray(value, dtype=sg.state.dtype))
        if self._batches_done % spe:
            raise ValueError(
                f"ResumableBackup: the backup was taken after {self._batches_done} "
                f"steps of an epoch, not a multiple of steps_per_execution ({spe}); "
                "resume with the steps_per_execution of the interrupted run."
            )
        self._skip = self._batches_done
        if self._skip:
            metrics = self.model.get_metrics_result

            def train_function(iterator):
                if self._skip > 0:  # a step the backup already holds: no update, no data
                    self._skip -= spe
                    if self._skip <= 0:  # done: fit calls the real function from now on
                        distribute.replace_train_function(self.model, original)
                    return metrics()
                return original(iterator)

            original = distribute.replace_train_function(self.model, train_function)
            self._original_train_function = original

    # ------------------------------------------------------------------- save
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self._skip <= 0:
            self._batches_done = 0

    def on_train_batch_end(self, batch, logs=None):
        if logs is not None and not is_finite_number(logs.get("loss", 0.0)):
            self.nonfinite = True
        done = batch + 1
        if done <= self._batches_done:  # a no-op step of the resumed epoch
            return
        self._batches_done = done
        if self.nonfinite or self.save_freq == "epoch":
            return
        if self._global_step() - self._last_saved_step >= self.save_freq:
            self._write_backup()

    def on_epoch_end(self, epoch, logs=None):
        # The backup after a finished epoch: the next one starts at its batch 0.
        self._epoch, self._batches_done = epoch + 1, 0
        if logs is not None and not is_finite_number(logs.get("loss", 0.0)):
            self.nonfinite = True
        if not self.nonfinite:
            self._write_backup()

    def _write_backup(self):
        if self.nonfinite or not all(
            np.all(np.isfinite(w))
            for w in self.model.get_weights()
            if np.issubdtype(np.asarray(w).dtype, np.floating)
        ):
            self.nonfinite = True  # never overwrite the last good backup with NaN
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        weights_path, metadata_path, prev_weights_path, prev_metadata_path = distribute.backup_paths(self)
        if self.double_checkpoint:
            for path, prev in ((weights_path, prev_weights_path), (metadata_path, prev_metadata_path)):
                if os.path.exists(path):
                    shutil.copyfile(path, prev)
        # Both files written aside, then renamed back to back: a kill during a write
        # leaves the previous backup whole (the window between the renames is microseconds).
        tmp = weights_path[: -len(".weights.h5")] + ".tmp.weights.h5"
        self.model.save_weights(tmp, overwrite=True)
        state = {
            "epoch": self._epoch,
            "batch": self._batches_done,
            "global_step": self._global_step(),
            "steps_per_epoch": self._steps_per_epoch(),
            "seed_generators": [np.asarray(sg.state).tolist() for sg in self._seed_generators()],
        }
        with open(metadata_path + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(tmp, weights_path)
        os.replace(metadata_path + ".tmp", metadata_path)
        self._last_saved_step = state["global_step"]

    def on_train_end(self, logs=None):
        if self._original_train_function is not None:
            distribute.replace_train_function(self.model, self._original_train_function)
            self._original_train_function = None
        if not self.nonfinite:  # keep the last good backup of a diverged run
            super().on_train_end(logs)
