"""Mask construction for autoregressive layers, in pure numpy.

Every mask in ar_keras is built here by a small pure function that is tested
alone; layers only multiply their kernels by what these functions return.

MADE (Germain et al., ICML 2015)
--------------------------------
Each input unit ``d`` gets a degree ``m(d)`` equal to its position in the
ordering (1..D).  Each hidden unit ``k`` of layer ``l`` gets a degree
``m_l(k)`` in ``[min_{k'} m_{l-1}(k'), D - 1]``.  A connection from a unit of
degree ``a`` to a hidden unit of degree ``b`` exists iff ``b >= a``; a
connection to output ``d`` exists iff ``m(d) > a`` (strict).  Hence output
``d`` depends only on inputs earlier in the ordering, and the network is
autoregressive for any weights.

Masked convolutions (van den Oord et al., ICML 2016, PixelRNN paper, sec. 3.4)
-----------------------------------------------------------------------------
A ``k x k`` kernel sees the rows above and the pixels to the left of the
centre.  At the centre tap the channels are split into ``C`` groups (R, G, B
for ``C = 3``).  Mask ``A`` (first layer) lets output group ``g`` see input
groups ``< g``; mask ``B`` (later layers) lets it see groups ``<= g``.

Example:
    >>> import numpy as np
    >>> deg = made_degrees(3, [4], ordering="natural", seed=0)
    >>> masks = made_masks(deg)
    >>> [m.shape for m in masks]
    [(3, 4), (4, 3)]
"""

import numpy as np

__all__ = [
    "input_ordering",
    "made_degrees",
    "made_degree_sets",
    "degree_mask",
    "masks_from_degrees",
    "made_masks",
    "made_direct_mask",
    "channel_groups",
    "conv_mask",
]


def input_ordering(num_inputs, ordering="natural", seed=None):
    """Returns the input degrees ``m(d)`` in ``1..D`` for an ordering.

    Args:
        num_inputs: D, the number of inputs.
        ordering: ``"natural"`` (1..D), ``"reversed"`` (D..1), ``"random"``
            (a permutation drawn from ``seed``) or a sequence that is a
            permutation of ``0..D-1`` where ``ordering[t]`` is the element
            generated at step ``t``.
        seed: integer seed for ``"random"``.

    Returns:
        int array ``[D]``: the degree (1-based position in the ordering) of
        every input.
    """
    num_inputs = int(num_inputs)
    if num_inputs < 1:
        raise ValueError(f"num_inputs must be >= 1, got {num_inputs}.")
    if isinstance(ordering, str):
        if ordering == "natural":
            order = np.arange(num_inputs)
        elif ordering == "reversed":
            order = np.arange(num_inputs)[::-1]
        elif ordering == "random":
            order = np.random.RandomState(seed).permutation(num_inputs)
        else:
            raise ValueError(
                f"Unknown ordering {ordering!r}: expected 'natural', 'reversed', "
                "'random' or a permutation of range(num_inputs)."
            )
    else:
        order = np.asarray(ordering, dtype=np.int64)
        if order.shape != (num_inputs,) or not np.array_equal(np.sort(order), np.arange(num_inputs)):
            raise ValueError(f"ordering must be a permutation of range({num_inputs}); got {list(order)}.")
    degrees = np.empty(num_inputs, dtype=np.int64)
    degrees[order] = np.arange(1, num_inputs + 1)
    return degrees


def made_degrees(num_inputs, hidden_sizes, ordering="natural", seed=None, hidden_degrees="random"):
    """Degrees of every layer of a MADE.

    Args:
        num_inputs: D.
        hidden_sizes: list of hidden layer widths.
        ordering: see `input_ordering`.
        seed: seed for the random ordering and the random hidden degrees.
        hidden_degrees: ``"random"`` (the paper: uniform in
            ``[min previous degree, D - 1]``) or ``"equal"`` (cycled evenly,
            so every degree is present when the layer is wide enough).

    Returns:
        list ``[m_0, m_1, ..., m_L]`` of int arrays; ``m_0`` is the input degree.
    """
    rng = np.random.RandomState(seed)
    degrees = [input_ordering(num_inputs, ordering, seed=rng.randint(2**31 - 1))]
    for size in hidden_sizes:
        low = min(int(degrees[-1].min()), num_inputs - 1)
        high = max(num_inputs - 1, 1)
        if hidden_degrees == "random":
            # D == 1 has no valid hidden degree; 1 makes the unit unused, which
            # is correct (the single output conditions on nothing).
            deg = rng.randint(low, high + 1, size=size)
        elif hidden_degrees == "equal":
            deg = low + np.arange(size) % (high - low + 1)
        else:
            raise ValueError(f"hidden_degrees must be 'random' or 'equal', got {hidden_degrees!r}.")
        degrees.append(deg.astype(np.int64))
    return degrees


def made_degree_sets(
    num_inputs,
    hidden_sizes,
    num_sets=1,
    ordering="natural",
    order_agnostic=False,
    seed=0,
    hidden_degrees="random",
):
    """Degrees of ``M`` MADE mask sets (Germain et al. 2015, sec. 4.2), stacked per layer.

    Set ``m`` is ``made_degrees(..., seed=seed + m)``: fresh hidden degrees
    each (*connectivity-agnostic*).  Set 0 uses ``ordering``; with
    ``order_agnostic`` sets ``1..M-1`` draw a random input ordering each
    (*order-agnostic*), otherwise they keep ``ordering``.

    Returns:
        list ``[m_0, ..., m_L]`` of int arrays ``[M, width]``; row ``m`` of
        each is what `made_degrees` returns for set ``m``.

    Example:
        >>> sets = made_degree_sets(4, [8], num_sets=3, order_agnostic=True)
        >>> [t.shape for t in sets]
        [(3, 4), (3, 8)]
    """
    num_sets = int(num_sets)
    if num_sets < 1:
        raise ValueError(f"num_sets must be >= 1, got {num_sets}.")
    per_set = [
        made_degrees(
            num_inputs,
            hidden_sizes,
            ordering="random" if (order_agnostic and m > 0) else ordering,
            seed=int(seed) + m,
            hidden_degrees=hidden_degrees,
        )
        for m in range(num_sets)
    ]
    return [np.stack(layer) for layer in zip(*per_set)]


def degree_mask(in_degrees, out_degrees, strict=False):
    """Boolean ``[..., in, out]`` MADE connectivity from unit degrees.

    A unit of degree ``b`` sees a unit of degree ``a`` iff ``b >= a`` (hidden
    layers) or ``b > a`` (``strict``: output units, and the direct input ->
    output connection).  Only indexing and comparison are used, so the same
    rule serves numpy arrays and TensorFlow tensors (a MADE layer applies it
    to the degree rows of the mask set it selects at run time).
    """
    rows, cols = in_degrees[..., :, None], out_degrees[..., None, :]
    return cols > rows if strict else cols >= rows


def masks_from_degrees(unit_degrees, output_degrees):
    """Boolean masks ``[M^1, ..., M^L, M^V]`` along a chain of unit degrees.

    Args:
        unit_degrees: ``[d_in, d_1, ..., d_L]``: the degree of every input unit
            and of every hidden unit (numpy arrays or tensors).
        output_degrees: the degree of every output unit.

    Returns:
        ``degree_mask(d_{l-1}, d_l)`` for each hidden layer, then the strict
        ``degree_mask(d_L, output_degrees)``.
    """
    hidden = [degree_mask(a, b) for a, b in zip(unit_degrees[:-1], unit_degrees[1:])]
    return hidden + [degree_mask(unit_degrees[-1], output_degrees, strict=True)]


def made_masks(degrees):
    """Masks between consecutive MADE layers, and to the output layer.

    Args:
        degrees: the list returned by `made_degrees`.

    Returns:
        list of float32 masks ``[in, out]``: hidden masks use ``>=``, the last
        one (hidden -> output of size D, degrees ``degrees[0]``) uses ``>``.
    """
    return [m.astype(np.float32) for m in masks_from_degrees(degrees, degrees[0])]


def made_direct_mask(input_degrees):
    """The direct input -> output mask: output ``d`` sees inputs earlier in the order."""
    d = np.asarray(input_degrees)
    return degree_mask(d, d, strict=True).astype(np.float32)


def channel_groups(num_features, data_channels, splits=1):
    """The data channel (0..C-1) that each of ``num_features`` features belongs to.

    Features are split into ``splits`` equal blocks (e.g. the two halves of a
    gated unit's pre-activation), and within a block into C contiguous groups.

    Example:
        >>> channel_groups(6, 3).tolist()
        [0, 0, 1, 1, 2, 2]
        >>> channel_groups(4, 2, splits=2).tolist()
        [0, 1, 0, 1]
    """
    if num_features % splits:
        raise ValueError(f"{num_features} features do not split into {splits} blocks.")
    block = num_features // splits
    if block < data_channels:
        raise ValueError(
            f"each block of {block} features cannot hold {data_channels} channel groups; "
            f"use at least {data_channels * splits} features."
        )
    return np.tile(np.arange(block) * data_channels // block, splits)


def conv_mask(kernel_size, in_groups, out_groups, mask_type="B", centre=None):
    """A PixelCNN kernel mask ``[kh, kw, in, out]``.

    The kernel's centre tap (the output pixel) is ``centre``, by default
    ``(kh // 2, kw // 2)``; a Gated PixelCNN horizontal kernel ``1 x (k//2+1)``
    has its centre at its last column.  Taps in rows below the
    centre, and right of it in its row, are zero.  At the centre tap, output
    feature ``o`` sees input feature ``i`` iff ``out_groups[o] > in_groups[i]``
    (mask A) or ``>=`` (mask B).

    Args:
        kernel_size: ``(kh, kw)``.
        in_groups: int array, the channel group of each input feature.
        out_groups: int array, the channel group of each output feature.
        mask_type: ``"A"`` or ``"B"``.
        centre: ``(row, col)`` of the tap aligned with the output pixel.
    """
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}.")
    kh, kw = kernel_size
    in_groups = np.asarray(in_groups)
    out_groups = np.asarray(out_groups)
    mask = np.ones((kh, kw, len(in_groups), len(out_groups)), dtype=np.float32)
    ch, cw = (kh // 2, kw // 2) if centre is None else centre
    mask[ch + 1 :] = 0.0
    mask[ch, cw + 1 :] = 0.0
    if mask_type == "A":
        centre = out_groups[None, :] > in_groups[:, None]
    else:
        centre = out_groups[None, :] >= in_groups[:, None]
    mask[ch, cw] = centre.astype(np.float32)
    return mask
