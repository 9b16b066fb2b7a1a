"""WaveRNN's GRU: a state split into a coarse and a fine half, a masked input matrix.

Kalchbrenner et al., "Efficient Neural Audio Synthesis", ICML 2018, sec. 3.1.
With the state ``h [H] = [h^c (H/2), h^f (H/2)]`` and the scalar inputs
``x_t = [c_{t-1}, f_{t-1}, c_t]`` (each scaled to [-1, 1])::

    u_t = sigma(R_u h_{t-1} + I*_u x_t + b_u)
    r_t = sigma(R_r h_{t-1} + I*_r x_t + b_r)
    e_t = tanh(r_t o (R_e h_{t-1}) + I*_e x_t + b_e)
    h_t = u_t o h_{t-1} + (1 - u_t) o e_t
    y_c, y_f = h_t[:H/2], h_t[H/2:]

``I* = I o M``: the mask M zeroes the row of ``c_t`` in the columns of the
coarse half of every gate, so ``h^c_t`` (hence ``P(c_t)``) reads ``c_{t-1},
f_{t-1}`` and ``h_{t-1}`` only, and ``h^f_t`` also reads ``c_t``.  ``R =
[R_u, R_r, R_e]`` is one ``[H, 3H]`` matrix (one matrix-vector product a
step); extra per-step terms (conditioning) are added to ``I* x_t`` by the
caller (`input_projection` + extra = the layer's ``pre`` input).

Sparsity: the recurrent kernel is used as ``R o P`` with ``P`` a
non-trainable 0/1 mask (`recurrent_mask`, all ones at first) that
`ar_keras.pruning.BlockSparsity` sets between training steps; the weights
themselves are never changed in `call`.

Two-stage step (sampling): ``rec = h_{t-1} (R o P)`` is computed once;
``gates(pre_without_c_t, rec, h)`` gives the coarse half, c_t is drawn,
``gates(pre_with_c_t, rec, h)`` gives the fine half (its coarse half is the
same, by the mask).

Example:
    >>> gru = DualGRU(16)
    >>> pre = gru.input_projection(tf.zeros([2, 5, 3]))         # [B, T, 3H]
    >>> gru.sequence(pre).shape                                 # [B, T, H]
    TensorShape([2, 5, 16])
"""

import keras
import numpy as np
import tensorflow as tf

__all__ = ["DualGRU", "input_mask"]

#: Index of c_t among the inputs [c_{t-1}, f_{t-1}, c_t].
CURRENT_COARSE = 2


def input_mask(units, num_inputs=3):
    """The 0/1 mask ``[num_inputs, 3H]`` of the input matrix: input c_t (row 2) sees no coarse
    column of any gate."""
    mask = np.ones([num_inputs, 3 * units], np.float32)
    half = units // 2
    for gate in range(3):
        mask[CURRENT_COARSE, gate * units : gate * units + half] = 0.0
    return mask


@keras.saving.register_keras_serializable(package="ar_keras")
class DualGRU(keras.layers.Layer):
    """The GRU of WaveRNN (module docstring).

    Args:
        units: H, even (the coarse and fine halves are H/2 each).
        num_inputs: scalar inputs per step (3: ``c_{t-1}, f_{t-1}, c_t``).
    """

    def __init__(self, units, num_inputs=3, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or int(units) != units or units < 2 or units % 2:
            raise ValueError(f"units must be an even integer >= 2 (coarse and fine halves), got {units!r}.")
        self.units = int(units)
        self.num_inputs = int(num_inputs)
        H = self.units
        self.input_kernel = self.add_weight(
            name="input_kernel", shape=(self.num_inputs, 3 * H), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(3 * H,), initializer="zeros")
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(H, 3 * H), initializer="orthogonal"
        )
        self.recurrent_mask = self.add_weight(
            name="recurrent_mask", shape=(H, 3 * H), initializer="ones", trainable=False
        )
        self.input_mask = tf.constant(input_mask(H, self.num_inputs))
        self.built = True

    # ------------------------------------------------------------------- parts
    def _compute(self, value):
        return tf.cast(value, self.compute_dtype)

    def masked_input_kernel(self):
        """``I o M`` ``[3, 3H]`` in the compute dtype."""
        return self._compute(self.input_kernel) * self._compute(self.input_mask)

    def masked_recurrent_kernel(self):
        """``R o P`` ``[H, 3H]`` in the compute dtype."""
        return self._compute(self.recurrent_kernel) * self._compute(self.recurrent_mask)

    def gate_matrices(self):
        """``[(name, column slice)]`` of the three gate matrices in the recurrent kernel."""
        H = self.units
        return [(g, slice(i * H, (i + 1) * H)) for i, g in enumerate(("u", "r", "e"))]

    def input_projection(self, inputs):
        """``[..., 3]`` scaled inputs -> ``I* x + b`` ``[..., 3H]``."""
        return tf.matmul(self._compute(inputs), self.masked_input_kernel()) + self._compute(self.bias)

    def current_coarse_projection(self, c_scaled):
        """The c_t term alone: ``[...]`` -> ``[..., 3H]`` (zero in the coarse columns)."""
        return self._compute(c_scaled)[..., None] * self.masked_input_kernel()[CURRENT_COARSE]

    def recurrent(self, h):
        return tf.matmul(self._compute(h), self.masked_recurrent_kernel())  # [n, 3H]

    def gates(self, pre, rec, h):
        """``h_t`` from ``pre = I* x_t + b (+ extra)`` and ``rec = h_{t-1} R``: ``[n, H]``."""
        H = self.units
        pre, rec, h = self._compute(pre), self._compute(rec), self._compute(h)
        u = tf.sigmoid(rec[:, :H] + pre[:, :H])
        r = tf.sigmoid(rec[:, H : 2 * H] + pre[:, H : 2 * H])
        e = tf.tanh(r * rec[:, 2 * H :] + pre[:, 2 * H :])
        return u * h + (1.0 - u) * e

    def step(self, pre, h):
        """One step: ``pre [n, 3H]``, ``h_{t-1} [n, H]`` -> ``h_t``."""
        return self.gates(pre, self.recurrent(h), h)

    def sequence(self, pre, initial_state=None, tflite=False):
        """``pre [B, T, 3H]`` -> every state ``[B, T, H]`` (h_{-1} = 0 unless given).

        ``tflite=True`` writes the states into a buffer instead of a TensorArray (TFLite
        cannot lower TensorArrays of a dynamic batch); O(T) per step, for exports only.
        """
        pre = self._compute(pre)
        batch = tf.shape(pre)[0]
        h0 = tf.zeros(tf.stack([batch, self.units]), pre.dtype) if initial_state is None else initial_state
        h0 = self._compute(h0)
        kernel = self.masked_recurrent_kernel()
        steps = tf.transpose(pre, [1, 0, 2])  # [B, T, 3H] -> [T, B, 3H]
        if not tflite:
            states = tf.scan(lambda h, p: self.gates(p, tf.matmul(h, kernel), h), steps, h0)
            return tf.transpose(states, [1, 0, 2])  # [T, B, H] -> [B, T, H]
        length = tf.shape(steps)[0]

        def body(t, h, out):
            h = self.gates(tf.gather(steps, t), tf.matmul(h, kernel), h)
            return [t + 1, h, tf.tensor_scatter_nd_update(out, [[t]], h[None])]

        out = tf.zeros(tf.stack([length, batch, self.units]), pre.dtype)
        _, _, states = tf.while_loop(lambda t, *_: t < length, body, [tf.constant(0), h0, out])
        return tf.transpose(states, [1, 0, 2])  # [T, B, H] -> [B, T, H]

    def call(self, pre, initial_state=None):
        return self.sequence(pre, initial_state)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, num_inputs=self.num_inputs)
        return config
