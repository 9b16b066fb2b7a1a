"""WaveNet generation speed: cached (Fast WaveNet queues) vs naive full recompute, and training.

    .venv/bin/python benchmarks/wavenet_generation.py            # about 2 minutes on 2 cores
    .venv/bin/python benchmarks/wavenet_generation.py --full     # also naive at 4k and 16k

The ``speech`` preset (14 blocks, dilations 1..64 twice, R = G = 24, S = 48,
256 levels), one sequence at a time (n = 1), random weights (speed does not
depend on them).  Three samplers, each timed on its second call (the first
traces / compiles):

* ``naive``: ``sample(cache=False)``, the whole network on the whole
  sequence every step: O(T) per sample, O(T^2) per sequence;
* ``cached``: the per-block queues in a `tf.while_loop`, O(layers) per
  sample, as a TensorFlow graph (``model.jit_sampling = False``);
* ``cached+XLA``: the same loop compiled with XLA: what ``sample()`` runs.

Naive generation at 4,000 and 16,000 samples would take minutes to most of
an hour; unless ``--full`` it is extrapolated from the measured lengths with
a least-squares fit ``t(T) = a T + b T^2`` and marked ``(extrapolated)``.
The script also checks that the three samplers return identical samples
for one seed at every measured length.  Last, training steps per second on
the embedded speech (batch 8 x 10,240 samples, Adam).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import best_of  # noqa: E402

import ar_keras as ark  # noqa: E402

LENGTHS = (1000, 2000, 4000, 16000)
NAIVE_MEASURED = (500, 1000, 2000)


def generation(model, full):
    naive_lengths = sorted(set(NAIVE_MEASURED + (LENGTHS if full else ())))
    naive, samples = {}, {}
    # Two lengths first, so the naive sampler's tf.function is traced for any T.
    model.sample(1, seed=0, length=20, cache=False)
    model.sample(1, seed=0, length=30, cache=False)
    for T in naive_lengths:
        start = time.perf_counter()
        samples[T] = model.sample(1, seed=1, length=T, cache=False).numpy()
        naive[T] = time.perf_counter() - start
        print(f"  naive {T:>6,}: {naive[T]:8.2f} s", flush=True)
    Ts = np.array(sorted(naive), float)
    a, b = np.linalg.lstsq(np.stack([Ts, Ts**2], 1), np.array([naive[int(t)] for t in Ts]), rcond=None)[0]

    rows = []
    for T in LENGTHS:
        model.jit_sampling = False
        graph_s, graph_x = best_of(lambda: model.sample(1, seed=1, length=T))
        model.jit_sampling = True
        xla_s, xla_x = best_of(lambda: model.sample(1, seed=1, length=T))
        np.testing.assert_array_equal(graph_x, xla_x)
        if T in naive:
            np.testing.assert_array_equal(samples[T], xla_x)
            naive_s, note = naive[T], " "
        else:
            naive_s, note = a * T + b * T * T, "*"
        rows.append((T, naive_s, note, graph_s, xla_s))
        print(f"  cached {T:>6,}: graph {graph_s:.2f} s, XLA {xla_s:.3f} s", flush=True)
    return rows, (a, b)


def training(model, steps=6, batch=8):
    ds = ark.data.load("speech", "train").repeat().batch(batch).take(steps + 2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(ds.take(2), epochs=1, verbose=0)  # trace
    start = time.perf_counter()
    model.fit(ds.skip(2), epochs=1, verbose=0)
    seconds = (time.perf_counter() - start) / steps
    return 1.0 / seconds, batch * ark.data.info("speech").example_length / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="measure naive at every length")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    model = ark.models.get("wavenet", preset="speech")
    print(
        f"WaveNet preset 'speech': {model.count_params():,} parameters, {len(model.dilations)} "
        f"blocks, receptive field {model.receptive_field} samples; TensorFlow {tf.__version__}, "
        f"{os.cpu_count()} CPU cores; one sequence (n = 1)"
    )
    rows, (a, b) = generation(model, args.full)
    print()
    print("generation, samples per second (seconds per sequence):")
    print(
        f"{'length':>8} | {'naive':>17} | {'cached':>15} | {'cached+XLA':>16} | "
        f"{'cached/naive':>12} | {'XLA/naive':>9}"
    )
    for T, naive_s, note, graph_s, xla_s in rows:
        print(
            f"{T:>8,} | {T / naive_s:>6,.0f} ({naive_s:>7.1f}{note}) | "
            f"{T / graph_s:>6,.0f} ({graph_s:>5.2f}) | {T / xla_s:>7,.0f} ({xla_s:>5.3f}) | "
            f"{naive_s / graph_s:>11,.0f}x | {naive_s / xla_s:>8,.0f}x"
        )
    print(
        f"* extrapolated from naive at {', '.join(map(str, sorted(set(NAIVE_MEASURED))))} "
        f"samples: t(T) = {a:.2e} T + {b:.2e} T^2 s (--full measures it)."
    )
    print("The three samplers returned identical samples (seed 1) at every length measured.")
    steps, samples = training(model)
    print(f"training (batch 8 x 10,240 samples): {steps:.2f} steps/s, {samples:,.0f} samples/s")


if __name__ == "__main__":
    main()
