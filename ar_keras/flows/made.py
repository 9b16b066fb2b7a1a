"""`MADE`: a Keras 3 masked autoencoder that outputs autoregressive parameters.

Germain, Gregor, Murray & Larochelle, "MADE: Masked Autoencoder for
Distribution Estimation", ICML 2015.

For an input ``y in R^D`` and an ordering (input degrees ``m(d)`` in ``1..D``,
`ar_keras.layers.masking`), the network::

    h^1 = act(W^1 * M^1 y + b^1 [+ C c])        c: optional conditioning input
    h^l = act(W^l * M^l h^{l-1} + b^l)
    out = V * M^V h^L + v [+ U c]                [..., D * P] -> [..., D, P]

multiplies each kernel by a 0/1 mask *in call* (`ar_keras.layers.MaskedDense`:
``x @ (W * M)``), so that output ``d`` depends only on inputs earlier in the
ordering, ``y_{<d}``, whatever the weights.  The Jacobian ``d out_d / d y`` is
therefore strictly triangular in the ordering.

Stable log-scale parameterisation
---------------------------------
As a `tfb.MaskedAutoregressiveFlow` ``shift_and_log_scale_fn`` the layer
returns ``(shift, log_scale)`` with::

    log_scale = B * tanh(raw / B)           (B = log_scale_bound, default 5)

a *soft clamp*: smooth, ``|log_scale| < B`` (scales within ``[e^-B, e^B]``),
and ``~ raw`` for ``|raw| << B``.  Why:

* an unconstrained ``exp(raw)`` overflows in the D-step sampling loop of MAF
  (errors compound over D passes and K layers) and in the first steps of
  training, when a batch holds an outlier;
* a hard ``clip`` has zero gradient outside the interval, so a unit that
  saturates never comes back;
* a sigmoid scale (Kingma et al. 2016's gated IAF step, `ar_keras.flows.iaf`
  with ``gated=True``) caps the scale at 1, too restrictive for density
  estimation, where MAF must also *stretch* the data.

The output layer is initialised with a small variance (``output_scale``), so
``shift ~ 0`` and ``log_scale ~ 0``: every flow step starts near the
identity, and a deep stack starts near the base density.  (Not exactly zero:
a zero output kernel would stop the gradient to the hidden layers at the
first step.)

Any number of parameters per dimension: with ``params != 2`` (or
``output="params"``) the layer returns the raw ``[..., D, P]`` tensor, e.g.
the ``3C`` mixture parameters of a MADE MoG (`ar_keras.distributions.GaussianMixture`).

Example:
    >>> import tensorflow_probability as tfp
    >>> made = MADE(params=2, hidden_units=[32, 32], event_size=3)
    >>> flow = tfp.bijectors.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)
    >>> # ... or ar_keras.flows.maf(made); every weight is in `made.weights`.
    >>> shift, log_scale = made(tf.zeros([4, 3]))          # [4, 3] each
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras.layers import MaskedDense, masking

__all__ = ["MADE"]

_OUTPUTS = ("shift_and_log_scale", "params")


# Registered as "ar_keras>FlowMADE": "ar_keras>MADE" is the discrete MADE model.
@keras.saving.register_keras_serializable(package="ar_keras", name="FlowMADE")
class MADE(keras.layers.Layer):
    """Masked autoencoder returning per-dimension autoregressive parameters.

    Args:
        params: P, the parameters per dimension (2 for shift and log-scale).
        hidden_units: widths of the hidden layers (at least one).
        event_size: D; None takes it from the first input.
        ordering: ``"natural"``, ``"reversed"``, ``"random"`` (drawn from
            ``seed``) or a permutation of ``range(D)`` where ``ordering[t]`` is
            the dimension at step ``t``.
        hidden_degrees: ``"equal"`` (every degree ``1..D-1`` cycled evenly, the
            MAF code's "sequential" mode) or ``"random"`` (the MADE paper).
        activation: hidden activation.
        conditional_size: width of an optional conditioning input ``c``; it
            enters the first hidden layer and the output layer through
            unmasked dense maps (every dimension, the first included, depends
            on ``c``; the autoregressive structure in ``y`` is unchanged).
        output: ``"shift_and_log_scale"`` (needs ``params == 2``; call returns
            the pair) or ``"params"`` (call returns ``[..., D, P]``).  Default:
            the former when ``params == 2``.
        log_scale_bound: B of the soft clamp ``B tanh(raw / B)``; None returns
            the raw log-scale.
        output_scale: variance scale of the output layer's initialiser.
        seed: seeds the random ordering and random hidden degrees (masks are
            a pure function of the config: a reloaded layer has the same ones).
        kernel_initializer: initialiser of the hidden and conditioning kernels.

    Call arguments:
        inputs: ``[..., D]`` floats.
        conditional_input: ``[..., conditional_size]`` when the layer was built
            with ``conditional_size``.

    Returns:
        ``(shift, log_scale)``, each ``[..., D]``, or ``[..., D, P]``.

    Reference:
        Germain et al., "MADE: Masked Autoencoder for Distribution
        Estimation", ICML 2015; Papamakarios et al., "Masked Autoregressive
        Flow for Density Estimation", NIPS 2017.
    """

    def __init__(self, params=2, hidden_units=(64, 64), event_size=None, ordering="natural",
                 hidden_degrees="equal", activation="relu", conditional_size=None, output=None,
                 log_scale_bound=5.0, output_scale=1e-2, seed=0,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.params = int(params)
        if self.params < 1:
            raise ValueError(f"params must be >= 1, got {params}.")
        self.hidden_units = [int(h) for h in np.atleast_1d(hidden_units)]
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(f"hidden_units must be a non-empty list of positive widths, got {hidden_units!r}.")
        self.event_size = None if event_size is None else int(event_size)
        if self.event_size is not None and self.event_size < 1:
            raise ValueError(f"event_size must be >= 1, got {event_size}.")
        self.ordering_spec = ordering if isinstance(ordering, str) else [int(o) for o in ordering]
        if hidden_degrees not in ("equal", "random"):
            raise ValueError(f"hidden_degrees must be 'equal' or 'random', got {hidden_degrees!r}.")
        self.hidden_degrees = hidden_degrees
        self.activation_name = activation if isinstance(activation, str) else keras.activations.serialize(activation)
        self.activation = keras.activations.get(activation)
        self.conditional_size = None if conditional_size is None else int(conditional_size)
        if output is None:
            output = "shift_and_log_scale" if self.params == 2 else "params"
        if output not in _OUTPUTS:
            raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}.")
        if output == "shift_and_log_scale" and self.params != 2:
            raise ValueError(f"output='shift_and_log_scale' needs params=2, got params={self.params}.")
        self.output_mode = output
        self.log_scale_bound = None if log_scale_bound is None else float(log_scale_bound)
        if self.log_scale_bound is not None and self.log_scale_bound <= 0:
            raise ValueError(f"log_scale_bound must be > 0 or None, got {log_scale_bound}.")
        self.output_scale = float(output_scale)
        self.seed = int(seed)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._degrees = None
        if self.event_size is not None:
            self._make_degrees(self.event_size)

    # ---------------------------------------------------------------- masks
    def _make_degrees(self, event_size):
        self._degrees = masking.made_degrees(event_size, self.hidden_units, ordering=self.ordering_spec,
                                             seed=self.seed, hidden_degrees=self.hidden_degrees)

    @property
    def input_degrees(self):
        """``[D]`` int array: the 1-based position of each input in the ordering."""
        if self._degrees is None:
            raise ValueError("the MADE is not built yet: pass event_size= or call it once.")
        return self._degrees[0]

    @property
    def ordering(self):
        """``[D]`` int array: ``ordering[t]`` is the dimension at step ``t``."""
        return np.argsort(self.input_degrees, kind="stable")

    def masks(self):
        """The numpy masks ``[M^1, ..., M^L, M^V]``; ``M^V`` is ``[H_L, D * P]``."""
        hidden_and_out = masking.made_masks(self._degrees)
        out = np.repeat(hidden_and_out[-1], self.params, axis=1)  # [H_L, D] -> [H_L, D*P], unit d*P + p
        return hidden_and_out[:-1] + [out]

    def build(self, input_shape):
        event_size = input_shape[-1]
        if event_size is None:
            raise ValueError("MADE needs a known last dimension (the event size).")
        event_size = int(event_size)
        if self.event_size is None:
            self.event_size = event_size
            self._make_degrees(event_size)
        elif event_size != self.event_size:
            raise ValueError(f"MADE was built for event_size={self.event_size} but got inputs "
                             f"with last dimension {event_size}.")
        masks = self.masks()
        self.hidden_layers = []
        width = event_size
        for i, (units, mask) in enumerate(zip(self.hidden_units, masks[:-1])):
            layer = MaskedDense(units, kernel_mask=mask, kernel_initializer=self.kernel_initializer,
                                name=f"hidden_{i}")
            layer.build((None, width))
            self.hidden_layers.append(layer)
            width = units
        self.output_layer = MaskedDense(
            event_size * self.params, kernel_mask=masks[-1], name="output",
            kernel_initializer=keras.initializers.VarianceScaling(
                scale=self.output_scale, mode="fan_in", distribution="truncated_normal"))
        self.output_layer.build((None, width))
        if self.conditional_size is not None:
            self.conditional_layer = keras.layers.Dense(
                self.hidden_units[0], use_bias=False, kernel_initializer=self.kernel_initializer,
                name="conditional")
            self.conditional_layer.build((None, self.conditional_size))
            # The first dimension in the ordering sees no hidden unit: without a
            # direct path its parameters could not depend on c.
            self.conditional_output = keras.layers.Dense(
                event_size * self.params, use_bias=False, name="conditional_output",
                kernel_initializer=keras.initializers.VarianceScaling(
                    scale=self.output_scale, mode="fan_in", distribution="truncated_normal"))
            self.conditional_output.build((None, self.conditional_size))
        else:
            self.conditional_layer = None
            self.conditional_output = None
        self.built = True

    # ----------------------------------------------------------------- call
    def raw_params(self, inputs, conditional_input=None):
        """``[..., D]`` -> unconstrained ``[..., D, P]``."""
        if (conditional_input is None) != (self.conditional_size is None):
            if conditional_input is None:
                raise ValueError(f"{self.name} was built with conditional_size={self.conditional_size}: "
                                 "pass conditional_input=c.")
            raise ValueError(f"{self.name} has no conditioning input (conditional_size=None) but "
                             "conditional_input was given.")
        h = inputs
        for i, layer in enumerate(self.hidden_layers):
            a = layer(h)
            if i == 0 and self.conditional_layer is not None:
                a = a + self.conditional_layer(tf.cast(conditional_input, a.dtype))
            h = self.activation(a)
        out = self.output_layer(h)                                        # [..., D*P]
        if self.conditional_output is not None:
            out = out + self.conditional_output(tf.cast(conditional_input, out.dtype))
        shape = tf.concat([tf.shape(out)[:-1], [self.event_size, self.params]], 0)
        return tf.reshape(out, shape)                                     # [..., D*P] -> [..., D, P]

    def call(self, inputs, conditional_input=None):
        params = self.raw_params(inputs, conditional_input)              # [..., D, P]
        if self.output_mode == "params":
            return params
        shift, raw = params[..., 0], params[..., 1]
        if self.log_scale_bound is None:
            return shift, raw
        bound = self.log_scale_bound
        return shift, bound * tf.tanh(raw / bound)

    def compute_output_shape(self, input_shape):
        out = tuple(input_shape[:-1]) + (self.event_size or input_shape[-1],)
        if self.output_mode == "params":
            return out + (self.params,)
        return out, out

    def get_config(self):
        config = super().get_config()
        config.update({
            "params": self.params,
            "hidden_units": self.hidden_units,
            "event_size": self.event_size,
            "ordering": self.ordering_spec,
            "hidden_degrees": self.hidden_degrees,
            "activation": self.activation_name,
            "conditional_size": self.conditional_size,
            "output": self.output_mode,
            "log_scale_bound": self.log_scale_bound,
            "output_scale": self.output_scale,
            "seed": self.seed,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config
