"""`resumable_dataset`: a training stream that a run resumed mid-epoch re-enters where it stopped.

The order of every pass over the data is a function of the seed and the pass
alone (a stateless shuffle per block of the shuffle buffer), so a restarted
process reads the same batches as an uninterrupted run;
`ar_keras.callbacks.ResumableBackup` records the global step to skip to.

Example:
    >>> import ar_keras as ark
    >>> ds, steps = ark.data.resumable_dataset(ark.data.load("digits", "train"), 64, seed=0,
    ...                                        shuffle_buffer=10_000)
    >>> steps
    21
"""

import numpy as np
import tensorflow as tf

__all__ = ["resumable_dataset"]


def resumable_dataset(
    dataset, batch_size, seed, shuffle_buffer, skip_batches=0, num_examples=None, drop_remainder=False
):
    """The training stream a mid-epoch resume can re-enter: ``(batches, steps_per_epoch)``.

    One infinite stream of batches. Pass ``e`` over the data cuts it into
    blocks of ``shuffle_buffer`` consecutive examples, permutes each block with
    a stateless shuffle keyed by ``(seed, e, block)`` and batches the result:
    the order of every pass is a function of ``seed`` and ``e`` alone, in any
    process. (A plain ``shuffle(seed)`` reshuffles each pass from a state a
    restarted process does not have: its first pass repeats pass 0's order.
    With ``shuffle_buffer >= examples`` a pass is a uniform permutation; with a
    smaller one, examples mix within blocks rather than within a sliding window.)
    ``model.fit(batches, steps_per_epoch=steps_per_epoch)`` keeps ONE iterator
    across epochs, so batch ``g`` of the stream is global step ``g``, resumed or
    not. A resumed run passes ``skip_batches`` = the backup's ``global_step``:
    the stream starts at pass ``g // steps_per_epoch`` and drops the first
    ``g % steps_per_epoch`` batches of it (read and dropped, less than one
    pass), i.e. it starts at the first batch not yet trained on.

    ``steps_per_epoch`` is ``ceil(examples / batch_size)`` (the last batch of a
    pass is short, as with a finite dataset), or ``floor`` with
    ``drop_remainder=True`` (static batch shapes, e.g. for TPUs).

    Args:
        dataset: unbatched `tf.data.Dataset` of a finite, known or countable size.
        batch_size: global batch size.
        seed: shuffle seed (with `keras.utils.set_random_seed(seed)` for the rest).
        shuffle_buffer: shuffle buffer size.
        skip_batches: batches already trained on (``ResumableBackup.read_state``).
        num_examples: the dataset's size where its cardinality is unknown
            (else it is counted once).
        drop_remainder: drop the short last batch of every pass.

    Example:
        >>> import ar_keras as ark
        >>> train = ark.data.load("digits", split="train")
        >>> state = ark.callbacks.ResumableBackup.read_state("runs/x/backup")   # None: no backup yet
        >>> ds, steps = ark.data.resumable_dataset(
        ...     train, 64, seed=0, shuffle_buffer=10_000,
        ...     skip_batches=state["global_step"] if state else 0)
        >>> steps                                     # 1,297 digits in batches of 64 (the last short)
        21
        >>> model.fit(ds, epochs=20, steps_per_epoch=steps,  # doctest: +SKIP
        ...           callbacks=[ark.callbacks.ResumableBackup("runs/x/backup", 100)])
    """
    n = int(dataset.cardinality())
    if n == int(tf.data.INFINITE_CARDINALITY):
        raise ValueError("resumable_dataset: expected a finite dataset (one epoch), got an infinite one.")
    if n < 0 and num_examples:
        n = int(num_examples)
    elif n < 0:  # unknown size (e.g. filtered files): count once
        n = int(dataset.reduce(np.int64(0), lambda count, _: count + 1))
    if n == 0:
        raise ValueError("resumable_dataset: the training dataset is empty.")
    steps_per_epoch = n // int(batch_size) if drop_remainder else -(-n // int(batch_size))
    if steps_per_epoch == 0:
        raise ValueError(
            f"resumable_dataset: {n} examples make no full batch of {batch_size}; "
            "lower the batch size or keep the short batch (drop_remainder=False)."
        )
    first_pass, offset = divmod(int(skip_batches), steps_per_epoch)
    seed = tf.constant(int(seed), tf.int64)

    def permute(e, block_index, block):  # one block of one pass, keyed by (seed, pass, block)
        key = tf.stack([seed, e * (2**32) + block_index])
        order = tf.random.experimental.stateless_shuffle(
            tf.range(tf.shape(tf.nest.flatten(block)[0])[0]), seed=key
        )
        return tf.nest.map_structure(lambda t: tf.gather(t, order), block)

    def one_pass(e):
        blocks = dataset.batch(int(shuffle_buffer)).enumerate()  # [N, ...] -> [buffer, ...] blocks
        return (
            blocks.map(lambda i, block: permute(e, i, block))
            .unbatch()
            .batch(int(batch_size), drop_remainder=drop_remainder)
        )  # [N, ...] -> [batch, ...]

    stream = tf.data.Dataset.counter(start=first_pass, dtype=tf.int64).flat_map(one_pass)
    if offset:
        stream = stream.skip(offset)
    return stream, steps_per_epoch
