"""Sampling cost against image size: Parallel Multiscale PixelCNN against raster PixelCNNs.

    make bench      # or: .venv/bin/python benchmarks/multiscale_sampling.py
                    #         [--sides 8,16,32,64] [--channels 3] [--levels 256]
                    #         [--preset tiny|digits] [--json PATH]

For each side S in ``--sides`` (square ``S x S x C`` images, K levels) and each model:

* ``multiscale`` with a 4x4 base (the paper's) and the tiny preset's widths
  (``base_size=4, num_base_layers=2``);
* ``gated_pixelcnn`` and ``pixelcnn_pp`` at their tiny presets' widths
  (``--preset digits``: every model at its digits preset's widths instead),

the script prints the **network evaluations** to draw one image, i.e. the sampler's steps
(``model.sampling_groups(D)`` rows: one network evaluation, or one cached step, per group;
``N = S^2 C`` for the raster models, ``b^2 C + 3 C log2(S / b)`` for multiscale), and the
**wall time** of ``model.sample(1, seed=0)`` (``cache=True``: each model's cached path)
measured on the second call (the first traces / compiles the sampler and is shown apart).
Widths are small (random weights: the cost does not depend on their values) so that the
whole table runs in a few minutes on a CPU; what it shows is how each cost grows with N.
Only the public API is used (``ark.models.get``, ``model.sample``, ``model.sampling_groups``).
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import ar_keras as ark  # noqa: E402

MODELS = {
    "multiscale": dict(base_size=4, num_base_layers=2),
    "gated_pixelcnn": {},
    "pixelcnn_pp": {},
}


def measure(name, side, channels, levels, preset="tiny"):
    keras.utils.set_random_seed(0)
    model = ark.models.get(
        name, preset=preset, image_shape=(side, side, channels), num_levels=levels, **MODELS[name]
    )
    D = side * side * channels
    steps = int(model.sampling_groups(D).shape[0])
    times = []
    for _ in range(2):
        start = time.perf_counter()
        x = model.sample(1, seed=0).numpy()
        times.append(time.perf_counter() - start)
    assert x.shape == (1, side, side, channels) and x.min() >= 0 and x.max() < levels
    return dict(
        model=name,
        side=side,
        elements=D,
        evaluations=steps,
        first_s=times[0],
        warm_s=times[1],
        params=model.count_params(),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="8,16,32,64")
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--levels", type=int, default=256)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--preset", default="tiny", help="the widths: tiny (default) or digits (wider, slower)"
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    sides = [int(s) for s in args.sides.split(",")]
    rows = []
    print(
        f"One {args.channels}-channel image, {args.levels} levels, {args.preset} widths, "
        "sample(1, seed=0), cache=True; warm = second call"
    )
    header = (
        f"{'model':<15} {'side':>4} {'N':>6} {'evaluations':>11} {'evals/N':>8} "
        f"{'warm s':>8} {'first s':>8} {'params':>7}"
    )
    print(header)
    print("-" * len(header))
    for side in sides:
        for name in args.models.split(","):
            r = measure(name, side, args.channels, args.levels, args.preset)
            rows.append(r)
            print(
                f"{r['model']:<15} {side:>4} {r['elements']:>6} {r['evaluations']:>11} "
                f"{r['evaluations'] / r['elements']:>8.4f} {r['warm_s']:>8.3f} "
                f"{r['first_s']:>8.2f} {r['params']:>7}",
                flush=True,
            )
    print()
    print(f"Growth from the smallest to the largest side (N grows {(sides[-1] / sides[0]) ** 2:.0f}x):")
    for name in args.models.split(","):
        mine = [r for r in rows if r["model"] == name]
        first, last = mine[0], mine[-1]
        print(
            f"  {name:<15} evaluations x{last['evaluations'] / first['evaluations']:.1f}, "
            f"warm time x{last['warm_s'] / first['warm_s']:.1f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
