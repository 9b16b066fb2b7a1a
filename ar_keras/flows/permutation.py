"""Permutations between the layers of a flow stack, in pure numpy.

A stack of autoregressive layers that all use one ordering is still
autoregressive in that ordering, and no more flexible in kind.  The MAF paper
(Papamakarios et al. 2017, sec. 3.1) reverses the order of the variables
between layers, so that a dimension that comes first in one layer comes last
in the next; random permutations are the other common choice.

``layer_permutations(D, K, kind)`` returns the K - 1 permutations ``pi_k``
applied *between* layers k and k + 1 (``h -> h[..., pi_k]``), or an empty
list for ``kind="none"``.

Example:
    >>> layer_permutations(3, 3, "reverse")
    [array([2, 1, 0]), array([2, 1, 0])]
"""

import numpy as np

from ar_keras import checks

__all__ = ["PERMUTATIONS", "layer_permutations"]

#: Accepted ``permutation=`` values.
PERMUTATIONS = ("reverse", "random", "none")


def layer_permutations(event_size, num_layers, kind="reverse", seed=0):
    """The permutations between consecutive layers of a K-layer stack.

    Args:
        event_size: D.
        num_layers: K >= 1.
        kind: ``"reverse"`` (the MAF paper), ``"random"`` (a fresh permutation
            per gap, drawn from ``seed``) or ``"none"``.
        seed: seed of ``"random"``.

    Returns:
        list of K - 1 int arrays ``[D]`` (empty for ``"none"``).
    """
    checks.check_choice(kind, "permutation", PERMUTATIONS)
    event_size, num_layers = int(event_size), int(num_layers)
    if kind == "none":
        return []
    rng = np.random.RandomState(seed)
    perms = []
    for _ in range(num_layers - 1):
        if kind == "reverse":
            perms.append(np.arange(event_size)[::-1].copy())
        else:
            perms.append(rng.permutation(event_size))
    return perms
