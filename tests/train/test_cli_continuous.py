"""`python -m train` with a continuous model: maf on the dequantized digits, end to end."""

import json
import re

import cli_case
from cli_case import run_cli


def test_maf_on_digits_continuous_early_stops_on_validation_nll(tmp_path):
    logdir, export = tmp_path / "run", tmp_path / "export"
    out = run_cli(
        *cli_case.train_flags(
            "maf",
            "digits_continuous",
            epochs=3,
            batch_size=256,
            logdir=logdir,
            export=export,
            verbose=0,
            num_samples=4,
        )
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
