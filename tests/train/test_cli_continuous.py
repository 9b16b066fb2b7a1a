"""`python -m train` with a continuous model: maf on the dequantized digits, end to end."""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*args, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "train", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_maf_on_digits_continuous_early_stops_on_validation_nll(tmp_path):
    logdir, export = tmp_path / "run", tmp_path / "export"
    out = run_cli(
        "--model",
        "maf",
        "--preset",
        "tiny",
        "--dataset",
        "digits_continuous",
        "--epochs",
        "3",
        "--batch-size",
        "256",
        "--logdir",
        str(logdir),
        "--export",
        str(export),
        "--verbose",
        "0",
        "--num-samples",
        "4",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "maf (preset tiny" in out.stdout and "(64,)" in out.stdout
    val = [float(v) for v in re.findall(r"val_loss (-?[\d.]+)", out.stdout)]  # the early-stopping monitor
    assert len(val) == 3 and val[-1] < val[0], out.stdout
    result = json.loads((logdir / "result.json").read_text())
    assert abs(result["test_bits_per_dim"] - result["test_nll_nats"] / (64 * 0.6931472)) < 1e-3
    assert (logdir / "samples.png").exists() and (logdir / "model.keras").exists()
    assert (export / "maf" / "1" / "saved_model.pb").exists()
    assert (export / "maf.tflite").exists()  # continuous models export TFLite too


def test_continuous_model_on_integer_images_is_refused():
    out = run_cli("--model", "maf", "--dataset", "digits")
    assert out.returncode == 2 and "digits_continuous" in out.stderr
