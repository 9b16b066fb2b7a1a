"""Regenerates ar_keras/data/assets/text.npz, the embedded ``text`` byte corpus.

The corpus is the English reference documentation that ships inside CPython
itself: the ``topics`` dict of the standard library's ``pydoc_data/topics.py``
(the text ``help("if")``, ``help("FORMATTING")`` ... print; about 79 topics and
465 KB of English prose with code examples in Python 3.11).  The topics are
joined in sorted key order, each preceded by a one-line title, and encoded as
UTF-8; the bytes are stored in a compressed ``.npz`` so that every Python
version reads the same corpus (``pydoc_data`` changes between releases)::

    bytes    uint8 [N]   the corpus
    topics   str   [S]   the topic keys, in the order they were joined
    python   str   []    the Python version the corpus was taken from

    python scripts/make_text.py            # writes ar_keras/data/assets/text.npz
    python scripts/make_text.py --out x.npz

The file ``ar_keras/data/assets/text.npz`` committed with the package was made
with Python 3.11.7; the split (`ar_keras.data.text`) is by byte offset, so a
regenerated corpus from another Python gives different (but equally valid)
splits.
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "ar_keras", "data", "assets", "text.npz")


def corpus():
    """``(bytes, keys)``: the joined topics as UTF-8 and their keys, in order."""
    from pydoc_data.topics import topics

    keys = sorted(topics)
    parts = [f"=== {key} ===\n\n{topics[key].strip()}\n\n" for key in keys]
    return "".join(parts).encode("utf-8"), keys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=DEFAULT_OUT)
    args = p.parse_args(argv)
    data, keys = corpus()
    np.savez_compressed(
        args.out,
        bytes=np.frombuffer(data, np.uint8),
        topics=np.array(keys),
        python=np.array(sys.version.split()[0]),
    )
    print(
        f"wrote {args.out}: {len(data):,} bytes of text from {len(keys)} topics "
        f"({os.path.getsize(args.out):,} bytes on disk)"
    )


if __name__ == "__main__":
    main()
