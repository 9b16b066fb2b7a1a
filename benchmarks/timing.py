"""The timing every benchmark script uses: the best of a few calls after a warm-up call.

The first call of a sampler traces and compiles it (seconds); a user pays that once, so
the scripts report warm calls and show the first call apart where it matters.

Example:
    >>> seconds, out = best_of(lambda: sum(range(1000)), repeats=2)
    >>> int(out), seconds >= 0
    (499500, True)
"""

import time

import numpy as np

__all__ = ["best_of"]


def best_of(fn, repeats=2):
    """``(seconds, output as a NumPy array)``: the fastest of ``repeats`` timed calls of ``fn``,
    after one untimed call (which traces and compiles)."""
    out = fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, np.asarray(out)
