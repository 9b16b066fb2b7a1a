"""PixelRNN on the embedded digits: test bits/dim per variant, cached vs full-recompute sampling.

    make bench      # or: .venv/bin/python benchmarks/pixelrnn_digits.py [--epochs 60]
                    #         [--variants diagonal_bilstm row_lstm pixelcnn] [--samples 16]

Each variant of ``pixelrnn`` (``diagonal_bilstm``, ``row_lstm``, ``pixelcnn``)
is built at the ``digits`` preset (8x8x1, 17 levels; ``variant`` overridden)
and trained with the protocol of ``benchmarks/digits_bits_per_dim.py``
(its `train_and_score`: Adam 1e-3, batch 64, early stopping on validation
bits/dim with patience 5, best weights restored, at most ``--epochs``
epochs, seed 0), then scored on the test split.

Sampling: ``model.sample(n, seed=0, cache=True)`` (the variant's exact cached
path: recurrent state carried row by row / pixel by pixel, or the windowed
recompute of ``pixelcnn``) against ``cache=False`` (the whole network on the
partial sample at each of the 64 steps), each timed with
``time.perf_counter()`` around the call and ``.numpy()`` on its second call
(the first traces; its time is shown apart), and whether the two returned
identical samples.  The timings use a freshly built model of the variant's
architecture (its random weights: neither path's time depends on them).
Prints one row per variant.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import digits_fit  # noqa: E402
import numpy as np  # noqa: E402
from digits_bits_per_dim import train_and_score  # noqa: E402

import ar_keras as ark  # noqa: E402

VARIANTS = ("diagonal_bilstm", "row_lstm", "pixelcnn")


def sampling_times(model, n):
    """``(first cached s, cached s, first full s, full s, identical)``, the second calls timed."""
    out = {}
    for cache in (True, False):
        times = []
        for _ in range(2):
            start = time.perf_counter()
            samples = model.sample(n, seed=0, cache=cache).numpy()
            times.append(time.perf_counter() - start)
        out[cache] = (times, samples)
    identical = bool(np.array_equal(out[True][1], out[False][1]))
    return out[True][0][0], out[True][0][1], out[False][0][0], out[False][0][1], identical


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--samples", type=int, default=16, help="n of the sampling timings")
    args = parser.parse_args()
    train, valid, test = digits_fit.splits()
    print(
        f"digits: train {len(train)}, validation {len(valid)}, test {len(test)}; "
        f"max {args.epochs} epochs, early stopping patience 5; sampling n = {args.samples}"
    )
    base = digits_fit.bits_per_dim(digits_fit.independent_pixels(train, test), 64)
    print(f"independent pixels: {base:.4f} bits/dim")
    print(
        f"{'variant':<17}{'test bits/dim':>14}{'epochs':>8}{'train s':>9}{'params':>10}"
        f"{'cached s':>10}{'full s':>9}{'speed-up':>9}{'same':>6}   (first calls: cached, full)"
    )
    for variant in args.variants:
        bpd, epochs, seconds, params = train_and_score(
            "pixelrnn", train, valid, test, args.epochs, variant=variant
        )
        model = ark.models.get("pixelrnn", preset="digits", variant=variant)
        first_c, cached, first_f, full, same = sampling_times(model, args.samples)
        print(
            f"{variant:<17}{bpd:>14.4f}{epochs:>8}{seconds:>9.0f}{params:>10,}"
            f"{cached:>10.2f}{full:>9.2f}{full / cached:>8.1f}x{str(same):>6}"
            f"   ({first_c:.1f} s, {first_f:.1f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
