"""Sinusoidal position signals over several integer coordinates (Transformers' positions).

Vaswani et al., "Attention Is All You Need", NIPS 2017, sec. 3.5, per axis as in
tensor2tensor's ``add_timing_signal_nd``: the Image Transformer (Parmar et al.,
ICML 2018) signals each element's row, column and channel.

Example:
    >>> signal = timing_signal([[0, 0], [1, 2]], depth=8)    # 2 positions, 2 axes
    >>> signal.shape, float(signal[0, 2])                   # cos(0) for axis 0
    ((2, 8), 1.0)
"""

import math

import numpy as np

__all__ = ["timing_signal"]


def timing_signal(coordinates, depth, min_timescale=1.0, max_timescale=1.0e4):
    """Sinusoidal position signal over several integer coordinates (numpy).

    tensor2tensor's ``add_timing_signal_nd`` (Vaswani et al. 2017, sec. 3.5, per
    axis): with A axes and ``n = depth // (2 A)`` timescales
    ``tau_i = min_timescale * (max / min)^(i / (n - 1))``, axis ``a`` fills the
    channels ``[2 a n, 2 (a + 1) n)`` with ``sin(p_a / tau_i)`` then
    ``cos(p_a / tau_i)``; the last ``depth - 2 A n`` channels are zero.

    Args:
        coordinates: int ``[N, A]``.
        depth: d >= 2 A.

    Returns:
        float32 ``[N, depth]``.
    """
    coordinates = np.asarray(coordinates, np.float64)
    axes = coordinates.shape[1]
    n = depth // (2 * axes)
    if n < 1:
        raise ValueError(
            f"a sinusoidal signal over {axes} coordinates needs a width of at least {2 * axes}, got {depth}."
        )
    increment = math.log(max_timescale / min_timescale) / max(n - 1, 1)
    inv_timescales = min_timescale * np.exp(-increment * np.arange(n))  # [n]
    signal = np.zeros((coordinates.shape[0], depth))
    for a in range(axes):
        scaled = coordinates[:, a : a + 1] * inv_timescales[None, :]  # [N, n]
        signal[:, 2 * a * n : 2 * (a + 1) * n] = np.concatenate([np.sin(scaled), np.cos(scaled)], 1)
    return signal.astype(np.float32)
