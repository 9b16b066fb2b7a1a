"""Sampling cost: wall time, peak resident memory and throughput of ``model.sample``.

    make bench                                                    # every case
    .venv/bin/python benchmarks/sampling_cost.py --cases wavenet,image64,speedup,cache_size \\
        [--quick] [--image64-samples 16] [--json PATH]

Cases (``--cases``, comma separated; default all four):

* ``wavenet``: ``wavenet`` at its ``speech`` preset (256 levels),
  ``model.sample(64, length=16000, seed=0)`` (``cache=True``, the default
  path): 1,024,000 elements in 16,000 sequential steps.
* ``image64``: ``gated_pixelcnn`` at its ``tiny`` preset with
  ``image_shape=(64, 64, 3), num_levels=256``, ``model.sample(16, seed=0)``
  (``cache=True``): 12,288 sequential steps.  ``--image64-samples`` draws
  fewer samples if one call is too slow on a machine (the table says so).
* ``speedup``: cached against full-recompute sampling at 16x16x1, 256 levels,
  with the ``digits`` preset architecture of ``gated_pixelcnn``,
  ``pixelcnn_pp`` and ``pixelsnail``, for n = 1 and n = 16:
  ``sample(n, seed=0, cache=True)`` against ``cache=False``, each timed on
  its second call (the first traces the sampler and is shown apart), the
  speed-up ratio, and whether the two paths returned identical samples.
  ``--quick`` limits the full-recompute path to n = 1 plus an estimate for
  n = 16 (see below) and marks the estimated figures with ``*``.
* ``cache_size``: the caches sized by the request: ``sparse_transformer`` at its
  ``tiny_sequence`` preset with ``max_length=4096`` (the keys and values of every
  block hold ``T`` positions, not ``max_length``), ``model.sample(2000, length=T,
  seed=0)`` for T = 4, 64 and 512: time and peak memory against T.

Every case runs in a fresh Python subprocess (``--worker``; in the speed-up
case the cached and the full-recompute path each get their own) so that one
case's allocations, traced graphs and allocator caches do not inflate the
next one's memory.  The model is built (random weights: neither time nor
memory depend on them) before any measurement.  For each of two calls:

* wall time: ``time.perf_counter()`` around ``model.sample(...)`` plus
  ``.numpy()`` on the result; the first call includes tracing (and, for
  WaveNet's XLA-compiled cached loop, compilation), the second is warm;
* peak resident memory added: the baseline is the process' resident set
  size (``VmRSS``) after the model is built, just before the first call.
  During each call a background thread reads ``VmRSS`` from
  ``/proc/self/status`` every 5 ms, and the kernel's high-water mark
  ``VmHWM``, reset before the call by writing ``5`` to
  ``/proc/self/clear_refs`` (Linux >= 4.0), catches spikes shorter than
  the sampling period; the figure is ``max(sampled peak, VmHWM) -
  baseline`` in MiB.  The second call is also measured against the
  post-build baseline, not against the RSS just before it: the allocator
  keeps the first call's freed memory resident and reuses it, so a
  "before this call" baseline would show ~0 MiB for a call that needs GBs.
  (``getrusage(RUSAGE_SELF).ru_maxrss`` would give the first call's figure
  too, but it cannot be reset, so it could not give the second call's.)
  The JSON also has each call's RSS-before-the-call delta (``added_mib``).
* throughput: elements (for WaveNet, audio samples) per second and
  examples per second of the warm call.

``--quick`` (speed-up case only): full recompute costs one whole network
pass on ``[n, 16, 16, 1]`` per element, the same at every step, so instead
of timing 256 steps for n = 16 the script times 32 such passes through the
public Keras call (``model.log_prob`` on an ``[n, 16, 16, 1]`` batch in a
`tf.function`, warm) and multiplies by 256/32; the n = 16 full-recompute
time is then an estimate marked ``*`` and the equality check is made on
n = 1 only.  By default everything is measured.

Only the public API is used (``ark.models.get``, ``model.sample``,
``model.log_prob``), so the script keeps working when the sampler's
internals change.  ``--json PATH`` also writes every figure to ``PATH``.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WAVENET_SAMPLES, WAVENET_LENGTH = 64, 16000
IMAGE64_SHAPE = (64, 64, 3)
SPEEDUP_MODELS = ("gated_pixelcnn", "pixelcnn_pp", "pixelsnail")
SPEEDUP_SHAPE = (16, 16, 1)
SPEEDUP_SAMPLES = (1, 16)
QUICK_STEPS = 32
CACHE_MAX_LENGTH, CACHE_SAMPLES, CACHE_LENGTHS = 4096, 2000, (4, 64, 512)
MIB = 1024.0 * 1024.0


# ------------------------------------------------------------------ memory probes
def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_hwm():
    """Resets VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakRSS:
    """Context manager: RSS before, and the peak RSS during, the block (bytes)."""

    def __init__(self, period=0.005):
        self.period = period

    def __enter__(self):
        self.hwm_reset = _reset_hwm()
        self.before = _status_kib("VmRSS") * 1024
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _status_kib("VmRSS") * 1024)
            self._stop.wait(self.period)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sampled_peak = max(self.peak, _status_kib("VmRSS") * 1024)
        self.hwm = _status_kib("VmHWM") * 1024 if self.hwm_reset else 0
        self.peak = max(self.sampled_peak, self.hwm)
        self.added = self.peak - self.before
        return False


def measure(fn):
    """Runs ``fn()`` (which must return a NumPy array) once: seconds, added MiB, result."""
    with PeakRSS() as mem:
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
    return dict(
        seconds=seconds,
        added_mib=mem.added / MIB,
        before_mib=mem.before / MIB,
        peak_mib=mem.peak / MIB,
        sampled_added_mib=(mem.sampled_peak - mem.before) / MIB,
        hwm_reset=mem.hwm_reset,
    ), out


# ----------------------------------------------------------------- worker (child)
def _setup():
    import keras
    import tensorflow as tf

    import ar_keras as ark

    keras.utils.set_random_seed(0)
    return ark, tf


def _two_calls(fn, elements, examples):
    """Times two calls of ``fn``; memory relative to the RSS before the first (after build)."""
    first, _ = measure(fn)
    second, out = measure(fn)
    baseline = first["before_mib"]
    for r in (first, second):
        r["elements_per_s"] = elements / r["seconds"]
        r["examples_per_s"] = examples / r["seconds"]
        r["above_baseline_mib"] = r["peak_mib"] - baseline
    return dict(first=first, second=second, baseline_mib=baseline), out


def worker_wavenet(args):
    ark, tf = _setup()
    model = ark.models.get("wavenet", preset="speech")
    n, length = WAVENET_SAMPLES, WAVENET_LENGTH
    result, out = _two_calls(lambda: model.sample(n, length=length, seed=0).numpy(), n * length, n)
    assert out.shape == (n, length), out.shape
    result.update(
        case="wavenet",
        model="wavenet",
        preset="speech",
        n=n,
        length=length,
        elements=n * length,
        steps=length,
        params=model.count_params(),
        call=f"sample({n}, length={length}, seed=0)",
    )
    return result


def worker_image64(args):
    ark, tf = _setup()
    model = ark.models.get("gated_pixelcnn", preset="tiny", image_shape=IMAGE64_SHAPE, num_levels=256)
    n = args.image64_samples
    d = IMAGE64_SHAPE[0] * IMAGE64_SHAPE[1] * IMAGE64_SHAPE[2]
    result, out = _two_calls(lambda: model.sample(n, seed=0).numpy(), n * d, n)
    assert out.shape == (n,) + IMAGE64_SHAPE, out.shape
    result.update(
        case="image64",
        model="gated_pixelcnn",
        preset="tiny",
        n=n,
        shape=list(IMAGE64_SHAPE),
        elements=n * d,
        steps=d,
        params=model.count_params(),
        call=f"sample({n}, seed=0)",
        reduced=n != 16,
    )
    return result


def worker_speedup(args):
    import hashlib

    import numpy as np

    ark, tf = _setup()
    name, n, path = args.model, args.n, args.path
    model = ark.models.get(name, preset="digits", image_shape=SPEEDUP_SHAPE, num_levels=256)
    d = int(np.prod(SPEEDUP_SHAPE))
    result = dict(
        case="speedup",
        model=name,
        preset="digits",
        n=n,
        shape=list(SPEEDUP_SHAPE),
        elements=n * d,
        steps=d,
        params=model.count_params(),
        path=path,
    )
    if path == "full" and args.quick and n > 1:
        # One whole-network pass per element, the same cost at every step: time 32 passes.
        x = tf.zeros((n,) + SPEEDUP_SHAPE, tf.int32)
        passes = tf.function(lambda x: model.log_prob(x))
        baseline = _status_kib("VmRSS") * 1024 / MIB
        first, _ = measure(lambda: passes(x).numpy())
        start = time.perf_counter()
        for _ in range(QUICK_STEPS):
            passes(x).numpy()
        seconds = (time.perf_counter() - start) / QUICK_STEPS * d
        nan = float("nan")
        result.update(
            estimated=True,
            measured_steps=QUICK_STEPS,
            baseline_mib=baseline,
            first=dict(seconds=nan, added_mib=first["added_mib"], peak_mib=nan),
            second=dict(
                seconds=seconds,
                added_mib=nan,
                peak_mib=nan,
                elements_per_s=n * d / seconds,
                examples_per_s=n / seconds,
            ),
            samples_sha1=None,
        )
        return result
    calls, out = _two_calls(lambda: model.sample(n, seed=0, cache=path == "cached").numpy(), n * d, n)
    result.update(
        calls, estimated=False, samples_sha1=hashlib.sha1(np.ascontiguousarray(out).tobytes()).hexdigest()
    )
    return result


def worker_cache_size(args):
    ark, tf = _setup()
    model = ark.models.get("sparse_transformer", preset="tiny_sequence", max_length=CACHE_MAX_LENGTH)
    n, length = CACHE_SAMPLES, args.length
    result, out = _two_calls(lambda: model.sample(n, length=length, seed=0).numpy(), n * length, n)
    assert out.shape == (n, length), out.shape
    result.update(
        case="cache_size",
        n=n,
        length=length,
        max_length=CACHE_MAX_LENGTH,
        params=model.count_params(),
        call=f"sample({n}, length={length}, seed=0)",
    )
    return result


WORKERS = dict(
    wavenet=worker_wavenet, image64=worker_image64, speedup=worker_speedup, cache_size=worker_cache_size
)


# ----------------------------------------------------------------- driver (parent)
def run_worker(case, args, **extra):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        case,
        "--image64-samples",
        str(args.image64_samples),
    ]
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    if args.quick:
        cmd.append("--quick")
    label = " ".join([case] + [f"{k}={v}" for k, v in extra.items()])
    print(f"[{time.strftime('%H:%M:%S')}] running {label} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"worker {label} failed with exit code {proc.returncode}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    second = result["second"]
    print(
        f"[{time.strftime('%H:%M:%S')}] {label}: done in {time.perf_counter() - start:.0f} s "
        f"(1st call {result['first']['seconds']:.2f} s, 2nd {second['seconds']:.2f} s, "
        f"peak +{result['first']['added_mib']:.0f} MiB)",
        file=sys.stderr,
        flush=True,
    )
    return result


def _fmt_s(seconds, mark=""):
    if seconds != seconds:  # NaN
        return "-"
    return (f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}") + mark


def _fmt_mib(mib):
    return "-" if mib != mib else f"{mib:,.0f}"


def _fmt_rate(rate):
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:,.2f}"


def print_single(results):
    print(
        "| case | call | steps | elements | RSS after build MiB | 1st call s (incl. tracing) "
        "| 1st call peak +MiB | 2nd call s | 2nd call peak +MiB | elements/s | samples/s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        f, s = r["first"], r["second"]
        what = (
            f"wavenet `speech` ({r['params']:,} params)"
            if r["case"] == "wavenet"
            else f"gated_pixelcnn `tiny` {'x'.join(map(str, r['shape']))}, 256 levels "
            f"({r['params']:,} params)"
        )
        call = r["call"] + (" (reduced from 16)" if r.get("reduced") else "")
        print(
            f"| {what} | `{call}` | {r['steps']:,} | {r['elements']:,} "
            f"| {_fmt_mib(r['baseline_mib'])} | {_fmt_s(f['seconds'])} "
            f"| {_fmt_mib(f['above_baseline_mib'])} | {_fmt_s(s['seconds'])} "
            f"| {_fmt_mib(s['above_baseline_mib'])} "
            f"| {_fmt_rate(s['elements_per_s'])} | {_fmt_rate(s['examples_per_s'])} |"
        )
    print()
    print(
        "peak +MiB: peak RSS during the call minus the RSS after the model was built (before "
        "the 1st call); elements/s and samples/s: 2nd call."
    )
    print()


def print_cache_size(results):
    print(
        f"Caches sized by the request: sparse_transformer `tiny_sequence`, max_length = "
        f"{CACHE_MAX_LENGTH:,}, sample({CACHE_SAMPLES}, length=T)"
    )
    print()
    print("| T | 1st call s (incl. tracing) | 1st call peak +MiB | 2nd call s | 2nd call peak +MiB |")
    print("|---:|---:|---:|---:|---:|")
    for r in results:
        f, s = r["first"], r["second"]
        print(
            f"| {r['length']:,} | {_fmt_s(f['seconds'])} | {_fmt_mib(f['above_baseline_mib'])} "
            f"| {_fmt_s(s['seconds'])} | {_fmt_mib(s['above_baseline_mib'])} |"
        )
    print()


def print_speedup(pairs):
    print(
        "Cached vs full recompute, 16x16x1 (256 steps), 256 levels, `digits` preset "
        "architecture, `sample(n, seed=0, cache=...)`; each path in its own subprocess; "
        "warm = 2nd call; peak +MiB as above."
    )
    print()
    print(
        "| model | n | cached 1st s | cached warm s | cached peak +MiB (1st / warm) "
        "| full 1st s | full warm s | full peak +MiB (1st / warm) | speed-up (warm) "
        "| cached elements/s | full elements/s | identical |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    any_estimate = False
    for c, f in pairs:
        mark = "*" if f["estimated"] else ""
        any_estimate |= f["estimated"]
        speedup = f["second"]["seconds"] / c["second"]["seconds"]
        if f["samples_sha1"] is None:
            identical = "n/a*"
        else:
            identical = "yes" if f["samples_sha1"] == c["samples_sha1"] else "NO"
        full_first_peak = f["first"].get("above_baseline_mib", f["first"]["added_mib"])
        print(
            f"| {c['model']} | {c['n']} | {_fmt_s(c['first']['seconds'])} "
            f"| {_fmt_s(c['second']['seconds'])} | {_fmt_mib(c['first']['above_baseline_mib'])} "
            f"/ {_fmt_mib(c['second']['above_baseline_mib'])} "
            f"| {_fmt_s(f['first']['seconds'])} | {_fmt_s(f['second']['seconds'], mark)} "
            f"| {_fmt_mib(full_first_peak)}{mark} / "
            f"{_fmt_mib(f['second'].get('above_baseline_mib', float('nan')))} "
            f"| {speedup:,.1f}x{mark} | {_fmt_rate(c['second']['elements_per_s'])} "
            f"| {_fmt_rate(f['second']['elements_per_s'])}{mark} | {identical} |"
        )
    if any_estimate:
        print()
        print(
            f"\\* `--quick`: full recompute not run at this n; its warm time is {QUICK_STEPS} "
            f"timed whole-network passes on [n, 16, 16, 1] (`model.log_prob` in a tf.function, "
            f"warm) x 256/{QUICK_STEPS} (one pass per step), its peak that of the first such "
            f"pass, and samples are compared at n = 1 only."
        )
    print()
    return [
        dict(
            model=c["model"],
            n=c["n"],
            cached=c,
            full=f,
            speedup=f["second"]["seconds"] / c["second"]["seconds"],
            identical=None if f["samples_sha1"] is None else f["samples_sha1"] == c["samples_sha1"],
        )
        for c, f in pairs
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases",
        default="wavenet,image64,speedup,cache_size",
        help="comma-separated subset of: wavenet, image64, speedup, cache_size",
    )
    parser.add_argument(
        "--models", default=",".join(SPEEDUP_MODELS), help="models of the speedup case (comma separated)"
    )
    parser.add_argument(
        "--ns",
        default=",".join(map(str, SPEEDUP_SAMPLES)),
        help="sample counts of the speedup case (comma separated)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"speedup case: estimate full recompute at n > 1 from {QUICK_STEPS} "
        "network passes instead of running it",
    )
    parser.add_argument(
        "--image64-samples", type=int, default=16, help="samples drawn in the image64 case (16 as specified)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=("cached", "full"), help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)), flush=True)
        return

    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(WORKERS))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(WORKERS)}")
    from importlib.metadata import version  # the parent does not import TensorFlow

    tf_version = version("tensorflow")
    print(
        f"TensorFlow {tf_version}, {os.cpu_count()} CPU cores; random weights; each case in "
        f"a fresh subprocess; memory: peak RSS (VmRSS every 5 ms and VmHWM) during the call "
        f"minus the RSS after the model was built."
    )
    print()
    figures = dict(tensorflow=tf_version, cpus=os.cpu_count(), quick=args.quick)
    single = [run_worker(c, args) for c in ("wavenet", "image64") if c in cases]
    if single:
        print_single(single)
        figures["single"] = single
    if "speedup" in cases:
        pairs = [
            (
                run_worker("speedup", args, model=m, n=n, path="cached"),
                run_worker("speedup", args, model=m, n=n, path="full"),
            )
            for m in args.models.split(",")
            for n in map(int, args.ns.split(","))
        ]
        figures["speedup"] = print_speedup(pairs)
    if "cache_size" in cases:
        figures["cache_size"] = [run_worker("cache_size", args, length=t) for t in CACHE_LENGTHS]
        print_cache_size(figures["cache_size"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
