"""WaveRNN generation speed against WaveNet's fast generation, on this CPU.

    .venv/bin/python benchmarks/wavernn_generation.py          # a few minutes on 2 cores

One sequence (n = 1) of T = 16,000 samples (one second at 16 kHz), random
weights (speed does not depend on them), each sampler timed on its best of
two calls after one untimed call (which traces and XLA-compiles).  Rows:

* ``wavenet speech``: `WaveNet`'s queued fast generation, XLA (its `sample`);
* ``wavernn speech dense``: the ``speech`` preset (H = 128, 256 = 16 x 16
  levels), the shared sampler's cached step (coarse, then the fine half from the
  same recurrent product) in an XLA while loop;
* ``wavernn speech 90% 16x1``: the same after `BlockSparsity` masked 90% of
  every gate matrix in 16x1 blocks.  The mask is applied as ``R o P``, a dense
  product: TensorFlow on a CPU has no block-sparse matrix-vector kernel, so
  this row measures that masking costs nothing, not the paper's sparse speed-up;
* ``wavernn speech subscale B=16``: 16 sub-tensors, horizon F = 4: 16 samples
  per step, ``T / 16 + 15 * 5`` steps;
* ``wavernn small``: H = 32 (the size that fits real time on 2 cores), dense
  and subscale.

Real-time factor = generation time / audio duration (below 1: faster than
real time at 16 kHz).  The script checks that subscale and one-by-one
generation of the subscale model agree on a short sequence.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from timing import best_of  # noqa: E402

import ar_keras as ark  # noqa: E402
from ar_keras.pruning import BlockSparsity  # noqa: E402

RATE = 16000


def prune(model, target=0.9, block=(16, 1)):
    callback = BlockSparsity(target=target, block=block, start=0, span=1)
    callback.set_model(model)
    callback.prune(1)
    return BlockSparsity.sparsity(model)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--length", type=int, default=16000)
    args = parser.parse_args()
    T = args.length
    rows = []

    def run(name, model, note=""):
        seconds, x = best_of(lambda: model.sample(1, seed=1, length=T))
        assert x.shape == (1, T)
        rows.append((name, sum(int(np.prod(w.shape)) for w in model.trainable_weights), seconds, note))
        print(f"  {name}: {T / seconds:,.0f} samples/s", flush=True)

    run("wavenet speech (fast, XLA)", ark.models.get("wavenet", preset="speech"))
    dense = ark.models.get("wavernn", preset="speech")
    run("wavernn speech dense", dense)
    sparsity = prune(dense)
    run("wavernn speech 90% 16x1", dense, f"sparsity {min(sparsity.values()):.2f}")
    run(
        "wavernn speech subscale B=16 F=4", ark.models.get("wavernn", preset="speech", subscale=16, horizon=4)
    )
    small = dict(hidden_dim=32, output_dim=32)
    run("wavernn small H=32 dense", ark.models.get("wavernn", preset="speech", **small))
    run(
        "wavernn small H=32 subscale B=16 F=4",
        ark.models.get("wavernn", preset="speech", subscale=16, horizon=4, **small),
    )

    # Subscale generation (staggered, cached) agrees with full recompute and with drawing one
    # element at a time in the factorisation order (a copy whose groups are that order).
    check = ark.models.get("wavernn", preset="tiny", num_levels=16, subscale=4, horizon=2)
    staggered = check.sample(2, seed=3, length=32).numpy()
    np.testing.assert_array_equal(staggered, check.sample(2, seed=3, length=32, cache=False).numpy())
    one_by_one = ark.models.get("wavernn", preset="tiny", num_levels=16, subscale=4, horizon=2)
    one_by_one.set_weights(check.get_weights())
    order = one_by_one.subscale_order
    one_by_one.sampling_groups = lambda num_elements: order(num_elements)[:, None]  # [T, 1]
    np.testing.assert_array_equal(staggered, one_by_one.sample(2, seed=3, length=32, cache=False).numpy())

    print(
        f"\nGeneration of T = {T:,} samples (n = 1) on this CPU; real-time factor = time / "
        f"({T / RATE:.2f} s of audio at 16 kHz)\n"
    )
    print("| sampler | trainable parameters | seconds | samples/s | real-time factor | note |")
    print("|---|---:|---:|---:|---:|---|")
    for name, params, seconds, note in rows:
        print(
            f"| {name} | {params:,} | {seconds:.2f} | {T / seconds:,.0f} | "
            f"{seconds / (T / RATE):.2f} | {note} |"
        )


if __name__ == "__main__":
    main()
