"""Cost of attention patterns vs length: one training step of a pre-norm attention block.

    python benchmarks/attention_scaling.py                 # n = 1,024 / 4,096 / 16,384
    python benchmarks/attention_scaling.py --lengths 512 1024 --patterns dense strided

The block is the Sparse Transformer's (Child et al. 2019, sec. 5.2), at width
64, batch 1: ``h = x + attn(LN(x)); y = h + W2 gelu(W1 LN(h))`` (feed-forward
4x), with `CausalSelfAttention` (2 heads of 32).  A training step is the
forward pass, a mean-square loss and the gradients of every weight, in one
``tf.function``.  Sparse patterns use ``l = sqrt(n)`` (32 / 64 / 128) and, for
``fixed``, ``c = 8`` summary positions per block (the paper's c is a
constant, 8-32; c growing with l would make the summary part quadratic).

Each (pattern, n) runs in its own subprocess.  Time: the fastest of
``--repeats`` steps after one warm-up step, wall clock and process CPU time
(the CPU time is steadier on a shared machine); one inter-op thread, so
that independent ops do not overlap and the memory peak is reproducible.  Memory: the peak of TensorFlow's
CPU allocator during one step, minus what it held before
(``tf.config.experimental.get_memory_info("CPU:0")`` after
``reset_memory_stats``), and, as a cross-check, the growth of the process's
peak RSS over the first (warm-up) step, tracing included.  Dense attention is skipped above ``--dense-max``
(default 4,096): at n = 16,384 each ``[heads, n, n]`` float32 score tensor is
2 GiB and the backward pass keeps several of them.

Prints a table and the log-log slopes ``d log(cost) / d log(n)`` between
consecutive lengths and over the whole range.  Expected: dense about 2,
strided and fixed at most about 1.6 (n sqrt(n) is 1.5).
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

WIDTH, HEADS, KEY_DIM, SUMMARY = 64, 2, 32, 8


def _block_length(n):
    return int(round(math.sqrt(n)))


def run_case(pattern, n, repeats):
    """One (pattern, n) in this process: ``{"seconds", "cpu_seconds", "peak_mib", "rss_mib"}``."""
    import keras
    import tensorflow as tf

    from ar_keras.layers import CausalSelfAttention

    # One op at a time: the allocator's peak then does not depend on how
    # independent ops happen to overlap (intra-op threads still use every core).
    tf.config.threading.set_inter_op_parallelism_threads(1)

    l = _block_length(n)
    attention = CausalSelfAttention(HEADS, KEY_DIM, pattern=pattern, block_length=l, num_summary=SUMMARY)
    norm1, norm2 = keras.layers.LayerNormalization(), keras.layers.LayerNormalization()
    hidden = keras.layers.Dense(4 * WIDTH, activation="gelu")
    project = keras.layers.Dense(WIDTH)

    def block(x):
        h = x + attention(norm1(x))
        return h + project(hidden(norm2(h)))

    block(tf.zeros([1, l, WIDTH]))  # builds the weights
    weights = [
        w.value
        for w in attention.trainable_weights
        + norm1.trainable_weights
        + norm2.trainable_weights
        + hidden.trainable_weights
        + project.trainable_weights
    ]

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(block(x)))
        grads = tape.gradient(loss, weights)
        return loss, tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads])

    x = tf.random.stateless_normal([1, n, WIDTH], seed=[0, n])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    train_step(x)[1].numpy()  # trace + warm-up
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024.0  # KiB -> MiB
    tf.config.experimental.reset_memory_stats("CPU:0")
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        train_step(x)[1].numpy()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    peak = tf.config.experimental.get_memory_info("CPU:0")["peak"] - before
    return {"seconds": min(times), "cpu_seconds": min(cpu_times), "peak_mib": peak / 2**20, "rss_mib": rss}


def _slope(xs, ys):
    """Least-squares slope of log y on log x."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--patterns", nargs="+", default=["dense", "strided", "fixed"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dense-max", type=int, default=4096)
    parser.add_argument("--case", nargs=2, metavar=("PATTERN", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print("RESULT " + json.dumps(run_case(args.case[0], int(args.case[1]), args.repeats)))
        return

    print(
        f"One training step (forward + backward) of a pre-norm attention block, width {WIDTH}, "
        f"{HEADS} heads x {KEY_DIM}, batch 1, l = sqrt(n), c = {SUMMARY}; CPU, "
        f"{os.cpu_count()} cores.  Memory: TF CPU allocator peak over the step "
        "(get_memory_info), and peak-RSS growth over the first step."
    )
    print(f"{'pattern':>8} {'n':>7} {'l':>4} {'wall s':>8} {'CPU s':>8} {'alloc MiB':>10} {'RSS MiB':>9}")
    results = {}
    for pattern in args.patterns:
        for n in args.lengths:
            if pattern == "dense" and n > args.dense_max:
                gib = HEADS * n * n * 4 / 2**30
                print(
                    f"{pattern:>8} {n:>7} {'-':>4} {'skipped':>9}  (each [heads, n, n] score "
                    f"tensor is {gib:.1f} GiB; --dense-max {args.dense_max})"
                )
                continue
            env = dict(
                os.environ,
                PYTHONPATH=os.pathsep.join(
                    [
                        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        os.environ.get("PYTHONPATH", ""),
                    ]
                ),
            )
            proc = subprocess.run(
                [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--case",
                    pattern,
                    str(n),
                    "--repeats",
                    str(args.repeats),
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            lines = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")]
            if proc.returncode or not lines:
                print(
                    f"{pattern:>8} {n:>7} failed (exit {proc.returncode}): "
                    f"{proc.stderr.strip().splitlines()[-1:]}"
                )
                continue
            r = json.loads(lines[-1][len("RESULT ") :])
            results[(pattern, n)] = r
            l = "-" if pattern == "dense" else _block_length(n)
            print(
                f"{pattern:>8} {n:>7} {l:>4} {r['seconds']:>8.3f} {r['cpu_seconds']:>8.3f} "
                f"{r['peak_mib']:>10.1f} {r['rss_mib']:>9.1f}",
                flush=True,
            )

    print(
        "\nlog-log slopes, wall time / CPU time / allocator peak: consecutive lengths, then the "
        "least-squares fit over all lengths"
    )
    keys = ("seconds", "cpu_seconds", "peak_mib")
    for pattern in args.patterns:
        ns = [n for n in args.lengths if (pattern, n) in results]
        if len(ns) < 2:
            continue
        parts = []
        for a, b in zip(ns, ns[1:]):
            ra, rb = results[(pattern, a)], results[(pattern, b)]
            parts.append(
                f"{a}->{b}: " + " / ".join(f"{math.log(rb[k] / ra[k]) / math.log(b / a):.2f}" for k in keys)
            )
        overall = " / ".join(f"{_slope(ns, [results[(pattern, n)][k] for n in ns]):.2f}" for k in keys)
        print(f"{pattern:>8}: " + "; ".join(parts) + f"; overall {overall}")


if __name__ == "__main__":
    main()
