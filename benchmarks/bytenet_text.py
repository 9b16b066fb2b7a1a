"""ByteNet on the embedded text: bits/byte after a few minutes of training, and generation speed.

    .venv/bin/python benchmarks/bytenet_text.py                       # ~4 minutes on 2 cores
    .venv/bin/python benchmarks/bytenet_text.py --minutes 10 --preset text

1. Training: the chosen preset (``text``: 10 RMBs, dilations 1..16 twice, d = 48,
   receptive field 125 bytes) on the ``text`` train windows (256 bytes), Adam
   (``--learning-rate``), batch 32, stopped after ``--minutes`` of wall time;
   then bits/byte on the whole test split (``-log2 p`` per byte, every byte
   of each 256-byte window scored, the first ones with a short context).
2. Generation, one sequence (n = 1), the trained model, each sampler timed on
   its second call (the first traces / compiles): ``full`` re-runs the network
   on the prefix at every step (``cache=False``: O(T) per byte), ``cached``
   keeps the decoder queues (``cache=True``, XLA-compiled when T >= 256:
   O(blocks) per byte).  Both must return identical bytes for one seed.
3. Translation (``--reverse-minutes M`` > 0): the encoder-decoder (``text``
   preset widths, ``source_levels=256``, ``unfold_a=1``, ``unfold_b=0``) on
   the generated ``text_reverse`` task (`ar_keras.data.parallel`: a 32-byte
   window of the text as the source, the same bytes reversed as the target),
   trained M minutes; bits/byte of the test targets given their sources, and
   the share of test windows whose greedy (temperature 0.01) translation is
   exactly the reversed source.  A decoder-only model can only reach the
   language model's bits/byte here; the encoder brings it towards 0.

Measured (2 CPU cores shared with other jobs, load ~10; ``--minutes 4 --lengths 256,1024``):
283 steps, test 1.807 bits/byte; generation n = 1: full 78 bytes/s at T = 256 and 16 at
T = 1024, cached (XLA) 4,046 and 2,774 bytes/s (52x and 168x).  ``--reverse-minutes 3``:
200 steps, 2.43 bits/byte on text_reverse, 0.5 % exact reversals: three minutes are not
enough for the translator to learn the reversal.
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


class StopAfter(keras.callbacks.Callback):
    """Stops training after ``seconds`` of wall time (checked every batch)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.steps = 0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="text")
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lengths", default="128,256", help="generation lengths T (bytes)")
    p.add_argument(
        "--reverse-minutes",
        type=float,
        default=0.0,
        help="also train the translator on text_reverse for this long",
    )
    args = p.parse_args()

    keras.utils.set_random_seed(0)
    model = ark.models.get("bytenet", preset=args.preset)
    print(
        f"bytenet preset {args.preset}: {model.count_params():,} parameters, receptive field "
        f"{model.receptive_field} bytes, {len(model.dilations)} {model.block_type} blocks"
    )
    train = ark.data.load("text", "train").shuffle(2048, seed=0).batch(args.batch_size).repeat()
    test = ark.data.load("text", "test").batch(64)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    stop = StopAfter(60 * args.minutes)
    start = time.perf_counter()
    model.fit(train, epochs=1, steps_per_epoch=10**6, callbacks=[stop], verbose=0)
    seconds = time.perf_counter() - start
    nats, count = 0.0, 0
    for x in test:
        nats += -float(tf.reduce_sum(model.log_prob(x)))
        count += int(tf.size(x))
    bits = nats / count / math.log(2.0)
    print(
        f"training: {stop.steps} steps of {args.batch_size} x 256 bytes in {seconds:.0f} s; "
        f"test bits/byte {bits:.3f} ({count:,} bytes; uniform = 8)"
    )

    print(f"{'T':>6} {'full s':>8} {'bytes/s':>9} {'cached s':>9} {'bytes/s':>9} {'speed-up':>8}")
    for T in (int(t) for t in args.lengths.split(",")):
        full_s, full = best_of(lambda: model.sample(1, seed=1, length=T, cache=False), 1)
        cached_s, cached = best_of(lambda: model.sample(1, seed=1, length=T, cache=True), 1)
        assert np.array_equal(full, cached), "cached and full samples differ"
        print(
            f"{T:>6} {full_s:>8.2f} {T / full_s:>9.0f} {cached_s:>9.3f} {T / cached_s:>9.0f} "
            f"{full_s / cached_s:>7.1f}x"
        )
    text = bytes(cached[0].astype(np.uint8)).decode("utf-8", "replace")
    print("sample:", repr(text[:200]))
    if args.reverse_minutes > 0:
        reverse(args)


def reverse(args, length=32):
    keras.utils.set_random_seed(0)
    model = ark.models.get("bytenet", preset=args.preset, source_levels=256, unfold_a=1.0, unfold_b=0.0)
    print(
        f"translator: {model.count_params():,} parameters, encoder reach "
        f"{model.encoder_reach}, decoder receptive field {model.receptive_field}"
    )
    train = ark.data.parallel.load_parallel("text_reverse", "train", length)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    stop = StopAfter(60 * args.reverse_minutes)
    model.fit(
        train.shuffle(4096, seed=0).batch(args.batch_size).repeat(),
        epochs=1,
        steps_per_epoch=10**6,
        callbacks=[stop],
        verbose=0,
    )
    targets, sources = ark.data.parallel.reversal_pairs("test", length)
    targets, sources = targets.astype(np.int32), sources.astype(np.int32)
    nats = -float(tf.reduce_sum(model.log_prob(targets, sources)))
    greedy = model.sample(len(sources), conditional=sources, seed=0, temperature=0.01).numpy()
    exact = float(np.mean(np.all(greedy == targets, axis=1)))
    bits = nats / targets.size / math.log(2.0)
    print(
        f"text_reverse: {stop.steps} steps; test bits/byte {bits:.3f}; exact greedy "
        f"reversals {exact:.1%} of {len(sources)} windows"
    )


if __name__ == "__main__":
    main()
