"""The digits benchmarks' protocol: one `fit` with early stopping, the counting baseline, the bounds.

Every digits script trains the same way: Adam (or the script's optimizer), batch 64,
early stopping on a validation metric with the best weights restored, at most
``epochs`` epochs and, where the script gives one, at most ``budget`` seconds
(stopped at the end of the epoch that crosses it).  The baseline is the fully
factorised model, a per-pixel categorical fit by counting with add-one smoothing.

Example:
    >>> import numpy as np
    >>> train, test = np.array([[0, 1], [0, 0]]), np.array([[0, 1]])
    >>> log_p = independent_pixels(train, test, num_levels=2)  # p = 3/4 and 2/4
    >>> round(float(log_p[0]), 4), round(bits_per_dim(log_p, 2), 4)
    (-0.9808, 0.7075)
"""

import math
import time

import keras
import numpy as np
import tensorflow as tf

import ar_keras as ark

__all__ = [
    "TimeBudget",
    "bits_per_dim",
    "fit",
    "independent_pixels",
    "latent_bounds",
    "print_bounds",
    "splits",
]


def splits():
    """The embedded digits' ``(train, validation, test)`` images as NumPy arrays."""
    return tuple(ark.data.as_numpy("digits", split) for split in ("train", "validation", "test"))


def independent_pixels(train, test, num_levels=17):
    """``[N_test]`` log-likelihoods (nats) of the test images under per-pixel categoricals
    fit to ``train`` by counting (add-one smoothing)."""
    flat_train = train.reshape(len(train), -1)  # [N, D]
    flat_test = test.reshape(len(test), -1)  # [N_test, D]
    counts = np.ones((flat_train.shape[1], num_levels))
    for d in range(flat_train.shape[1]):
        counts[d] += np.bincount(flat_train[:, d], minlength=num_levels)
    log_p = np.log(counts / counts.sum(1, keepdims=True))
    return log_p[np.arange(flat_test.shape[1]), flat_test].sum(1)


def bits_per_dim(log_p, dims):
    """The mean negative log-likelihood ``log_p`` (nats per image) in bits per dimension."""
    return -float(np.mean(log_p)) / (dims * math.log(2.0))


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the end of the first epoch past ``seconds`` of training."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.start = seconds, None

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        if time.time() - self.start > self.seconds:
            self.model.stop_training = True


def fit(
    model,
    train,
    valid,
    *,
    epochs,
    seed=0,
    monitor="val_bits_per_dim",
    patience=5,
    budget=None,
    shuffle=2000,
    valid_batch=256,
):
    """``(history, seconds)`` of ``model.fit`` on ``train`` (batch 64, shuffled) with early
    stopping on ``monitor`` over ``valid`` (best weights restored) and the time ``budget``."""
    callbacks = [
        keras.callbacks.EarlyStopping(monitor, patience=patience, mode="min", restore_best_weights=True)
    ]
    if budget is not None:
        callbacks.append(TimeBudget(budget))
    start = time.time()
    history = model.fit(
        tf.data.Dataset.from_tensor_slices(train).shuffle(shuffle, seed=seed).batch(64),
        validation_data=tf.data.Dataset.from_tensor_slices(valid).batch(valid_batch),
        epochs=epochs,
        verbose=0,
        callbacks=callbacks,
    )
    return history, time.time() - start


def latent_bounds(model, test, iw_samples):
    """``(elbo, iw_bound)``, ``[N_test]`` each: a latent-variable model's ELBO averaged over 100
    posterior samples and the importance-weighted bound of Burda et al. with ``iw_samples``."""
    elbo = np.concatenate(
        [model.elbo(test[i : i + 50], num_samples=100, seed=1).numpy() for i in range(0, len(test), 50)]
    )
    chunk = max(1, 20_000 // iw_samples)
    iw_bound = np.concatenate(
        [
            model.log_prob(test[i : i + chunk], num_samples=iw_samples, seed=2).numpy()
            for i in range(0, len(test), chunk)
        ]
    )
    return elbo, iw_bound


def print_bounds(name, train, test, elbo, iw_bound, iw_samples):
    """Prints the test table of a latent-variable model: the counting baseline, the ELBO and
    the importance-weighted bound, in bits/dim (lower is better) and nats per image."""
    print(f"{'test, bits/dim (lower is better)':<44}{'bits/dim':>9}{'nats':>10}")
    rows = [
        ("independent pixels (counting)", independent_pixels(train, test)),
        (f"{name} ELBO (100 samples)", elbo),
        (f"{name} IW bound ({iw_samples} samples)", iw_bound),
    ]
    dims = int(np.prod(test.shape[1:]))
    for label, log_p in rows:
        print(f"{label:<44}{bits_per_dim(log_p, dims):>9.4f}{-np.mean(log_p):>10.2f}")
