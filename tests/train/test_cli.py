"""The training command end to end: list, errors, a short run with exports, kill and resume."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import cli_case
import pytest
from cli_case import ROOT, run_cli


def test_list_and_bad_names():
    out = run_cli("--list")
    assert out.returncode == 0, out.stderr
    for name in ("nade", "made", "gated_pixelcnn", "digits", "binary_digits"):
        assert name in out.stdout
    bad = run_cli("--model", "nope", "--dataset", "digits")
    assert bad.returncode == 2 and "Registered models" in bad.stderr
    bad = run_cli("--model", "nade", "--dataset", "nope")
    assert bad.returncode == 2 and "digits" in bad.stderr


def test_short_run_writes_everything(tmp_path):
    logdir, export = tmp_path / "run", tmp_path / "export"
    out = run_cli(
        *cli_case.train_flags(
            "nade", "binary_digits", epochs=2, batch_size=128, logdir=logdir, export=export, verbose=0
        )
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "test bits/dim" in out.stdout
    result = json.loads((logdir / "result.json").read_text())
    assert 0 < result["test_bits_per_dim"] < 1.0  # binary data: < 1 bit per pixel
    assert (logdir / "samples.png").exists() and (logdir / "samples_epoch_002.png").exists()
    assert (logdir / "model.keras").exists()
    assert (export / "nade" / "1" / "saved_model.pb").exists()
    assert (export / "nade" / "1" / "assets.extra" / "tf_serving_warmup_requests").exists()
    assert (export / "nade.tflite").exists()
    events = [f for _, _, files in os.walk(logdir) for f in files if "tfevents" in f]
    assert len(events) >= 2  # train/validation scalars + samples


def test_killed_run_resumes_from_last_epoch(tmp_path):
    logdir = tmp_path / "run"
    args = [
        *cli_case.train_flags(
            "nade", "digits", epochs=12, batch_size=256, patience=100, logdir=logdir, verbose=0
        ),
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "train", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + 240
    killed_after = None
    for line in proc.stdout:
        m = re.search(r"epoch (\d+)/12 done", line)
        if m and int(m.group(1)) >= 2:
            proc.send_signal(signal.SIGKILL)
            killed_after = int(m.group(1))
            break
        assert time.time() < deadline, "no epoch line in time"
    proc.wait(timeout=60)
    assert killed_after is not None and proc.returncode == -signal.SIGKILL
    assert (logdir / "backup").exists()

    out = run_cli(*args, "--resume")
    assert out.returncode == 0, out.stdout + out.stderr
    epochs = [int(e) for e in re.findall(r"epoch (\d+)/12 done", out.stdout)]
    # The backup is written before the epoch line is printed, so at least
    # `killed_after` epochs are done; the resumed run starts after them.
    assert epochs and epochs[0] > killed_after and epochs[-1] == 12, out.stdout
    assert epochs == list(range(epochs[0], 13))
    assert not (logdir / "backup").exists()  # removed after a finished run


@pytest.mark.parametrize("flag", ["--conditional"])
def test_conditional_run(tmp_path, flag):
    out = run_cli(
        *cli_case.train_flags(
            "gated_pixelcnn", "digits", flag, epochs=1, batch_size=256, logdir=tmp_path, verbose=0
        )
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "test bits/dim" in out.stdout
