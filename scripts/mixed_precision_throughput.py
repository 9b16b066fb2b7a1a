"""Training throughput and peak memory: float32 vs mixed_float16 vs mixed_bfloat16, with/without XLA.

For every selected model and preset, one `fit` run per configuration (precision x jit_compile),
each in a fresh subprocess (its own dtype policy, its own peak memory):

* steps/s of `model.fit` on random data of the model's event shape (global batch
  ``--batch-size``; sequences ``--length`` long), measured after ``--warmup`` steps that trace
  and compile, over about ``--seconds`` of training (bounded by ``--max-steps``);
* peak memory: on a GPU, `tf.config.experimental.get_memory_info("GPU:0")["peak"]` of the
  measured steps (reset after the warm-up); on the CPU, the process' maximum resident set size
  (`resource.getrusage`), which includes TensorFlow itself (~0.5-1 GB).

Mixed precision pays on GPUs with tensor cores (float16: Volta and later; bfloat16: Ampere and
later) and TPUs.  On a CPU without AVX-512-BF16/AMX, half-precision kernels are emulated and
usually *slower* than float32: the CPU figures are there to show the script works and the
memory side, not as a recommendation.

Usage:
    python scripts/mixed_precision_throughput.py --models made,gated_pixelcnn --presets digits
    python scripts/mixed_precision_throughput.py --presets paper --seconds 20     # on a GPU
    python scripts/mixed_precision_throughput.py --models wavenet --precisions float32,mixed_bfloat16 --jit no

Prints a table and, with ``--json FILE``, writes the rows.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def _worker(args):
    """One configuration in this process: prints one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    sys.path.insert(0, ROOT)
    import ar_keras as ark

    gpu = bool(tf.config.list_physical_devices("GPU"))
    keras.mixed_precision.set_dtype_policy(args.precision)
    keras.utils.set_random_seed(0)
    build_start = time.time()
    model = ark.models.get(args.model, preset=args.preset)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=args.jit == "yes")
    ev = model.event
    L = args.length if ev.free_length else None
    x = ev.random(args.batch_size, L, seed=0)
    c = model.example_conditional(args.batch_size, L) if model.num_classes else None
    ds = tf.data.Dataset.from_tensors(x if c is None else (x, c)).repeat()
    start = time.time()
    model.fit(ds, epochs=1, steps_per_epoch=args.warmup, verbose=0)
    warm_seconds = time.time() - start
    # A short timed probe, then the measured run sized to fill --seconds.
    start = time.time()
    model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
    per_step = max((time.time() - start) / 2, 1e-4)
    steps = int(max(3, min(args.max_steps, args.seconds / per_step)))
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")
    start = time.time()
    history = model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    seconds = time.time() - start
    if gpu:
        peak_mb = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        memory = "gpu_peak"
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
        memory = "cpu_max_rss"
    print(
        json.dumps(
            {
                "model": args.model,
                "preset": args.preset,
                "precision": args.precision,
                "jit_compile": args.jit == "yes",
                "device": "GPU" if gpu else "CPU",
                "compute_dtype": model.compute_dtype,
                "float32_only": bool(model.float32_only),
                "parameters": int(model.count_params()),
                "batch": args.batch_size,
                "steps": steps,
                "steps_per_s": steps / seconds,
                "warmup_s": warm_seconds,
                "build_s": start - build_start,
                "loss": float(history.history["loss"][-1]),
                "memory": memory,
                "peak_mb": peak_mb,
            }
        )
    )


def _run(model, preset, precision, jit, args):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--model",
        model,
        "--preset",
        preset,
        "--precision",
        precision,
        "--jit",
        jit,
        "--batch-size",
        str(args.batch_size),
        "--length",
        str(args.length),
        "--seconds",
        str(args.seconds),
        "--max-steps",
        str(args.max_steps),
        "--warmup",
        str(args.warmup),
    ]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
    except subprocess.TimeoutExpired:
        return {
            "model": model,
            "preset": preset,
            "precision": precision,
            "jit_compile": jit == "yes",
            "error": f"timed out after {args.timeout} s",
        }
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        tail = (out.stderr.strip().splitlines() or ["?"])[-1][:200]
        return {
            "model": model,
            "preset": preset,
            "precision": precision,
            "jit_compile": jit == "yes",
            "error": tail,
        }
    return json.loads(lines[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=None, help="comma-separated names (default: all registered)")
    p.add_argument(
        "--presets", default="digits,paper", help="comma-separated presets; a model without one is skipped"
    )
    p.add_argument("--precisions", default=",".join(PRECISIONS))
    p.add_argument("--jit", default="no,yes", help="jit_compile settings to try: no,yes")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--length", type=int, default=256, help="length of free-length sequences")
    p.add_argument("--seconds", type=float, default=5.0, help="measured training per configuration")
    p.add_argument("--max-steps", type=int, default=500)
    p.add_argument("--warmup", type=int, default=3, help="steps before timing (tracing, XLA)")
    p.add_argument("--timeout", type=float, default=600, help="per configuration, seconds")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    # Internal: one configuration in this process.
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--preset", help=argparse.SUPPRESS)
    p.add_argument("--precision", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, ROOT)
    import ar_keras as ark

    names = args.models.split(",") if args.models else ark.models.names()
    presets = args.presets.split(",")
    precisions = args.precisions.split(",")
    for name in precisions:
        if name not in PRECISIONS:
            p.error(f"--precisions: {name!r} is not one of {PRECISIONS}")
    jits = args.jit.split(",")
    rows = []
    header = (
        f"{'model':<28}{'preset':<8}{'precision':<16}{'xla':<5}{'steps/s':>9}"
        f"{'vs f32':>8}{'peak MiB':>10}  note"
    )
    print(header, flush=True)
    for name in names:
        available = ark.models.presets(name)
        for preset in presets:
            if preset not in available:
                continue
            base = {}
            for jit in jits:
                for precision in precisions:
                    row = _run(name, preset, precision, jit, args)
                    rows.append(row)
                    if "error" in row:
                        print(
                            f"{name:<28}{preset:<8}{precision:<16}{jit:<5}  error: {row['error']}", flush=True
                        )
                        continue
                    if precision == "float32":
                        base[jit] = row["steps_per_s"]
                    ratio = row["steps_per_s"] / base[jit] if base.get(jit) else float("nan")
                    note = "float32-only model" if row["float32_only"] and precision != "float32" else ""
                    print(
                        f"{name:<28}{preset:<8}{precision:<16}{jit:<5}{row['steps_per_s']:>9.2f}"
                        f"{ratio:>8.2f}{row['peak_mb']:>10.0f}  {row['device']} {note}",
                        flush=True,
                    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
