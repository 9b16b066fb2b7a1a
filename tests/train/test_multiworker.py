"""Two workers on loopback == one process on the global batch (`MultiWorkerMirroredStrategy`).

Two subprocesses (tests/train/multiworker_worker.py), each with its own ``TF_CONFIG`` naming
both as ``localhost`` ports chosen free by binding port 0, run ``model.fit`` for two
synchronous SGD steps: the dataset (fixed, deterministic) is batched by the global batch ``B``
and auto-sharded with policy DATA, so worker ``i`` receives rows ``[i B/2, (i+1) B/2)`` of each
global batch (asserted).  The test then runs the same two steps in this process on the global
batch, from the same initial weights, and asserts: both workers end with the same weights,
equal (1e-5) to the single process's; the logged ``loss`` and ``bits_per_dim`` agree too (Keras'
own reduction of them is what breaks upstream); the weights moved; and one worker training on
its shard alone (no all-reduce) would *not* pass, so the comparison can fail.

The fast check runs one model of each kind (a discrete image model, a continuous flow, a
sequence model, a latent-variable model) in one pair of workers; the slow one, every
registered model.
"""

import json
import os
import socket
import subprocess
import sys

import cli_case
import keras
import numpy as np
import pytest

import ar_keras as ark

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BATCH, STEPS, LR, TIMEOUT = 8, 2, 0.1, 300  # TIMEOUT: seconds, plus 60 per model
FAST = ("nade", "maf", "wavenet", "iaf_vae")


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:  # held together so the n ports differ; freed just before the workers bind
        s.close()
    return ports


def data_for(model):
    """A fixed batch-able dataset: the model's own samples (valid input for any kind)."""
    length = 8 if model.event.free_length else None
    return np.asarray(model.sample(BATCH * STEPS, seed=0, length=length))


def single_process(name, init, x):
    model = ark.models.get(name, preset="tiny")
    for w, v in zip(model.weights, init):
        w.assign(v)
    model.compile(optimizer=keras.optimizers.SGD(LR))
    history = model.fit(x, batch_size=len(x) // STEPS, shuffle=False, epochs=1, verbose=0)
    return [w.numpy() for w in model.weights], history.history


def run_workers(names, tmp_path):
    """Initial weights and data per model -> the two workers' outputs (npz dicts)."""
    src = {"names": np.array(names), "batch": np.array(BATCH), "lr": np.array(LR)}
    for name in names:
        keras.utils.set_random_seed(0)
        model = ark.models.get(name, preset="tiny")
        src[f"{name}/x"] = data_for(model)
        for i, w in enumerate(model.weights):
            src[f"{name}/w{i}"] = w.numpy()
    np.savez(tmp_path / "in.npz", **src)
    ports = ",".join(map(str, free_ports(2)))
    env = dict(
        os.environ,
        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    env.pop("TF_CONFIG", None)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                os.path.join(HERE, "multiworker_worker.py"),
                str(i),
                ports,
                str(tmp_path / "in.npz"),
                str(tmp_path / f"out{i}.npz"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    timeout = TIMEOUT + 60 * len(names)
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=timeout)[0])
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        logs = [p.communicate()[0] for p in procs]
        pytest.fail(f"workers timed out after {timeout} s:\n{_tails(logs)}")
    for i, p in enumerate(procs):
        assert p.returncode == 0, f"worker {i} exited with {p.returncode}:\n{_tails(logs)}"
    return src, [dict(np.load(tmp_path / f"out{i}.npz")) for i in range(2)]


def _tails(logs):
    return "\n".join(f"--- worker {i} (last 3000 characters)\n{log[-3000:]}" for i, log in enumerate(logs))


def check_models(names, tmp_path):
    src, (w0, w1) = run_workers(list(names), tmp_path)
    assert bool(w0["chief"]) and not bool(w1["chief"]), "worker 0 must be the chief, worker 1 not"
    half = BATCH // 2
    for name in names:
        x = src[f"{name}/x"]
        init = [src[f"{name}/w{i}"] for i in range(sum(k.startswith(f"{name}/w") for k in src))]
        # DATA sharding: worker i holds rows [i B/2, (i+1) B/2) of every global batch
        steps = x.reshape((STEPS, BATCH) + x.shape[1:])  # [N, ...] -> [steps, B, ...]
        np.testing.assert_array_equal(
            w0[f"{name}/seen"], steps[:, :half], err_msg=f"{name}: worker 0's shard"
        )
        np.testing.assert_array_equal(
            w1[f"{name}/seen"], steps[:, half:], err_msg=f"{name}: worker 1's shard"
        )

        expected, history = single_process(name, init, x)
        moved = False
        for i, (e, v) in enumerate(zip(expected, init)):
            a, b = w0[f"{name}/w{i}"], w1[f"{name}/w{i}"]
            np.testing.assert_allclose(
                a, b, rtol=0, atol=1e-6, err_msg=f"{name}: workers disagree on weight {i}"
            )
            np.testing.assert_allclose(
                a, e, rtol=1e-5, atol=1e-5, err_msg=f"{name}: two workers != one process, weight {i}"
            )
            moved |= not np.allclose(e, v, atol=1e-4)
        assert moved, f"{name}: two SGD steps left the weights where they were; the check is vacuous"
        for key in ("loss", "bits_per_dim"):
            for out in (w0, w1):
                np.testing.assert_allclose(
                    out[f"{name}/{key}"], history[key][-1], rtol=1e-5, err_msg=f"{name}: logged {key}"
                )

        # The check can fail: a worker stepping on its own shard only (no all-reduce) differs.
        alone, _ = single_process(name, init, steps[:, :half].reshape((-1,) + x.shape[1:]))
        assert any(
            not np.allclose(a, w0[f"{name}/w{i}"], rtol=1e-5, atol=1e-5) for i, a in enumerate(alone)
        ), f"{name}: an unsynchronised worker would pass"


def test_two_workers_equal_one_process(tmp_path):
    check_models(FAST, tmp_path)


@pytest.mark.slow
def test_two_workers_equal_one_process_every_model(tmp_path):
    check_models(ark.models.names(), tmp_path)


def test_cli_multiworker_only_the_chief_writes(tmp_path):
    """``python -m train --strategy multiworker`` on two loopback workers: same results, one writer."""
    import re

    p0, p1 = free_ports(2)
    logdir, export = tmp_path / "run", tmp_path / "export"
    procs = []
    for i in range(2):
        tf_config = json.dumps(
            {
                "cluster": {"worker": [f"localhost:{p0}", f"localhost:{p1}"]},
                "task": {"type": "worker", "index": i},
            }
        )
        env = dict(
            os.environ,
            TF_CONFIG=tf_config,
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
        )
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "train",
                    *cli_case.train_flags(
                        "nade",
                        "binary_digits",
                        epochs=1,
                        batch_size=128,
                        num_samples=4,
                        logdir=logdir,
                        export=export,
                        verbose=0,
                        strategy="multiworker",
                    ),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        logs = [p.communicate(timeout=TIMEOUT)[0] for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail("workers timed out:\n" + _tails([p.communicate()[0] for p in procs]))
    assert [p.returncode for p in procs] == [0, 0], _tails(logs)
    chief = re.search(r"test bits/dim: ([0-9.]+)", logs[0])
    other = re.search(r"worker 1 done \(test bits/dim ([0-9.]+)\)", logs[1])
    assert chief and other, _tails(logs)
    assert chief.group(1) == other.group(1), "the workers evaluated different models"
    assert (logdir / "model.keras").exists() and (logdir / "result.json").exists()
    assert (export / "nade" / "1" / "saved_model.pb").exists()
    # one writer: TensorBoard event files from one process only, no worker backups left
    pids = {f.name.split(".")[-3] for f in logdir.rglob("events.out.tfevents.*")}
    assert len(pids) == 1, pids
    assert not list(logdir.glob("backup*"))
