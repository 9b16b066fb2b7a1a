"""Upsampling of a local conditioning sequence to the audio rate (WaveNet sec. 2.5).

A local conditioning sequence ``c [B, T_c, E]`` (linguistic features,
log-mel frames, ...) comes at a lower rate than the audio; each frame covers
``hop`` samples, ``T = T_c * hop``.  Two ways up:

* ``"repeat"``: ``y_{t} = c_{floor(t / hop)}`` (the paper's "simply repeat";
  no weights, ``F = E``);
* ``"transposed"``: a transposed convolution with kernel = stride = hop, the
  paper's learned upsampling ("we found this to perform slightly better")::

      y_{j hop + r} = W_r^T c_j + b_r        r = 0 .. hop-1, W_r [E, F]

  i.e. one dense layer ``E -> hop F`` per frame, reshaped to ``hop`` rows.

Either way sample ``t`` reads frame ``floor(t / hop)`` only.  The frames are
given in advance (they are not generated), so no causality is needed.

Example:
    >>> up = Upsample1D(hop=80, mode="transposed", channels=16)
    >>> up(tf.zeros([2, 5, 24])).shape                 # 5 frames of 24 -> 400 samples of 16
    TensorShape([2, 400, 16])
"""

import keras
import tensorflow as tf

from ar_keras import checks

__all__ = ["Upsample1D"]

MODES = ("repeat", "transposed")


@keras.saving.register_keras_serializable(package="ar_keras")
class Upsample1D(keras.layers.Layer):
    """``[B, T_c, E]`` frames -> ``[B, T_c * hop, F]`` samples.

    Args:
        hop: samples per frame (the upsampling factor), >= 1.
        mode: ``"repeat"`` (F = E, no weights) or ``"transposed"``.
        channels: F for ``"transposed"`` (default: E).

    Call arguments:
        inputs: ``[B, T_c, E]`` float.
    """

    def __init__(self, hop, mode="transposed", channels=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(hop, bool) or int(hop) != hop or hop < 1:
            raise ValueError(f"Upsample1D: hop must be a positive integer, got {hop!r}.")
        checks.check_choice(mode, "Upsample1D: mode", MODES)
        if mode == "repeat" and channels is not None:
            raise ValueError(
                "Upsample1D: channels is only for mode='transposed' (repeating keeps the E input channels)."
            )
        self.hop = int(hop)
        self.mode = mode
        self.channels = None if channels is None else int(channels)
        self.projection = None

    def output_channels(self, input_channels):
        if self.mode == "repeat":
            return int(input_channels)
        return self.channels or int(input_channels)

    def build(self, input_shape):
        if self.mode == "transposed":
            features = self.output_channels(input_shape[-1])
            self.projection = keras.layers.Dense(
                self.hop * features, dtype=self.dtype_policy, name="transposed_conv"
            )
            self.projection.build((None, int(input_shape[-1])))

    def call(self, inputs):
        c = tf.cast(inputs, self.compute_dtype)
        batch, frames = tf.shape(c)[0], tf.shape(c)[1]
        if self.mode == "repeat":
            return tf.repeat(c, self.hop, axis=1)  # [B, T_c * hop, E]
        y = self.projection(c)  # [B, T_c, hop F]
        features = y.shape[-1] // self.hop
        # [B, T_c, hop F] -> [B, T_c hop, F]: frame j's hop rows in order.
        return tf.reshape(y, [batch, frames * self.hop, features])

    def compute_output_shape(self, input_shape):
        frames = None if input_shape[1] is None else input_shape[1] * self.hop
        return (input_shape[0], frames, self.output_channels(input_shape[-1]))

    def get_config(self):
        config = super().get_config()
        config.update({"hop": self.hop, "mode": self.mode, "channels": self.channels})
        return config
