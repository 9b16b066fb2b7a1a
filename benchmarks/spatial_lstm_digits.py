"""spatial_lstm (RIDE) on the embedded digits: test bits/dim, and cached against full-recompute sampling.

    make bench          # or: .venv/bin/python benchmarks/spatial_lstm_digits.py [--budget 300]

(a) Trains ``spatial_lstm`` at its ``digits`` preset (two spatial LSTMs of 64
    units over RIDE's 5-wide causal window, a 17-way softmax per pixel) with the
    protocol of ``benchmarks/digits_bits_per_dim.py`` (and ``python -m
    train``): Adam 1e-3, batch 64, early stopping on validation bits/dim with
    patience 5, best weights restored, at most ``--epochs`` epochs, and here
    also at most ``--budget`` seconds of training (stopped after the epoch that
    crosses it).  Prints test bits/dim over every pixel (``model.evaluate``, as
    for the other models), RIDE's bits per pixel over the reachable pixels
    only, epochs, seconds and parameters.  ``--neighbourhood-sizes 5 15`` also trains a
    full-width window (``neighbourhood_size = 15``: every earlier pixel of 8x8 in view).
    ``--mcgsm`` trains RIDE's own head: the ``paper`` preset (MCGSM, whitening)
    at 8x8 on uniformly dequantised digits, and prints the upper bound on
    discrete bits/dim it gives (`train_mcgsm`) and RIDE's reachable-pixel
    figure on the same footing (continuous bits/pixel of ``y`` + ``log2 K``).
(b) Times ``sample(16, cache=True)`` (the recurrent state, O(layers) per
    pixel) against ``cache=False`` (the whole network per pixel) at the
    ``digits`` preset on 8x8 and 16x16 images (random weights: the cost does
    not depend on them), warm (after a first call that traces), and checks
    that both give the same samples.  The cached sampler is compiled with XLA
    from 256 steps on (the models' ``jit_sampling = "auto"``): the 16x16 row's
    cached time is XLA's, the 8x8 row's plain graph mode.
"""

import argparse
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import digits_fit  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import best_of  # noqa: E402

import ar_keras as ark  # noqa: E402


def train_and_score(train, valid, test, epochs, budget, seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    model = ark.models.get("spatial_lstm", preset="digits", **overrides)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history, seconds = digits_fit.fit(model, train, valid, epochs=epochs, seed=seed, budget=budget)
    bpd = model.evaluate(tf.data.Dataset.from_tensor_slices(test).batch(256), return_dict=True, verbose=0)[
        "bits_per_dim"
    ]
    try:
        ll = np.concatenate(
            [model.ride_log_likelihood(test[i : i + 256]).numpy() for i in range(0, len(test), 256)]
        )  # [N, H_r, W_r]
        ride_bpp = -float(ll.mean()) / math.log(2.0)  # C = 1
    except ValueError:  # window wider than 8x8
        ride_bpp = float("nan")
    return dict(
        bpd=bpd,
        ride=ride_bpp,
        epochs=len(history.history["loss"]),
        seconds=seconds,
        params=model.count_params(),
    )


def train_mcgsm(train, valid, test, epochs, budget, num_levels=17, seed=0):
    """RIDE's own recipe at 8x8: the ``paper`` preset (MCGSM head, whitening) on dequantised digits.

    ``y = (x + u) / K`` with ``u ~ U[0, 1)`` (a fixed draw per split).  Since
    ``log P(x) >= E_u log p(y) - log K``, ``-mean log p(y) / (D ln 2) + log2 K``
    is an upper bound on the discrete bits/dim, comparable with the softmax rows.
    """
    rng = np.random.RandomState(seed)
    deq = {
        name: ((a + rng.uniform(size=a.shape)) / num_levels).astype(np.float32)
        for name, a in (("train", train), ("valid", valid), ("test", test))
    }
    keras.utils.set_random_seed(seed)
    model = ark.models.get("spatial_lstm", preset="paper", image_shape=train.shape[1:])
    model.fit_whitening(deq["train"])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history, seconds = digits_fit.fit(
        model, deq["train"], deq["valid"], epochs=epochs, seed=seed, monitor="val_loss", budget=budget
    )
    lp = np.concatenate([model.log_prob(deq["test"][i : i + 256]).numpy() for i in range(0, len(test), 256)])
    D = int(np.prod(train.shape[1:]))
    bound = -float(lp.mean()) / (D * math.log(2.0)) + math.log2(num_levels)
    ride = float(model.ride_bits_per_pixel(deq["test"]).numpy()) + math.log2(num_levels)
    return dict(
        bpd=bound,
        ride=ride,
        epochs=len(history.history["loss"]),
        seconds=seconds,
        params=model.count_params(),
    )


def compare_sampling(sizes, num_samples):
    print(
        f"\n{'size':>6}{'n':>4}{'full (s)':>10}{'cached (s)':>12}{'speed-up':>10}{'equal':>7}"
        f"{'cached XLA':>12}"
    )
    for size in sizes:
        keras.utils.set_random_seed(0)
        model = ark.models.get("spatial_lstm", preset="digits", image_shape=(size, size, 1))
        full, a = best_of(lambda: model.sample(num_samples, seed=3, cache=False).numpy(), 1)
        cached, b = best_of(lambda: model.sample(num_samples, seed=3, cache=True).numpy(), 1)
        print(
            f"{size:>4}^2{num_samples:>4}{full:>10.2f}{cached:>12.3f}{full / cached:>9.1f}x"
            f"{str(bool(np.array_equal(a, b))):>7}{str(model._use_jit(True, None)):>12}",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds per model")
    parser.add_argument(
        "--neighbourhood-sizes",
        type=int,
        nargs="*",
        default=[5],
        help="window widths to train (5: RIDE's; 15: every earlier pixel of 8x8)",
    )
    parser.add_argument(
        "--mcgsm",
        action="store_true",
        help="also train RIDE's MCGSM head (paper preset at 8x8) on dequantised digits",
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[8, 16])
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    train, valid, test = digits_fit.splits()
    print(
        f"digits: train {len(train)}, validation {len(valid)}, test {len(test)}; max "
        f"{args.epochs} epochs or {args.budget:.0f} s, early stopping patience 5"
    )
    print(f"{'model':<30}{'test bits/dim':>14}{'RIDE bits/px':>13}{'epochs':>8}{'seconds':>9}{'params':>10}")
    for size in args.neighbourhood_sizes:
        label = f"spatial_lstm (neighbourhood {size})"
        r = train_and_score(train, valid, test, args.epochs, args.budget, neighbourhood_size=size)
        print(
            f"{label:<30}{r['bpd']:>14.4f}{r['ride']:>13.4f}{r['epochs']:>8}"
            f"{r['seconds']:>9.0f}{r['params']:>10,}",
            flush=True,
        )
    if args.mcgsm:
        r = train_mcgsm(train, valid, test, args.epochs, args.budget)
        print(
            f"{'spatial_lstm MCGSM (bound)':<30}{r['bpd']:>14.4f}{r['ride']:>13.4f}{r['epochs']:>8}"
            f"{r['seconds']:>9.0f}{r['params']:>10,}",
            flush=True,
        )
    if args.sizes:
        compare_sampling(args.sizes, args.samples)


if __name__ == "__main__":
    main()
