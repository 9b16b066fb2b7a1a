"""WaveRNN's streaming step: one sample at a time as a pure function, for TFLite.

The sampler (`ar_keras.core.sampler.run`) draws a whole clip inside one graph; a
device that plays audio as it is drawn wants one step per call instead, with its
state outside the model: `stream_step` maps ``(x_{t-1}, h_{t-1}, t, noise)`` to
``(x_t, logits, h_t)`` with the same arithmetic as the cached sampler (one ``h R``
product, the coarse half, draw c, the fine half given c, draw f), so a loop over it
returns `sample`'s samples.  `stream_signatures` is what
`ar_keras.export.tflite_step` writes (Kalchbrenner et al., "Efficient Neural Audio
Synthesis", ICML 2018, sec. 3: the real-time step on a mobile CPU).

Example:
    >>> import tensorflow as tf
    >>> import ar_keras as ark
    >>> model = ark.models.get("wavernn", preset="tiny")
    >>> noise = tf.random.uniform([2, model.noise_depth])
    >>> x, coarse, fine, state = model.stream_step(tf.zeros([2], tf.int32), model.init_stream(2), 0, noise)
    >>> x.shape, state[0].shape
    (TensorShape([2]), TensorShape([2, 12]))
"""

import tensorflow as tf

from ar_keras.export import signatures

__all__ = ["WaveRNNStreaming"]


class WaveRNNStreaming:
    """Mixin of `WaveRNN`: `init_stream`, `stream_step`, `stream_signatures`, and the TFLite
    signatures traced with the GRU loop TFLite lowers."""

    def init_stream(self, batch):
        """The `stream_step` state before step 0: ``[h_{-1}] = [zeros [batch, H]]``."""
        return [tf.zeros(tf.stack([batch, self.hidden_dim]))]

    def stream_step(self, x_prev, state, index, noise, temperature=1.0, labels=None, local_t=None):
        """One generation step as a pure function (what `export.tflite_step` exports).

        Args:
            x_prev: int32 ``[n]``, the sample drawn at step ``index - 1`` (ignored at 0).
            state: ``[h_{t-1} [n, H]]`` (`init_stream` at step 0).
            index: int32 scalar t.
            noise: ``[n, Kc + Kf]`` uniforms of step t.
            temperature: scalar > 0.
            labels: int32 ``[n]`` global ids, if any.
            local_t: ``[n, E']``, row t of `upsample_features`, if any.

        Returns:
            ``(sample [n], coarse logits [n, Kc], fine logits [n, Kf] (for the drawn c),
            new state)``.
        """
        if self.subscale:
            raise ValueError(
                "stream_step is the time-ordered WaveRNN's step; a subscale model "
                "generates with sample(cache=True)."
            )
        h = state[0]
        c_prev, f_prev = self.head.split(x_prev)
        first = tf.equal(index, 0)
        zero = tf.zeros([], self.compute_dtype)
        sc = tf.where(first, zero, self._scale_coarse(c_prev))  # c_{-1} = 0
        sf = tf.where(first, zero, self._scale_fine(f_prev))
        pre = self.gru.input_projection(tf.stack([sc, sf, tf.zeros_like(sc)], -1))  # [n, 3H]
        if labels is not None:
            pre = pre + self.class_bias(labels)
        if local_t is not None:
            pre = pre + self.local_dense(local_t)
        rec = self.gru.recurrent(h)  # [n, 3H]
        half = self.hidden_dim // 2
        h_coarse = self.gru.gates(pre, rec, h)  # coarse half valid
        coarse = self._coarse_out(h_coarse[:, :half])  # [n, Kc]
        c = self.head.sample_coarse(coarse, noise, temperature)
        pre = pre + self.gru.current_coarse_projection(self._scale_coarse(c))
        h_new = self.gru.gates(pre, rec, h)  # [n, H]
        fine = self._fine_out(h_new[:, half:])  # [n, Kf]
        params = tf.concat([coarse, fine], -1)  # [n, Kc + Kf]
        f = self.head.sample_fine(params, c, noise, temperature)
        return self.head.join(c, f), coarse, fine, [h_new]

    def stream_signatures(self, num_samples=1):
        """``{name: tf.function}`` of the streaming TFLite file (`ar_keras.export.tflite_step`).

        ``step``: ``x_prev`` int32 ``[n]``, ``index`` int32 ``[]``, ``noise [n, Kc + Kf]``,
        ``temperature`` (+ ``conditional [n]``) (+ ``local [n, E']``), ``state_00 [n, H]`` ->
        ``{"sample", "coarse_logits", "fine_logits", "state_00"}``; with local
        conditioning also ``upsample``: ``features [n, T / hop, E] -> {"local": [n, T, E']}``.
        """
        if self.subscale:
            raise ValueError("a subscale WaveRNN has no single-sample streaming step.")
        state_spec = tf.TensorSpec([num_samples, self.hidden_dim], tf.float32, name="state_00")

        def step(x_prev, index, noise, temperature, labels, local, states):
            sample, coarse, fine, state = self.stream_step(
                x_prev, states, index, noise, temperature, labels, local
            )
            return {"sample": sample, "coarse_logits": coarse, "fine_logits": fine, "state_00": state[0]}

        return signatures.stream_signatures(self, num_samples, [state_spec], step)

    #: True while the TFLite signatures are traced (`DualGRU.sequence` without TensorArrays).
    _tflite_trace = False

    def tflite_signatures(self, batch_size=None, num_samples=None):
        """The base's TFLite signatures, traced with the GRU loop TFLite can lower."""
        functions = super().tflite_signatures(batch_size, num_samples)
        self._tflite_trace = True
        try:
            for fn in functions.values():
                fn.get_concrete_function()  # traced now; export reuses these traces
        finally:
            self._tflite_trace = False
        return functions
