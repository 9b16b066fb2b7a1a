"""The data files that ship inside the package (the speech clips, the text corpus).

Example:
    >>> from ar_keras.data.text import TEXT_FILE
    >>> load_npz(TEXT_FILE, "scripts/make_text.py")["bytes"].dtype
    dtype('uint8')
"""

import os

import numpy as np

__all__ = ["load_npz"]


def load_npz(path, script):
    """Every array of the shipped ``.npz`` file ``path``, read-only; a FileNotFoundError that
    says how to restore it (reinstall, or regenerate with ``script``) when it is missing."""
    if not os.path.isfile(path):
        raise FileNotFoundError(  # pragma: no cover - a broken install
            f"{path} is missing: the package was installed without its data files. "
            f"Reinstall ar_keras, or regenerate it with python {script}."
        )
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    for v in data.values():
        v.flags.writeable = False
    return data
