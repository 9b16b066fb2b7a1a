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

`scan` runs a recurrence over the leading axis: `tf.scan` (one
`tf.while_loop` with TensorArrays), or, with ``unroll=True`` and a static
length, a Python loop.  The unrolled form exists for TFLite, whose converter
cannot lower TensorArrays whose elements have a dynamic (batch) dimension; the
layers switch to it only while their model traces its TFLite signatures.

Example:
    >>> h, c = lstm_cell(tf.zeros([2, 12]), tf.zeros([2, 3]))   # h = 3 units
    >>> h.shape, c.shape
    (TensorShape([2, 3]), TensorShape([2, 3]))
"""

import tensorflow as tf

__all__ = ["lstm_cell", "scan", "write_state"]


def lstm_cell(pre, c_prev):
    """``pre [..., 4h]``, ``c_prev [..., h]`` -> ``(h [..., h], c [..., h])``."""
    z_i, z_f, z_o, z_g = tf.split(pre, 4, axis=-1)  # 4 x [..., h]
    c = tf.sigmoid(z_f) * c_prev + tf.sigmoid(z_i) * tf.tanh(z_g)
    return tf.sigmoid(z_o) * tf.tanh(c), c


def write_state(cache, here, h, c, inputs):
    """A cached step's new cache: ``inputs`` and the pixel's state ``h, c [B, h]`` written
    where ``here [1, W, 1]`` (the pixel's column) is True in the row state ``cache["h"],
    cache["c"] [B, W, h]``."""
    return dict(
        cache,
        inputs=inputs,
        h=tf.where(here, h[:, None], cache["h"]),  # [B, W, h]
        c=tf.where(here, c[:, None], cache["c"]),
    )


def scan(fn, elems, initializer, unroll=False):
    """``tf.scan(fn, elems, initializer)``: every carry, stacked on a new leading axis.

    Args:
        fn: ``(carry, elem) -> carry`` (nested structures of tensors).
        elems: a tensor or tuple of tensors ``[T, ...]``.
        initializer: the carry before step 0.
        unroll: a Python loop over the static ``T`` instead of a `tf.while_loop`.
    """
    if not unroll:
        return tf.scan(fn, elems, initializer=initializer)
    first = tf.nest.flatten(elems)[0]
    if first.shape[0] is None:
        raise ValueError("scan(unroll=True) needs a static number of steps.")
    carry, carries = initializer, []
    for t in range(first.shape[0]):
        carry = fn(carry, tf.nest.map_structure(lambda e: e[t], elems))
        carries.append(carry)
    return tf.nest.map_structure(lambda *c: tf.stack(c), *carries)  # T x [...] -> [T, ...]
