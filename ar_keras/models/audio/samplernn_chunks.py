"""SampleRNN in chunks: scoring and truncated backpropagation through time.

Mehri et al., "SampleRNN: An Unconditional End-to-End Neural Audio Generation
Model", ICLR 2017, sec. 2.3: long clips are trained in chunks, the tiers' GRU
states carried from one chunk to the next with their gradients stopped and reset
per clip.  `chunked_conditional_log_probs` scores chunk by chunk and equals one
pass over the clip; `fit_tbptt` trains that way.

Example:
    >>> import numpy as np
    >>> import ar_keras as ark
    >>> model = ark.models.get("samplernn", preset="tiny")
    >>> x = np.zeros([2, 2 * model.top_frame], np.int32)
    >>> model.chunked_conditional_log_probs(x, chunk_length=model.top_frame).shape
    TensorShape([2, 8])
"""

import math

import numpy as np
import tensorflow as tf

from ar_keras import checks

__all__ = ["ChunkedTraining"]


class ChunkedTraining:
    """Mixin of `SampleRNN`: chunked scoring and `fit_tbptt`."""

    def _check_chunk_length(self, length, what="chunk_length"):
        length = checks.check_positive_int(length, what)
        if length % self.top_frame:
            problem = "shorter than" if length < self.top_frame else "not a multiple of"
            raise ValueError(
                f"{what} = {length} is {problem} the top frame: it must be a "
                f"multiple of {self.top_frame} samples (frame_sizes "
                f"{self.frame_sizes})."
            )
        return length

    def chunked_conditional_log_probs(self, x, chunk_length, conditional=None):
        """``log p(x_t | x_<t)`` ``[B, T]`` scored chunk by chunk, the state carried.

        Equals `conditional_log_probs` (the chunks see exactly what one pass
        sees).  ``chunk_length`` must be a multiple of the top frame (a chunk
        shorter than the top frame -> ValueError); the last chunk may be short.
        """
        L = self._check_chunk_length(chunk_length)
        x, c = self._check(x, conditional)
        T = int(x.shape[1]) if x.shape[1] is not None else int(tf.shape(x)[1])
        state = self.init_state(tf.shape(x)[0])
        out = []
        for start in range(0, T, L):
            chunk = x[:, start : start + L]
            n = int(chunk.shape[1])
            full = -(-n // self.top_frame) * self.top_frame
            chunk = tf.pad(chunk, [[0, 0], [0, full - n]])  # [B, n] -> [B, full]
            logits, state = self.forward_chunk(chunk, state, c)
            out.append(self.head.log_prob(logits[:, :n], x[:, start : start + n]))  # [B, n]
        return tf.concat(out, axis=1)  # -> [B, T]

    def fit_tbptt(
        self, clips, chunk_length, epochs=1, batch_size=8, labels=None, shuffle=True, seed=0, verbose=0
    ):
        """Truncated BPTT: every batch of clips is cut into chunks of ``chunk_length``.

        Each chunk takes one step of the compiled optimiser on its mean NLL;
        the GRU states and the last ``F_1`` samples pass to the next chunk
        with their gradients stopped, and reset to ``h0`` / pad for each new
        batch of clips (the paper's "reset per file").

        Args:
            clips: int ``[N, T]`` levels, T a multiple of ``chunk_length``.
            chunk_length: samples per chunk, a multiple of the top frame.
            labels: int ``[N]`` (with ``num_classes``).

        Returns:
            ``{"bits_per_dim": [per epoch]}``: the mean bits per sample of the
            chunks seen.
        """
        L = self._check_chunk_length(chunk_length)
        if getattr(self, "optimizer", None) is None:
            raise ValueError("fit_tbptt needs an optimizer: call model.compile(optimizer=...) first.")
        clips, c = self._check(np.asarray(clips), labels)
        clips = clips.numpy()
        c = None if c is None else c.numpy()
        N, T = clips.shape
        if T % L:
            raise ValueError(f"fit_tbptt: the clip length {T} must be a multiple of chunk_length {L}.")

        @tf.function(reduce_retracing=True)
        def train_chunk(x, state, labels, first):
            with tf.GradientTape() as tape:
                if first:  # h0 inside the tape: the learned states train
                    state = self.init_state(tf.shape(x)[0])
                logits, new_state = self.forward_chunk(x, state, labels, training=True)
                nll = -tf.reduce_mean(self.head.log_prob(logits, x))
            grads = tape.gradient(nll, self.trainable_variables)
            # h0 has no gradient after a batch's first chunk: leave it out of that step.
            self.optimizer.apply_gradients(
                [(g, v) for g, v in zip(grads, self.trainable_variables) if g is not None]
            )
            return nll, tf.nest.map_structure(tf.stop_gradient, new_state)

        rng = np.random.RandomState(seed)
        history = []
        for epoch in range(int(epochs)):
            order = rng.permutation(N) if shuffle else np.arange(N)
            total, count = 0.0, 0
            for start in range(0, N, batch_size):
                rows = order[start : start + batch_size]
                state = self.init_state(len(rows))
                lab = None if c is None else tf.constant(c[rows])
                for t0 in range(0, T, L):
                    nll, state = train_chunk(tf.constant(clips[rows, t0 : t0 + L]), state, lab, t0 == 0)
                    total += float(nll) * len(rows)
                    count += len(rows)
            history.append(total / count / math.log(2.0))
            if verbose:
                print(f"epoch {epoch + 1}: {history[-1]:.4f} bits/sample")
        return {"bits_per_dim": history}
