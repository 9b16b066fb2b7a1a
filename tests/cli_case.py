"""The training command as the tests call it: its flags as keywords, the command in a process.

Example:
    >>> flags("--conditional", model="nade", dataset="digits", batch_size=128)
    ['--conditional', '--model', 'nade', '--dataset', 'digits', '--batch-size', '128']
    >>> train_flags("nade", "digits", epochs=1)
    ['--model', 'nade', '--preset', 'tiny', '--dataset', 'digits', '--epochs', '1']
"""

import os
import subprocess
import sys

__all__ = ["ROOT", "flags", "run_cli", "train_flags"]

#: The repository root, where ``python -m train`` runs.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def flags(*switches, **options):
    """The command line: the ``switches`` (flags without a value) as given, then each
    option ``name=value`` as ``--name value`` (underscores as dashes), in order."""
    argv = list(switches)
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv


def train_flags(model, dataset, *switches, preset="tiny", **options):
    """The command line of a training run of ``model``'s ``preset`` on ``dataset`` (`flags`)."""
    return flags(*switches, model=model, preset=preset, dataset=dataset, **options)


def run_cli(*args, timeout=300):
    """``python -m train *args`` in a fresh process (unbuffered, quiet TensorFlow logs)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "train", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
