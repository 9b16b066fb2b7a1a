"""WaveRNN's subscale mode: B sub-tensors, each reading the earlier ones' near future.

Kalchbrenner et al., "Efficient Neural Audio Synthesis", ICML 2018, sec. 5.  The
sequence ``x [N, T]`` is folded into ``x^(b) = x[b::B]`` (`_fold`), ordered sub-tensor
by sub-tensor (`subscale_order`); step i of sub-tensor b reads ``x^(b)_{<i}`` through
the GRU and the earlier sub-tensors at steps ``i - F .. i + F`` through a masked
linear map of the horizon windows (`_windows`, `_step_context`).  Generation runs the
sub-tensors staggered by ``F + 1`` steps (`sampling_groups`): B samples per step.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("wavernn", preset="tiny", subscale=2, horizon=1)
    >>> model.subscale_order(6).numpy().tolist()
    [0, 2, 4, 1, 3, 5]
    >>> model.sampling_groups(6).numpy().tolist()     # -(t + 1): padding, not drawn
    [[0, -2], [2, -2], [4, 1], [-5, 3], [-5, 5]]
"""

import tensorflow as tf

__all__ = ["WaveRNNSubscale"]


class WaveRNNSubscale:
    """Mixin of `WaveRNN`: the subscale order, schedule, folding and horizon context."""

    def subscale_order(self, num_elements):
        """``[T]``: the factorisation order, sub-tensor by sub-tensor ``[b, b + B, b + 2B, ...]``
        (time order without subscale)."""
        if not self.subscale:
            return tf.range(num_elements)
        L = num_elements // self.subscale
        grid = tf.reshape(tf.range(num_elements), [L, self.subscale])  # [T] -> [L, B]
        return tf.reshape(tf.transpose(grid), [-1])  # [L, B] -> [B, L] -> [T]

    def sampling_groups(self, num_elements):
        """Time order; with subscale, the staggered schedule ``[S, B]``: at step s sub-tensor b
        draws its element ``i = s - b (F + 1)``, so every sub-tensor b' < b has drawn the
        horizon ``i + F`` it reads: ``S = L + (B - 1)(F + 1)`` steps.  A sub-tensor not yet
        started or already finished lists its nearest element as padding, ``-(t + 1)``
        (`ar_keras.core.sampler.group_elements`: computed, not drawn)."""
        if not self.subscale:
            return super().sampling_groups(num_elements)
        B, F = self.subscale, self.horizon
        L = num_elements // B
        steps = L + (B - 1) * (F + 1)
        i = tf.range(steps)[:, None] - tf.range(B)[None, :] * (F + 1)  # [S, B] step of each
        t = tf.clip_by_value(i, 0, L - 1) * B + tf.range(B)[None, :]  # [S, B] time indices
        return tf.where((i >= 0) & (i < L), t, -t - 1)

    def _fold(self, v):
        """``[N, T, ...]`` -> ``[N, B, L, ...]``: sub-tensor b holds ``v[:, b::B]``."""
        B = self.subscale
        shape = tf.shape(v)
        rest = v.shape[2:]
        folded = tf.reshape(v, tf.concat([[shape[0], shape[1] // B, B], shape[2:]], 0))  # [N, L, B, ...]
        perm = [0, 2, 1] + list(range(3, 3 + len(rest)))
        return tf.transpose(folded, perm)  # -> [N, B, L, ...]

    def _unfold(self, v):
        """``[N, B, L, ...]`` -> ``[N, T, ...]`` (inverse of `_fold`)."""
        shape = tf.shape(v)
        perm = [0, 2, 1] + list(range(3, v.shape.rank))
        t = tf.transpose(v, perm)  # [N, L, B, ...]
        return tf.reshape(t, tf.concat([[shape[0], shape[1] * shape[2]], shape[3:]], 0))  # -> [N, T, ...]

    def _context_projection(self, windows):
        """``windows [N, L, B' W 2]`` -> per target sub-tensor ``[N, B, L, 3H]`` (b' < b only)."""
        masked = self._context_mask[:, :, None] * self.context[None]  # [B, B'W2, 3H]
        return tf.einsum("nlk,bkh->nblh", windows, masked)

    def _windows(self, scaled):
        """Scaled values ``[N, B, L, 2]`` -> horizon windows ``[N, L, B' (2F+1) 2]``, zero outside."""
        F = self.horizon
        L = tf.shape(scaled)[2]
        padded = tf.pad(scaled, [[0, 0], [0, 0], [F, F], [0, 0]])  # [N, B, L + 2F, 2]
        shifts = tf.stack([padded[:, :, j : j + L] for j in range(2 * F + 1)], axis=3)  # [N, B, L, W, 2]
        t = tf.transpose(shifts, [0, 2, 1, 3, 4])  # [N, L, B, W, 2]
        n = tf.shape(t)[0]
        return tf.reshape(t, tf.stack([n, L, self.subscale * (2 * F + 1) * 2]))  # -> [N, L, B W 2]

    def _subscale_network(self, x, extra):
        B, H = self.subscale, self.hidden_dim
        xs = self._fold(x)  # [N, B, L]
        N, L = tf.shape(xs)[0], tf.shape(xs)[2]
        c, f = self.head.split(xs)
        scaled = tf.stack([self._scale_coarse(c), self._scale_fine(f)], -1)  # [N, B, L, 2]
        inputs = self._inputs(tf.reshape(xs, [N * B, L]))  # [N B, L, 3]
        pre = tf.reshape(self.gru.input_projection(inputs), [N, B, L, 3 * H])  # [N B, L, 3H] -> [N, B, L, 3H]
        pre = pre + self._context_projection(self._windows(scaled))
        pre = pre + self.subtensor_bias(tf.range(B))[None, :, None, :]
        if isinstance(extra, tf.Tensor):
            if extra.shape[1] == 1:
                pre = pre + extra[:, :, None, :]  # [N, 1, 3H] -> [N, 1, 1, 3H]
            else:
                pre = pre + self._fold(extra)  # [N, T, 3H] -> [N, B, L, 3H]
        h = self.gru.sequence(tf.reshape(pre, [N * B, L, 3 * H]), tflite=self._tflite_trace)  # [N B, L, H]
        params = self._outputs(h)  # [N B, L, P]
        return self._unfold(tf.reshape(params, [N, B, L, -1]))  # -> [N, B, L, P] -> [N, T, P]

    def _step_context(self, x, i):
        """The horizon windows' context term at steps ``i [B]``: ``[n, B, 3H]`` (b' < b only)."""
        B, F = self.subscale, self.horizon
        n, L = tf.shape(x)[0], tf.shape(x)[1] // B
        j = i[:, None, None] + tf.range(-F, F + 1)[None, None, :]  # [B, 1, W]
        valid = (j >= 0) & (j < L)
        src = tf.clip_by_value(j, 0, L - 1) * B + tf.range(B)[None, :, None]  # [B, B', W]
        c, f = self.head.split(tf.gather(x, tf.reshape(src, [-1]), axis=1))  # [n, B B' W]
        win = tf.stack([self._scale_coarse(c), self._scale_fine(f)], -1)  # [n, B B' W, 2]
        win = tf.reshape(win, [n, B, B, 2 * F + 1, 2])  # -> [n, B, B', W, 2]
        win = win * tf.cast(tf.broadcast_to(valid, [B, B, 2 * F + 1]), win.dtype)[None, ..., None]
        win = tf.reshape(win, [n, B, -1])  # -> [n, B, B' W 2]
        masked = self._context_mask[:, :, None] * self.context[None]  # [B, B'W2, 3H]
        return tf.einsum("nbk,bkh->nbh", win, tf.cast(masked, win.dtype))
