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
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import ar_keras as ark  # noqa: E402


def bits(nats):
    return -float(np.mean(nats)) / (64 * math.log(2.0))


def independent_pixels(train, test, levels=17):
    counts = np.ones((64, levels))
    flat = train.reshape(len(train), 64)
    for d in range(64):
        counts[d] += np.bincount(flat[:, d], minlength=levels)
    log_p = np.log(counts / counts.sum(1, keepdims=True))
    return log_p[np.arange(64), test.reshape(len(test), 64)].sum(1)


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the end of the first epoch past ``seconds``."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.start = seconds, None

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        if time.time() - self.start > self.seconds:
            self.model.stop_training = True


def timed_sampling(model, n, cache):
    model.sample(n, seed=0, cache=cache).numpy()  # traces
    start = time.perf_counter()
    x = model.sample(n, seed=0, cache=cache).numpy()
    return x, time.perf_counter() - start


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
    train, valid, test = (ark.data.as_numpy("digits", s) for s in ("train", "validation", "test"))
    model = ark.models.get("pixelvae", preset="digits")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.time()
    history = model.fit(
        tf.data.Dataset.from_tensor_slices(train).shuffle(1297, seed=args.seed).batch(64),
        validation_data=tf.data.Dataset.from_tensor_slices(valid).batch(250),
        epochs=args.epochs,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping("val_loss", patience=args.patience, restore_best_weights=True),
            TimeBudget(60.0 * args.minutes),
        ],
    )
    seconds = time.time() - start
    elbo = np.concatenate(
        [model.elbo(test[i : i + 50], num_samples=100, seed=1).numpy() for i in range(0, len(test), 50)]
    )
    chunk = max(1, 20_000 // args.iw_samples)
    iwae = np.concatenate(
        [
            model.log_prob(test[i : i + chunk], num_samples=args.iw_samples, seed=2).numpy()
            for i in range(0, len(test), chunk)
        ]
    )
    epochs = len(history.history["loss"])
    print(
        f"pixelvae digits preset: {model.count_params():,} parameters, {epochs} epochs "
        f"({epochs * math.ceil(len(train) / 64)} steps), {seconds:.0f} s"
    )
    print(f"{'test, bits/dim (lower is better)':<44}{'bits/dim':>9}{'nats':>10}")
    base = independent_pixels(train, test)
    print(f"{'independent pixels (counting)':<44}{bits(base):>9.4f}{-np.mean(base):>10.2f}")
    print(f"{'pixelvae ELBO (100 samples)':<44}{bits(elbo):>9.4f}{-np.mean(elbo):>10.2f}")
    print(f"{f'pixelvae IW bound ({args.iw_samples} samples)':<44}{bits(iwae):>9.4f}{-np.mean(iwae):>10.2f}")
    cached, t_cached = timed_sampling(model, args.sample_n, True)
    full, t_full = timed_sampling(model, args.sample_n, False)
    print(
        f"sample({args.sample_n}): cached {t_cached:.2f} s, full recompute {t_full:.2f} s "
        f"({t_full / t_cached:.1f}x); identical samples: {np.array_equal(cached, full)}"
    )


if __name__ == "__main__":
    main()
