"""Magnitude pruning to block sparsity with WaveRNN's cubic schedule.

Kalchbrenner et al., "Efficient Neural Audio Synthesis", ICML 2018, sec. 4.1:
a dense network is pruned *during* training.  Every ``frequency`` steps, in
each weight matrix, the blocks of smallest magnitude are masked to zero until
the matrix has the sparsity::

    z(t) = 0                                      t < t0
    z(t) = Z (1 - (1 - (t - t0) / S)^3)           t0 <= t < t0 + S
    z(t) = Z                                      t >= t0 + S

(Z the target, t0 the first pruning step, S the pruning span; the paper:
pruning starts after 1,000 steps, every 500 steps, over 200k steps.)  Blocks
are ``16 x 1`` (16 consecutive output rows of one input column: the 16 dot
products share one input) or ``4 x 4``, in the paper's orientation of a
matrix ``W [out, in]`` applied as ``W h``; Keras kernels are ``[in, out]``,
so a ``(rows, cols)`` block here is ``cols`` kernel rows by ``rows`` kernel
columns.  A block's magnitude is the mean of ``|w|`` over it; the
``floor(z * blocks)`` smallest are pruned, separately in each gate matrix
(``R_u``, ``R_r``, ``R_e`` of `ar_keras.layers.DualGRU`).

The weights are never changed: a prunable layer multiplies its kernel by a
non-trainable 0/1 mask variable in its forward pass, and `BlockSparsity`
only assigns that mask between training steps (pruned weights get zero
gradient through ``kernel * mask``).  A block once pruned stays pruned: it
counts as smaller than every live block at the next pruning step.

Example:
    >>> import ar_keras as ark
    >>> from ar_keras.pruning import BlockSparsity
    >>> model = ark.models.get("wavernn", preset="tiny")
    >>> prune = BlockSparsity(target=0.9, block=(16, 1), start=1000, span=200_000, frequency=500)
    >>> # model.fit(ds, epochs=..., callbacks=[prune])
    >>> prune.sparsity(model)                      # the measured fraction of masked weights (none yet)
    {('gru', 'u'): 0.0, ('gru', 'r'): 0.0, ('gru', 'e'): 0.0}
"""

import keras
import numpy as np

from ar_keras import distribute

__all__ = ["cubic_sparsity", "block_mask", "prunable_matrices", "BlockSparsity"]


def cubic_sparsity(step, target, start, span):
    """The paper's schedule ``z(t)`` (module docstring)."""
    if step < start:
        return 0.0
    if step >= start + span:
        return float(target)
    return float(target) * (1.0 - (1.0 - (step - start) / span) ** 3)


def block_mask(kernel, sparsity, block=(16, 1), previous=None):
    """0/1 mask of ``kernel [in, out]`` with ``floor(sparsity * blocks)`` blocks pruned.

    Args:
        kernel: array ``[in, out]`` (a Keras kernel).
        sparsity: the fraction of blocks to prune, in [0, 1].
        block: ``(rows, cols)`` of the paper's ``[out, in]`` orientation.
        previous: the current mask (blocks already pruned stay pruned).
    """
    kernel = np.asarray(kernel)
    rows, cols = block
    n_in, n_out = kernel.shape
    if n_out % rows or n_in % cols:
        raise ValueError(
            f"a {rows}x{cols} block needs a matrix of [out, in] = [{n_out}, {n_in}] "
            f"with out a multiple of {rows} and in a multiple of {cols}."
        )
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}.")
    blocks = (n_in // cols, cols, n_out // rows, rows)
    mags = np.abs(kernel).reshape(blocks).mean(axis=(1, 3))  # [in, out] -> blocks -> [in/c, out/r]
    if previous is not None:
        prev = np.asarray(previous).reshape(blocks)  # [in, out] -> [in/c, c, out/r, r]
        mags = np.where(prev.max(axis=(1, 3)) > 0, mags, -1.0)  # keep pruned blocks pruned
    count = int(np.floor(sparsity * mags.size + 1e-9))
    keep = np.ones(mags.size, np.float32)
    keep[np.argsort(mags, axis=None, kind="stable")[:count]] = 0.0
    keep = keep.reshape(mags.shape)  # [blocks] -> [in/c, out/r]
    # [in / cols, out / rows] -> [in, out]
    return np.repeat(np.repeat(keep, cols, axis=0), rows, axis=1)


def prunable_matrices(model):
    """``[(layer, gate name, column slice)]`` of every layer with `gate_matrices` and a
    ``recurrent_mask`` (e.g. `DualGRU`)."""
    found = []
    for layer in distribute.all_layers(model, include_self=False):
        if hasattr(layer, "gate_matrices") and hasattr(layer, "recurrent_mask"):
            found.extend((layer, name, cols) for name, cols in layer.gate_matrices())
    return found


class BlockSparsity(keras.callbacks.Callback):
    """Prunes every gate matrix of the model's prunable layers to the cubic schedule.

    Args:
        target: Z, the final sparsity (0.9: 90% of the blocks masked).
        block: ``(16, 1)`` or ``(4, 4)`` (any ``(rows, cols)`` dividing the matrices).
        start: t0, the first training step that prunes.
        span: S, the steps over which the sparsity rises to Z.
        frequency: prune every this many steps (and at ``start + span``).
    """

    def __init__(self, target=0.9, block=(16, 1), start=0, span=1000, frequency=100):
        super().__init__()
        if not 0.0 <= target < 1.0:
            raise ValueError(f"target sparsity must be in [0, 1), got {target}.")
        if span < 1 or frequency < 1 or start < 0:
            raise ValueError("span and frequency must be >= 1 and start >= 0.")
        self.target, self.block = float(target), tuple(int(b) for b in block)
        self.start, self.span, self.frequency = int(start), int(span), int(frequency)
        self.history = []  # (step, scheduled z)

    def on_train_begin(self, logs=None):
        if not prunable_matrices(self.model):
            raise ValueError(
                f"{self.model.name} has no prunable matrices (layers with "
                "gate_matrices and a recurrent_mask, e.g. DualGRU)."
            )

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        due = (step - self.start) % self.frequency == 0 or step == self.start + self.span
        if step >= self.start and due:
            self.prune(step)

    def prune(self, step):
        """Sets every gate matrix's mask to the schedule's sparsity at ``step``."""
        z = cubic_sparsity(step, self.target, self.start, self.span)
        for layer in {id(l): l for l, _, _ in prunable_matrices(self.model)}.values():
            kernel = layer.recurrent_kernel.numpy()
            mask = layer.recurrent_mask.numpy()
            for _, cols in layer.gate_matrices():
                mask[:, cols] = block_mask(kernel[:, cols], z, self.block, mask[:, cols])
            layer.recurrent_mask.assign(mask)
        self.history.append((step, z))
        return z

    @staticmethod
    def sparsity(model):
        """``{(layer name, gate): fraction of masked weights}``."""
        return {
            (layer.name, name): float(1.0 - layer.recurrent_mask.numpy()[:, cols].mean())
            for layer, name, cols in prunable_matrices(model)
        }
