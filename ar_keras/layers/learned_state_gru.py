"""A GRU with a learned initial state, run over a whole sequence or one step at a time.

The gated recurrent unit (Cho, van Merrienboer, Gulcehre, Bahdanau, Bougares,
Schwenk & Bengio, EMNLP 2014), in the "reset after" form of cuDNN and Keras:
for input ``x_t [D]`` and state ``h_{t-1} [H]``::

    [a_r, a_z, a_n] = W x_t + b                     (input projection, 3 blocks of H)
    [u_r, u_z, u_n] = U h_{t-1} + c                  (recurrent projection)
    r = sigmoid(a_r + u_r),  z = sigmoid(a_z + u_z)
    n = tanh(a_n + r * u_n)
    h_t = (1 - z) * n + z * h_{t-1}

The state before step 0 is a learned vector ``h_0 [H]`` (SampleRNN's
``learn_h0``), shared by every sequence of a batch, unless a state is given
(truncated BPTT carries the last state of one chunk into the next).

``call(x [B, N, D], state=None) -> (outputs [B, N, H], last state [B, H])``
runs the input projection over all N steps at once and the recurrence in one
`tf.scan`; ``step(x_t [B, D], state [B, H]) -> h_t`` is one step of the same
maths (`init_cache` is the learned ``h_0`` tiled), so stepping equals the full
pass.

Example:
    >>> gru = LearnedStateGRU(8)
    >>> y, h = gru(tf.zeros([2, 5, 3]))                     # [2, 5, 8], [2, 8]
    >>> h1 = gru.step(tf.zeros([2, 3]), gru.init_cache(2))  # = y[:, 0]
"""

import keras
import tensorflow as tf

from ar_keras import checks

__all__ = ["LearnedStateGRU"]


@keras.saving.register_keras_serializable(package="ar_keras")
class LearnedStateGRU(keras.layers.Layer):
    """GRU of ``units`` features with a learned initial state.

    Args:
        units: H.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = checks.check_positive_int(units, "units")

    def build(self, input_shape):
        H, D = self.units, int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(D, 3 * H), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(H, 3 * H), initializer="orthogonal"
        )
        self.bias = self.add_weight(name="bias", shape=(3 * H,), initializer="zeros")
        self.recurrent_bias = self.add_weight(name="recurrent_bias", shape=(3 * H,), initializer="zeros")
        # Not zeros: from h0 = 0, a zero first input and zero biases the first steps stay at
        # 0 and the recurrent kernel would get no gradient from a short sequence.
        self.initial_state = self.add_weight(
            name="initial_state", shape=(H,), initializer=keras.initializers.RandomNormal(stddev=0.1)
        )
        self.built = True

    def _compute(self, value):
        return tf.cast(value, self.compute_dtype)

    def init_cache(self, batch):
        """The learned ``h_0`` for ``batch`` sequences: ``[batch, H]`` (compute dtype)."""
        h0 = self._compute(self.initial_state)
        return tf.tile(h0[None], tf.stack([batch, 1]))  # [H] -> [batch, H]

    def _update(self, projected, h):
        """``projected [B, 3H]`` (= W x_t + b), ``h [B, H]`` -> ``h_t [B, H]``."""
        a_r, a_z, a_n = tf.split(projected, 3, axis=-1)  # 3 x [B, H]
        u = tf.matmul(h, self._compute(self.recurrent_kernel)) + self._compute(self.recurrent_bias)
        u_r, u_z, u_n = tf.split(u, 3, axis=-1)  # 3 x [B, H]
        r = tf.sigmoid(a_r + u_r)
        z = tf.sigmoid(a_z + u_z)
        n = tf.tanh(a_n + r * u_n)
        return (1.0 - z) * n + z * h

    def step(self, x_t, state):
        """One step: ``x_t [B, D]``, ``state [B, H]`` -> ``h_t [B, H]``."""
        x_t, state = self._compute(x_t), self._compute(state)
        return self._update(tf.matmul(x_t, self._compute(self.kernel)) + self._compute(self.bias), state)

    def call(self, x, state=None):
        """``x [B, N, D]`` -> ``(outputs [B, N, H], last state [B, H])``."""
        x = self._compute(x)
        state = self.init_cache(tf.shape(x)[0]) if state is None else self._compute(state)
        kernel, bias = self._compute(self.kernel), self._compute(self.bias)
        projected = tf.einsum("bnd,dk->bnk", x, kernel) + bias  # [B, N, 3H]
        time_major = tf.transpose(projected, [1, 0, 2])  # [B, N, 3H] -> [N, B, 3H]
        states = tf.scan(lambda h, p: self._update(p, h), time_major, initializer=state)  # [N, B, H]
        outputs = tf.transpose(states, [1, 0, 2])  # [N, B, H] -> [B, N, H]
        last = tf.cond(tf.shape(states)[0] > 0, lambda: states[-1], lambda: state)
        return outputs, last

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config
