"""Image Transformer: cached (key/value) against full-recompute sampling time at 16x16 images.

    .venv/bin/python benchmarks/image_transformer_sampling.py
    .venv/bin/python benchmarks/image_transformer_sampling.py --shapes 16x16x1 \\
        --attention local_1d --samples 1

For each case the ``digits`` preset architecture (4 layers, width 64, 4 heads, 1-D blocks of
16, 2-D blocks 4x4 with a 4x4 flange) is built with ``image_shape`` and ``num_levels=256``
(random weights: the time does not depend on them), and ``model.sample(n, seed=0)`` is
called with ``cache=True`` (the key/value cache; `sample()` compiles it with XLA from 256
steps) and with ``cache=False`` (the whole network on the partial image at every step),
each twice: the first call traces (and compiles), the second is the warm time reported.
The speed-up is full / cached (warm), and ``equal`` says whether both paths returned the
same samples.  Prints one row per case.

Measured 2026-12-02 (TF 2.21, 2 CPU cores shared with other jobs, load 4-8; warm seconds,
full / cached, identical samples in every case):

    local_1d 16x16x1  n=1   1.72 / 0.013  (132x)    n=16  10.6 / 0.227  (47x)
    local_1d 16x16x3  n=1   10.5 / 0.068  (154x)    n=16  78.2 / 0.448 (175x)
    local_2d 16x16x1  n=1   1.20 / 0.025   (48x)    n=16  22.5 / 1.68 (13x); rerun 10.2 / 0.448 (23x)
    local_2d 16x16x3  n=1   12.7 / 0.077  (165x)    n=16   116 / 1.57  (74x)
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import ar_keras as ark  # noqa: E402


def timed(model, n, cache):
    times, out = [], None
    for _ in range(2):
        start = time.perf_counter()
        out = model.sample(n, seed=0, cache=cache).numpy()
        times.append(time.perf_counter() - start)
    return times, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="16x16x1,16x16x3")
    parser.add_argument("--attention", default="local_1d,local_2d")
    parser.add_argument("--samples", default="1,16")
    parser.add_argument("--levels", type=int, default=256)
    args = parser.parse_args()
    print(
        f"{'attention':<10}{'shape':>9}{'n':>4}{'full (1st)':>12}{'full':>9}"
        f"{'cached (1st)':>14}{'cached':>9}{'speed-up':>10}{'equal':>7}",
        flush=True,
    )
    for attention in args.attention.split(","):
        for shape in args.shapes.split(","):
            image_shape = tuple(int(s) for s in shape.split("x"))
            model = ark.models.get(
                "image_transformer",
                preset="digits",
                image_shape=image_shape,
                num_levels=args.levels,
                attention=attention,
            )
            for n in (int(s) for s in args.samples.split(",")):
                (cached_first, cached), a = timed(model, n, True)
                (full_first, full), b = timed(model, n, False)
                print(
                    f"{attention:<10}{shape:>9}{n:>4}{full_first:>11.2f}s{full:>8.2f}s"
                    f"{cached_first:>13.2f}s{cached:>8.3f}s{full / cached:>9.1f}x"
                    f"{str(np.array_equal(a, b)):>7}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
