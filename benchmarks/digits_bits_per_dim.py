"""Test bits/dim on the embedded digits for NADE, MADE, the Gated PixelCNN and the Transformers.

    make bench            # or: .venv/bin/python benchmarks/digits_bits_per_dim.py

Each model is built at its ``digits`` preset and trained with the recipe of
``python -m train`` (Adam 1e-3, batch 64, early stopping on validation
bits/dim with patience 5, best weights restored) for at most ``--epochs``
epochs.  The baseline is the fully factorised model: an independent
17-way categorical per pixel, fit by counting on the training split with
add-one smoothing.  A last row trains MADE order-agnostically with 16 masks
(1,000 hidden units, no direct connection) and scores the paper's test-time
ensemble (probabilities averaged over the 16 masks).  Prints one row per
model: test bits/dim, epochs run, seconds, parameters.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import digits_fit  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import ar_keras as ark  # noqa: E402


def train_and_score(name, train, valid, test, epochs, seed=0, ensemble=False, **overrides):
    keras.utils.set_random_seed(seed)
    model = ark.models.get(name, preset="digits", **overrides)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history, seconds = digits_fit.fit(model, train, valid, epochs=epochs, seed=seed)
    if ensemble:
        bpd = digits_fit.bits_per_dim(model.ensemble_log_prob(test).numpy(), model.event_size)
    else:
        bpd = model.evaluate(
            tf.data.Dataset.from_tensor_slices(test).batch(256), return_dict=True, verbose=0
        )["bits_per_dim"]
    return bpd, len(history.history["loss"]), seconds, model.count_params()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument(
        "--models",
        nargs="*",
        default=["nade", "made", "gated_pixelcnn", "image_transformer", "sparse_transformer"],
    )
    args = parser.parse_args()
    train, valid, test = digits_fit.splits()
    print(
        f"digits: train {len(train)}, validation {len(valid)}, test {len(test)}; "
        f"max {args.epochs} epochs, early stopping patience 5"
    )
    print(f"{'model':<22}{'test bits/dim':>14}{'epochs':>8}{'seconds':>9}{'params':>10}")
    base = digits_fit.bits_per_dim(digits_fit.independent_pixels(train, test), 64)
    print(f"{'independent pixels':<22}{base:>14.4f}{'-':>8}{'-':>9}{8 * 8 * 17:>10}", flush=True)
    for name in args.models:
        bpd, epochs, seconds, params = train_and_score(name, train, valid, test, args.epochs)
        print(f"{name:<22}{bpd:>14.4f}{epochs:>8}{seconds:>9.0f}{params:>10,}", flush=True)
    if "made" in args.models:
        bpd, epochs, seconds, params = train_and_score(
            "made",
            train,
            valid,
            test,
            args.epochs,
            ensemble=True,
            hidden_units=[1000],
            direct_connection=False,
            num_masks=16,
            order_agnostic=True,
        )
        print(f"{'made 16-mask ensemble':<22}{bpd:>14.4f}{epochs:>8}{seconds:>9.0f}{params:>10,}", flush=True)


if __name__ == "__main__":
    main()
