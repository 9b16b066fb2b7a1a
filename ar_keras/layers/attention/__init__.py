"""The one attention module: patterns (set definitions), blockwise kernels, and two layers.

* `patterns`: ``allowed(pattern, n, ...)`` (brute-force ``[n, n]`` sets) and
  ``block_raster_order`` (local_2d generation order).
* `blockwise`: weightless kernels, ``attend`` (full pass, blockwise) and
  ``attend_step`` (one query against a key/value buffer).
* `CausalSelfAttention`: multi-head, with projections (transformers).
* `PatternAttention`: single head, weightless, given q/k/v (PixelSNAIL).
* `timing_signal`: sinusoidal positions over several coordinates.
* `sparse_layout`: the Sparse Transformer's per-layer patterns and block sizes.
"""

from ar_keras.layers.attention import blockwise, patterns, sparse_layout
from ar_keras.layers.attention.causal_self_attention import CausalSelfAttention
from ar_keras.layers.attention.pattern_attention import PatternAttention
from ar_keras.layers.attention.timing_signal import timing_signal

__all__ = [
    "patterns",
    "blockwise",
    "sparse_layout",
    "CausalSelfAttention",
    "PatternAttention",
    "timing_signal",
]
