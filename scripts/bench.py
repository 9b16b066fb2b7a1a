"""Runs every benchmark and writes docs/benchmarks.md with their outputs.

    make bench                                        # the same as the next line
    python scripts/bench.py                           # every benchmark (takes long), then the page
    python scripts/bench.py --only sampling_cost      # the benchmarks whose command has this text
    python scripts/bench.py --only attention --out /tmp/bench.md
    python scripts/bench.py --list                    # the commands, without running them
    python scripts/bench.py --command "benchmarks/wavernn_generation.py --length 2000" --out /tmp/b.md

Each benchmark runs as its own process (`BENCHMARKS`, run from the repository root with this
interpreter); its output streams to the terminal as it comes and is kept for the page.  The page
holds the date, the machine (platform, CPU count, TensorFlow version), and per benchmark what it
measures (the first paragraph of its docstring), its command, its exit status, its wall time and
its output, with TensorFlow's start-up log lines left out.  The exit status is 1 when a
benchmark failed (the others still run and the page is still written).
"""

import argparse
import ast
import datetime
import os
import platform
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The benchmark commands, in the order they run (paths relative to the repository root).
BENCHMARKS = [
    "benchmarks/digits_bits_per_dim.py",
    "benchmarks/maf_vs_tfp.py",
    "benchmarks/iaf_vae_digits.py",
    "benchmarks/pixelvae_digits.py",
    "benchmarks/pixel_models.py",
    "benchmarks/pixelrnn_digits.py",
    "benchmarks/wavenet_generation.py",
    "benchmarks/wavernn_generation.py",
    "benchmarks/sampling_cost.py",
    "benchmarks/spatial_lstm_digits.py",
    "benchmarks/attention_scaling.py",
    "benchmarks/transformer_sampling.py",
    "benchmarks/image_transformer_sampling.py",
    "benchmarks/samplernn_speech.py",
    "benchmarks/multiscale_sampling.py",
    "benchmarks/tflite_table.py --presets tiny,digits,speech,text",
    "scripts/mixed_precision_throughput.py --models made,gated_pixelcnn,wavenet --presets digits,speech "
    "--seconds 3",
    "benchmarks/train_throughput.py",
]

#: TensorFlow's and absl's start-up lines (kept on the terminal, left out of the page).
_NOISE = re.compile(r"^([IWE]\d{4} |WARNING: All log messages before absl|INFO: Created TensorFlow Lite)")


def describe(command):
    """The first paragraph of the benchmark script's docstring (read without importing it)."""
    path = os.path.join(ROOT, shlex.split(command)[0])
    try:
        with open(path) as f:
            doc = ast.get_docstring(ast.parse(f.read())) or ""
    except (OSError, SyntaxError):
        return ""
    return " ".join(doc.split("\n\n")[0].split())


def machine():
    """``(platform, CPU count, TensorFlow version)`` of this machine (TF asked in a subprocess)."""
    try:
        tf_version = subprocess.run(
            [sys.executable, "-c", "import tensorflow as tf; print(tf.__version__)"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        tf_version = ""
    cpu = platform.processor() or platform.machine()
    return f"{platform.platform()} ({cpu})", os.cpu_count(), tf_version or "unknown"


def run(command):
    """Runs one benchmark, streaming its output; ``(exit status, seconds, output lines)``."""
    argv = [sys.executable, *shlex.split(command)]
    print(f"\n$ python {command}", flush=True)
    start = time.time()
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    kept = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if not _NOISE.match(line):
            kept.append(line.rstrip("\n"))
    status = proc.wait()
    return status, time.time() - start, kept


def page(results, only, given):
    """The markdown of docs/benchmarks.md from ``[(command, status, seconds, lines)]``."""
    system, cpus, tf_version = machine()
    out = [
        "# Benchmarks",
        "",
        "<!-- Written by scripts/bench.py (make bench): rerun it rather than editing this page. -->",
        "",
        f"Run on {datetime.date.today().isoformat()} by `python scripts/bench.py`"
        + (f" `--only {' '.join(only)}` (a partial run)" if only and not given else "")
        + (" `--command ...` (a partial run)" if given else "")
        + f": {system}, {cpus} CPUs, TensorFlow {tf_version}. Each benchmark ran as its own process; "
        "the figures move with the machine's load, so compare rows of one run.",
    ]
    for command, status, seconds, lines in results:
        about = describe(command)
        out += ["", f"## `{shlex.split(command)[0]}`", ""]
        if about:
            out += [about, ""]
        out += [
            f"`python {command}`: exit status {status}, {seconds:.0f} s.",
            "",
            "```",
            *lines,
            "```",
        ]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", nargs="*", default=[], help="run the benchmarks whose command contains one of these"
    )
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    parser.add_argument("--list", action="store_true", help="print the commands and stop")
    parser.add_argument(
        "--command",
        action="append",
        default=[],
        help="run this benchmark command (a script path and its flags) instead of the list; repeatable",
    )
    args = parser.parse_args(argv)
    commands = args.command or [c for c in BENCHMARKS if not args.only or any(s in c for s in args.only)]
    if args.list:
        print("\n".join(f"python {c}" for c in commands))
        return 0
    if not commands:
        parser.error(f"--only {' '.join(args.only)} matches no benchmark; --list shows them.")
    results = [(command, *run(command)) for command in commands]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(page(results, args.only, bool(args.command)))
    failed = [command for command, status, _, _ in results if status != 0]
    print(f"\nwrote {args.out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
