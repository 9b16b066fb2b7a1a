"""pixelvae on the digits: test ELBO and importance-weighted bound in bits/dim, sampling time.

    .venv/bin/python benchmarks/pixelvae_digits.py [--minutes 5] [--iw-samples 1000]

The ``digits`` preset (8x8, 17 levels; a 3-layer strided convolutional encoder
of 32 channels, a 16-d Gaussian latent, a 5-layer Gated PixelCNN decoder of
32 maps with 3x3 filters and the latent as a bias in every gated unit, KL
warm-up over 500 steps) trained with Adam(1e-3), batch 64, early stopping on
the validation negative ELBO (patience 25, best weights restored), stopped
after ``--minutes`` of training (5 by default, on 2 CPU cores) whatever the
epoch count.  Reported on the 250 test digits, in bits per pixel
(``-bound / (64 ln 2)``, lower is better): the ELBO (averaged over 100
posterior samples per image) and the importance-weighted bound of Burda et al.
with ``--iw-samples`` samples (an upper bound on the model's NLL, the figure
to rank beside the exact models).  The independent-pixels baseline (a
per-pixel categorical fit by counting) is printed for scale; then the time of
``model.sample(64, seed=0)`` with the decoder's cache and with a full decoder
pass per pixel, each timed on its second call (the first traces), and whether
the two paths gave identical samples.
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
from timing import best_of  # noqa: E402

import ar_keras as ark  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--patience", type=int, default=25)
    parser.add_argument("--iw-samples", type=int, default=1000)
    parser.add_argument("--sample-n", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    train, valid, test = digits_fit.splits()
    model = ark.models.get("pixelvae", preset="digits")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history, seconds = digits_fit.fit(
        model,
        train,
        valid,
        epochs=args.epochs,
        seed=args.seed,
        monitor="val_loss",
        patience=args.patience,
        budget=60.0 * args.minutes,
        shuffle=1297,
        valid_batch=250,
    )
    elbo, iwae = digits_fit.latent_bounds(model, test, args.iw_samples)
    epochs = len(history.history["loss"])
    print(
        f"pixelvae digits preset: {model.count_params():,} parameters, {epochs} epochs "
        f"({epochs * math.ceil(len(train) / 64)} steps), {seconds:.0f} s"
    )
    digits_fit.print_bounds("pixelvae", train, test, elbo, iwae, args.iw_samples)
    t_cached, cached = best_of(lambda: model.sample(args.sample_n, seed=0, cache=True), repeats=1)
    t_full, full = best_of(lambda: model.sample(args.sample_n, seed=0, cache=False), repeats=1)
    print(
        f"sample({args.sample_n}): cached {t_cached:.2f} s, full recompute {t_full:.2f} s "
        f"({t_full / t_cached:.1f}x); identical samples: {np.array_equal(cached, full)}"
    )


if __name__ == "__main__":
    main()
