"""TFLite table: file size and LiteRT latency of every model small enough for a flatbuffer.

    make bench
    .venv/bin/python benchmarks/tflite_table.py [--models nade,made] \\
        [--presets tiny,digits] [--repeats 20] [--length 256] [--threads 1] [--json PATH]

For each registered model (``--models``, default all) and each of its presets in
``--presets`` (default ``tiny,digits,speech,text``), the model is built with
random weights (latency does not depend on them) and, when
``model.supports_tflite`` and ``model.count_params() <= TFLITE_MAX_PARAMS``,
exported with `ar_keras.export.tflite` (dynamic batch) and run with LiteRT's
interpreter (``ai_edge_litert.interpreter.Interpreter``, ``--threads`` CPU
threads, default 1):

* ``log_prob`` latency at batch 1 and batch 16: the median over ``--repeats``
  calls of the signature runner, after one warm-up call that resizes the
  tensors (valid random data: levels in ``[0, K)``, floats inside the
  support; sequence models at ``--length`` steps, rounded up to a length the
  model accepts);
* one sampling step: streaming models (``tflite_step``: WaveNet, WaveRNN)
  time their ``step`` signature, one call = one element; the others time
  ``sample_from_noise`` for one sample (warm) and divide by its number of
  elements ``D`` (``--length`` steps for free-length models), i.e. the
  average cost of one element of the sequential sampler, over
  ``max(3, repeats // 4)`` calls.

Models that cannot export are listed below the table with the reason.  The
figures are wall-clock on whatever machine runs the script (noisy on a shared
machine); the export time is shown for information.
"""

import argparse
import inspect
import json
import os
import re
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

import ar_keras as ark  # noqa: E402
from ar_keras import export, serving  # noqa: E402

DEFAULT_PRESETS = ("tiny", "digits", "speech", "text")


def _reason_not_supported(model):
    """The comment above ``supports_tflite = False`` in the class that sets it (or its error)."""
    try:
        model.tflite_signatures()
    except TypeError as e:
        return str(e).split(". Export")[0]
    except Exception:  # noqa: BLE001 (only a reason is wanted)
        pass
    for cls in type(model).__mro__:
        if cls.__dict__.get("supports_tflite") is False:
            lines = inspect.getsource(cls).splitlines()
            for i, line in enumerate(lines):
                if re.match(r"\s*supports_tflite\s*=\s*False", line):
                    comment = []
                    j = i - 1
                    while j >= 0 and lines[j].strip().startswith("#"):
                        comment.insert(0, lines[j].strip().lstrip("#:").strip())
                        j -= 1
                    if comment:
                        return " ".join(comment)
            return f"{cls.__name__}.supports_tflite = False"
    return "supports_tflite = False"


def _median_ms(call, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def _length(model, length):
    if not model.event.free_length:
        return None
    unit = model.example_length
    return max(unit, -(-length // unit) * unit)


def _x(model, batch, length, rng):
    shape = (batch,) + model.event.event_shape(length)
    if model.event.discrete:
        return rng.integers(0, model.num_levels, shape).astype(np.int32)
    low, high = model.event.support or (-1.0, 1.0)
    return rng.uniform(low + 0.1 * (high - low), high - 0.1 * (high - low), shape).astype(np.float32)


def _conditioning(model, batch, length, names):
    named = serving._named_conditional(model, batch, length)
    return {k: np.asarray(v) for k, v in named.items() if k in names}


def _zeros_like_details(details, n):
    out = {}
    for name, d in details.items():
        shape = [n if s < 0 else s for s in d["shape_signature"]]
        out[name] = np.zeros(shape, d["dtype"])
    return out


def measure(model, workdir, length, repeats, threads):
    rng = np.random.default_rng(0)
    path = os.path.join(workdir, "m.tflite")
    start = time.perf_counter()
    export.tflite(model, path)
    export_s = time.perf_counter() - start
    row = {"size_kb": os.path.getsize(path) / 1024, "export_s": export_s}
    interp = Interpreter(model_path=path, num_threads=threads)
    T = _length(model, length)
    lp = interp.get_signature_runner("log_prob")
    lp_names = set(lp.get_input_details())
    for batch in (1, 16):
        inputs = {"x": _x(model, batch, T, rng), **_conditioning(model, batch, T, lp_names)}
        out = lp(**inputs)["log_prob"]
        assert np.isfinite(out).all(), f"{model.name}: non-finite TFLite log_prob"
        row[f"log_prob_b{batch}_ms"] = _median_ms(lambda: lp(**inputs), repeats)
    if hasattr(model, "stream_signatures"):
        step_path = os.path.join(workdir, "step.tflite")
        export.tflite_step(model, step_path, num_samples=1)
        step = Interpreter(model_path=step_path, num_threads=threads).get_signature_runner("step")
        inputs = _zeros_like_details(step.get_input_details(), 1)
        inputs["noise"] = np.full_like(inputs["noise"], 0.5)
        inputs["temperature"] = np.float32(1.0)
        step(**inputs)
        row["step_ms"] = _median_ms(lambda: step(**inputs), repeats)
        row["step_how"] = "step signature"
    else:
        sample = interp.get_signature_runner("sample_from_noise")
        D = model.event.num_elements(T)
        noise = rng.uniform(1e-6, 1.0, (1, D, model.noise_depth))  # D = T * F for [T, F]
        names = set(sample.get_input_details())
        inputs = {
            "noise": noise.astype(np.float32),
            "temperature": np.float32(1.0),
            **_conditioning(model, 1, T, names),
        }
        sample(**inputs)
        row["step_ms"] = _median_ms(lambda: sample(**inputs), max(3, repeats // 4)) / D
        row["step_how"] = f"sample_from_noise / {D}"
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=None, help="comma-separated names (default: all)")
    parser.add_argument("--presets", default=",".join(DEFAULT_PRESETS))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--length", type=int, default=256, help="steps of free-length models")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    names = args.models.split(",") if args.models else ark.models.names()
    presets = args.presets.split(",")
    rows, refused = [], []
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            for preset in presets:
                if preset not in ark.models.presets(name):
                    continue
                model = ark.models.get(name, preset=preset)
                params = model.count_params()
                entry = {"model": name, "preset": preset, "parameters": params}
                if not model.supports_tflite:
                    entry["reason"] = _reason_not_supported(model)
                    refused.append(entry)
                elif params > export.TFLITE_MAX_PARAMS:
                    entry["reason"] = (
                        f"{params:,} parameters > TFLITE_MAX_PARAMS = {export.TFLITE_MAX_PARAMS:,}"
                    )
                    refused.append(entry)
                else:
                    try:
                        entry.update(measure(model, workdir, args.length, args.repeats, args.threads))
                        rows.append(entry)
                    except Exception as e:  # noqa: BLE001 (a row of the table, not a crash)
                        entry["reason"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                        refused.append(entry)
                print(f"# {name}/{preset}: {json.dumps(entry)}", file=sys.stderr, flush=True)
    print(
        f"LiteRT (ai-edge-litert), {args.threads} thread(s); median of {args.repeats} calls; "
        f"free-length models at T = {args.length} (rounded up to a valid length)\n"
    )
    print(
        "| model | preset | parameters | file (KB) | log_prob b=1 (ms) | log_prob b=16 (ms) "
        "| one sampling step (ms) | step measured as |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['preset']} | {r['parameters']:,} | {r['size_kb']:.1f} | "
            f"{r['log_prob_b1_ms']:.3f} | {r['log_prob_b16_ms']:.3f} | {r['step_ms']:.4f} | "
            f"{r['step_how']} |"
        )
    if refused:
        print("\nNot exported to TFLite:\n")
        print("| model | preset | parameters | reason |")
        print("|---|---|---:|---|")
        for r in refused:
            print(f"| {r['model']} | {r['preset']} | {r['parameters']:,} | {r['reason']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "refused": refused}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
