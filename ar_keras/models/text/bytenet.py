"""ByteNet: a dilated causal byte decoder, optionally stacked on a non-causal encoder.

Kalchbrenner, Espeholt, Simonyan, van den Oord, Graves & Kavukcuoglu, "Neural
Machine Translation in Linear Time", arXiv:1610.10099, 2016.

**Language model** (the default, the paper's "ByteNet Decoder", sec. 5):
bytes ``x [B, T]`` in ``[0, K)`` (K = 256), any T, and::

    p(x) = prod_t softmax(W_o ReLU(LN(h^L_t)))[x_t]
    h^0_t = E[x_{t-1}]   (E[x_{-1}] = 0: the decoder input is the target shifted by one)
    h^l   = h^{l-1} + F_l(h^{l-1})        ByteNetBlock l: masked dilated 1xk conv, dilation r_l

over a residual stream of 2d channels (`ar_keras.layers.ByteNetBlock`:
Residual Multiplicative Blocks, ``block_type="rmb"``, the paper's choice for
the language model, or ReLU blocks with layer norm, ``"relu"``, its choice for
translation).  Dilations ``1, 2, 4, 8, 16`` repeated (the paper: 6 sets, 30
blocks).

**Kernel taps and the receptive field.**  ``kernel_size = k`` counts the
*live* taps of each causal convolution: ``t, t - r, .., t - (k-1) r`` (the
present of the shifted input is ``x_{t-1}``).  The paper's "masked kernel of
size 3" taken literally as a centred 1x3 kernel whose future tap is masked
has 2 live taps (``kernel_size=2`` here); the default is 3 live taps.  Each
block reaches ``(k-1) r_l`` steps further back, so ``x_t`` is
predicted from the ``r`` bytes before it::

    r = 1 + (k - 1) sum_l r_l                                  (`receptive_field`)

For the paper's 30 blocks (6 x [1, 2, 4, 8, 16]) this is 1 + 2 x 186 = 373
bytes with 3 taps, 187 with 2.  The paper states 315 for its decoder, which
neither count gives (public ports disagree on the taps, see
shared/research/families.md sec. 9); the number stated here is the one the
tests measure by flipping inputs.

**Translation** (``source_levels=Ks``, sec. 3): a source ``s [B, S]`` in
``[0, Ks)`` is passed as ``conditional=s``.  The encoder embeds it, pads it
with zero columns to the unfolded length and runs non-causal (centred)
dilated blocks over it; the decoder is stacked on top, reading column t of the
encoder output at target step t.  **Dynamic unfolding** (sec. 3.2): the
target's length is estimated as::

    |t^| = ceil(a |s| + b)                         (`unfolded_length`; a = 1.2, b = 0 in the paper)

and the encoder output is ``|t^|`` columns long (cropped when ``|t^| < |s|``);
target steps ``t >= |t^|`` get no encoder input (a zero column), so the
decoder unfolds past ``|t^|`` on its own state.  With ``e = W_s enc`` the
projected columns::

    h^0_t = E[x_{t-1}] + (e_t if t < |t^| else 0)

(the paper concatenates the two; a sum after a linear map is the same
family).  ``log_prob(target, conditional=source)`` is the exact
``log p(target | source)`` for a target of any length T, and
``sample(n, conditional=source)`` draws ``|t^|`` bytes unless ``length=`` is
given.  The source of each row of a batch has the same length S: pad shorter
ones with a byte of your choice (the WMT loader yields raw bytes; batch them
with ``padded_batch``).  The encoder is not causal: encoder column p sees
source steps ``p - R_b .. p + R_a`` (`encoder_reach`: ``R_b = (k_e - 1)//2
sum r``, ``R_a = k_e//2 sum r``; ``sum r`` each way for k_e = 3).  So target
step t depends on source step j exactly when some decoder input column p with
``max(0, t-r+1) <= p <= min(t, |t^|-1)`` has ``p - R_b <= j <= p + R_a``
(tested by flipping source bytes); steps ``t >= |t^| + r - 1`` do not see the
source at all.

**The conditional spec** (translation): ``conditional`` is the source, int
``[B, S]`` in ``[0, Ks)``, any S >= 1, one row per target; in SavedModel and
TFLite signatures the input named ``source``, int32 ``[B, None]``.

**Generation.**  ``cache=False`` re-runs the network on the whole prefix at
each step (O(T) per byte).  ``cache=True`` keeps each decoder block's last
``r_l (k-1)`` bottleneck activations in a queue (`CausalConv1D.step`) and
the encoder output (computed once), O(blocks) per byte; both draw the same
noise and return identical samples.

Conditioning of the language model on a class id (``num_classes=N``, not in
the paper; every sequence model of ar_keras takes it): a learned vector
``V[c]`` added to every ``h^0_t``.

Example:
    >>> import ar_keras as ark, keras
    >>> ds = ark.data.load("text", "train")                      # int32 [256] bytes
    >>> model = ark.models.get("bytenet", preset="text")
    >>> model.compile(optimizer=keras.optimizers.Adam(3e-4))
    >>> # model.fit(ds.batch(32), epochs=5)
    >>> x = model.sample(2, length=64, seed=0)                   # [2, 64] bytes
    >>> x.shape
    TensorShape([2, 64])
    >>> text = bytes(x[0].numpy().astype("uint8")).decode("utf-8", "replace")   # noise until trained
    >>> mt = ark.models.get("bytenet", preset="tiny", source_levels=256, num_levels=256)
    >>> src = ark.data.parallel.reversal_pairs("train", length=16)[1][:2]   # [2, 16]
    >>> mt.unfolded_length(16)                                    # ceil(1.2 * 16) = 20
    20
    >>> mt.sample(2, conditional=src, seed=0).shape
    TensorShape([2, 20])
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, SequenceEvent, conditioning
from ar_keras.distributions import Categorical
from ar_keras.layers.bytenet_block import BLOCK_TYPES, ByteNetBlock
from ar_keras.models.registry import register

__all__ = ["ByteNet", "dilation_sets"]

#: ``unfolded_length`` takes ``ceil(a |s| + b - tol)``: float32 round-off never adds a step.
_UNFOLD_TOLERANCE = 1e-4


def dilation_sets(sets, per_set=5):
    """``[1, 2, 4, .., 2^(per_set-1)]`` repeated ``sets`` times (the paper: 6 sets of 1..16)."""
    return [2**i for i in range(per_set)] * sets


def shift_right(h):
    """Row t takes row t-1, row 0 takes zeros: ``[B, T, C]`` -> same shape."""
    return tf.pad(h, [[0, 0], [1, 0], [0, 0]])[:, :-1]


def _check_dilations(dilations, what):
    dilations = list(np.atleast_1d(dilations)) if dilations is not None else []
    if not dilations or any(isinstance(d, bool) or int(d) != d or d < 1 for d in dilations):
        raise ValueError(f"{what} must be a non-empty list of positive integers, got {dilations!r}.")
    return [int(d) for d in dilations]


@register("bytenet")
class ByteNet(AutoregressiveModel):
    """ByteNet decoder (byte language model), or encoder-decoder (translation).

    Args:
        num_levels: K, target symbols (256 bytes).
        hidden_dim: d, the paper's d; the residual stream has 2d channels (the paper:
            d = 512 for enwik8, 800 for translation).
        kernel_size: k, live causal taps of each decoder convolution.
        dilations: decoder dilations, e.g. ``dilation_sets(6)``.
        block_type: ``"rmb"`` (Residual Multiplicative Blocks) or ``"relu"``
            (ReLU blocks with layer norm).
        dropout: rate of the dropout before the softmax (training only; the
            paper: 0.1 on enwik8).
        num_classes: condition the language model on a class id, or None.
        source_levels: Ks, source symbols; set it for the encoder-decoder
            (translation) model, whose conditional is the source ``[B, S]``.
        encoder_dilations: the encoder's dilations (default: ``dilations``).
        encoder_kernel_size: taps of the centred encoder convolutions.
        unfold_a, unfold_b: dynamic unfolding ``|t^| = ceil(a |s| + b)``.

    Call arguments:
        inputs: ``x`` or ``(x, conditional)``; returns ``[B, 2]``
        (objective, log-likelihood), see `ar_keras.core.BaseModel`.
    """

    event_class = SequenceEvent

    def __init__(
        self,
        num_levels=256,
        hidden_dim=64,
        kernel_size=3,
        dilations=tuple(dilation_sets(1)),
        block_type="rmb",
        dropout=0.0,
        num_classes=None,
        source_levels=None,
        encoder_dilations=None,
        encoder_kernel_size=3,
        unfold_a=1.2,
        unfold_b=0.0,
        **kwargs,
    ):
        super().__init__(num_classes=num_classes, event=SequenceEvent(num_levels), **kwargs)
        checks.check_positive_int(hidden_dim, "hidden_dim")
        checks.check_positive_int(kernel_size, "kernel_size")
        checks.check_positive_int(encoder_kernel_size, "encoder_kernel_size")
        checks.check_choice(block_type, "block_type", BLOCK_TYPES)
        if isinstance(dropout, bool) or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be a rate in [0, 1), got {dropout!r}.")
        self.hidden_dim = int(hidden_dim)
        self.kernel_size = int(kernel_size)
        self.dilations = _check_dilations(dilations, "dilations")
        self.block_type = block_type
        self.dropout = float(dropout)
        self.source_levels = None
        if source_levels is not None:
            if isinstance(source_levels, bool) or int(source_levels) != source_levels or source_levels < 2:
                raise ValueError(
                    f"source_levels must be an integer >= 2 (or None for the "
                    f"language model), got {source_levels!r}."
                )
            if num_classes is not None:
                raise ValueError(
                    "num_classes conditions the language model; a translation "
                    "ByteNet (source_levels=...) is conditioned on its source."
                )
            self.source_levels = int(source_levels)
            for value, what in ((unfold_a, "unfold_a"), (unfold_b, "unfold_b")):
                if isinstance(value, bool) or not np.isfinite(float(value)):
                    raise ValueError(f"{what} must be a finite number, got {value!r}.")
            if float(unfold_a) <= 0:
                raise ValueError(f"unfold_a must be > 0 (|t^| = ceil(a |s| + b)), got {unfold_a!r}.")
        self.encoder_dilations = (
            None
            if self.source_levels is None
            else _check_dilations(
                self.dilations if encoder_dilations is None else encoder_dilations, "encoder_dilations"
            )
        )
        self.encoder_kernel_size = int(encoder_kernel_size)
        self.unfold_a = float(unfold_a)
        self.unfold_b = float(unfold_b)
        self.head = Categorical(self.num_levels)

        d, C = self.hidden_dim, 2 * self.hidden_dim
        self.embedding = keras.layers.Embedding(self.num_levels, C, name="embedding")
        self.class_embedding = (
            keras.layers.Embedding(self.num_classes, C, name="class_embedding") if self.num_classes else None
        )
        self.decoder_blocks = [
            ByteNetBlock(d, self.kernel_size, r, block_type, causal=True, name=f"decoder_{i}")
            for i, r in enumerate(self.dilations)
        ]
        self.output_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="output_norm")
        self.output_dropout = keras.layers.Dropout(self.dropout, name="output_dropout")
        self.output_logits = keras.layers.Dense(self.num_levels, name="output_logits")
        if self.source_levels is not None:
            self.source_embedding = keras.layers.Embedding(self.source_levels, C, name="source_embedding")
            self.encoder_blocks = [
                ByteNetBlock(d, self.encoder_kernel_size, r, block_type, causal=False, name=f"encoder_{i}")
                for i, r in enumerate(self.encoder_dilations)
            ]
            self.source_projection = keras.layers.Dense(C, name="source_projection")
        self.conditioning = (
            conditioning.ConditioningSpec([conditioning.SourceSequence(self.source_levels)], owner="bytenet")
            if self.translates
            else conditioning.ConditioningSpec.labels(self.num_classes, owner="bytenet")
        )
        self._finish_init()

    # ----------------------------------------------------------------- structure
    @property
    def translates(self):
        """True for the encoder-decoder (``source_levels`` set)."""
        return self.source_levels is not None

    @property
    def receptive_field(self):
        """r: ``x_t`` is predicted from ``x_{t-r} .. x_{t-1}`` (1 + (k-1) sum of dilations)."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)

    @property
    def encoder_reach(self):
        """``(behind, ahead)``: encoder column p sees source steps ``p - behind .. p + ahead``."""
        if not self.translates:
            return None
        k = self.encoder_kernel_size
        return ((k - 1) // 2 * sum(self.encoder_dilations), k // 2 * sum(self.encoder_dilations))

    def unfolded_length(self, source_length):
        """Dynamic unfolding: ``|t^| = ceil(a |s| + b)`` (at least 1); int or int32 tensor.

        Both paths compute ``a |s| + b`` in float32 (TFLite has no float64) and take the
        ceiling of it less 1e-4, so that a value landing on an integer (1.2 x 10) is not
        pushed to the next one by rounding.
        """
        tol = np.float32(_UNFOLD_TOLERANCE)
        if isinstance(source_length, (int, np.integer)):
            v = np.float32(self.unfold_a) * np.float32(source_length) + np.float32(self.unfold_b)
            return max(1, int(np.ceil(v - tol)))
        s = tf.cast(source_length, tf.float32)
        length = tf.math.ceil(self.unfold_a * s + self.unfold_b - tol)
        return tf.maximum(tf.cast(length, tf.int32), 1)

    # -------------------------------------------------------------- conditioning
    def _check_sample_args(self, num_samples, conditional, temperature, length):
        """Translation samples ``unfolded_length(S)`` steps when ``length`` is None."""
        if self.translates and length is None and conditional is not None:
            shape = (
                np.shape(conditional)
                if not isinstance(conditional, tf.Tensor)
                else conditional.shape.as_list()
            )
            if len(shape) == 2 and shape[1]:
                length = self.unfolded_length(int(shape[1]))
        return super()._check_sample_args(num_samples, conditional, temperature, length)

    # ------------------------------------------------------------------- network
    def source_columns(self, source, training=False):
        """The encoder over ``source [B, S]`` -> projected columns ``[B, |t^|, 2d]``."""
        S = tf.shape(source)[1]
        unfolded = self.unfolded_length(S)
        h = self.source_embedding(source)  # [B, S, 2d]
        # Zero columns up to |t^| (dynamic unfolding), so the centred convolutions see the
        # source's end followed by padding, as a longer source would be.
        h = tf.pad(h, [[0, 0], [0, tf.maximum(unfolded - S, 0)], [0, 0]])  # [B, max(S, |t^|), 2d]
        for block in self.encoder_blocks:
            h = block(h)  # [B, ., 2d]
        return self.source_projection(h[:, :unfolded])  # [B, |t^|, 2d]

    def _condition(self, h, labels=None, columns=None):
        """``h [B, T, 2d]`` + the class vector + the encoder columns (zero past |t^|)."""
        if self.class_embedding is not None:
            h = h + self.class_embedding(labels)[:, None, :]  # [B, 2d] -> [B, 1, 2d]
        if columns is not None:
            T = tf.shape(h)[1]
            # Zero columns past |t^|, then exactly T of them.
            columns = tf.pad(columns, [[0, 0], [0, T], [0, 0]])[:, :T]  # [B, T, 2d]
            h = h + columns
        return h

    def _output(self, h, training=False):
        h = tf.maximum(self.output_norm(h), 0.0)  # ReLU(LN(h))
        return self.output_logits(self.output_dropout(h, training=training))  # [.., K]

    def decoder_inputs(self, x, conditional=None):
        """``h^0 [B, T, 2d]``: the embedded target shifted by one (+ class / source terms)."""
        labels, source = self.conditioning.values(conditional, "labels", "source")
        columns = None if source is None else self.source_columns(source)  # [B, |t^|, 2d]
        return self._condition(shift_right(self.embedding(x)), labels, columns)

    def network(self, x, conditional=None, training=False):
        """``x [B, T]`` -> logits ``[B, T, K]``; row t sees ``x_{t-r} .. x_{t-1}``."""
        if self.translates and conditional is not None:
            with tf.control_dependencies(
                [
                    tf.debugging.assert_equal(
                        tf.shape(conditional)[0],
                        tf.shape(x)[0],
                        message="source must hold one sequence per target",
                    )
                ]
            ):
                x = tf.identity(x)
        h = self.decoder_inputs(x, conditional)  # [B, T, 2d]
        for block in self.decoder_blocks:
            h = block(h)  # [B, T, 2d]
        return self._output(h, training)

    # ----------------------------------------------------- cache (fast generation)
    def init_stream(self, batch):
        """Each decoder block's queue: zeros ``[batch, r_l (k-1), d]``."""
        return [block.init_cache(batch) for block in self.decoder_blocks]

    def stream_step(self, x_prev, state, index, labels=None, column=None):
        """One decoder step: ``x_prev [n]`` (ignored at index 0), queues, the encoder column
        ``[n, 2d]`` of this step (zeros past |t^|) -> ``(logits [n, K], new queues)``."""
        e = self.embedding(x_prev)  # [n, 2d]
        h = tf.where(index > 0, e, tf.zeros_like(e))  # E[x_{-1}] = 0
        if self.class_embedding is not None:
            h = h + self.class_embedding(labels)  # [n, 2d]
        if column is not None:
            h = h + column
        new_state = []
        for block, queue in zip(self.decoder_blocks, state):
            h, queue = block.step(h, queue)  # [n, 2d]
            new_state.append(queue)
        return self._output(h), new_state

    def init_cache(self, batch, conditional=None):
        cache = {"queues": self.init_stream(batch)}
        if self.translates:
            cache["columns"] = self.source_columns(conditional)  # [n, |t^|, 2d]
        return cache

    def step(self, x, cache, index, conditional=None):
        x_prev = self.previous_value(x, index)  # [n]
        (labels,) = self.conditioning.values(conditional, "labels")
        column = None
        if self.translates:
            columns = cache["columns"]
            unfolded = tf.shape(columns)[1]
            column = tf.gather(columns, tf.minimum(index, unfolded - 1), axis=1)  # [n, 2d]
            column = tf.where(index < unfolded, column, tf.zeros_like(column))
        logits, queues = self.stream_step(x_prev, cache["queues"], index, labels, column)
        return logits, dict(cache, queues=queues)
