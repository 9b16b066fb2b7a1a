"""Sparse Transformer sampling: cached (key/value caches) vs full recompute; the papers' sizes.

    .venv/bin/python benchmarks/transformer_sampling.py                 # a few minutes on 2 cores
    .venv/bin/python benchmarks/transformer_sampling.py --count-params  # also builds paper, enwik8

Two small models with random weights (speed does not depend on them), one
sample at a time (n = 1), 256 levels:

* bytes: ``sparse_transformer`` with ``max_length=2048``, 4 layers of width 64,
  4 heads, strided attention with l = round(sqrt(2048)) = 45, sampled at
  T = 2,048;
* images: 16x16x1 (n = 256 positions), the same widths, strided with l = 16
  (one row) and the CIFAR interleaving.

Each sampler is timed on its second call (the first traces / compiles):

* ``full``: ``sample(cache=False)``, the whole network on the whole partial
  sample at every step: n passes over n positions;
* ``cached``: ``sample(cache=True)``, every block's attention key/value cache
  in one `tf.while_loop`, compiled with XLA: one position per step.

The script checks that both return identical samples for the seed, and
prints the speed-up (expected: at least 10x at 2,048 bytes and at 16x16
images).  ``--count-params`` also builds the ``paper`` (CIFAR-10) and
``enwik8`` presets and prints their parameter counts (about 35 s and 11 s to
build on a CPU).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from timing import best_of  # noqa: E402

import ar_keras as ark  # noqa: E402
from ar_keras.models.transformer.sparse_transformer import CIFAR_LAYER_PATTERN  # noqa: E402

SMALL = dict(num_layers=4, hidden_dim=64, num_heads=4, intermediate_dim=128, attention="strided")


def compare(label, model, **sample_kwargs):
    t_cached, cached = best_of(lambda: model.sample(1, seed=3, cache=True, **sample_kwargs), 2)
    t_full, full = best_of(lambda: model.sample(1, seed=3, cache=False, **sample_kwargs), 1)
    same = np.array_equal(cached, full)
    print(
        f"{label:<34} full {t_full:8.2f} s   cached {t_cached:7.3f} s   speed-up "
        f"{t_full / t_cached:6.1f}x   identical samples: {same}",
        flush=True,
    )
    return t_full, t_cached, same


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count-params", action="store_true")
    p.add_argument("--length", type=int, default=2048, help="bytes per sample")
    args = p.parse_args(argv)
    keras.utils.set_random_seed(0)
    print(f"Sparse Transformer sampling, one sample, 256 levels, {SMALL}", flush=True)
    text = ark.models.get(
        "sparse_transformer",
        preset="text",
        max_length=args.length,
        block_length=None,
        num_summary=None,
        dropout=0.0,
        zero_init_logits=False,
        **SMALL,
    )
    compare(
        f"bytes T = {args.length} (l = {text.block_length}, {text.count_params():,} params)",
        text,
        length=args.length,
    )
    images = ark.models.get(
        "sparse_transformer",
        preset="digits",
        image_shape=(16, 16, 1),
        num_levels=256,
        dropout=0.0,
        zero_init_logits=False,
        layer_pattern=CIFAR_LAYER_PATTERN,  # an attention= override alone drops the preset's
        **SMALL,
    )
    compare(f"images 16x16x1 (l = {images.block_length}, {images.count_params():,} params)", images)
    if args.count_params:
        for preset in ("paper", "enwik8"):
            start = time.perf_counter()
            model = ark.models.get("sparse_transformer", preset=preset)
            print(
                f"preset {preset:<7} {model.count_params():>12,} parameters "
                f"({model.num_layers} layers, width {model.hidden_dim}, {model.num_heads} heads, "
                f"{model.attention} l = {model.block_length}; built in "
                f"{time.perf_counter() - start:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
