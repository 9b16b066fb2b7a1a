"""The LSTM update shared by PixelRNN's Row LSTM and Diagonal BiLSTM.

With the pre-activations ``z = [z_i, z_f, z_o, z_g]`` (four blocks of ``h``
features: the input-to-state plus the state-to-state convolutions) and the
previous cell ``c_prev`` (van den Oord, Kalchbrenner & Kavukcuoglu, ICML
2016, eq. 3)::

    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)
    g = tanh(z_g)
    c = f * c_prev + i * g
    h = o * tanh(c)

Every operation is per feature, so a feature of channel group ``g`` (R, G or
B) in ``h`` and ``c`` reads only the features of group ``g`` of each gate
block: the masked convolutions that make ``z`` keep the groups apart.

Example:
    >>> h, c = lstm_cell(tf.zeros([2, 12]), tf.zeros([2, 3]))   # h = 3 units
    >>> h.shape, c.shape
    (TensorShape([2, 3]), TensorShape([2, 3]))
"""

import tensorflow as tf

__all__ = ["lstm_cell"]


def lstm_cell(pre, c_prev):
    """``pre [..., 4h]``, ``c_prev [..., h]`` -> ``(h [..., h], c [..., h])``."""
    z_i, z_f, z_o, z_g = tf.split(pre, 4, axis=-1)                  # 4 x [..., h]
    c = tf.sigmoid(z_f) * c_prev + tf.sigmoid(z_i) * tf.tanh(z_g)
    return tf.sigmoid(z_o) * tf.tanh(c), c
