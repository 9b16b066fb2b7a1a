"""ar_keras `maf` against TFP's stock MAF recipe on the dequantized digits, same time budget.

    make bench        # or: .venv/bin/python benchmarks/maf_vs_tfp.py [--seconds 30]

Data: ``digits_continuous`` (`ar_keras.data.continuous`): the 8x8 digits as
64-d vectors ``(k + u) / 17`` in ``[0, 1)``; the training stream redraws the
dequantization noise on every pass, validation and test are fixed draws.
Both systems read the *same* stream (shuffled, batch 128; ``--fixed-dequantization``
trains on one fixed draw instead, which both overfit sooner) and are trained
with Adam(1e-3) for the same wall-clock budget (``--seconds``, default 30,
counted from the first training step, tracing included), each evaluating
the validation log-likelihood after every epoch and keeping the best weights
(early stopping).  Printed: the best validation and the test
log-likelihood (mean nats per example on [0, 1]^64; higher is better), and
train steps per second (steps / budget, validation passes included).

* **TFP stock recipe**: 5 x ``tfb.MaskedAutoregressiveFlow(
  tfb.AutoregressiveNetwork(params=2, hidden_units=[256, 256]))`` with
  order reversals (``tfb.Permute``) between them, a standard-normal base, in a
  ``tf.GradientTape`` loop (``AutoregressiveNetwork`` is a Keras 2 layer:
  ``model.fit`` on a Keras 3 model would not train it), ``tf_keras`` Adam.
* **ar_keras maf**, preset ``digits``: 5 Keras 3 MADEs (one hidden layer of
  128), order reversals, batch norm after each MADE, soft-clamped
  log-scales, logit-space data (a = 0.05, Jacobian included), trained with
  ``model.fit`` and ``keras.callbacks.EarlyStopping(restore_best_weights=True)``.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
import tf_keras  # noqa: E402

import ar_keras as ark  # noqa: E402

tfb, tfd = tfp.bijectors, tfp.distributions
D = 64


def datasets(batch_size, seed, fixed=False):
    if fixed:  # one dequantization draw, reused every epoch (overfits much sooner)
        train = tf.data.Dataset.from_tensor_slices(ark.data.as_numpy("digits_continuous", "train"))
    else:  # fresh dequantization noise on every pass
        train = ark.data.load("digits_continuous", "train")
    train = train.shuffle(1297, seed=seed).batch(batch_size)
    valid = ark.data.as_numpy("digits_continuous", "validation")
    test = ark.data.as_numpy("digits_continuous", "test")
    return train, valid, test


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit` once ``seconds`` have passed since training began (the epoch is then validated)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if time.time() - self.start > self.seconds:
            self.model.stop_training = True


def run_ar_keras(train, valid, test, seconds, patience, seed):
    keras.utils.set_random_seed(seed)
    model = ark.models.get("maf", preset="digits")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    stopper = keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
    start = time.time()
    history = model.fit(
        train,
        validation_data=tf.data.Dataset.from_tensor_slices(valid).batch(250),
        epochs=100_000,
        verbose=0,
        callbacks=[TimeBudget(seconds), stopper],
    )
    elapsed = time.time() - start
    steps = int(model.optimizer.iterations.numpy())
    best_val = -min(history.history["val_loss"])
    test_ll = float(np.mean(model.log_prob(test).numpy()))
    return dict(
        name="ar_keras maf (digits preset)",
        params=model.count_params(),
        steps=steps,
        epochs=len(history.history["loss"]),
        seconds=elapsed,
        best_val=best_val,
        test=test_ll,
    )


def run_tfp(train, valid, test, seconds, patience, seed):
    tf.random.set_seed(seed)
    tf_keras.utils.set_random_seed(seed)
    steps_list = []
    for i in range(5):
        net = tfb.AutoregressiveNetwork(params=2, hidden_units=[256, 256])
        steps_list.append(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=net))
        if i < 4:
            steps_list.append(tfb.Permute(permutation=list(reversed(range(D)))))
    flow = tfb.Chain(steps_list)
    dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), [D]), flow)
    dist.log_prob(tf.zeros([1, D]))  # builds the networks
    variables = dist.trainable_variables
    optimizer = tf_keras.optimizers.Adam(1e-3)

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(x))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    @tf.function
    def mean_log_prob(x):
        return tf.reduce_mean(dist.log_prob(x))

    best_val, best_weights, wait, steps, epochs = -np.inf, None, 0, 0, 0
    start = time.time()
    done = False
    while not done:
        for x in train:
            train_step(x)
            steps += 1
            if time.time() - start > seconds:
                done = True
                break
        epochs += 1
        val = float(mean_log_prob(valid))
        if val > best_val:  # early stopping: keep the best
            best_val, best_weights, wait = val, [v.numpy() for v in variables], 0
        else:
            wait += 1
            done = done or wait >= patience
    elapsed = time.time() - start
    for v, w in zip(variables, best_weights):
        v.assign(w)
    test_ll = float(mean_log_prob(test))
    params = int(sum(np.prod(v.shape) for v in variables))
    return dict(
        name="TFP stock recipe (5 MAF, 2x256)",
        params=params,
        steps=steps,
        epochs=epochs,
        seconds=elapsed,
        best_val=best_val,
        test=test_ll,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="wall-clock budget per system")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--patience", type=int, default=30, help="epochs without validation gain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fixed-dequantization",
        action="store_true",
        help="train on one fixed dequantization draw instead of a fresh one per pass",
    )
    args = parser.parse_args()
    train, valid, test = datasets(args.batch_size, args.seed, args.fixed_dequantization)
    noise = (
        "one fixed dequantization draw" if args.fixed_dequantization else "fresh dequantization every pass"
    )
    print(
        f"digits_continuous: train 1297 ({noise}), validation {len(valid)}, "
        f"test {len(test)}; batch {args.batch_size}, Adam 1e-3, {args.seconds:.0f} s each, "
        f"best validation epoch kept (patience {args.patience})",
        flush=True,
    )
    header = (
        f"{'system':<34}{'test LL':>10}{'best val LL':>13}{'steps/s':>9}"
        f"{'steps':>7}{'epochs':>8}{'params':>10}"
    )
    print("log-likelihoods in nats per example on [0, 1]^64 (higher is better)")
    print(header)
    for run in (run_tfp, run_ar_keras):
        r = run(train, valid, test, args.seconds, args.patience, args.seed)
        print(
            f"{r['name']:<34}{r['test']:>10.2f}{r['best_val']:>13.2f}{r['steps'] / r['seconds']:>9.1f}"
            f"{r['steps']:>7}{r['epochs']:>8}{r['params']:>10,}",
            flush=True,
        )


if __name__ == "__main__":
    main()
