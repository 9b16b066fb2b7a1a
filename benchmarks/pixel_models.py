"""PixelCNN++ against tfd.PixelCNN on the digits, and cached against full-recompute sampling.

    make bench          # or: .venv/bin/python benchmarks/pixel_models.py [--budget 60]

(a) Trains ar_keras ``pixelcnn_pp`` at its ``digits`` preset and TFP's
    ``tfd.PixelCNN(image_shape=(8, 8, 1), num_resnet=2, num_hierarchies=2,
    num_filters=32, num_logistic_mix=5, dropout_p=0.0, high=16)`` with Adam
    1e-3, batch 64, for the same wall-clock budget each (``--budget`` seconds
    of training and validation), keeping the weights with the best validation
    bits/dim and stopping early after ``--patience`` epochs without
    improvement.  Prints test bits/dim, training steps per second (training
    time only), and the time to draw 16 samples (warm: after a first call that
    traces the graph; TFP's sampler in a `tf.function`, and eagerly).
    ar_keras trains with ``model.fit`` (one epoch per call); TFP (a Keras 2
    network) with a `tf.function` train step and a ``tf_keras`` Adam.
(b) Times ``sample(16, cache=True)`` (the exact cached path) against
    ``cache=False`` (a network pass per element) for ``gated_pixelcnn`` and
    ``pixelcnn_pp`` at their ``digits`` presets on 8x8, 16x16 and 32x32 single
    channel images (random weights: the cost does not depend on them; at
    32x32, ``--samples-32`` samples to keep the full recompute short), checks
    that both give the same samples, and times the cached path compiled with
    XLA (``tf.function(jit_compile=True)``; compile time shown apart).
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
from ar_keras import sampling  # noqa: E402

LN2 = math.log(2.0)


class _Trainer:
    """Budgeted training with early stopping on validation bits/dim."""

    def __init__(self, budget, patience):
        self.budget, self.patience = budget, patience

    def run(self, epoch_fn, valid_fn, get_weights, set_weights):
        best, best_weights, wait = np.inf, get_weights(), 0
        spent, train_time, steps, epochs = 0.0, 0.0, 0, 0
        while spent < self.budget and wait < self.patience:
            start = time.perf_counter()
            n = epoch_fn(self.budget - spent)
            train_time += time.perf_counter() - start
            bpd = valid_fn()
            spent += time.perf_counter() - start
            steps += n
            epochs += 1
            if bpd < best - 1e-4:
                best, best_weights, wait = bpd, get_weights(), 0
            else:
                wait += 1
        set_weights(best_weights)
        return dict(val=best, steps=steps, epochs=epochs, steps_per_s=steps / train_time, seconds=spent)


def _reset_optimizer(variables):
    """Back to a fresh Adam: step count and moments to zero, the learning rate kept."""
    for v in variables:
        if "learning_rate" not in (getattr(v, "path", None) or v.name):
            v.assign(tf.zeros_like(v))


class _StopAfter(keras.callbacks.Callback):
    """Stops `fit` mid-epoch when the budget runs out; counts steps."""

    def __init__(self, seconds):
        super().__init__()
        self.deadline = time.perf_counter() + seconds
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.perf_counter() > self.deadline:
            self.model.stop_training = True


def train_ar_keras(train, valid, test, budget, patience, seed):
    keras.utils.set_random_seed(seed)
    model = ark.models.get("pixelcnn_pp", preset="digits")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    train_ds = (
        tf.data.Dataset.from_tensor_slices(train)
        .shuffle(len(train), seed=seed)
        .batch(64, drop_remainder=True)
    )
    valid_ds = tf.data.Dataset.from_tensor_slices(valid).batch(256)
    test_ds = tf.data.Dataset.from_tensor_slices(test).batch(256)
    # Trace the train and test steps before the clock starts, then undo the step.
    start = time.perf_counter()
    initial = model.get_weights()
    model.fit(train_ds.take(1), epochs=1, verbose=0)
    model.evaluate(valid_ds, verbose=0)
    model.set_weights(initial)
    _reset_optimizer(model.optimizer.variables)
    trace = time.perf_counter() - start

    def epoch(left):
        stop = _StopAfter(left)
        model.fit(train_ds, epochs=1, verbose=0, callbacks=[stop])
        return stop.steps

    def evaluate(ds):
        return model.evaluate(ds, verbose=0, return_dict=True)["bits_per_dim"]

    result = _Trainer(budget, patience).run(
        epoch, lambda: evaluate(valid_ds), model.get_weights, model.set_weights
    )
    result["test"] = evaluate(test_ds)
    result["params"] = model.count_params()
    result["trace"] = trace
    model.sample(16, seed=1)  # traces the cached sampler
    start = time.perf_counter()
    model.sample(16, seed=2).numpy()
    result["sample"] = time.perf_counter() - start
    # The same exact sampler under `tf.function(jit_compile=True)`, as `sample()` compiles it
    # from 256 steps on.
    fast = tf.function(lambda noise: sampling.sample_cached(model, noise), jit_compile=True)
    noise = sampling.seeded_noise(2, 16, model.event_size, model.head.noise_depth)
    start = time.perf_counter()
    fast(noise).numpy()
    result["xla_compile"] = time.perf_counter() - start
    start = time.perf_counter()
    fast(noise).numpy()
    result["sample_xla"] = time.perf_counter() - start
    return result, model


def train_tfp(train, valid, test, budget, patience, seed):
    import tensorflow_probability as tfp
    import tf_keras

    tf.random.set_seed(seed)
    dist = tfp.distributions.PixelCNN(
        image_shape=(8, 8, 1),
        num_resnet=2,
        num_hierarchies=2,
        num_filters=32,
        num_logistic_mix=5,
        dropout_p=0.0,
        high=16,
    )
    to_float = lambda a: tf.constant(a, tf.float32)  # noqa: E731 - TFP scores floats in [0, 16]
    # Weight normalisation's data-dependent initialisation runs on the first (eager) call.
    dist.log_prob(to_float(train[:64]))
    variables = dist.trainable_variables
    optimizer = tf_keras.optimizers.Adam(1e-3)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(x))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    @tf.function
    def nll(x):
        return -dist.log_prob(x)

    def bits(data):
        total = sum(float(tf.reduce_sum(nll(to_float(data[i : i + 256])))) for i in range(0, len(data), 256))
        return total / (len(data) * 64 * LN2)

    # Trace the train and test steps before the clock starts, then undo the step.
    start = time.perf_counter()
    initial = [v.numpy() for v in variables]
    step(to_float(train[:64]))
    bits(valid)
    for v, w in zip(variables, initial):
        v.assign(w)
    _reset_optimizer(optimizer.variables)
    trace = time.perf_counter() - start

    rng = np.random.RandomState(seed)

    def epoch(left):
        deadline = time.perf_counter() + left
        order = rng.permutation(len(train))
        n = 0
        for i in range(0, len(train) - 63, 64):  # full batches, as drop_remainder
            step(to_float(train[order[i : i + 64]]))
            n += 1
            if time.perf_counter() > deadline:
                break
        return n

    result = _Trainer(budget, patience).run(
        epoch,
        lambda: bits(valid),
        lambda: [v.numpy() for v in variables],
        lambda ws: [v.assign(w) for v, w in zip(variables, ws)],
    )
    result["test"] = bits(test)
    result["params"] = int(sum(np.prod(v.shape) for v in variables))
    result["trace"] = trace
    sample = tf.function(lambda: dist.sample(16))
    sample()
    start = time.perf_counter()
    sample().numpy()
    result["sample"] = time.perf_counter() - start
    start = time.perf_counter()
    dist.sample(16).numpy()
    result["sample_eager"] = time.perf_counter() - start
    return result


def compare_training(args):
    train = ark.data.as_numpy("digits", "train")
    valid = ark.data.as_numpy("digits", "validation")
    test = ark.data.as_numpy("digits", "test")
    print(
        f"(a) digits 8x8x1, 17 levels: train {len(train)}, validation {len(valid)}, "
        f"test {len(test)}; Adam 1e-3, batch 64, {args.budget:.0f} s each, "
        f"early stopping patience {args.patience} epochs"
    )
    ours, _ = train_ar_keras(train, valid, test, args.budget, args.patience, args.seed)
    theirs = train_tfp(train, valid, test, args.budget, args.patience, args.seed)
    print(
        f"{'model':<28}{'test bpd':>9}{'val bpd':>9}{'steps/s':>9}{'steps':>7}{'epochs':>7}"
        f"{'16 samples':>12}{'params':>11}{'trace':>8}"
    )
    for name, r in (("ar_keras pixelcnn_pp digits", ours), ("tfd.PixelCNN", theirs)):
        print(
            f"{name:<28}{r['test']:>9.4f}{r['val']:>9.4f}{r['steps_per_s']:>9.1f}{r['steps']:>7}"
            f"{r['epochs']:>7}{r['sample']:>11.3f}s{r['params']:>11,}{r['trace']:>7.1f}s"
        )
    print(
        f"16 samples: ar_keras cached {ours['sample']:.3f} s, cached + XLA "
        f"{ours['sample_xla']:.3f} s (compiling: {ours['xla_compile']:.1f} s once per batch "
        f"size); tfd.PixelCNN {theirs['sample']:.2f} s in a tf.function, "
        f"{theirs['sample_eager']:.2f} s eagerly."
    )
    print(
        f"speed-up over tfd.PixelCNN (tf.function / eager): cached "
        f"{theirs['sample'] / ours['sample']:.0f}x / {theirs['sample_eager'] / ours['sample']:.0f}x,"
        f" cached + XLA {theirs['sample'] / ours['sample_xla']:.0f}x / "
        f"{theirs['sample_eager'] / ours['sample_xla']:.0f}x.  ('trace': one-off tracing of the "
        "train and test steps, outside the budget)",
        flush=True,
    )


def _time(fn, repeats=1):
    fn()  # trace / compile
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    return (time.perf_counter() - start) / repeats, out


def compare_sampling(args):
    print("\n(b) sampling time (warm; seconds), digits presets, random weights, 1 channel")
    print(
        f"{'model':<16}{'size':>6}{'n':>4}{'full':>9}{'cached':>9}{'speedup':>9}{'equal':>7}"
        f"{'cached+XLA':>12}{'XLA compile':>13}"
    )
    for name in args.sampling_models:
        for size in args.sizes:
            n = args.samples if size < 32 else args.samples_32
            keras.utils.set_random_seed(0)
            model = ark.models.get(name, preset="digits", image_shape=(size, size, 1))
            noise = sampling.seeded_noise(0, n, model.event_size, model.head.noise_depth)
            full_fn = tf.function(lambda z: sampling.sample_full(model, z))
            cached_fn = tf.function(lambda z: sampling.sample_cached(model, z))
            xla_fn = tf.function(lambda z: sampling.sample_cached(model, z), jit_compile=True)
            t_full, x_full = _time(lambda: full_fn(noise).numpy())
            t_cached, x_cached = _time(lambda: cached_fn(noise).numpy(), 3)
            start = time.perf_counter()
            x_xla = xla_fn(noise).numpy()
            t_compile = time.perf_counter() - start
            t_xla, x_xla = _time(lambda: xla_fn(noise).numpy(), 3)
            equal = np.array_equal(x_full, x_cached) and np.array_equal(x_full, x_xla)
            print(
                f"{name:<16}{size:>4}^2{n:>4}{t_full:>9.2f}{t_cached:>9.3f}"
                f"{t_full / t_cached:>8.1f}x{str(equal):>7}{t_xla:>11.3f}s{t_compile:>12.1f}s",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per trainer")
    parser.add_argument("--patience", type=int, default=10, help="epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", type=int, nargs="*", default=[8, 16, 32])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--samples-32", type=int, default=4)
    parser.add_argument(
        "--sampling-models",
        nargs="*",
        default=["gated_pixelcnn", "pixelcnn_pp"],
        help="models for (b); pixelsnail works too",
    )
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-sampling", action="store_true")
    args = parser.parse_args()
    if not args.skip_training:
        compare_training(args)
    if not args.skip_sampling:
        compare_sampling(args)


if __name__ == "__main__":
    main()
