"""SampleRNN on the embedded speech: generation speed at 16,000 samples and bits/sample.

    .venv/bin/python benchmarks/samplernn_speech.py                 # a few minutes on 2 cores
    .venv/bin/python benchmarks/samplernn_speech.py --epochs 20 --tbptt 1024

The ``speech`` preset (3 tiers, frames of 16 and 4 samples, GRUs of 96, MLP
128, 256 mu-law levels), one sequence at a time (n = 1):

* **generation**: ``sample(1, length=16000)`` through the cache (every tier's
  GRU state and upsampled outputs: a top-tier GRU step every 16 samples, a
  middle-tier step every 4, the MLP every sample), as a TensorFlow graph and
  compiled with XLA (what ``sample()`` runs); each timed on its second call
  (the first traces / compiles), with samples/s and the real-time factor at
  16 kHz (> 1: faster than real time).  Both must return identical samples,
  and equal the full-recompute sampler's at a short length.
* **bits/sample**: the test split's NLL in bits per sample (the 5 held-out
  utterances, 10,240 samples each, silence padding included), before and after
  ``--epochs`` of training on the 40 training clips (batch 8, Adam 1e-3): plain
  ``fit`` (full BPTT over each clip), or ``--tbptt L``: `fit_tbptt` on chunks of
  L samples with the states carried.
"""

import argparse
import math
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

LENGTH = 16000
RATE = 16000


def generation(model, length):
    short = model.sample(1, seed=2, length=200, cache=False).numpy()
    np.testing.assert_array_equal(short, model.sample(1, seed=2, length=200).numpy())
    rows = []
    for jit in (False, True):
        model.jit_sampling = jit
        seconds, x = best_of(lambda: model.sample(1, seed=1, length=length))
        rows.append(("cached+XLA" if jit else "cached (graph)", seconds, x))
    np.testing.assert_array_equal(rows[0][2], rows[1][2])
    print(
        f"\ngeneration, n = 1, T = {length:,} samples (cache == recompute checked at T = 200; "
        "graph == XLA at T)"
    )
    print(f"{'sampler':<16} {'seconds':>9} {'samples/s':>11} {'x real time':>12}")
    for name, seconds, _ in rows:
        print(f"{name:<16} {seconds:9.2f} {length / seconds:11,.0f} {length / seconds / RATE:12.2f}")


def bits_per_sample(model, x):
    lp = tf.function(lambda v: model.log_prob(v))(tf.constant(x)).numpy()
    return float(-lp.sum() / (x.size * math.log(2.0)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--tbptt", type=int, default=0, help="chunk length for fit_tbptt (0: plain fit, full BPTT)"
    )
    parser.add_argument("--length", type=int, default=LENGTH)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    model = ark.models.get("samplernn", preset="speech")
    print(
        f"samplernn speech preset: frame sizes {model.frame_sizes}, GRU {model.hidden_dim}, "
        f"{model.count_params():,} parameters"
    )
    generation(model, args.length)

    train = ark.data.as_numpy("speech", "train")
    test = ark.data.as_numpy("speech", "test")
    train = train[0] if isinstance(train, tuple) else train
    test = test[0] if isinstance(test, tuple) else test
    before = bits_per_sample(model, test)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.perf_counter()
    if args.tbptt:
        model.fit_tbptt(train, chunk_length=args.tbptt, epochs=args.epochs, batch_size=8)
        how = f"fit_tbptt, chunks of {args.tbptt}"
    else:
        model.fit(
            tf.data.Dataset.from_tensor_slices(train).shuffle(40, seed=0).batch(8),
            epochs=args.epochs,
            verbose=0,
        )
        how = "fit (full BPTT)"
    seconds = time.perf_counter() - start
    after = bits_per_sample(model, test)
    print(
        f"\ntest bits/sample: {before:.3f} untrained -> {after:.3f} after {args.epochs} epochs "
        f"of {how} ({seconds:.0f} s; 8 bits = uniform over 256 levels)"
    )


if __name__ == "__main__":
    main()
