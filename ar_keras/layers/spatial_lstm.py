"""The spatial (2-D) LSTM of RIDE: state from the pixel above and the pixel to the left.

Theis & Bethge, "Generative Image Modeling Using Spatial LSTMs", NeurIPS 2015
(after the multi-dimensional LSTM of Graves, Fernandez & Schmidhuber 2007).

At pixel ``(i, j)``, with input ``x_ij`` (in RIDE the causal neighbourhood of
the pixel, `ar_keras.layers.CausalNeighbourhood`, or the hidden states of the
layer below at the same pixel), the left state ``(h, c)_{i,j-1}`` and the upper
state ``(h, c)_{i-1,j}`` (zero outside the image)::

    y      = [x_ij ; h_{i,j-1} ; h_{i-1,j}]
    i_ij   = sigmoid(W_i y + b_i)            input gate
    fl_ij  = sigmoid(W_fl y + b_fl)          forget gate of the left cell
    fu_ij  = sigmoid(W_fu y + b_fu)          forget gate of the upper cell
    o_ij   = sigmoid(W_o y + b_o)            output gate
    g_ij   = tanh(W_g y + b_g)
    c_ij   = fl_ij * c_{i,j-1} + fu_ij * c_{i-1,j} + i_ij * g_ij
    h_ij   = tanh(o_ij * c_ij)

(``h = tanh(o * c)`` as in RIDE's own network definition, ``slstm.prototxt``,
rather than the 1-D LSTM's ``o * tanh(c)``; weights uniform in ``[-0.08,
0.08]`` as there.)  ``h_ij`` depends on the inputs at every ``(i', j')`` with
``i' <= i`` and ``j' <= j`` only: the states flow right and down.

**Full pass: a wavefront.**  Cells on one anti-diagonal ``i + j = d`` do not
depend on each other, only on diagonal ``d - 1``.  The input pre-activations
are skewed (row ``i`` shifted right by ``i``: ``[H, W] -> [H, H + W - 1]``, so
that diagonal ``d`` is column ``d``) and one loop runs over the
``H + W - 1`` diagonals (a `tf.while_loop`), each step a batched update of all
``H`` cells of the diagonal: the left neighbour of cell ``(i, d)`` of the skewed map is cell
``(i, d - 1)``, the upper one cell ``(i - 1, d - 1)``.  Cells of the skewed map
outside the image are held at zero state.  Then the states are unskewed.

**Streaming** (`init_cache` / `step`, raster order): the cache holds one row of
states ``[B, W, U]``: columns ``< j`` of row ``i`` and columns ``>= j`` of row
``i - 1``.  Pixel ``(i, j)`` reads its upper state at column ``j``, its left
state at column ``j - 1``, and writes its own at column ``j``: O(1) work and
O(W) memory per pixel.

Example:
    >>> lstm = SpatialLSTM(16)
    >>> h = lstm(tf.zeros([2, 5, 7, 12]))                 # [B, H, W, D] -> [B, H, W, 16]
    >>> cache = lstm.init_cache(2, width=7)
    >>> h00, cache = lstm.step(tf.zeros([2, 12]), cache, 0)   # pixel (0, 0): [2, 16]
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras.layers.skew import skew, unskew

__all__ = ["SpatialLSTM"]

#: Gate order in the pre-activations ``[..., 5 U]``.
GATES = ("input", "forget_left", "forget_up", "output", "cell")


@keras.saving.register_keras_serializable(package="ar_keras")
class SpatialLSTM(keras.layers.Layer):
    """RIDE's spatial LSTM over a map of per-pixel inputs.

    Args:
        units: U, hidden units (RIDE: 64).
        kernel_initializer: of the input and recurrent weights (RIDE: uniform
            in ``[-0.08, 0.08]``).

    Call arguments:
        x: ``[B, H, W, D]`` per-pixel inputs.
        bias: optional ``[B, 5 U]`` added to every pixel's pre-activations (a
            class embedding, say).

    Returns:
        ``h``: ``[B, H, W, U]``.
    """

    def __init__(self, units, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        if self.units < 1:
            raise ValueError(f"units must be >= 1, got {units!r}.")
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.RandomUniform(-0.08, 0.08)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, x_shape, bias_shape=None):
        D, U = int(x_shape[-1]), self.units
        self.kernel = self.add_weight(name="kernel", shape=(D, 5 * U), initializer=self.kernel_initializer)
        # Rows [0, U): the left state h_{i,j-1}; rows [U, 2U): the upper state h_{i-1,j}.
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(2 * U, 5 * U), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(5 * U,), initializer="zeros")
        self.built = True

    # ------------------------------------------------------------------ cell
    def _input_part(self, x, bias):
        kernel, own_bias = tf.cast(self.kernel, self.compute_dtype), tf.cast(self.bias, self.compute_dtype)
        z = tf.tensordot(tf.cast(x, self.compute_dtype), kernel, axes=[[-1], [0]]) + own_bias
        if bias is not None:
            extra = tf.cast(bias, self.compute_dtype)
            z = z + tf.reshape(
                extra,
                tf.concat([tf.shape(extra)[:1], tf.ones([z.shape.rank - 2], tf.int32), [5 * self.units]], 0),
            )  # [B, 5U] -> [B, 1.., 5U]
        return z

    def _cell(self, z, h_left, c_left, h_up, c_up):
        """Pre-activations from the input ``z [..., 5U]`` and the two neighbours -> ``(h, c)``."""
        rec = tf.concat([h_left, h_up], axis=-1)  # [..., 2U]
        z = z + tf.tensordot(rec, tf.cast(self.recurrent_kernel, self.compute_dtype), axes=[[-1], [0]])
        i, fl, fu, o, g = tf.split(z, 5, axis=-1)
        c = tf.sigmoid(fl) * c_left + tf.sigmoid(fu) * c_up + tf.sigmoid(i) * tf.tanh(g)
        h = tf.tanh(tf.sigmoid(o) * c)
        return h, c

    # ------------------------------------------------------------- full pass
    def call(self, x, bias=None):
        H, W = x.shape[1], x.shape[2]
        if H is None or W is None:
            raise ValueError(f"SpatialLSTM needs static height and width, got input shape {x.shape}.")
        U = self.units
        batch = tf.shape(x)[0]
        z = skew(self._input_part(x, bias))  # [B, H, L, 5U]
        z = tf.transpose(z, [2, 0, 1, 3])  # [B, H, L, 5U] -> [L, B, H, 5U]
        L = H + W - 1
        d = np.arange(L)[:, None] - np.arange(H)[None, :]  # [L, H]: column j of cell
        valid = tf.constant(
            ((d >= 0) & (d < W)).astype(np.float32)[:, None, :, None], self.compute_dtype
        )  # [L, 1, H, 1]
        zeros = tf.zeros(tf.stack([batch, H, U]), self.compute_dtype)

        def diagonal(d, h_prev, c_prev, hs):
            # Left neighbour: same row, previous diagonal; upper: row above, previous diagonal.
            h_up = tf.pad(h_prev, [[0, 0], [1, 0], [0, 0]])[:, :H]
            c_up = tf.pad(c_prev, [[0, 0], [1, 0], [0, 0]])[:, :H]
            h, c = self._cell(tf.gather(z, d), h_prev, c_prev, h_up, c_up)
            valid_d = tf.gather(valid, d)  # [1, H, 1]
            h, c = h * valid_d, c * valid_d
            # Written with a one-hot sum, not a TensorArray: TFLite needs static list shapes.
            at = tf.reshape(tf.one_hot(d, L, dtype=h.dtype), [L, 1, 1, 1])  # [L] -> [L, 1, 1, 1]
            return [d + 1, h, c, hs + at * h[None]]

        hs = tf.zeros(tf.stack([L, batch, H, U]), self.compute_dtype)
        _, _, _, hs = tf.while_loop(
            lambda d, *_: d < L, diagonal, [tf.constant(0), zeros, zeros, hs], maximum_iterations=L
        )  # [L, B, H, U]
        hs = tf.transpose(hs, [1, 2, 0, 3])  # [L, B, H, U] -> [B, H, L, U]
        return unskew(hs, width=W)  # [B, H, W, U]

    # ------------------------------------------------------------- streaming
    def init_cache(self, batch, width):
        """One row of states: ``{"h": [B, W, U], "c": [B, W, U]}`` (zeros: the row above row 0)."""
        zeros = tf.zeros(tf.stack([batch, int(width), self.units]), self.compute_dtype)
        return {"h": zeros, "c": zeros}

    def step(self, x, cache, j, bias=None):
        """Pixel ``(i, j)`` in raster order: ``x [B, D]`` -> ``(h_ij [B, U], cache)``."""
        j = tf.convert_to_tensor(j, tf.int32)
        rows_h, rows_c = tf.cast(cache["h"], self.compute_dtype), tf.cast(cache["c"], self.compute_dtype)
        width = rows_h.shape[1]
        z = self._input_part(x, bias)  # [B, 5U]
        has_left = tf.cast(j > 0, self.compute_dtype)
        left = tf.maximum(j - 1, 0)
        h, c = self._cell(
            z,
            tf.gather(rows_h, left, axis=1) * has_left,
            tf.gather(rows_c, left, axis=1) * has_left,
            tf.gather(rows_h, j, axis=1),
            tf.gather(rows_c, j, axis=1),
        )
        at = tf.one_hot(j, width, dtype=self.compute_dtype)[None, :, None]  # [1, W, 1]
        cache = {"h": rows_h * (1.0 - at) + h[:, None] * at, "c": rows_c * (1.0 - at) + c[:, None] * at}
        return h, cache

    def compute_output_shape(self, x_shape, bias_shape=None):
        return tuple(x_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"units": self.units, "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
        )
        return config
