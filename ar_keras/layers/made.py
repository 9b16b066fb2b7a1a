"""`MADELayer`: the one masked autoencoder of ar_keras (discrete MADE and the flows).

Germain, Gregor, Murray & Larochelle, "MADE: Masked Autoencoder for
Distribution Estimation", ICML 2015.

Every input dimension ``d`` has a degree ``m(d)``, its 1-based position in an
ordering; every hidden unit a degree ``m_l(k)`` (`ar_keras.layers.masking`).
With ``W`` input units per dimension (``W = K`` for one-hot codes) and ``P``
parameters per dimension, the network::

    h^1 = act(b^1 + (W^1 * M^1) y  [+ C c])        y: [..., D * W], c: conditioning
    h^l = act(b^l + (W^l * M^l) h^{l-1})
    out = v + (V * M^V) h^L  [+ (A * M^A) y]  [+ U c]      [..., D * P] -> [..., D, P]

multiplies each kernel by a 0/1 mask *in call* (``M^l``: unit ``b`` sees
``a`` iff ``m_l(b) >= m_{l-1}(a)``; ``M^V`` and the direct ``M^A``: iff
``m(d) > m(a)``), so output ``d`` depends on ``y_{<d}`` only, whatever the
weights: ``d out_d / d y`` is strictly triangular in the ordering.

**Mask sets.**  ``num_masks = M`` sets of degrees (`masking.made_degree_sets`:
fresh hidden degrees each, *connectivity-agnostic*; with ``order_agnostic``
also a fresh input ordering, *order-agnostic*; the paper's sec. 4.2) are
precomputed as small int constants ``[M, width]``.  ``call(..., mask_index=m)``
selects row ``m`` with ``tf.gather`` (a tensor, e.g. ``iterations % M`` inside
``fit``, works) and `masking.masks_from_degrees` turns the rows into masks.
The degree rows, not the masks, are what is stored: ``M`` mask sets of the
paper's 784-8000-8000 network would take ~10 GB; their degrees take 0.5 MB.

**Flow parameters.**  With ``P = 2`` the default output is ``(shift,
log_scale)`` for `ar_keras.flows` (TFP's ``shift_and_log_scale_fn``), with the
soft clamp ``log_scale = B tanh(raw / B)`` (``B = log_scale_bound``): smooth,
``|log_scale| < B``, ``~ raw`` for ``|raw| << B``.  An unbounded ``exp(raw)``
overflows in MAF's D-step sampling loop; a hard clip has no gradient outside
its interval.  The output kernel starts with a small variance
(``output_scale``), so that a flow step starts near the identity (not exactly
zero: that would stop the gradient to the hidden layers).

**Conditioning** ``c`` (``conditional_size``) enters the first hidden layer
through an unmasked dense map and, with ``conditional_to_output``, the outputs
too (otherwise the first dimension in the ordering, which sees no hidden unit,
could not depend on ``c``).

**Name.**  The discrete MADE *model* is ``ar_keras.models.MADE``, registered
as ``"ar_keras>MADE"``; this layer is registered as ``"ar_keras>MADELayer"``
so that neither shadows the other in ``.keras`` files.
``ar_keras.flows.MADE`` is this class.

Example:
    >>> import tensorflow_probability as tfp
    >>> made = MADELayer(params=2, hidden_units=[32, 32], event_size=3)
    >>> shift, log_scale = made(tf.zeros([4, 3]))                  # [4, 3] each
    >>> flow = tfp.bijectors.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)
    >>> ensemble = MADELayer(params=5, hidden_units=[64], event_size=6, input_width=5,
    ...                      num_masks=8, order_agnostic=True, output="params")
    >>> ensemble(tf.one_hot(tf.zeros([2, 6], tf.int32), 5), mask_index=3).shape
    TensorShape([2, 6, 5])
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.layers import masking
from ar_keras.layers.masked_dense import MaskedDense

__all__ = ["MADELayer"]

_OUTPUTS = ("shift_and_log_scale", "params")


def _small_init(scale):
    return keras.initializers.VarianceScaling(scale=scale, mode="fan_in", distribution="truncated_normal")


@keras.saving.register_keras_serializable(package="ar_keras")
class MADELayer(keras.layers.Layer):
    """Masked autoencoder returning per-dimension autoregressive parameters.

    Args:
        params: P, the parameters per dimension (2 for shift and log-scale).
        hidden_units: widths of the hidden layers (at least one); an int is
            read as one layer.
        event_size: D; None takes it from the first input.
        ordering: ``"natural"``, ``"reversed"``, ``"random"`` (drawn from
            ``seed``) or a permutation of ``range(D)`` (``ordering[t]`` is the
            dimension at step ``t``); the ordering of mask set 0.
        hidden_degrees: ``"equal"`` (every degree ``1..D-1`` cycled evenly, the
            MAF code's "sequential" mode) or ``"random"`` (the MADE paper).
        activation: hidden activation.
        conditional_size: width of an optional conditioning input ``c``.
        output: ``"shift_and_log_scale"`` (needs ``params == 2``; call returns
            the pair) or ``"params"`` (``[..., D, P]``).  Default: the former
            when ``params == 2``.
        log_scale_bound: B of the soft clamp; None returns the raw log-scale.
        output_scale: variance scale of the output (and conditioning-output)
            kernels' initialiser; None uses ``kernel_initializer``.
        seed: mask set ``m`` draws its ordering and degrees from ``seed + m``
            (masks are a pure function of the config).
        kernel_initializer: initialiser of the hidden, direct and
            conditioning kernels.
        num_masks: M, the number of mask sets.
        order_agnostic: sets ``1..M-1`` draw a random input ordering.
        direct_connection: add the masked input -> output connection ``A``.
        input_width: W input units per dimension; with ``W > 1`` inputs are
            ``[..., D, W]`` (e.g. one-hot codes), else ``[..., D]``.
        conditional_to_output: ``c`` also feeds the outputs directly.

    Call arguments:
        inputs: ``[..., D]`` floats, or ``[..., D, W]`` when ``input_width > 1``.
        conditional_input: ``[..., conditional_size]`` when built with
            ``conditional_size``.
        mask_index: int or int tensor in ``[0, M)``; None means 0.

    Returns:
        ``(shift, log_scale)``, each ``[..., D]``, or ``[..., D, P]``.

    Reference:
        Germain et al., "MADE: Masked Autoencoder for Distribution
        Estimation", ICML 2015; Papamakarios et al., "Masked Autoregressive
        Flow for Density Estimation", NIPS 2017.
    """

    def __init__(
        self,
        params=2,
        hidden_units=(64, 64),
        event_size=None,
        ordering="natural",
        hidden_degrees="equal",
        activation="relu",
        conditional_size=None,
        output=None,
        log_scale_bound=5.0,
        output_scale=1e-2,
        seed=0,
        kernel_initializer="glorot_uniform",
        num_masks=1,
        order_agnostic=False,
        direct_connection=False,
        input_width=1,
        conditional_to_output=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.params = int(params)
        if self.params < 1:
            raise ValueError(f"params must be >= 1, got {params}.")
        self.hidden_units = [int(h) for h in np.atleast_1d(hidden_units)]
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(
                f"hidden_units must be a non-empty list of positive widths, got {hidden_units!r}."
            )
        self.event_size = None if event_size is None else int(event_size)
        if self.event_size is not None and self.event_size < 1:
            raise ValueError(f"event_size must be >= 1, got {event_size}.")
        self.ordering_spec = ordering if isinstance(ordering, str) else [int(o) for o in ordering]
        if hidden_degrees not in ("equal", "random"):
            raise ValueError(f"hidden_degrees must be 'equal' or 'random', got {hidden_degrees!r}.")
        self.hidden_degrees = hidden_degrees
        self.activation_name = (
            activation if isinstance(activation, str) else keras.activations.serialize(activation)
        )
        self.activation = keras.activations.get(activation)
        self.conditional_size = None if conditional_size is None else int(conditional_size)
        if output is None:
            output = "shift_and_log_scale" if self.params == 2 else "params"
        checks.check_choice(output, "output", _OUTPUTS)
        if output == "shift_and_log_scale" and self.params != 2:
            raise ValueError(f"output='shift_and_log_scale' needs params=2, got params={self.params}.")
        self.output_mode = output
        self.log_scale_bound = None if log_scale_bound is None else float(log_scale_bound)
        if self.log_scale_bound is not None and self.log_scale_bound <= 0:
            raise ValueError(f"log_scale_bound must be > 0 or None, got {log_scale_bound}.")
        self.output_scale = None if output_scale is None else float(output_scale)
        self.seed = int(seed)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.num_masks = int(num_masks)
        if self.num_masks < 1:
            raise ValueError(f"num_masks must be >= 1, got {num_masks}.")
        self.order_agnostic = bool(order_agnostic)
        self.direct_connection = bool(direct_connection)
        self.input_width = int(input_width)
        if self.input_width < 1:
            raise ValueError(f"input_width must be >= 1, got {input_width}.")
        self.conditional_to_output = bool(conditional_to_output)
        self._degree_sets = None
        if self.event_size is not None:
            self._make_degrees(self.event_size)

    # ---------------------------------------------------------------- masks
    def _make_degrees(self, event_size):
        self._degree_sets = masking.made_degree_sets(
            event_size,
            self.hidden_units,
            self.num_masks,
            ordering=self.ordering_spec,
            order_agnostic=self.order_agnostic,
            seed=self.seed,
            hidden_degrees=self.hidden_degrees,
        )
        # Unit-level rows [M, width]: input unit d*W + w and output unit d*P + p
        # carry the degree of dimension d.
        inputs = np.repeat(self._degree_sets[0], self.input_width, axis=1)
        outputs = np.repeat(self._degree_sets[0], self.params, axis=1)
        self._unit_tables = [t.astype(np.int32) for t in [inputs, *self._degree_sets[1:], outputs]]

    def degrees(self, mask_index=0):
        """Mask set ``mask_index``: ``[m_0 [D], m_1 [H_1], ..., m_L [H_L]]`` int arrays."""
        if self._degree_sets is None:
            raise ValueError("the MADE is not built yet: pass event_size= or call it once.")
        if not 0 <= int(mask_index) < self.num_masks:
            raise ValueError(f"mask_index must be in [0, {self.num_masks}), got {mask_index}.")
        return [t[int(mask_index)] for t in self._degree_sets]

    @property
    def input_degrees(self):
        """``[D]`` int array: the 1-based position of each input in the ordering (set 0)."""
        return self.degrees(0)[0]

    @property
    def ordering(self):
        """``[D]`` int array: ``ordering[t]`` is the dimension at step ``t`` (set 0)."""
        return np.argsort(self.input_degrees, kind="stable")

    def _masks_of(self, rows):
        """Unit degree rows -> ``(hidden masks, output mask, direct mask)`` (bool)."""
        *chain, out = rows
        return masking.masks_from_degrees(chain, out), masking.degree_mask(chain[0], out, strict=True)

    def masks(self, mask_index=0):
        """The numpy masks ``[M^1, ..., M^L, M^V]`` of a set; ``M^V`` is ``[H_L, D * P]``."""
        self.degrees(mask_index)
        masks, _ = self._masks_of([t[int(mask_index)] for t in self._unit_tables])
        return [m.astype(np.float32) for m in masks]

    def direct_mask(self, mask_index=0):
        """The numpy direct mask ``M^A`` ``[D * W, D * P]`` of a set."""
        self.degrees(mask_index)
        return self._masks_of([t[int(mask_index)] for t in self._unit_tables])[1].astype(np.float32)

    def mask_tensors(self, mask_index=None):
        """float32 ``(hidden masks, M^V, M^A)`` of set ``mask_index`` (an int or int tensor)."""
        m = tf.constant(0, tf.int32) if mask_index is None else tf.cast(mask_index, tf.int32)
        rows = [tf.gather(tf.constant(t), m) for t in self._unit_tables]  # [width] each
        masks, direct = self._masks_of(rows)
        return (
            [tf.cast(k, tf.float32) for k in masks[:-1]],
            tf.cast(masks[-1], tf.float32),
            tf.cast(direct, tf.float32),
        )

    # ---------------------------------------------------------------- build
    def build(self, inputs_shape, conditional_input_shape=None):
        input_shape = inputs_shape
        axis = -2 if self.input_width > 1 else -1
        if len(input_shape) < -axis or input_shape[axis] is None:
            raise ValueError(f"MADE needs inputs [..., D{', W' if axis == -2 else ''}] with a known D.")
        if self.input_width > 1 and input_shape[-1] != self.input_width:
            raise ValueError(
                f"MADE was built with input_width={self.input_width} but got inputs "
                f"with last dimension {input_shape[-1]}."
            )
        event_size = int(input_shape[axis])
        if self.event_size is None:
            self.event_size = event_size
            self._make_degrees(event_size)
        elif event_size != self.event_size:
            raise ValueError(
                f"MADE was built for event_size={self.event_size} but got inputs "
                f"with last dimension {event_size}."
            )
        in_units, out_units = event_size * self.input_width, event_size * self.params
        out_init = self.kernel_initializer if self.output_scale is None else _small_init(self.output_scale)
        policy = self.dtype_policy
        self.hidden_layers = []
        width = in_units
        for i, units in enumerate(self.hidden_units):
            layer = MaskedDense(
                units, kernel_initializer=self.kernel_initializer, dtype=policy, name=f"hidden_{i}"
            )
            layer.build((None, width))
            self.hidden_layers.append(layer)
            width = units
        self.output_layer = MaskedDense(out_units, kernel_initializer=out_init, dtype=policy, name="output")
        self.output_layer.build((None, width))
        self.direct_layer = None
        if self.direct_connection:
            self.direct_layer = MaskedDense(
                out_units,
                use_bias=False,
                name="direct",
                kernel_initializer=self.kernel_initializer,
                dtype=policy,
            )
            self.direct_layer.build((None, in_units))
        self.conditional_layer = self.conditional_output = None
        if self.conditional_size is not None:
            self.conditional_layer = keras.layers.Dense(
                self.hidden_units[0],
                use_bias=False,
                kernel_initializer=self.kernel_initializer,
                dtype=policy,
                name="conditional",
            )
            self.conditional_layer.build((None, self.conditional_size))
            if self.conditional_to_output:
                self.conditional_output = keras.layers.Dense(
                    out_units,
                    use_bias=False,
                    kernel_initializer=out_init,
                    dtype=policy,
                    name="conditional_output",
                )
                self.conditional_output.build((None, self.conditional_size))
        self.built = True

    # ----------------------------------------------------------------- call
    def raw_params(self, inputs, conditional_input=None, mask_index=None):
        """Inputs -> unconstrained ``[..., D, P]``."""
        if (conditional_input is None) != (self.conditional_size is None):
            if conditional_input is None:
                raise ValueError(
                    f"{self.name} was built with conditional_size={self.conditional_size}: "
                    "pass conditional_input=c."
                )
            raise ValueError(
                f"{self.name} has no conditioning input (conditional_size=None) but "
                "conditional_input was given."
            )
        hidden_masks, out_mask, direct_mask = self.mask_tensors(mask_index)
        y = tf.cast(inputs, self.compute_dtype)
        if self.input_width > 1:
            shape = tf.concat([tf.shape(y)[:-2], [self.event_size * self.input_width]], 0)
            y = tf.reshape(y, shape)  # [..., D, W] -> [..., D*W]
        c = None if conditional_input is None else tf.cast(conditional_input, y.dtype)
        h = y
        for i, (layer, mask) in enumerate(zip(self.hidden_layers, hidden_masks)):
            a = layer(h, kernel_mask=mask)
            if i == 0 and c is not None:
                a = a + self.conditional_layer(c)
            h = self.activation(a)
        out = self.output_layer(h, kernel_mask=out_mask)  # [..., D*P]
        if self.direct_layer is not None:
            out = out + self.direct_layer(y, kernel_mask=direct_mask)
        if self.conditional_output is not None:
            out = out + self.conditional_output(c)
        shape = tf.concat([tf.shape(out)[:-1], [self.event_size, self.params]], 0)
        return tf.reshape(out, shape)  # [..., D*P] -> [..., D, P]

    def call(self, inputs, conditional_input=None, mask_index=None):
        params = self.raw_params(inputs, conditional_input, mask_index)  # [..., D, P]
        if self.output_mode == "params":
            return params
        shift, raw = params[..., 0], params[..., 1]
        if self.log_scale_bound is None:
            return shift, raw
        bound = self.log_scale_bound
        return shift, bound * tf.tanh(raw / bound)  # the soft clamp

    def compute_output_shape(self, inputs_shape, conditional_input_shape=None):
        input_shape = inputs_shape
        lead = tuple(input_shape[:-2] if self.input_width > 1 else input_shape[:-1])
        out = lead + (self.event_size or input_shape[-1],)
        if self.output_mode == "params":
            return out + (self.params,)
        return out, out

    def get_config(self):
        config = super().get_config()
        config.update(
            {
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
                "num_masks": self.num_masks,
                "order_agnostic": self.order_agnostic,
                "direct_connection": self.direct_connection,
                "input_width": self.input_width,
                "conditional_to_output": self.conditional_to_output,
            }
        )
        return config
