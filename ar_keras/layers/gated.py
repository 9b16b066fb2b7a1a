"""The gated activation unit of the Gated PixelCNN and WaveNet.

``y = tanh(W_f * x + V_f^T h) * sigmoid(W_g * x + V_g^T h)``

The layer receives the convolution output ``[..., 2F]`` (filter half first,
gate half second) and an optional conditioning vector ``h [B, E]`` (a class
one-hot, an embedding or a latent vector), projected to ``2F`` and broadcast
over every position (eq. 4); or a conditioning *map* ``s [B, ..., E]`` of the
inputs' rank, aligned with them position by position, projected by the same
``V`` (a 1x1 convolution: the location-dependent bias ``V * s`` of eq. 5).
The conditioning bias depends on no pixel, so it never breaks causality.

Reference: van den Oord et al., "Conditional Image Generation with PixelCNN
Decoders", NIPS 2016, eq. (2), (4) and (5).

Example:
    >>> gate = GatedActivation()
    >>> gate(tf.zeros([2, 4, 4, 8])).shape
    TensorShape([2, 4, 4, 4])
"""

import keras
import tensorflow as tf

__all__ = ["GatedActivation"]


@keras.saving.register_keras_serializable(package="ar_keras")
class GatedActivation(keras.layers.Layer):
    """``tanh(a) * sigmoid(b)`` with ``[a, b]`` the two halves of the last axis.

    Args:
        conditional: if True, `call` takes ``conditioning`` and adds a
            learned projection of it to both halves.

    Call arguments:
        inputs: ``[B, ..., 2F]``.
        conditioning: ``[B, E]`` float (one bias for every position) or
            ``[B, ..., E]`` of the inputs' rank (a bias per position),
            required iff ``conditional``.
    """

    def __init__(self, conditional=False, **kwargs):
        super().__init__(**kwargs)
        self.conditional = bool(conditional)

    def build(self, inputs_shape, conditioning_shape=None):
        features = int(inputs_shape[-1])
        if features % 2:
            raise ValueError(f"GatedActivation needs an even feature count, got {features}.")
        self.projection = None
        if self.conditional:
            self.projection = keras.layers.Dense(
                features, use_bias=False, dtype=self.dtype_policy, name="projection"
            )
            if conditioning_shape is not None:
                self.projection.build(conditioning_shape)

    def call(self, inputs, conditioning=None):
        inputs = tf.cast(inputs, self.compute_dtype)
        if self.conditional:
            if conditioning is None:
                raise ValueError("this GatedActivation is conditional: pass conditioning=[B, E].")
            bias = self.projection(conditioning)  # [B, 2F] or [B, ..., 2F]
            rank, c_rank = len(inputs.shape), len(conditioning.shape)
            if c_rank == 2:
                # [B, 2F] -> [B, 1, ..., 1, 2F] to broadcast over positions.
                bias = tf.reshape(bias, [-1] + [1] * (rank - 2) + [bias.shape[-1]])
            elif c_rank != rank:
                raise ValueError(
                    f"conditioning must be [B, E] or a map of the inputs' rank {rank}, got rank {c_rank}."
                )
            inputs = inputs + bias
        a, b = tf.split(inputs, 2, axis=-1)
        return tf.tanh(a) * tf.sigmoid(b)

    def get_config(self):
        config = super().get_config()
        config["conditional"] = self.conditional
        return config
