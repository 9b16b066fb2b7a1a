"""``python -m train``: train any registered model on any dataset.

    python -m train --model gated_pixelcnn --dataset digits --epochs 20
    python -m train --model nade --dataset binary_digits --preset digits --logdir runs/nade
    python -m train --list

What a run does: builds the model inside the chosen `tf.distribute`
strategy, trains with `model.fit` (Keras progress bar and one line per
epoch), backs up every ``--save-freq`` steps and at every epoch end with
`ark.callbacks.ResumableBackup` (a killed run restarted with ``--resume``
continues mid-epoch from the last backup, with the weights, optimizer state and
data position an uninterrupted run has there), stops on a non-finite loss
(`ark.callbacks.StopOnNaN`: exit status 3, naming the step and the last good
checkpoint),
early-stops on validation bits/dim (restoring the best weights), logs scalars
and a sample grid per epoch to TensorBoard (``--logdir``), then reports test
bits/dim, writes ``model.keras`` and ``samples.png``, and with ``--export``
writes a SavedModel ``EXPORT/<model>/1`` and, for small models, a TFLite file.
"""

import argparse
import json
import math
import os
import shutil
import sys
import time

__all__ = ["main", "build_parser"]


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", help="registered model name (see --list)")
    p.add_argument("--dataset", default="digits", help="dataset name (see --list)")
    p.add_argument(
        "--preset", default=None, help="model preset: tiny, digits / speech / text (default), paper, ..."
    )
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64, help="global batch size")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument(
        "--patience", type=int, default=5, help="early-stopping patience in epochs on val_bits_per_dim"
    )
    p.add_argument("--strategy", default="default", choices=("default", "mirrored", "multiworker", "tpu"))
    p.add_argument("--tpu", default=None, help="TPU address for --strategy tpu")
    p.add_argument("--logdir", default=None, help="run directory (default runs/<model>-<dataset>)")
    p.add_argument(
        "--export",
        default=None,
        help="export directory: writes EXPORT/<model>/<version> (SavedModel for TF Serving, the "
        "next integer version, with warm-up requests) and EXPORT/<model>.tflite",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a killed run from its last backup, mid-epoch (same --logdir and flags)",
    )
    # --- resume mid-epoch ---
    p.add_argument(
        "--save-freq",
        default="100",
        help="back up every N training steps (and at every epoch end), or 'epoch'; "
        "a killed run loses at most N steps (rounded up to a multiple of "
        "steps_per_execution). Default 100",
    )
    p.add_argument(
        "--conditional", action="store_true", help="build a class-conditional model from the dataset's labels"
    )
    p.add_argument("--num-samples", type=int, default=16, help="samples per grid")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="where real datasets live (AR_KERAS_DATA_DIR)")
    p.add_argument("--verbose", default="auto", help="Keras verbosity: auto, 0, 1 (bar) or 2 (line)")
    p.add_argument("--list", action="store_true", help="list models, presets and datasets")
    # --- mixed precision ---
    p.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "mixed_float16", "mixed_bfloat16"),
        help="Keras dtype policy: the network computes in float16/bfloat16 with float32 "
        "variables; heads, log-probs and the loss stay float32; mixed_float16 "
        "trains with dynamic loss scaling (Keras wraps the optimizer)",
    )
    # Training throughput: see compile_options.
    p.add_argument(
        "--steps-per-execution",
        type=int,
        default=None,
        help="training steps per compiled call (fit's steps_per_execution); 1 = Keras' "
        f"default (default {DEFAULT_STEPS_PER_EXECUTION}; 1 under --strategy multiworker)",
    )
    p.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="XLA-compile the training step (default: on for models whose "
        "supports_jit_training is True and XLA was not measured slower (XLA_SLOWER_ON_CPU), "
        "off for the others "
        "and under --strategy other than default)",
    )
    return p


#: Steps per compiled call of `fit`: see docs/training.md, "Throughput".
DEFAULT_STEPS_PER_EXECUTION = 20

#: Registry names of the models whose XLA-compiled training step compiles but was measured
#: slower than the plain one on a CPU (benchmarks/train_throughput.py): none today.
XLA_SLOWER_ON_CPU = frozenset()


def compile_options(model, args):
    """``{steps_per_execution, jit_compile}`` for ``model.compile`` from the parsed flags.

    ``--jit-compile`` unset means on for the default strategy when the model's
    ``supports_jit_training`` is True (it is False, with the reason in
    ``jit_training_note``, for models whose training step XLA cannot compile) and
    its registry name is not in `XLA_SLOWER_ON_CPU` (XLA measured slower on a CPU),
    off otherwise; ``--jit-compile`` on such a model raises a ValueError naming it.
    ``--steps-per-execution`` unset is 20, or 1 under ``--strategy multiworker``,
    where Keras 3.15's multi-step loop fails (more than 1 is refused there).
    Both settings change only speed, not the steps: `main` evens the executions out
    over an epoch (at most ``steps_per_execution``, as few executions as cover one
    pass), callbacks' ``on_train_batch_end`` sees every execution's last step
    (per-epoch callbacks are unaffected).
    """
    spe = args.steps_per_execution
    multi = args.strategy == "multiworker"
    if spe is None:
        spe = 1 if multi else DEFAULT_STEPS_PER_EXECUTION
    if spe < 1:
        raise ValueError(f"--steps-per-execution must be >= 1, got {spe}.")
    if multi and spe > 1:
        # Keras 3.15's multi-step loop asks the distributed iterator get_next_as_optional inside
        # a while loop; under MultiWorkerMirroredStrategy that graph fails ("You must feed a
        # value for placeholder tensor ... while/cond/Placeholder").
        raise ValueError(
            f"--steps-per-execution {spe} fails under --strategy multiworker with "
            "Keras 3.15 (its multi-step loop cannot read a multi-worker dataset); "
            "use --steps-per-execution 1 (the default there)."
        )
    supported = bool(getattr(model, "supports_jit_training", True))
    if args.jit_compile is None:
        # Off under tf.distribute strategies by default (Keras' own "auto" rule); TPUs compile anyway.
        pays = getattr(model, "registry_name", None) not in XLA_SLOWER_ON_CPU
        jit = supported and pays and args.strategy == "default"
    else:
        jit = bool(args.jit_compile)
    if jit and not supported:
        raise ValueError(
            f"--jit-compile: {model.name} cannot be trained under XLA "
            f"({getattr(model, 'jit_training_note', '') or 'supports_jit_training is False'}); "
            "pass --no-jit-compile."
        )
    return {"steps_per_execution": spe, "jit_compile": jit}


def execution_plan(batches_per_pass, steps_per_execution):
    """``(execution size, steps per epoch)``: the fewest executions of at most
    ``steps_per_execution`` steps that cover one pass of ``batches_per_pass``, evened out.

    Keras runs whole executions on an endless stream, so an epoch is a whole number
    of them; evening out keeps it at most ``executions - 1`` steps longer than a pass
    (21 batches, 20 per execution: 2 x 11 = 22 steps, not 2 x 20 = 40).
    """
    executions = -(-int(batches_per_pass) // int(steps_per_execution))
    size = -(-int(batches_per_pass) // executions)
    return size, executions * size


def _list(ark):
    print("models (name: presets):")
    for name in ark.models.names():
        print(f"  {name}: {', '.join(ark.models.presets(name))}")
    print("datasets:")
    for name in ark.data.names():
        i = ark.data.info(name)
        print(
            f"  {name}: shape {i.event_shape}, "
            + (f"{i.num_levels} levels" if i.num_levels else f"{i.kind} values")
            + (f", {i.num_classes} classes" if i.num_classes else "")
        )


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    import ar_keras as ark
    from train.strategy import make_strategy

    if args.list:
        _list(ark)
        return 0
    if not args.model:
        print("error: --model is required (see --list)", file=sys.stderr)
        return 2
    try:
        ark.models.model_class(args.model)
        info = ark.data.info(args.dataset)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    presets = ark.models.presets(args.model)
    # The embedded-data preset: the one named after the dataset where the model has it (a
    # model of images and sequences has digits, text and speech presets), else digits for
    # images, speech or text for sequences.
    order = ("speech", "text", "digits") if info.kind == "sequence" else ("digits", "speech", "text")
    preset = args.preset or next((p for p in (args.dataset,) + order if p in presets), presets[0])
    logdir = args.logdir or os.path.join("runs", f"{args.model}-{args.dataset}")
    # --strategy multiworker/tpu: created before any dataset op (TF requires it for the
    # multi-worker strategy).  Only the chief writes into logdir and --export; the other
    # workers run the same writes (a save reads on-read variables, a collective every worker
    # joins) into a temporary directory, and back up into logdir/backup-worker<i>.
    strategy = make_strategy(args.strategy, args.tpu)
    multi = ark.distribute.is_multi_worker(strategy)
    out_dir = ark.distribute.write_dir(logdir, strategy)
    export_dir = args.export and ark.distribute.write_dir(args.export, strategy)
    backup = os.path.join(
        logdir,
        "backup"
        if ark.distribute.is_chief(strategy)
        else f"backup-worker{ark.distribute.worker_index(strategy)}",
    )
    if os.path.exists(backup) and not args.resume:
        print(
            f"[ar_keras] {backup} holds an unfinished run; starting afresh (pass --resume to continue it)",
            flush=True,
        )
        shutil.rmtree(backup)
    os.makedirs(logdir, exist_ok=True)
    keras.utils.set_random_seed(args.seed)

    try:
        train = ark.data.load(args.dataset, "train", with_labels=args.conditional, data_dir=args.data_dir)
        valid = ark.data.load(
            args.dataset, "validation", with_labels=args.conditional, data_dir=args.data_dir
        )
        test = ark.data.load(args.dataset, "test", with_labels=args.conditional, data_dir=args.data_dir)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    try:
        overrides = ark.models.model_class(args.model).overrides_from_data(info)
    except ValueError as e:  # e.g. a continuous model on integer images
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.conditional:
        if not info.num_classes:
            print(f"error: dataset {args.dataset} has no labels for --conditional", file=sys.stderr)
            return 2
        overrides["num_classes"] = info.num_classes
    # --- mixed precision: the model's own dtype policy (Keras' dtype= argument) ---
    float32_only = ark.models.model_class(args.model).float32_only
    precision = {} if float32_only else {"dtype": args.precision}
    with strategy.scope():
        model = ark.models.get(args.model, preset=preset, **overrides, **precision)
        try:
            throughput = compile_options(model, args)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        # Under mixed_float16, Keras' compile wraps the optimizer in a LossScaleOptimizer.
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), **throughput)
    if args.precision != "float32" and float32_only:
        print(
            f"[ar_keras] {args.model} computes in float32 whatever --precision "
            "(flows, continuous densities and VAEs: BaseModel.float32_only)",
            flush=True,
        )
    print(
        f"[ar_keras] {args.model} (preset {preset}, {model.count_params():,} parameters) on "
        f"{args.dataset} {info.event_shape} with {strategy.num_replicas_in_sync} replica(s); "
        f"{throughput['steps_per_execution']} step(s) per execution, XLA "
        f"{'on' if throughput['jit_compile'] else 'off'}; logs in {logdir}",
        flush=True,
    )

    shuffle = min(10_000, (info.splits or {}).get("train") or 10_000)
    # --strategy tpu: static shapes (no partial last batch).  --strategy multiworker: every
    # worker builds the same pipeline (same seed) batched by the global batch and keeps its
    # slice of each batch (auto-shard policy DATA; ar_keras.distribute).
    drop = args.strategy == "tpu"
    shard = ark.distribute.shard_by_data if multi else (lambda d: d)
    # --- resume mid-epoch: one seeded stream, entered at the backup's step ---
    try:
        save_freq = "epoch" if args.save_freq == "epoch" else int(args.save_freq)
        if save_freq != "epoch" and save_freq < 1:
            raise ValueError
    except ValueError:
        print(
            f"error: --save-freq must be a positive number of steps or 'epoch', got {args.save_freq!r}",
            file=sys.stderr,
        )
        return 2
    state = ark.callbacks.ResumableBackup.read_state(backup) if args.resume else None
    skip = (state or {}).get("global_step") or 0
    train_ds, steps_per_epoch = ark.data.resumable_dataset(
        train,
        args.batch_size,
        seed=args.seed,
        shuffle_buffer=shuffle,
        skip_batches=skip,
        num_examples=(info.splits or {}).get("train"),
        drop_remainder=drop,
    )
    # An epoch is a whole number of executions (Keras runs full executions on a stream): the
    # fewest executions of at most --steps-per-execution steps that cover one pass, evened out,
    # so an epoch is at most (executions - 1) steps longer than a pass (21 batches with
    # --steps-per-execution 20: two executions of 11, not two of 20).
    spe, steps_per_epoch = execution_plan(steps_per_epoch, int(getattr(model, "steps_per_execution", 1) or 1))
    model.steps_per_execution = spe  # <= requested; read when fit builds its train function
    if save_freq != "epoch" and save_freq % spe:
        save_freq = -(-save_freq // spe) * spe  # backups happen at execution boundaries
        print(
            f"[ar_keras] --save-freq rounded up to {save_freq}, a multiple of steps_per_execution={spe}",
            flush=True,
        )
    if state is not None and state.get("steps_per_epoch") not in (None, steps_per_epoch):
        print(
            f"error: the backup in {backup} was taken with {state['steps_per_epoch']} steps per "
            f"epoch, this run has {steps_per_epoch}: resume with the same --batch-size, "
            "dataset and steps_per_execution (or drop --resume to start afresh)",
            file=sys.stderr,
        )
        return 2
    if state is not None:
        print(
            f"[ar_keras] resuming from {backup}: epoch {state['epoch'] + 1}, after {state['batch']} "
            f"of its {steps_per_epoch} steps (global step {skip})",
            flush=True,
        )
    train_ds = shard(train_ds.prefetch(2))
    valid_ds = shard(valid.batch(args.batch_size, drop_remainder=drop).prefetch(2))
    test_ds = shard(test.batch(args.batch_size, drop_remainder=drop))
    nan_stop = ark.callbacks.StopOnNaN(backup, stream=sys.stderr)  # prints the step + checkpoint
    sample_logger = ark.callbacks.SampleLogger(out_dir, num_samples=args.num_samples, seed=args.seed)
    callbacks = [
        ark.callbacks.ResumableBackup(backup, save_freq=save_freq),
        nan_stop,
        keras.callbacks.TensorBoard(out_dir),
        keras.callbacks.EarlyStopping(
            monitor=model.monitor, patience=args.patience, restore_best_weights=True, mode="min"
        ),
        sample_logger,
        ark.callbacks.EpochLine(args.epochs),
    ]
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
    start = time.time()
    model.fit(
        train_ds,
        validation_data=valid_ds,
        epochs=args.epochs,
        callbacks=callbacks,
        steps_per_epoch=steps_per_epoch,
        verbose=verbose,
    )
    train_seconds = time.time() - start
    if nan_stop.stopped:  # its message is on stderr; the backup holds the last finite state
        return 3

    results = model.evaluate(test_ds, return_dict=True, verbose=0)
    test_bpd = float(results["bits_per_dim"])
    png = sample_logger.write_final(os.path.join(out_dir, "samples"))
    keras_path = os.path.join(out_dir, "model.keras")
    model.save(keras_path)
    summary = {
        "model": args.model,
        "preset": preset,
        "dataset": args.dataset,
        "precision": args.precision,
        "test_bits_per_dim": test_bpd,
        "test_nll_nats": float(results["loss"]),
        "train_seconds": round(train_seconds, 1),
        "parameters": model.count_params(),
        "logdir": logdir,
        "samples_file": png,
        "keras_model": keras_path,
    }
    if args.export:
        # TF Serving layout: EXPORT/<model>/<next version>/ with warm-up records.
        summary["saved_model"] = ark.export.serving(model, export_dir, name=args.model)
        if model.supports_tflite and model.count_params() <= ark.export.TFLITE_MAX_PARAMS:
            summary["tflite"] = ark.export.tflite(model, os.path.join(export_dir, f"{args.model}.tflite"))
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump(summary, f, indent=2)
    if out_dir != logdir or export_dir != args.export:  # a non-chief worker: nothing is kept
        ark.distribute.cleanup_write_dir(out_dir, logdir)
        ark.distribute.cleanup_write_dir(export_dir, args.export)
        print(
            f"[ar_keras] worker {ark.distribute.worker_index(strategy)} done "
            f"(test bits/dim {test_bpd:.4f}); the chief wrote the outputs",
            flush=True,
        )
        return 0 if math.isfinite(test_bpd) else 1

    print(
        f"\n[ar_keras] test bits/dim: {test_bpd:.4f} "
        f"({results['loss']:.2f} nats per example; {train_seconds:.0f} s of training)"
    )
    print(f"[ar_keras] TensorBoard logs: {logdir}   (tensorboard --logdir {logdir})")
    print(f"[ar_keras] samples:          {png}")
    print(f"[ar_keras] Keras model:      {keras_path}")
    if "saved_model" in summary:
        print(f"[ar_keras] SavedModel:       {summary['saved_model']}")
    if "tflite" in summary:
        print(f"[ar_keras] TFLite:           {summary['tflite']}")
    if not math.isfinite(test_bpd):
        return 1
    return 0
