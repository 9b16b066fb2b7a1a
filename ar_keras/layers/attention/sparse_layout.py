"""The Sparse Transformer's layout: which pattern each layer attends with, and its block sizes.

Child, Gray, Radford & Sutskever, "Generating Long Sequences with Sparse
Transformers", 2019, sec. 4.2-4.3.  ``attention`` picks a family: ``"strided"``
(local ``{i-l..i}`` and stride ``{j : (i - j) mod l = 0}``), ``"fixed"`` (the own
block and the last ``c`` positions of every block) or ``"dense"``.  Each layer
attends with the family's merged pattern, or cycles through ``layer_pattern``, one
factor per layer (the paper's CIFAR-10 model: ``bT, b, b, b``, `CIFAR_LAYER_PATTERN`).
The stride ``l`` defaults to one image row ``W C`` for images and ``round(sqrt T)``
for sequences, which makes the cost ``O(n sqrt n)`` (`patterns` defines the sets).

Example:
    >>> layout = sparse_layout("fixed", 4, num_positions=64, default_block=8)
    >>> layout.block_length, layout.num_summary, layout.patterns
    (8, 2, ('fixed', 'fixed', 'fixed', 'fixed'))
    >>> sparse_layout("strided", 4, 64, 8, layer_pattern=CIFAR_LAYER_PATTERN).patterns[:2]
    ('strided_stride', 'strided_local')
"""

import collections

from ar_keras import checks

__all__ = ["ATTENTIONS", "LAYER_PATTERNS", "CIFAR_LAYER_PATTERN", "SparseLayout", "sparse_layout"]

#: The ``attention=`` choices.
ATTENTIONS = ("strided", "fixed", "dense")
#: The per-layer pattern names each choice may interleave (``layer_pattern=``).
LAYER_PATTERNS = {
    "strided": ("strided", "strided_local", "strided_stride"),
    "fixed": ("fixed", "fixed_block", "fixed_summary"),
    "dense": ("dense",),
}
#: The paper's CIFAR-10 interleaving (reference hyper-parameters ``c10-58m``,
#: ``bT, b, b, b``): one strided-stride layer, then three local layers, cycled.
CIFAR_LAYER_PATTERN = ("strided_stride", "strided_local", "strided_local", "strided_local")

#: ``block_length`` l, ``num_summary`` c (fixed attention; else None), ``layer_pattern`` as
#: given (a tuple or None) and ``patterns``, the pattern of each layer.
SparseLayout = collections.namedtuple("SparseLayout", "block_length num_summary layer_pattern patterns")


def sparse_layout(
    attention,
    num_layers,
    num_positions=None,
    default_block=1,
    block_length=None,
    num_summary=None,
    layer_pattern=None,
    row_length=None,
):
    """The checked `SparseLayout` of ``num_layers`` layers.

    Args:
        attention: one of `ATTENTIONS`.
        num_layers: N.
        num_positions: n for images (l must divide it), None for sequences of any length.
        default_block: l when ``block_length`` is None.
        block_length, num_summary, layer_pattern: the constructor's arguments (c defaults to
            ``l // 4`` for fixed attention).
        row_length: ``W C`` of an image, for the error message.

    Raises:
        ValueError: a choice not offered, sizes that do not fit, a pattern of another family.
    """
    checks.check_choice(attention, "attention", ATTENTIONS)
    block = checks.check_positive_int(default_block if block_length is None else block_length, "block_length")
    if num_positions is not None and attention != "dense" and num_positions % block:
        raise ValueError(
            f"block_length l = {block} must divide the image's H*W*C = {num_positions} "
            f"positions (the {attention} pattern tiles the image with blocks of l; one row "
            f"is W*C = {row_length})."
        )
    if num_summary is None and attention == "fixed":
        num_summary = max(1, block // 4)
    if num_summary is not None:
        num_summary = checks.check_positive_int(num_summary, "num_summary")
        if num_summary > block:
            raise ValueError(
                f"num_summary c = {num_summary} must be at most block_length "
                f"l = {block} (the last c positions of each block)."
            )
    if layer_pattern is not None:
        layer_pattern = tuple(layer_pattern)
        allowed = LAYER_PATTERNS[attention]
        if not layer_pattern or any(p not in allowed for p in layer_pattern):
            raise ValueError(
                f"layer_pattern for attention={attention!r} must be a non-empty "
                f"sequence of {allowed}, got {layer_pattern!r}."
            )
    cycle = ("dense",) if attention == "dense" else layer_pattern or (attention,)
    patterns = tuple(cycle[i % len(cycle)] for i in range(num_layers))
    return SparseLayout(block, num_summary, layer_pattern, patterns)
