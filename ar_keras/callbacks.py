"""Keras callbacks: samples in TensorBoard and files (by the model's event kind), a line per epoch.

Bits per dimension are a model metric (``bits_per_dim``, ``val_bits_per_dim``)
and reach TensorBoard through `keras.callbacks.TensorBoard`; `SampleLogger`
adds what a person wants to look at.

`ResumableBackup` and `StopOnNaN` make a long run survive preemption and
divergence: a backup every N steps that a restarted run resumes *mid-epoch*
(same weights, optimizer state and data position as an uninterrupted run), and
a clear stop naming the step where the loss stopped being finite.

Example (``model``, ``ds`` and ``val`` a model and its training and validation data)::

    >>> import keras, ar_keras as ark
    >>> model.fit(ds, epochs=20, validation_data=val, callbacks=[  # doctest: +SKIP
    ...     ark.callbacks.SampleLogger(log_dir="runs/pcnn"),
    ...     keras.callbacks.TensorBoard("runs/pcnn")])
    >>> # tensorboard --logdir runs  -> IMAGES tab, "samples"
    >>> # audio models: AUDIO tab and samples_epoch_NNN.wav; byte models: TEXT tab and .txt
"""

import json
import math
import os
import shutil
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from ar_keras import distribute
from ar_keras.data.mu_law import mu_law_decode
from ar_keras.data.wav import write_wav
from ar_keras.visualize import image_grid, save_png

__all__ = ["SampleLogger", "EpochLine", "ResumableBackup", "StopOnNaN", "resumable_dataset"]


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

    def __init__(
        self,
        log_dir,
        num_samples=16,
        every_n_epochs=1,
        seed=0,
        temperature=1.0,
        write_png=True,
        audio_clips=4,
        length=None,
        sample_rate=None,
        conditional=None,
    ):
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
        return self.model.sample(
            count,
            conditional=self._labels(count),
            seed=self.seed,
            temperature=self.temperature,
            length=length,
        ).numpy()

    def draw_audio(self):
        """The current clips: float32 ``[audio_clips, length]`` in ``[-1, 1]``."""
        codes = self._sample(self.audio_clips, self.length or self._rate() // 2)
        return mu_law_decode(codes, self.model.num_levels).numpy()

    def draw_text(self):
        """The current byte samples decoded as text: a list of ``audio_clips`` strings."""
        # 256 bytes, or fewer for a model of shorter sequences (a Sparse Transformer's max_length).
        codes = self._sample(
            self.audio_clips, self.length or min(256, getattr(self.model, "max_length", None) or 256)
        )
        return [bytes(int(b) % 256 for b in row).decode("utf-8", errors="replace") for row in codes]

    def draw(self):
        """The current picture (images, vectors, video, float sequences): uint8 ``[H, W, 3]``."""
        kind = self.kind
        if kind == "vector":
            from ar_keras.flows.pictures import sample_picture

            return sample_picture(self.model, self.num_samples, self.seed, self.temperature)
        if kind == "float_sequence":
            x = self._sample(self.num_samples, self.length or 64)  # [n, T, F]
            low, high = np.percentile(x, 1), np.percentile(x, 99)
            levels = np.clip((x - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.int32)
            return image_grid(np.transpose(levels, (0, 2, 1))[..., None], 256, columns=1)  # [n, F, T, 1]
        x = self._sample(self.num_samples)
        if kind == "video":
            n, T, H, W, C = x.shape
            strips = np.transpose(x, (0, 2, 1, 3, 4)).reshape(
                n, H, T * W, C
            )  # [n, T, H, W, C] -> [n, H, T W, C]
            return image_grid(strips, self.model.num_levels, columns=1)
        return image_grid(x, self.model.num_levels)

    # ---------------------------------------------------------------- writing
    def _write_audio(self, clips, path):
        gap = np.zeros([self._rate() // 10], np.float32)  # 0.1 s of silence
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
                clips = self.draw_audio()  # [n, T]
                tf.summary.audio(
                    "samples", clips[..., None], self._rate(), step=step, max_outputs=len(clips)
                )  # [n, T] -> [n, T, 1]
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


# --------------------------------------------------------------------------- resume mid-epoch
def _is_finite_number(value):
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True  # not a number (e.g. a string log): nothing to judge


def resumable_dataset(
    dataset, batch_size, seed, shuffle_buffer, skip_batches=0, num_examples=None, drop_remainder=False
):
    """The training stream a mid-epoch resume can re-enter: ``(batches, steps_per_epoch)``.

    One infinite stream of batches. Pass ``e`` over the data cuts it into
    blocks of ``shuffle_buffer`` consecutive examples, permutes each block with
    a stateless shuffle keyed by ``(seed, e, block)`` and batches the result:
    the order of every pass is a function of ``seed`` and ``e`` alone, in any
    process. (A plain ``shuffle(seed)`` reshuffles each pass from a state a
    restarted process does not have: its first pass repeats pass 0's order.
    With ``shuffle_buffer >= examples`` a pass is a uniform permutation; with a
    smaller one, examples mix within blocks rather than within a sliding window.)
    ``model.fit(batches, steps_per_epoch=steps_per_epoch)`` keeps ONE iterator
    across epochs, so batch ``g`` of the stream is global step ``g``, resumed or
    not. A resumed run passes ``skip_batches`` = the backup's ``global_step``:
    the stream starts at pass ``g // steps_per_epoch`` and drops the first
    ``g % steps_per_epoch`` batches of it (read and dropped, less than one
    pass), i.e. it starts at the first batch not yet trained on.

    ``steps_per_epoch`` is ``ceil(examples / batch_size)`` (the last batch of a
    pass is short, as with a finite dataset), or ``floor`` with
    ``drop_remainder=True`` (static batch shapes, e.g. for TPUs).

    Args:
        dataset: unbatched `tf.data.Dataset` of a finite, known or countable size.
        batch_size: global batch size.
        seed: shuffle seed (with `keras.utils.set_random_seed(seed)` for the rest).
        shuffle_buffer: shuffle buffer size.
        skip_batches: batches already trained on (``ResumableBackup.read_state``).
        num_examples: the dataset's size where its cardinality is unknown
            (else it is counted once).
        drop_remainder: drop the short last batch of every pass.

    Example:
        >>> import ar_keras as ark
        >>> train = ark.data.load("digits", split="train")
        >>> state = ark.callbacks.ResumableBackup.read_state("runs/x/backup")   # None: no backup yet
        >>> ds, steps = ark.callbacks.resumable_dataset(
        ...     train, 64, seed=0, shuffle_buffer=10_000,
        ...     skip_batches=state["global_step"] if state else 0)
        >>> steps                                     # 1,297 digits in batches of 64 (the last short)
        21
        >>> model.fit(ds, epochs=20, steps_per_epoch=steps,  # doctest: +SKIP
        ...           callbacks=[ark.callbacks.ResumableBackup("runs/x/backup", 100)])
    """
    n = int(dataset.cardinality())
    if n == int(tf.data.INFINITE_CARDINALITY):
        raise ValueError("resumable_dataset: expected a finite dataset (one epoch), got an infinite one.")
    if n < 0 and num_examples:
        n = int(num_examples)
    elif n < 0:  # unknown size (e.g. filtered files): count once
        n = int(dataset.reduce(np.int64(0), lambda count, _: count + 1))
    if n == 0:
        raise ValueError("resumable_dataset: the training dataset is empty.")
    steps_per_epoch = n // int(batch_size) if drop_remainder else -(-n // int(batch_size))
    if steps_per_epoch == 0:
        raise ValueError(
            f"resumable_dataset: {n} examples make no full batch of {batch_size}; "
            "lower the batch size or keep the short batch (drop_remainder=False)."
        )
    first_pass, offset = divmod(int(skip_batches), steps_per_epoch)
    seed = tf.constant(int(seed), tf.int64)

    def permute(e, block_index, block):  # one block of one pass, keyed by (seed, pass, block)
        key = tf.stack([seed, e * (2**32) + block_index])
        order = tf.random.experimental.stateless_shuffle(
            tf.range(tf.shape(tf.nest.flatten(block)[0])[0]), seed=key
        )
        return tf.nest.map_structure(lambda t: tf.gather(t, order), block)

    def one_pass(e):
        blocks = dataset.batch(int(shuffle_buffer)).enumerate()  # [N, ...] -> [buffer, ...] blocks
        return (
            blocks.map(lambda i, block: permute(e, i, block))
            .unbatch()
            .batch(int(batch_size), drop_remainder=drop_remainder)
        )  # [N, ...] -> [batch, ...]

    stream = tf.data.Dataset.counter(start=first_pass, dtype=tf.int64).flat_map(one_pass)
    if offset:
        stream = stream.skip(offset)
    return stream, steps_per_epoch


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
      data stream that starts at ``global_step`` (`resumable_dataset`) the run
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
    `resumable_dataset`) and a multiple of ``steps_per_execution``.

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
                "fit(..., steps_per_epoch=S) (see ark.callbacks.resumable_dataset)."
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
        if logs is not None and not _is_finite_number(logs.get("loss", 0.0)):
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
        if logs is not None and not _is_finite_number(logs.get("loss", 0.0)):
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
        if self.stopped or loss is None or _is_finite_number(loss):
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
