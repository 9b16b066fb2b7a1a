"""Serving an export as a server does: in a Python process that never imports ar_keras.

A test writes its exports and their inputs, lists them in a manifest (`entry`), and
`serve` runs a loader script on the manifest in a fresh process with no ``PYTHONPATH``
and its working directory outside the repository, so that nothing of ar_keras can be
imported there.  The loader calls the exports, writes each entry's outputs (``.npz``)
and info (JSON), and a last file saying whether any ``ar_keras`` module was imported.
"""

import json
import os
import subprocess
import sys

import numpy as np

__all__ = ["entry", "run_without_ar_keras", "serve"]


def entry(root, key, **paths):
    """A manifest entry: the export ``paths`` of case ``key`` with the files of its inputs,
    outputs and info under ``root``."""
    root = str(root)
    return dict(
        paths,
        key=key,
        inputs=os.path.join(root, f"{key}_in.npz"),
        outputs=os.path.join(root, f"{key}_out.npz"),
        info=os.path.join(root, f"{key}.json"),
    )


def run_without_ar_keras(loader, argument, cwd, timeout=300, single_thread=False):
    """Runs ``python -c loader argument`` in ``cwd`` without ar_keras on the path (no
    ``PYTHONPATH``), on the CPU (``single_thread``: one TensorFlow thread, for
    reproducible timings); fails the test with the loader's output unless it exits 0."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    if single_thread:
        env.update(OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", loader, str(argument)],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"loader failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"


def serve(loader, root, entries, **options):
    """Writes the manifest of ``entries`` (their inputs already saved), runs ``loader`` on it
    (`run_without_ar_keras`), and returns ``(results, done)``: per key, the entry with its
    ``inp`` and ``out`` arrays and its ``info``; and the loader's last record (whether it
    imported ar_keras)."""
    root = str(root)
    manifest, done = os.path.join(root, "manifest.json"), os.path.join(root, "done.json")
    with open(manifest, "w") as f:
        json.dump({"models": entries, "done": done}, f)
    run_without_ar_keras(loader, manifest, root, **options)
    results = {}
    for e in entries:
        with np.load(e["outputs"]) as out, np.load(e["inputs"]) as inp, open(e["info"]) as info:
            results[e["key"]] = dict(e, out=dict(out), inp=dict(inp), info=json.load(info))
    with open(done) as f:
        return results, json.load(f)
