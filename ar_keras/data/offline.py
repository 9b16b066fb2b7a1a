"""Reading real data offline: the data directory and prepared tensorflow-datasets folders.

Nothing here ever downloads: without a network ``tfds.load(..., download=True)``
hangs for minutes, so a dataset is read from a data directory that already holds
it, and a missing one fails at once with a `DatasetNotFoundError` that says what
to put where.  The data directory is, in order: the ``data_dir=`` argument, the
environment variable ``AR_KERAS_DATA_DIR``, ``~/tensorflow_datasets``.

`read_tfds` reads one split of a prepared tfds folder
(``<data_dir>/<tfds_name>/[<config>/]<version>/dataset_info.json``);
``tensorflow_datasets`` is imported only once such a folder is known to exist
(it is slow to import), so ``import ar_keras`` never imports it.

Example:
    >>> data_dir, origin = resolve_data_dir(None)   # ~/tensorflow_datasets, "the default ..."
"""

import glob
import os

__all__ = [
    "DatasetNotFoundError",
    "DATA_DIR_ENV",
    "resolve_data_dir",
    "not_found",
    "tfds_build_hint",
    "read_tfds",
]

#: Environment variable naming the default data directory.
DATA_DIR_ENV = "AR_KERAS_DATA_DIR"
_DEFAULT_DATA_DIR = os.path.join("~", "tensorflow_datasets")

#: What every DatasetNotFoundError says before listing what to put where.
NEVER_DOWNLOADS = "ar_keras never downloads (tfds download=False: without a network a download hangs)."


class DatasetNotFoundError(FileNotFoundError):
    """A real dataset is not in the data directory (or could not be read from it).

    The message names the dataset, the directory searched, the exact files or
    folders that would satisfy it, and how to get them without a network here.
    """


def resolve_data_dir(data_dir=None):
    """The absolute data directory and where it came from.

    Args:
        data_dir: a path, or None for ``$AR_KERAS_DATA_DIR`` else ``~/tensorflow_datasets``.
    Returns:
        ``(path, origin)``; origin says which of the three it was, for messages.
    Raises:
        ValueError: ``data_dir`` is not None, a string or a path, or is empty.
    """
    if data_dir is None:
        env = os.environ.get(DATA_DIR_ENV)
        if env:
            data_dir, origin = env, f"from ${DATA_DIR_ENV}"
        else:
            data_dir, origin = _DEFAULT_DATA_DIR, f"the default data directory; ${DATA_DIR_ENV} is unset"
    else:
        origin = "from the data_dir argument"
        if not isinstance(data_dir, (str, os.PathLike)):
            raise ValueError(
                f"data_dir must be a path (str or os.PathLike) or None, got "
                f"{type(data_dir).__name__} {data_dir!r}."
            )
    data_dir = os.fspath(data_dir)
    if isinstance(data_dir, bytes) or not data_dir.strip():
        raise ValueError(f"data_dir must be a non-empty str path, got {data_dir!r}.")
    return os.path.abspath(os.path.expanduser(data_dir)), origin


def tfds_build_hint(tfds_name):
    """How to prepare a tfds folder elsewhere and bring it here (indented for a message)."""
    return (
        f"On a machine with network run\n"
        f"       tfds build {tfds_name} --data_dir DIR\n"
        f"     and copy DIR/{tfds_name}/ here."
    )


def not_found(name, data_dir, origin, notes, cause, where):
    """The `DatasetNotFoundError` of dataset ``name``.

    Args:
        notes: remarks on what was found (None entries are skipped).
        cause: the exception tfds failed with, or None when nothing was there.
        where: the lines that follow `NEVER_DOWNLOADS`: what to put in ``data_dir``.
    """
    if cause is None:
        lines = [f"Dataset {name!r} was not found in {data_dir} ({origin})."]
    else:
        lines = [
            f"Dataset {name!r} could not be loaded from {data_dir} ({origin}): "
            f"tensorflow-datasets failed with {type(cause).__name__}: {cause}"
        ]
    lines += [f"  Note: {n}" for n in notes if n]
    lines += [NEVER_DOWNLOADS + " " + where[0], *where[1:]]
    return DatasetNotFoundError("\n".join(lines))


def _tfds_folder_status(tfds_name, data_dir):
    """(ready, note) for ``<data_dir>/<tfds_name>/[<config>/]<version>/dataset_info.json``."""
    folder = os.path.join(data_dir, tfds_name)
    if not os.path.isdir(folder):
        return False, None
    infos = glob.glob(os.path.join(glob.escape(folder), "*", "dataset_info.json")) + glob.glob(
        os.path.join(glob.escape(folder), "*", "*", "dataset_info.json")
    )
    if infos:
        return True, None
    # tfds itself leaves an empty <name>/<version>/ behind after a failed load.
    return False, f"{folder} exists but holds no <version>/dataset_info.json (empty or unfinished)."


def read_tfds(tfds_name, tfds_split, data_dir, notes, error):
    """``tfds.load(tfds_name, split=tfds_split, download=False)`` from a prepared folder.

    Args:
        notes: remarks so far (e.g. on half-present local files), for the error.
        error: ``error(notes, cause)`` -> the `DatasetNotFoundError` to raise.
    Raises:
        DatasetNotFoundError: no prepared folder (raised before tfds is
            imported), tfds cannot be imported, or tfds failed to load it.
    """
    ready, note = _tfds_folder_status(tfds_name, data_dir)
    notes = [*notes, note]
    if not os.path.isdir(data_dir):
        notes.insert(0, f"{data_dir} does not exist.")
    if not ready:
        raise error(notes, None)
    try:
        import tensorflow_datasets as tfds  # slow: only here, once a folder is known to exist
    except ImportError as e:
        raise error(
            notes
            + [
                "tensorflow_datasets could not be imported; pip install tensorflow-datasets "
                "importlib_resources (tfds 4.9 needs the latter but does not declare it)."
            ],
            e,
        ) from e
    try:
        return tfds.load(
            tfds_name, split=tfds_split, data_dir=data_dir, download=False
        )  # never True: with no network it hangs
    except Exception as e:  # tfds raises AssertionError, FileNotFoundError, DatasetNotFoundError...
        raise error(notes, e) from e
