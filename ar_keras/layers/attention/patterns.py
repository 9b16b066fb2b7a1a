"""Attention patterns as sets: the brute-force definition every blockwise kernel is tested against.

For a sequence of ``n`` positions in GENERATION order, pattern ``P`` gives
each query ``i`` a set ``S_P(i)`` of key positions.  Every pattern is causal:
``S(i) ⊆ {j <= i}`` (``strict=False``) or ``{j < i}`` (``strict=True``, e.g.
PixelSNAIL, whose key at j already contains x_j).  With ``l`` the block
length / stride and ``c`` the summary size::

    dense           {j <= i}
    local_1d        {j <= i : floor(j/l) >= floor(i/l) - 1}
                    (the query's block and the block before it; Parmar et al.
                    2018, t2t ``masked_local_attention_1d``)
    strided_local   A1(i) = {max(0, i-l), ..., i}                (l + 1 keys)
    strided_stride  A2(i) = {j <= i : (i - j) mod l = 0}
    strided         A1(i) ∪ A2(i)          (Child et al. 2019, sec. 4.2)
    fixed_block     A1(i) = {j <= i : floor(j/l) = floor(i/l)}
    fixed_summary   A2(i) = {j <= i : j mod l in {l-c, ..., l-1}}
    fixed           A1(i) ∪ A2(i)
    local_2d        the memory rectangle of i's query block, causally (below)

(``strict`` removes ``j = i`` from every set.)

**How we read the paper's fixed pattern.**  Child et al. print
``A2 = {j : j mod l ∈ {t, t+1, ..., l}}`` with ``t = l - c``: that set has
``c + 1`` residues and ``l`` is not a residue mod ``l`` (it is 0), so it is
off by one.  We take the last ``c`` positions of every block,
``{l-c, ..., l-1}`` (c residues), which is what "the last c positions
summarise the block" and the released ``fixed`` layout mean.  A2 also holds
the summary positions of the query's own block that are ``<= i`` (they are in
A1 as well; the union counts them once).

**local_2d** (Parmar et al. 2018, t2t ``masked_local_attention_2d``): the
``(H, W)`` grid is cut into query blocks ``(bh, bw)`` generated in
block-raster order (blocks left to right, top to bottom; raster inside a
block; see `block_raster_order`).  The memory of a query block at block
coordinates ``(R, C)`` is the rectangle of rows ``[R bh - fh, R bh + bh)``
and columns ``[C bw - fw, C bw + bw + fw)`` (the block plus a flange of
``fh`` rows above and ``fw`` columns each side), restricted to the image and
to positions generated no later than the query.  That is exactly t2t's
``make_2d_block_raster_mask``: the flange above and the left flange are
earlier blocks (all visible), the right flange beside the block is later
(masked), and inside the block raster order holds.

Example:
    >>> from ar_keras.layers.attention import patterns
    >>> patterns.allowed("strided", 8, block_length=3)[7].nonzero()[0]
    array([1, 4, 5, 6, 7])
    >>> patterns.block_raster_order((4, 4), (2, 2))[:4]      # first block
    array([0, 1, 4, 5])
"""

import dataclasses

import numpy as np

__all__ = ["PATTERNS", "PatternSpec", "make_spec", "allowed", "block_raster_order", "local_layout"]

PATTERNS = (
    "dense",
    "local_1d",
    "local_2d",
    "strided",
    "strided_local",
    "strided_stride",
    "fixed",
    "fixed_block",
    "fixed_summary",
)
#: The patterns that work in blocks of ``block_length`` positions.
_BLOCK_PATTERNS = tuple(p for p in PATTERNS if p not in ("dense", "local_2d"))
_SUMMARY_PATTERNS = ("fixed", "fixed_summary")


def _positive_int(name, value):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _pair(name, value, minimum):
    try:
        pair = tuple(value)
    except TypeError:
        pair = ()
    if len(pair) != 2 or any(isinstance(v, bool) or int(v) != v or v < minimum for v in pair):
        kind = "positive" if minimum > 0 else "non-negative"
        raise ValueError(f"{name} must be a pair of {kind} integers, got {value!r}.")
    return tuple(int(v) for v in pair)


@dataclasses.dataclass(frozen=True)
class PatternSpec:
    """A validated pattern: what `make_spec` returns and every kernel reads."""

    pattern: str
    block_length: int = None
    num_summary: int = None
    grid_shape: tuple = None
    block_shape: tuple = None
    flange: tuple = None
    strict: bool = False

    def get_config(self):
        """The spec as the keyword arguments of `make_spec` (plain JSON: pairs as lists), for
        the config of a layer that takes them."""
        config = dataclasses.asdict(self)
        for key in ("grid_shape", "block_shape", "flange"):
            config[key] = None if config[key] is None else list(config[key])
        return config

    def check_length(self, n):
        """ValueError unless a sequence of ``n`` positions fits the pattern (local_2d: n = H W)."""
        if self.pattern == "local_2d" and n is not None and int(n) != self.grid_shape[0] * self.grid_shape[1]:
            raise ValueError(
                f"local_2d attention over grid_shape={self.grid_shape} needs "
                f"{self.grid_shape[0] * self.grid_shape[1]} positions, got a sequence of {n}."
            )


def make_spec(
    pattern, block_length=None, num_summary=None, grid_shape=None, block_shape=None, flange=None, strict=False
):
    """Checks the arguments of ``pattern`` and returns a `PatternSpec`.

    Arguments a pattern does not use are ignored (set to None), so a model can
    pass the same keywords whatever its pattern.

    Raises:
        ValueError: unknown pattern; a missing or non-positive block length,
            summary size, grid, block or flange; ``num_summary > block_length``;
            a local_2d block that does not divide the grid.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"Unknown attention pattern {pattern!r}; expected one of {PATTERNS}.")
    spec = dict(pattern=pattern, strict=bool(strict))
    if pattern in _BLOCK_PATTERNS:
        if block_length is None:
            raise ValueError(f"Attention pattern {pattern!r} needs block_length (l).")
        spec["block_length"] = _positive_int("block_length", block_length)
    if pattern in _SUMMARY_PATTERNS:
        if num_summary is None:
            raise ValueError(f"Attention pattern {pattern!r} needs num_summary (c).")
        c = _positive_int("num_summary", num_summary)
        if c > spec["block_length"]:
            raise ValueError(f"num_summary (c={c}) must be at most block_length (l={spec['block_length']}).")
        spec["num_summary"] = c
    if pattern == "local_2d":
        for name, value in (("grid_shape", grid_shape), ("block_shape", block_shape), ("flange", flange)):
            if value is None:
                raise ValueError(f"local_2d attention needs {name}.")
        H, W = _pair("grid_shape", grid_shape, 1)
        bh, bw = _pair("block_shape", block_shape, 1)
        if H % bh or W % bw:
            raise ValueError(
                f"local_2d block_shape={(bh, bw)} must divide grid_shape="
                f"{(H, W)} (block size that does not divide the grid)."
            )
        spec.update(grid_shape=(H, W), block_shape=(bh, bw), flange=_pair("flange", flange, 0))
    return PatternSpec(**spec)


def block_raster_order(grid_shape, block_shape):
    """Raster index of each generated position: ``order[g]`` = ``r W + c`` of the g-th position.

    Blocks ``(bh, bw)`` in raster order over the grid of blocks, raster order
    inside each block.  ``x_generation = x_raster[..., order, :]`` and
    ``x_raster[..., order, :] = x_generation`` (``np.argsort(order)`` inverts it).

    Raises:
        ValueError: the block does not divide the grid.
    """
    H, W = _pair("grid_shape", grid_shape, 1)
    bh, bw = _pair("block_shape", block_shape, 1)
    if H % bh or W % bw:
        raise ValueError(f"block_shape={(bh, bw)} must divide grid_shape={(H, W)}.")
    raster = np.arange(H * W).reshape(H // bh, bh, W // bw, bw)  # [H*W] -> [H/bh, bh, W/bw, bw]
    return raster.transpose(0, 2, 1, 3).reshape(-1)  # -> [H/bh, W/bw, bh, bw] -> [n]


def local_layout(attention, grid_shape, block_length=None, block_shape=None, flange=None):
    """The Image Transformer's local attention over a ``grid_shape = (H, W C)`` of positions:
    ``(order [n], block, pattern)``, the generation order (raster for ``"local_1d"``,
    `block_raster_order` for ``"local_2d"``), the query block's size and the keyword arguments
    of `make_spec` (Parmar et al., "Image Transformer", ICML 2018, sec. 3.2).

    Example:
        >>> order, block, pattern = local_layout("local_2d", (4, 4), block_shape=(2, 2), flange=(2, 2))
        >>> order[:4].tolist(), block, pattern["pattern"]
        ([0, 1, 4, 5], 4, 'local_2d')
    """
    H, W = _pair("grid_shape", grid_shape, 1)
    if attention == "local_2d":
        bh, bw = _pair("block_shape", block_shape, 1)
        if H % bh or W % bw:
            raise ValueError(
                f"block_shape {(bh, bw)} must divide the grid of positions (H, W*C) = {(H, W)} for "
                "local_2d attention (blocks in block-raster order tile the image exactly)."
            )
        order = np.asarray(block_raster_order((H, W), (bh, bw)), np.int64)
        pattern = dict(pattern="local_2d", grid_shape=(H, W), block_shape=(bh, bw), flange=flange)
        return order, bh * bw, pattern
    block = _positive_int("block_length", block_length)
    return np.arange(H * W), block, dict(pattern="local_1d", block_length=block)


def allowed(
    pattern,
    n,
    block_length=None,
    num_summary=None,
    grid_shape=None,
    block_shape=None,
    flange=None,
    strict=False,
):
    """``mask[i, j]``: query i may read key j, by the set definitions above (bool ``[n, n]``).

    Brute force, ``O(n^2)``: for tests and figures, never for the layer.
    """
    spec = make_spec(pattern, block_length, num_summary, grid_shape, block_shape, flange, strict)
    spec.check_length(n)
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    causal = (j < i) if spec.strict else (j <= i)
    l, c = spec.block_length, spec.num_summary
    if pattern == "dense":
        rule = np.ones((n, n), bool)
    elif pattern == "local_1d":
        rule = j // l >= i // l - 1
    elif pattern == "strided_local":
        rule = j >= i - l
    elif pattern == "strided_stride":
        rule = (i - j) % l == 0
    elif pattern == "strided":
        rule = (j >= i - l) | ((i - j) % l == 0)
    elif pattern == "fixed_block":
        rule = j // l == i // l
    elif pattern == "fixed_summary":
        rule = np.broadcast_to(j % l >= l - c, (n, n))
    elif pattern == "fixed":
        rule = (j // l == i // l) | (j % l >= l - c)
    else:  # local_2d
        (_, W), (bh, bw), (fh, fw) = spec.grid_shape, spec.block_shape, spec.flange
        order = block_raster_order(spec.grid_shape, spec.block_shape)
        row, col = order // W, order % W  # of each generated position
        top, left = (row // bh * bh)[:, None], (col // bw * bw)[:, None]  # of i's query block
        rule = (
            (row[None, :] >= top - fh)
            & (row[None, :] < top + bh)
            & (col[None, :] >= left - fw)
            & (col[None, :] < left + bw + fw)
        )
    return np.asarray(rule & causal, bool)
