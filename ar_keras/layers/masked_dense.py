"""A dense layer whose kernel is multiplied by a binary mask in `call`.

``y = x @ (W * M) + b``.  The mask ``M [in, out]`` is either fixed at
construction (``kernel_mask=``) or passed per call (``kernel_mask`` call
argument), which is how MADE switches between its mask ensemble.  The weights
are never modified: an autoregressive property that holds by construction, not
by a constraint (docs/architecture.md, traps).

Reference: Germain et al., "MADE: Masked Autoencoder for Distribution
Estimation", ICML 2015.

Example:
    >>> from ar_keras.layers import masking
    >>> masks = masking.made_masks(masking.made_degrees(3, [8]))
    >>> layer = MaskedDense(8, kernel_mask=masks[0])
    >>> layer(tf.zeros([2, 3])).shape
    TensorShape([2, 8])
"""

import keras
import numpy as np
import tensorflow as tf

__all__ = ["MaskedDense"]


@keras.saving.register_keras_serializable(package="ar_keras")
class MaskedDense(keras.layers.Layer):
    """Dense layer with a masked kernel.

    Args:
        units: output width.
        kernel_mask: optional ``[in, out]`` 0/1 array fixed for the layer's life.
        use_bias: add a bias.
        kernel_initializer, bias_initializer: Keras initializers.

    Call arguments:
        inputs: ``[..., in]``.
        kernel_mask: optional ``[in, out]`` tensor overriding the fixed mask.
    """

    def __init__(
        self,
        units,
        kernel_mask=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kernel_mask = None if kernel_mask is None else np.asarray(kernel_mask, np.float32)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        in_dim = int(input_shape[-1])
        if self.kernel_mask is not None and self.kernel_mask.shape != (in_dim, self.units):
            raise ValueError(
                f"kernel_mask has shape {self.kernel_mask.shape}, expected {(in_dim, self.units)}."
            )
        self.kernel = self.add_weight(
            name="kernel", shape=(in_dim, self.units), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )

    def masked_kernel(self, kernel_mask=None):
        """``W * M`` for the given (or fixed) mask, in the layer's compute dtype."""
        kernel = tf.cast(self.kernel, self.compute_dtype)
        mask = self.kernel_mask if kernel_mask is None else kernel_mask
        if mask is None:
            return kernel
        return kernel * tf.cast(mask, self.compute_dtype)

    def call(self, inputs, kernel_mask=None):
        inputs = tf.cast(inputs, self.compute_dtype)
        y = tf.matmul(inputs, self.masked_kernel(kernel_mask))
        if self.bias is not None:
            y = y + tf.cast(self.bias, self.compute_dtype)
        return y

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "kernel_mask": None if self.kernel_mask is None else self.kernel_mask.tolist(),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
