"""Resume mid-epoch and the NaN stop.

* The CLI: run A trains uninterrupted; run B is killed (``os._exit``, no clean-up,
  in a subprocess) in the middle of its second epoch and restarted with
  ``--resume``; B ends with A's weights and re-trains at most ``--save-freq`` steps.
* The callbacks with ``steps_per_execution=2``: the same equality, and mutations
  of the fix (Keras' own ``BackupAndRestore``, replayed batches, optimizer state
  lost, resumed epoch restarted at its first batch) each end with other weights.
* A loss that turns NaN stops the CLI with status 3 and a message naming the
  step and the last good backup, which holds finite weights.
"""

import json
import math
import os
import subprocess
import sys

import cli_case
import keras
import numpy as np
import pytest
import tensorflow as tf

import ar_keras as ark
from ar_keras.callbacks import ResumableBackup
from ar_keras.data import resumable_dataset
from train.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# digits train split: 1297 examples -> 11 steps of 128 per epoch.
EPOCHS, BATCH, STEPS, SAVE_FREQ = 2, 128, 11, 4
CLI_ARGS = cli_case.train_flags(
    "nade",
    "digits",
    epochs=EPOCHS,
    batch_size=BATCH,
    save_freq=SAVE_FREQ,
    patience=100,
    num_samples=2,
    verbose=0,
    # one step per execution: backups and the kill land on any step (the callbacks'
    # tests below cover steps_per_execution > 1)
    steps_per_execution=1,
)

# Run in a fresh interpreter: train until the optimizer has taken KILL_AT steps, then
# die at once (no finally blocks, no on_train_end: what a preempted machine does).
KILLED_RUN = """
import os, sys
import ar_keras as ark
import train.cli as cli
kill_at = int(sys.argv[1])
class Killer(ark.callbacks.EpochLine):
    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) >= kill_at:
            sys.stdout.flush()
            os._exit(17)
ark.callbacks.EpochLine = Killer
sys.exit(cli.main(sys.argv[2:]))
"""


def _recorder(log):
    """An EpochLine that also records the optimizer step after every real training step."""

    class Recorder(ark.callbacks.EpochLine):
        def on_train_batch_begin(self, batch, logs=None):
            self._before = int(self.model.optimizer.iterations)

        def on_train_batch_end(self, batch, logs=None):
            step = int(self.model.optimizer.iterations)
            if step != self._before:  # no-op steps of a resumed epoch: no update
                log.append(step)

    return Recorder


def _weights(logdir):
    return keras.saving.load_model(os.path.join(logdir, "model.keras"), compile=False).get_weights()


def test_cli_killed_mid_epoch_resumes_to_the_same_weights(tmp_path, monkeypatch):
    steps_a, steps_b = [], []
    monkeypatch.setattr(ark.callbacks, "EpochLine", _recorder(steps_a))
    assert main(CLI_ARGS + ["--logdir", str(tmp_path / "a")]) == 0
    assert steps_a == list(range(1, EPOCHS * STEPS + 1))

    kill_at = STEPS + 7  # epoch 2, after its 7th step
    logdir_b = tmp_path / "b"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(kill_at), *CLI_ARGS, "--logdir", str(logdir_b)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 17, killed.stdout + killed.stderr
    state = ResumableBackup.read_state(str(logdir_b / "backup"))
    # Backups at steps 4, 8, 11 (epoch end), 15: the run died 3 steps after the last one.
    assert state["epoch"] == 1 and state["batch"] == 4 and state["global_step"] == STEPS + 4
    lost = kill_at - state["global_step"]
    assert 0 < lost <= SAVE_FREQ

    monkeypatch.setattr(ark.callbacks, "EpochLine", _recorder(steps_b))
    assert main(CLI_ARGS + ["--logdir", str(logdir_b), "--resume"]) == 0
    # Every step after the backup trained exactly once; the `lost` ones twice in all.
    assert steps_b == list(range(state["global_step"] + 1, EPOCHS * STEPS + 1))
    for a, b in zip(_weights(tmp_path / "a"), _weights(logdir_b)):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    assert not (logdir_b / "backup").exists()  # removed after the finished run


# ------------------------------------------------------------- the callbacks, with mutations
SPE, KILL_AT = 2, 18  # 11 steps -> 12 (whole executions); backups 4, 8, 12, 16


class Preempted(Exception):
    pass


class Kill(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) >= KILL_AT:
            raise Preempted()


class ForgetsOptimizer(ResumableBackup):
    """Mutation: the optimizer's moments are not restored (only the model's weights)."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        for v in self.model.optimizer.variables:
            if "momentum" in v.path or "velocity" in v.path:
                v.assign(np.zeros(v.shape, v.dtype))


class RestartsEpoch(ResumableBackup):
    """Mutation: the resumed epoch restarts at its first batch (no no-op steps)."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._original_train_function is not None:
            self.model.train_function = self._original_train_function
        self._skip = 0


def _fit(backup_dir, mode="fix", extra=()):
    keras.utils.set_random_seed(0)
    info = ark.data.info("binary_digits")
    model = ark.models.get("nade", preset="tiny", **ark.models.model_class("nade").overrides_from_data(info))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=SPE)
    state = ResumableBackup.read_state(backup_dir)
    skip = state["global_step"] if state and mode not in ("replay", "keras") else 0
    ds, steps = resumable_dataset(
        ark.data.load("binary_digits", "train"), BATCH, seed=0, shuffle_buffer=2000, skip_batches=skip
    )
    steps = -(-steps // SPE) * SPE  # whole executions per epoch
    backup = {
        "fix": ResumableBackup,
        "replay": ResumableBackup,
        "no_optimizer": ForgetsOptimizer,
        "no_noop": RestartsEpoch,
    }.get(mode)
    backup = (
        backup(backup_dir, save_freq=SAVE_FREQ)
        if backup
        else keras.callbacks.BackupAndRestore(backup_dir, save_freq=SAVE_FREQ)
    )
    model.fit(ds, epochs=EPOCHS, steps_per_epoch=steps, callbacks=[backup, *extra], verbose=0)
    return model.get_weights()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return _fit(str(tmp_path_factory.mktemp("a") / "backup"))


@pytest.mark.parametrize("mode", ["fix", "keras", "replay", "no_optimizer", "no_noop"])
def test_resume_with_steps_per_execution_and_mutations(tmp_path, uninterrupted, mode):
    backup = str(tmp_path / "backup")
    with pytest.raises(Preempted):
        _fit(backup, mode, extra=[Kill()])
    state = json.load(open(os.path.join(backup, "training_metadata.json")))
    if mode != "keras":  # Keras' file has no global step
        assert (state["epoch"], state["batch"], state["global_step"]) == (1, 4, 16)
    resumed = _fit(backup, mode)
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(uninterrupted, resumed))
    if mode == "fix":
        assert gap <= 1e-6, gap
    else:  # each mutation of the fix lands elsewhere
        assert gap > 1e-3, (mode, gap)


def _fit_dropout(backup_dir, restore_seeds=True, extra=()):
    """A Keras model whose training draws dropout masks from a `SeedGenerator`."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(192, 8)), rng.normal(size=(192, 1))  # 12 steps of 16 per epoch
    data = tf.data.Dataset.from_tensor_slices((x.astype("float32"), y.astype("float32")))
    state = ResumableBackup.read_state(backup_dir)
    ds, steps = resumable_dataset(
        data, 16, seed=0, shuffle_buffer=192, skip_batches=state["global_step"] if state else 0
    )
    backup = ResumableBackup(backup_dir, save_freq=SAVE_FREQ)
    if not restore_seeds:
        backup._seed_generators = lambda: []
    model.fit(ds, epochs=EPOCHS, steps_per_epoch=steps, callbacks=[backup, *extra], verbose=0)
    return model.get_weights()


@pytest.fixture(scope="module")
def dropout_uninterrupted(tmp_path_factory):
    return _fit_dropout(str(tmp_path_factory.mktemp("dropout") / "backup"))


@pytest.mark.parametrize("restore_seeds", [True, False])
def test_resume_restores_dropout_seed_state(tmp_path, dropout_uninterrupted, restore_seeds):
    a = dropout_uninterrupted
    with pytest.raises(Preempted):
        _fit_dropout(str(tmp_path / "b"), restore_seeds, extra=[Kill()])  # dies after step 18 of 24
    b = _fit_dropout(str(tmp_path / "b"), restore_seeds)
    gap = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
    assert (gap <= 1e-6) if restore_seeds else (gap > 1e-4), gap


# ------------------------------------------------------------------------------ NaN stop
def test_nan_loss_stops_with_step_and_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    class PoisonsLearningRate(ark.callbacks.EpochLine):
        """After step 7 the learning rate is NaN: step 8's update makes every weight NaN,
        so the loss of step 9 is the first non-finite one; the backup due at step 8
        must be refused (its weights are NaN) and the one of step 4 kept."""

        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations) == 7:
                self.model.optimizer.learning_rate.assign(float("nan"))

    monkeypatch.setattr(ark.callbacks, "EpochLine", PoisonsLearningRate)
    logdir = tmp_path / "run"
    assert main(CLI_ARGS + ["--logdir", str(logdir)]) == 3
    err = capsys.readouterr().err
    backup = logdir / "backup"
    assert "loss became nan at epoch 1, batch 9 of 11 (global step 9)" in err, err
    assert f"Last good checkpoint: {backup / 'latest.weights.h5'} (after global step 4" in err, err
    state = ResumableBackup.read_state(str(backup))
    assert state["global_step"] == 4
    info = ark.data.info("digits")
    model = ark.models.get("nade", preset="tiny", **ark.models.model_class("nade").overrides_from_data(info))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    model.load_weights(str(backup / "latest.weights.h5"))
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    assert int(model.optimizer.iterations) == 4 and math.isfinite(float(model.optimizer.learning_rate))
    assert not (logdir / "model.keras").exists()  # a diverged model is not saved


def test_bad_save_freq_and_mismatched_backup_are_refused(tmp_path, capsys):
    logdir = tmp_path / "run"
    assert main(CLI_ARGS + ["--save-freq", "0", "--logdir", str(logdir)]) == 2  # last flag wins
    assert "--save-freq must be a positive number of steps or 'epoch', got '0'" in capsys.readouterr().err
    (logdir / "backup").mkdir(parents=True)
    (logdir / "backup" / "training_metadata.json").write_text(
        json.dumps({"epoch": 1, "batch": 3, "global_step": 9, "steps_per_epoch": 6})
    )
    assert main(CLI_ARGS + ["--logdir", str(logdir), "--resume"]) == 2  # 11 steps now, not 6
    err = capsys.readouterr().err
    assert "taken with 6 steps per epoch, this run has 11" in err and "--batch-size" in err, err
    with pytest.raises(ValueError, match="save_freq must be a positive number of steps"):
        ResumableBackup(str(tmp_path / "b"), save_freq=0)
