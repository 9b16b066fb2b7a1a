"""Training throughput: steps/s of `fit` for every registered model, beside reference figures.

    make bench      # or: .venv/bin/python benchmarks/train_throughput.py [--models made,nade]

Two tables.  First the reference set-up (8x8 binary digits, batch 64, `made`
with hidden [512, 512], `nade` with 500 hidden units) under four settings of
`compile`: Keras' plain defaults (one step per call, no XLA), ``steps_per_execution=20``,
that plus ``jit_compile=True``, and the defaults of ``python -m train``
(`train.cli.compile_options`), beside the reference figures (made 145 / 384 / 719,
nade 17 / 23 with ours before the speed-up; pytorch-generative's MADE 575 and
NADE 113 steps/s, measured on the same 2-core machine).  Then every registered
model at its embedded-data preset (digits, speech or text, as ``python -m train``
picks it) on that dataset with the CLI's defaults.

How a figure is taken: `fit` over a repeated dataset with ``steps_per_epoch``
a multiple of ``steps_per_execution``; the first epoch (tracing, XLA
compilation) is thrown away, then epochs are timed until ``--seconds`` have
passed (at least ``--min-epochs``), and the median epoch's steps/s is printed
(the best in brackets).  The machine is shared and noisy: compare rows taken in
the same run, and repeat (``--repeats``) before believing a small difference.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

import ar_keras as ark  # noqa: E402
from train import cli  # noqa: E402

#: Reference figures (steps/s, 2-core CPU, idle): ar_keras before the NADE/MADE speed-up, and the peers.
REFERENCE = {
    ("made", "plain"): 145,
    ("made", "spe20"): 384,
    ("made", "spe20+xla"): 719,
    ("nade", "plain"): 17,
    ("nade", "spe20+xla"): 23,
}
PEER = {"made": 575, "nade": 113}
#: The reference set-up: model -> (dataset, constructor overrides).
REFERENCE_SETUP = {
    "made": ("binary_digits", dict(hidden_units=[512, 512])),
    "nade": ("binary_digits", dict(hidden_dim=500)),
}
SETTINGS = {
    "plain": dict(steps_per_execution=1, jit_compile=False),
    "spe20": dict(steps_per_execution=20, jit_compile=False),
    "spe20+xla": dict(steps_per_execution=20, jit_compile=True),
}


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self, seconds, min_epochs):
        super().__init__()
        self.seconds, self.min_epochs = seconds, min_epochs
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._start
        if epoch > 0:  # epoch 0: tracing and compilation
            self.times.append(elapsed)
        if len(self.times) >= self.min_epochs and sum(self.times) >= self.seconds:
            self.model.stop_training = True


def steps_per_second(
    model,
    dataset,
    steps_per_execution,
    jit_compile,
    batch_size=64,
    seconds=3.0,
    min_epochs=3,
    steps=None,
    seed=0,
):
    """(median, best) steps/s of `fit` on ``dataset`` (unbatched examples) after one warm-up epoch."""
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    spe = max(1, int(steps_per_execution))
    # An epoch of about a fifth of the budget: a multiple of steps_per_execution.
    steps = steps or spe * max(1, round(20 / spe))
    ds = dataset.repeat().shuffle(2000, seed=seed).batch(batch_size, drop_remainder=True).prefetch(2)
    timer = _EpochTimer(seconds, min_epochs)
    # A first short fit sizes the epochs to ~seconds/5 each.
    model.fit(ds, epochs=2, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    per_step = timer.times[-1] / steps
    steps = max(spe, int(round(seconds / 5 / per_step / spe)) * spe)
    timer = _EpochTimer(seconds, min_epochs)
    model.fit(ds, epochs=10_000, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    rates = [steps / t for t in timer.times]
    return statistics.median(rates), max(rates)


#: The embedded datasets of each data preset, in the order tried (the first the model accepts).
EMBEDDED = {
    "digits": ("digits", "digits_continuous", "moving_digits"),
    "speech": ("speech", "speech_features"),
    "text": ("text",),
}


def embedded_preset(name):
    """(preset, dataset): the model's digits/speech/text preset and an embedded dataset it takes."""
    cls, presets = ark.models.model_class(name), ark.models.presets(name)
    for preset in ("digits", "speech", "text"):
        if preset not in presets:
            continue
        for dataset in EMBEDDED[preset]:
            try:
                cls.overrides_from_data(ark.data.info(dataset))
            except ValueError:
                continue
            return preset, dataset
    raise ValueError(f"{name} takes none of the embedded datasets")


def build(name, dataset, preset="digits", **overrides):
    info = ark.data.info(dataset)
    overrides = {**ark.models.model_class(name).overrides_from_data(info), **overrides}
    keras.utils.set_random_seed(0)
    return ark.models.get(name, preset=preset, **overrides)


def _fmt(rate):
    return f"{rate[0]:8.1f} ({rate[1]:6.1f})"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=None, help="comma-separated names (default: all)")
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per figure")
    p.add_argument("--min-epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=1, help="repeat each figure (noisy machine)")
    p.add_argument("--skip-reference", action="store_true", help="skip the reference made/nade table")
    p.add_argument("--skip-registry", action="store_true", help="skip the every-model table")
    p.add_argument(
        "--compare",
        action="store_true",
        help="every-model table: also plain and spe20 without XLA (where XLA pays)",
    )
    args = p.parse_args(argv)
    names = args.models.split(",") if args.models else ark.models.names()

    def measure(model, dataset, options):
        rates = [
            steps_per_second(model, dataset, seconds=args.seconds, min_epochs=args.min_epochs, **options)
            for _ in range(args.repeats)
        ]
        return max(rates)  # the least disturbed repeat

    if not args.skip_reference:
        print("reference set-up: binary_digits, batch 64 (steps/s: median epoch (best epoch))")
        print(f"{'model':6s} {'setting':34s} {'ours':>17s} {'before':>15s} {'peer':>6s}")
        for name, (dataset, overrides) in REFERENCE_SETUP.items():
            if name not in names:
                continue
            data = ark.data.load(dataset, "train")
            model = build(name, dataset, **overrides)
            settings = dict(SETTINGS)
            settings["cli"] = cli.compile_options(
                model, cli.build_parser().parse_args(["--model", name, "--dataset", dataset])
            )
            for setting, options in settings.items():
                rate = measure(model, data, options)
                ref = REFERENCE.get((name, setting))
                label = (
                    setting
                    if setting != "cli"
                    else (f"cli (spe={options['steps_per_execution']}, xla={options['jit_compile']})")
                )
                print(f"{name:6s} {label:34s} {_fmt(rate)} {ref or '':>15} {PEER[name]:>6}", flush=True)
    if not args.skip_registry:
        print("\nevery model at its embedded-data preset, python -m train's compile defaults")
        extra = f" {'plain':>17s} {'spe20 no XLA':>17s}" if args.compare else ""
        print(
            f"{'model':28s} {'preset':7s} {'dataset':18s} {'spe':>4s} {'xla':>5s} {'steps/s':>17s}"
            f"{extra} {'params':>10s}"
        )
        for name in names:
            try:
                preset, dataset = embedded_preset(name)
                model = build(name, dataset, preset)
            except ValueError as e:
                print(f"{name:28s} not measured: {e}", flush=True)
                continue
            options = cli.compile_options(
                model, cli.build_parser().parse_args(["--model", name, "--dataset", dataset])
            )
            data = ark.data.load(dataset, "train")
            rate = measure(model, data, options)
            extra = ""
            if args.compare:
                extra = "".join(" " + _fmt(measure(model, data, SETTINGS[s])) for s in ("plain", "spe20"))
            print(
                f"{name:28s} {preset:7s} {dataset:18s} {options['steps_per_execution']:>4} "
                f"{str(options['jit_compile']):>5s} {_fmt(rate)}{extra} {model.count_params():>10,}",
                flush=True,
            )


if __name__ == "__main__":
    main()
