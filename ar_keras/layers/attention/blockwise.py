"""Weightless blockwise attention kernels: one full pass and one cached step per pattern.

Every kernel computes, for queries ``q_i``, keys ``k_j`` and values ``v_j``::

    out_i = sum_{j in S(i)} softmax_j(q_i . k_j / sqrt(d_k)) v_j

with ``S(i)`` the pattern's set (`patterns.allowed`); a query with no allowed
key (``i = 0`` under ``strict``) gets zeros.  Scaled dot products: Vaswani et
al., "Attention Is All You Need", NIPS 2017.

**Blockwise, never ``[n, n]``.**  For the sparse patterns the sequence is
padded to ``n_p = l ceil(n / l)`` and reshaped to ``[n_p / l, l]`` (the
padding is after every real position, so causality alone keeps it out):

* window (``local_1d``, ``strided_local``): the queries of block ``b``
  against the keys of blocks ``b - 1`` and ``b``: ``n_p x 2l`` scores;
* stride (``strided_stride``): the same grid read by columns: position
  ``b l + a`` attends to ``p l + a`` for ``p <= b``: ``n_p x n_p / l`` scores;
* block (``fixed_block``): within the block, ``n_p x l`` scores;
* summary (``fixed_summary``): the last ``c`` positions of every block
  gathered into ``n_p c / l`` keys: ``n_p x n_p c / l`` scores;
* the merged ``strided`` / ``fixed`` patterns join the score sets of their
  two halves in one softmax, dropping from the second half the keys the
  first already has (``j = i`` and ``j = i - l`` for strided; the query's
  own block for fixed), so each key of the union is counted once;
* ``local_2d``: each query block ``(bh, bw)`` against its memory rectangle
  ``(fh + bh) x (bw + 2 fw)`` gathered from the grid.

With ``l ~ sqrt(n)`` the sparse patterns cost ``O(n sqrt(n))`` time and
memory.  Only ``dense`` builds ``[n, n]`` scores.

**Step.**  `step_positions` gives the ``K`` key positions of query ``t``
(``K`` fixed per pattern: ``2l``, ``l + 1 + n/l``, ``l + c n/l``, ...) and
which of them are allowed; `attend_step` gathers those ``K`` keys from a
time-major buffer ``[L, B, h, d]`` and attends: ``O(K)`` per step, not
``O(L)``.  `write` puts one position's key or value into a buffer.

Shapes: ``q [B, h, n, d_k]``, ``k [B, h, n, d_k]``, ``v [B, h, n, d_v]``;
heads ``h`` and feature sizes static; ``n`` may be dynamic except for
``local_2d`` (``n = H W``).

Example:
    >>> from ar_keras.layers.attention import blockwise, patterns
    >>> spec = patterns.make_spec("strided", block_length=4)
    >>> q = k = v = tf.random.normal([2, 1, 10, 8])
    >>> attend(q, k, v, spec).shape
    TensorShape([2, 1, 10, 8])
"""

import math

import numpy as np
import tensorflow as tf

__all__ = ["attend", "step_positions", "attend_step", "write", "masked_weights"]

_NEG = -1e30


def _dim(x, axis):
    """Static size of ``axis`` if known, else a scalar tensor."""
    size = x.shape[axis]
    return int(size) if size is not None else tf.shape(x)[axis]


def masked_weights(logits, masks):
    """One softmax over several score sets: ``logits[s] [..., K_s]``, ``masks[s]`` broadcastable.

    Returns ``(weights, rows)``: the weights of each set (shapes of
    ``logits``), summing to 1 over the allowed keys of all sets together, and
    ``rows`` ``[..., 1]`` (the masks' broadcast shape), 1.0 where the row has
    an allowed key and 0.0 where it has none.  Multiply the attention OUTPUT
    by ``rows`` (a row with no key then gives zeros; its weights are
    meaningless): cheaper than masking the weights, which are the big tensor.
    The softmax runs in float32 (weights cast back to the logits' dtype); the
    sets are joined with one concatenation and one fused softmax.
    """
    dtype = logits[0].dtype
    # A large finite fill (not -inf) keeps an empty row finite; on a row with an
    # allowed key, exp(-1e30 - max) is exactly 0.
    filled = [tf.where(m, tf.cast(x, tf.float32), _NEG) for x, m in zip(logits, masks)]
    rows = tf.reduce_any(masks[0], axis=-1, keepdims=True)
    for m in masks[1:]:
        rows = rows | tf.reduce_any(m, axis=-1, keepdims=True)
    rows = tf.cast(rows, dtype)
    if len(filled) == 1:
        return [tf.cast(tf.nn.softmax(filled[0], axis=-1), dtype)], rows
    sizes = [tf.shape(x)[-1] for x in filled]
    weights = tf.nn.softmax(tf.concat(filled, axis=-1), axis=-1)  # [..., sum K_s]
    return [tf.cast(w, dtype) for w in tf.split(weights, sizes, axis=-1)], rows


def _causal(j, i, strict):
    return j < i if strict else j <= i


def _blocks(x, l):
    """``[B, h, n, d] -> [B, h, n_p/l, l, d]`` zero-padded at the end; also ``n_b = n_p / l``."""
    n = _dim(x, 2)
    nb = (n + l - 1) // l
    x = tf.pad(x, [[0, 0], [0, 0], [0, nb * l - n], [0, 0]])  # [B, h, n_p, d]
    heads, depth = int(x.shape[1]), int(x.shape[3])
    # [B, h, n_p, d] -> [B, h, nb, l, d]
    return tf.reshape(x, [-1, heads, nb, l, depth]), nb


def _unblocks(x, n):
    """``[B, h, nb, l, d] -> [B, h, n, d]`` (drops the padding)."""
    heads, l, depth = int(x.shape[1]), int(x.shape[3]), int(x.shape[4])
    x = tf.reshape(x, [-1, heads, _dim(x, 2) * l, depth])  # [B, h, nb, l, d] -> [B, h, n_p, d]
    return x[:, :, :n]


def _dense(q, k, v, spec, dropout):
    n = _dim(q, 2)
    i = tf.range(n)[:, None]
    logits = tf.einsum("bhid,bhjd->bhij", q, k)  # [B, h, n, n]
    (w,), rows = masked_weights([logits], [_causal(tf.range(n)[None, :], i, spec.strict)])
    return tf.einsum("bhij,bhjd->bhid", dropout(w), v) * rows


# --------------------------------------------------------------- score sets
# Each returns (logits, mask, output_fn) for block-shaped queries
# ``qb [B, h, nb, l, d]``; ``output_fn(weights) -> [B, h, nb, l, d_v]``.
def _window_set(qb, kb, vb, nb, spec, stride_local):
    """Keys of the query's block and the previous block: ``[B, h, nb, l, 2l]``."""
    l = spec.block_length

    def previous_and_own(x):  # [B, h, nb, l, d] -> [B, h, nb, 2l, d]
        before = tf.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0], [0, 0]])[:, :, :-1]
        return tf.concat([before, x], axis=3)

    kw, vw = previous_and_own(kb), previous_and_own(vb)
    logits = tf.einsum("bhnqd,bhnkd->bhnqk", qb, kw)
    a = tf.range(l)[:, None]  # query offset in its block
    m = tf.range(2 * l)[None, :]  # key offset from block b - 1
    rel = _causal(m - l, a, spec.strict)  # j - (b-1) l = m; i - (b-1) l = a + l
    if stride_local:
        rel = rel & (m >= a)  # i - j <= l
    first = tf.range(nb)[:, None, None] > 0  # block 0 has no block before it
    mask = rel[None] & (first | (m >= l)[None])  # [nb, l, 2l]
    return logits, mask, lambda w: tf.einsum("bhnqk,bhnkd->bhnqd", w, vw)


def _stride_set(qb, kb, vb, nb, spec, skip_local):
    """Keys ``j = p l + a`` with the query's offset a: ``[B, h, nb(q), l(a), nb(p)]``."""
    logits = tf.einsum("bhqad,bhpad->bhqap", qb, kb)
    q = tf.range(nb)[:, None, None]
    p = tf.range(nb)[None, None, :]
    # skip_local: j = i and j = i - l are already in the window set.
    mask = (p <= q - 2) if skip_local else _causal(p, q, spec.strict)  # [nb, 1, nb]
    return logits, mask, lambda w: tf.einsum("bhqap,bhpad->bhqad", w, vb)


def _block_set(qb, kb, vb, nb, spec):
    """Keys of the query's own block: ``[B, h, nb, l, l]``."""
    l = spec.block_length
    logits = tf.einsum("bhnqd,bhnkd->bhnqk", qb, kb)
    mask = _causal(tf.range(l)[None, :], tf.range(l)[:, None], spec.strict)[None]  # [1, l, l]
    return logits, mask, lambda w: tf.einsum("bhnqk,bhnkd->bhnqd", w, vb)


def _summary_set(qb, kb, vb, nb, spec, skip_own_block):
    """The last c keys of every block: ``[B, h, nb, l, nb c]``."""
    l, c = spec.block_length, spec.num_summary
    heads = int(kb.shape[1])
    # [B, h, nb, c, d] -> [B, h, nb c, d]
    ks = tf.reshape(kb[:, :, :, l - c :], [-1, heads, nb * c, int(kb.shape[4])])
    vs = tf.reshape(vb[:, :, :, l - c :], [-1, heads, nb * c, int(vb.shape[4])])
    logits = tf.einsum("bhnqd,bhkd->bhnqk", qb, ks)
    s = tf.range(nb * c)
    p = s // c  # block of summary key s
    j = p * l + (l - c) + s % c  # its position
    b = tf.range(nb)[:, None, None]
    i = b * l + tf.range(l)[None, :, None]  # [nb, l, 1]
    mask = _causal(j[None, None, :], i, spec.strict)  # [nb, l, nb c]
    if skip_own_block:  # already in the block set
        mask = mask & (p[None, None, :] < b)
    return logits, mask, lambda w: tf.einsum("bhnqk,bhkd->bhnqd", w, vs)


def _sets_attention(q, k, v, spec, dropout, builders):
    n = _dim(q, 2)
    l = spec.block_length
    qb, nb = _blocks(q, l)
    kb, _ = _blocks(k, l)
    vb, _ = _blocks(v, l)
    sets = [build(qb, kb, vb, nb, spec) for build in builders]
    weights, rows = masked_weights([s[0] for s in sets], [s[1] for s in sets])
    out = tf.add_n([s[2](dropout(w)) for s, w in zip(sets, weights)])  # [B, h, nb, l, dv]
    return _unblocks(out * rows, n)


def _local_2d_tables(spec):
    """Static index tables of local_2d (numpy): row/column gathers, the block mask."""
    (H, W), (bh, bw), (fh, fw) = spec.grid_shape, spec.block_shape, spec.flange
    mh, mw = fh + bh, bw + 2 * fw  # memory rectangle
    rows = np.arange(H // bh)[:, None] * bh + np.arange(mh)[None, :]  # padded-grid rows
    cols = np.arange(W // bw)[:, None] * bw + np.arange(mw)[None, :]  # padded-grid cols
    # Query (qa, qb) in its block vs memory cell (a, b): the t2t raster mask.
    qa, qb = np.divmod(np.arange(bh * bw), bw)
    a, b = np.divmod(np.arange(mh * mw), mw)
    in_block = (a >= fh) & (b >= fw) & (b < fw + bw)
    order_q = qa * bw + qb
    order_m = (a - fh) * bw + (b - fw)
    before = (order_m[None, :] < order_q[:, None]) if spec.strict else (order_m[None, :] <= order_q[:, None])
    rel = (a < fh)[None, :] | ((a >= fh) & (b < fw))[None, :] | (in_block[None, :] & before)
    # Cells outside the image (the zero padding) are never attended.
    real_row = rows[:, None, :, None] - fh  # [Rb, 1, mh, 1]
    real_col = cols[None, :, None, :] - fw  # [1, Cb, 1, mw]
    inside = (real_row >= 0) & (real_col >= 0) & (real_col < W)  # [Rb, Cb, mh, mw]
    inside = inside.reshape((H // bh) * (W // bw), mh * mw)  # -> [nblk, M]
    return rows, cols, rel, inside


def _local_2d(q, k, v, spec, dropout):
    (H, W), (bh, bw), (fh, fw) = spec.grid_shape, spec.block_shape, spec.flange
    spec.check_length(q.shape[2])
    heads = int(q.shape[1])
    Rb, Cb = H // bh, W // bw
    rows, cols, rel, inside = _local_2d_tables(spec)

    def memory(x):  # [B, h, n, d] -> [B, h, nblk, M, d]
        d = int(x.shape[-1])
        x = tf.reshape(x, [-1, heads, Rb, Cb, bh, bw, d])  # [B,h,n,d] -> [B,h,Rb,Cb,bh,bw,d]
        x = tf.transpose(x, [0, 1, 2, 4, 3, 5, 6])  # -> [B,h,Rb,bh,Cb,bw,d]
        x = tf.reshape(x, [-1, heads, H, W, d])  # -> [B,h,H,W,d] (raster)
        x = tf.pad(x, [[0, 0], [0, 0], [fh, 0], [fw, fw], [0, 0]])  # [B,h,fh+H,W+2fw,d]
        x = tf.gather(x, rows, axis=2)  # [B,h,Rb,mh,W+2fw,d]
        x = tf.gather(x, cols, axis=4)  # [B,h,Rb,mh,Cb,mw,d]
        x = tf.transpose(x, [0, 1, 2, 4, 3, 5, 6])  # -> [B,h,Rb,Cb,mh,mw,d]
        # [B, h, Rb, Cb, mh, mw, d] -> [B, h, nblk, M, d]
        return tf.reshape(x, [-1, heads, Rb * Cb, rows.shape[1] * cols.shape[1], d])

    km, vm = memory(k), memory(v)
    # [B, h, n, dk] -> [B, h, nblk, bh bw, dk]
    qb = tf.reshape(q, [-1, heads, Rb * Cb, bh * bw, int(q.shape[-1])])
    logits = tf.einsum("bhnqd,bhnkd->bhnqk", qb, km)  # [B, h, nblk, bh bw, M]
    mask = tf.constant(rel[None, :, :] & inside[:, None, :])  # [nblk, bh bw, M]
    (w,), rows = masked_weights([logits], [mask])
    out = tf.einsum("bhnqk,bhnkd->bhnqd", dropout(w), vm) * rows  # [B, h, nblk, bh bw, dv]
    return tf.reshape(out, [-1, heads, H * W, int(v.shape[-1])])  # -> [B, h, n, dv]


_SETS = {
    "local_1d": [lambda *a: _window_set(*a, stride_local=False)],
    "strided_local": [lambda *a: _window_set(*a, stride_local=True)],
    "strided_stride": [lambda *a: _stride_set(*a, skip_local=False)],
    "strided": [lambda *a: _window_set(*a, stride_local=True), lambda *a: _stride_set(*a, skip_local=True)],
    "fixed_block": [_block_set],
    "fixed_summary": [lambda *a: _summary_set(*a, skip_own_block=False)],
    "fixed": [_block_set, lambda *a: _summary_set(*a, skip_own_block=True)],
}


def attend(q, k, v, spec, dropout=None):
    """Blockwise pattern attention: ``q, k [B, h, n, d_k]``, ``v [B, h, n, d_v]`` -> ``[B, h, n, d_v]``

    (each query's pattern keys only; see the module docstring).

    Args:
        spec: a `patterns.PatternSpec`.
        dropout: optional function applied to the attention weights.
    """
    dropout = dropout or (lambda w: w)
    q = q * tf.cast(1.0 / math.sqrt(int(q.shape[-1])), q.dtype)
    if spec.pattern == "dense":
        return _dense(q, k, v, spec, dropout)
    if spec.pattern == "local_2d":
        return _local_2d(q, k, v, spec, dropout)
    return _sets_attention(q, k, v, spec, dropout, _SETS[spec.pattern])


# -------------------------------------------------------------------- step
def step_positions(spec, t, length):
    """Key positions of query ``t`` (int32 ``[K]``) and whether each is allowed (bool ``[K]``).

    ``K`` depends only on the pattern and ``length`` (the buffer size L):
    dense L; local_1d 2l; strided_local l + 1; strided_stride ceil(L/l);
    strided l + 1 + max(0, ceil(L/l) - 2); fixed_block l; fixed_summary
    c ceil(L/l); fixed l + c ceil(L/l); local_2d (fh + bh)(bw + 2 fw).
    Disallowed entries may point anywhere inside ``[0, L)``.
    """
    t = tf.cast(t, tf.int32)
    strict = spec.strict
    l, c = spec.block_length, spec.num_summary
    pattern = spec.pattern

    def window(start, size):  # start .. start + size - 1
        j = start + tf.range(size)
        return j, (j >= 0) & _causal(j, t, strict)

    def stride(first):  # t - m l for m >= first
        j = t - l * tf.range(first, max(first, (length - 1) // l + 1))
        return j, (j >= 0) & _causal(j, t, strict)

    def summary(skip_own):
        s = tf.range(((length + l - 1) // l) * c)
        p = s // c
        j = p * l + (l - c) + s % c
        ok = _causal(j, t, strict)
        return j, (ok & (p < t // l)) if skip_own else ok

    if pattern == "dense":
        parts = [window(0, length)]
    elif pattern == "local_1d":
        parts = [window((t // l - 1) * l, 2 * l)]
    elif pattern == "strided_local":
        parts = [window(t - l, l + 1)]
    elif pattern == "strided_stride":
        parts = [stride(0)]
    elif pattern == "strided":
        parts = [window(t - l, l + 1), stride(2)]
    elif pattern == "fixed_block":
        parts = [window(t // l * l, l)]
    elif pattern == "fixed_summary":
        parts = [summary(False)]
    elif pattern == "fixed":
        parts = [window(t // l * l, l), summary(True)]
    else:
        parts = [_local_2d_positions(spec, t)]
    j = tf.concat([p[0] for p in parts], axis=0)
    ok = tf.concat([p[1] for p in parts], axis=0)
    return tf.clip_by_value(j, 0, length - 1), ok & (j < length)


def _local_2d_positions(spec, t):
    (_, W), (bh, bw), (fh, fw) = spec.grid_shape, spec.block_shape, spec.flange
    Cb = W // bw
    mh, mw = fh + bh, bw + 2 * fw
    _, _, rel, _ = _local_2d_tables(spec)
    block, offset = t // (bh * bw), t % (bh * bw)
    top, left = block // Cb * bh - fh, block % Cb * bw - fw  # memory rectangle origin
    row = top + tf.range(mh)[:, None] + tf.zeros([1, mw], tf.int32)  # [mh, mw]
    col = left + tf.range(mw)[None, :] + tf.zeros([mh, 1], tf.int32)  # [mh, mw]
    row, col = tf.reshape(row, [-1]), tf.reshape(col, [-1])  # [mh, mw] -> [M]
    ok = (row >= 0) & (col >= 0) & (col < W) & tf.gather(tf.constant(rel), offset)
    rc, cc = tf.maximum(row, 0), tf.clip_by_value(col, 0, W - 1)
    j = (rc // bh * Cb + cc // bw) * (bh * bw) + rc % bh * bw + cc % bw  # generation index
    return j, ok


def attend_step(q_t, keys, values, t, spec):
    """Query ``t`` vs its allowed keys: ``q_t [B, h, d_k]``, buffers ``[L, B, h, d]``.

    Returns ``[B, h, d_v]``.

    Buffer entries at positions the pattern does not allow (e.g. ``>= t``) may
    hold anything.
    """
    length = int(keys.shape[0])
    j, ok = step_positions(spec, t, length)
    kg = tf.gather(keys, j)  # [K, B, h, dk]
    vg = tf.gather(values, j)  # [K, B, h, dv]
    q_t = q_t * tf.cast(1.0 / math.sqrt(int(q_t.shape[-1])), q_t.dtype)
    logits = tf.einsum("bhd,kbhd->bhk", q_t, kg)  # [B, h, K]
    (w,), rows = masked_weights([logits], [ok])
    return tf.einsum("bhk,kbhd->bhd", w, vg) * rows


def write(buffer, value, t):
    """``buffer [L, ...]`` with row ``t`` set to ``value [...]``.

    A ``t`` outside ``[0, L)`` (e.g. -1) writes nothing.
    """
    length = int(buffer.shape[0])
    t = tf.cast(t, tf.int32)
    inside = (t >= 0) & (t < length)
    at = tf.clip_by_value(t, 0, length - 1)
    value = tf.where(inside, tf.cast(value, buffer.dtype), buffer[at])
    # One row: index [1, 1] (scalar t -> [[t]]), update [1, ...].  Inside a tf.function the
    # buffer is updated in place when nothing else holds it; eagerly TF copies it.
    return tf.tensor_scatter_nd_update(buffer, tf.reshape(at, [1, 1]), value[None])
