"""Datasets as JAX arrays, with a fixed training subset for full-batch gradient descent.

Full-batch GD runs on one fixed set of examples, so every loader returns a *seeded* subset
of ``n_train`` examples (the same subset for the same ``seed``), as a
:class:`eomlib.data.Dataset`.

* Offline: :func:`eomlib.data.digits` (scikit-learn's bundled 8×8 digits) and
  :func:`eomlib.data.teacher_student` (synthetic regression).  These are the defaults
  everywhere: they need no network.
* Downloaded once: :func:`eomlib.data.mnist` and :func:`eomlib.data.cifar10`.  The original
  files are fetched into a cache folder (argument ``cache_dir``, else the environment
  variable ``EOMLIB_DATA``, else ``~/.cache/eomlib``), their size, SHA-256 and MD5 are
  checked against the published values, and the original formats are parsed with numpy and
  the standard library only (:func:`eomlib.data.parse_idx` for MNIST's IDX files,
  :func:`eomlib.data.parse_cifar_batch` for CIFAR-10's pickled batches).  Without a network
  they raise :class:`eomlib.data.DatasetUnavailableError`, whose message names the offline
  default :func:`eomlib.data.digits`.
* The cache never loses data (see :func:`eomlib.data.fetch`): a file that fails its checksum
  is renamed ``<name>.bad-<sha256 prefix>``, never deleted, and a fresh copy downloaded
  (:class:`eomlib.data.CorruptFileError` if none verifies); downloads go to a temporary file
  and are renamed into place only once verified; a cache folder that is a file, lies below
  a file or cannot be written raises :class:`eomlib.data.CacheDirError`, naming the folder
  and the way out (``$EOMLIB_DATA`` or ``cache_dir=``).  A read-only cache holding good
  files works.

Images are flattened in height × width × channel order (see
:data:`eomlib.data.IMAGE_SHAPES`), scaled to [0, 1] and centred per feature over the subset;
``y`` is one-hot.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import http.client
import io
import itertools
import os
import pickle
import secrets
import shutil
import tarfile
import urllib.request
import warnings
from pathlib import Path
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Dataset", "load", "digits", "teacher_student", "mnist", "cifar10", "fetch",
           "parse_idx", "parse_cifar_batch", "cache_dir", "DatasetUnavailableError",
           "CorruptFileError", "CacheDirError", "ChecksumError", "NUM_CLASSES", "IMAGE_SHAPES",
           "DATASETS"]


class Dataset(NamedTuple):
    """A training set as JAX arrays: inputs ``x``, targets ``y`` and integer ``labels``.

    Every loader of :mod:`eomlib.data` returns one.  For classification ``y`` is the one-hot
    encoding of ``labels`` over :data:`eomlib.data.NUM_CLASSES` classes; for regression
    (:func:`eomlib.data.teacher_student`) ``labels`` is all zeros.  The three fields, a
    ``NamedTuple``'s, are documented below.

    Example:
        >>> from eomlib import data
        >>> ds = data.digits(n_train=128)
        >>> ds.x.shape, ds.y.shape, ds.labels.shape  # (128, 64), (128, 10), (128,)
    """

    #: The inputs, of shape ``(n, features)``, flattened images (height × width × channel
    #: order, centred per feature) or the inputs of a regression.
    x: jax.Array
    #: The targets, of shape ``(n, outputs)``, one-hot labels or regression targets.
    y: jax.Array
    #: The integer class labels, of shape ``(n,)`` (zeros for regression).
    labels: jax.Array


#: Height, width and channels of the images behind ``Dataset.x`` (rows flattened in this order).
IMAGE_SHAPES = {"digits": (8, 8, 1), "mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
#: The number of classes of each classification dataset (digits, MNIST and CIFAR-10): 10.
NUM_CLASSES = 10
OFFLINE_HINT = ("Without a network, use the offline default eomlib.data.digits "
                "(dataset 'digits', e.g. `python -m eomlib reproduce --dataset digits`).")


# ---------------------------------------------------------------------------------------------
# Subsets
# ---------------------------------------------------------------------------------------------

def check_n_train(n_train, available: int) -> int:
    """``n_train`` must be an integer in [1, available]."""
    if isinstance(n_train, bool) or not isinstance(n_train, (int, np.integer)) \
            or not 1 <= n_train <= available:
        raise ValueError(f"n_train must be an integer in [1, {available}], got {n_train!r}.")
    return int(n_train)


def seeded_subset(num_examples: int, n_train: int, seed: int) -> np.ndarray:
    """Indices of the fixed training subset: the first ``n_train`` of a seeded permutation."""
    n_train = check_n_train(n_train, num_examples)
    return np.random.default_rng(seed).permutation(num_examples)[:n_train]


def classification_dataset(pixels: np.ndarray, labels: np.ndarray, dtype=None) -> Dataset:
    r"""A :class:`eomlib.data.Dataset` from pixels in [0, 1] (shape ``(n, features)``) and
    integer labels.

    Features are centred, :math:`x_{ij} \leftarrow x_{ij} - \frac1n\sum_i x_{ij}`, and ``y`` is
    the one-hot encoding of ``labels`` over :data:`eomlib.data.NUM_CLASSES` classes.
    """
    x = pixels - pixels.mean(axis=0)
    dtype = dtype or jnp.result_type(float)
    one_hot = np.eye(NUM_CLASSES)[labels]
    return Dataset(jnp.asarray(x, dtype), jnp.asarray(one_hot, dtype), jnp.asarray(labels))


def digits(n_train: int = 256, seed: int = 0, dtype=None) -> Dataset:
    """A fixed random subset of scikit-learn's 8×8 digits (1797 images, 10 classes). Offline.

    Pixels are scaled to [0, 1] and centred per feature; ``y`` is one-hot.  Images are
    flattened as 8×8×1 (:data:`eomlib.data.IMAGE_SHAPES`).

    Args:
        n_train: the number of examples in the subset, an integer in [1, 1797] (default 256).
        seed: the seed of the permutation that picks the subset (default 0); the same seed
            gives the same subset.
        dtype: the floating dtype of ``x`` and ``y``; None (the default) is JAX's default
            float (float64 with ``jax_enable_x64``, else float32).

    Returns:
        A :class:`eomlib.data.Dataset` with ``x`` of shape ``(n_train, 64)`` and ``y`` of
        shape ``(n_train, 10)``.

    Raises:
        ValueError: if ``n_train`` is not an integer in [1, 1797].

    Example:
        >>> from eomlib import data
        >>> ds = data.digits(n_train=512, seed=1)
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    idx = seeded_subset(len(bunch.target), n_train, seed)
    return classification_dataset(bunch.data[idx] / 16.0, bunch.target[idx], dtype)


def teacher_student(key, n: int = 64, d_in: int = 4, d_hidden: int = 8, d_out: int = 1,
                    noise: float = 0.0, dtype=None) -> Dataset:
    """Regression data labelled by a random tanh teacher network (plus optional noise).

    The inputs are standard normal; the teacher is a ``d_in``-``d_hidden``-``d_out`` tanh
    MLP (:func:`eomlib.models.init_mlp`, :func:`eomlib.models.mlp`) with random weights.

    Args:
        key: a ``jax.random`` key, split for the inputs, the teacher and the noise.
        n: the number of examples, ≥ 1 (default 64).
        d_in: the input dimension, ≥ 1 (default 4).
        d_hidden: the teacher's hidden width, ≥ 1 (default 8).
        d_out: the output dimension, ≥ 1 (default 1).
        noise: the standard deviation of the Gaussian noise added to the targets, ≥ 0
            (default 0.0: noiseless).
        dtype: the floating dtype of ``x`` and ``y``; None (the default) is JAX's default
            float (float64 with ``jax_enable_x64``, else float32).

    Returns:
        A :class:`eomlib.data.Dataset` with ``x`` of shape ``(n, d_in)``, ``y`` of shape
        ``(n, d_out)`` and ``labels`` all zeros (int32).

    Raises:
        ValueError: if ``d_in``, ``d_hidden`` or ``d_out`` is below 1.

    Example:
        >>> import jax
        >>> from eomlib import data
        >>> ds = data.teacher_student(jax.random.PRNGKey(0), n=128, noise=0.1)
    """
    from .models import init_mlp, mlp

    dtype = dtype or jnp.result_type(float)
    k_x, k_t, k_n = jax.random.split(key, 3)
    x = jax.random.normal(k_x, (n, d_in), dtype)
    teacher = init_mlp(k_t, [d_in, d_hidden, d_out], dtype)
    y = mlp(teacher, x) + noise * jax.random.normal(k_n, (n, d_out), dtype)
    return Dataset(x, y, jnp.zeros((n,), jnp.int32))


# ---------------------------------------------------------------------------------------------
# Download once, verify, cache
# ---------------------------------------------------------------------------------------------

class DatasetUnavailableError(OSError):
    """A dataset file is not in the cache and cannot be put there.

    Raised by :func:`eomlib.data.fetch`, hence by :func:`eomlib.data.mnist`,
    :func:`eomlib.data.cifar10` and :func:`eomlib.data.load`; an ``OSError``.  Raised as is
    when no mirror can be reached (the message lists the mirrors tried, names the cache
    folder and the offline default :func:`eomlib.data.digits`), and as one of its two
    subclasses when a file fails its checksum (:class:`eomlib.data.CorruptFileError`) or the
    cache folder cannot be used (:class:`eomlib.data.CacheDirError`): catching this class
    catches all three.

    Args:
        *args: the message, as for ``OSError``.

    Example:
        >>> from eomlib import data
        >>> try: ds = data.mnist()
        ... except data.DatasetUnavailableError: ds = data.digits()
    """


class ChecksumError(ValueError):
    """A file's size, SHA-256 or MD5 differs from the published value; a ``ValueError``.

    :func:`eomlib.data.fetch` raises its subclass :class:`eomlib.data.CorruptFileError`
    (which says where the file was kept aside), so ``except ChecksumError`` still catches
    a corrupt download.

    Args:
        *args: the message, as for ``ValueError``.

    Example:
        >>> from eomlib import data
        >>> try: ds = data.cifar10()
        ... except data.ChecksumError as exc: print(exc)  # says where the bad file was kept
    """


class CorruptFileError(DatasetUnavailableError, ChecksumError):
    """A cached or downloaded file fails its checksum and no good copy could be obtained.

    Raised by :func:`eomlib.data.fetch` (hence :func:`eomlib.data.mnist`,
    :func:`eomlib.data.cifar10` and :func:`eomlib.data.load`); both a
    :class:`eomlib.data.DatasetUnavailableError` and a :class:`eomlib.data.ChecksumError`.
    The bad file is never deleted: it is renamed ``<name>.bad-<first 12 hex digits of its
    SHA-256>`` in the cache folder (``-2``, ``-3``, … appended rather than overwrite an
    earlier kept-aside file).  The message names the file, where it was kept, the expected
    and the found size, SHA-256 and MD5, and what to do: delete the kept-aside file and run
    again to download a fresh copy, or put a good copy at ``path``.

    Args:
        message: the message.
        path: keyword only; the ``pathlib.Path`` where the good file belongs (default None).
        kept_as: keyword only; the ``pathlib.Path`` the (most recent) bad copy was renamed
            to, or None if it could not be moved (then it is left in place; default None).
        expected: keyword only; the published ``{"size", "sha256", "md5"}`` (default None).
        found: keyword only; the ``{"size", "sha256", "md5"}`` of the (most recent) bad
            copy (default None).

    Example:
        >>> from eomlib import data
        >>> try: ds = data.mnist()
        ... except data.CorruptFileError as exc: print(exc.kept_as, exc.found["sha256"])
    """

    def __init__(self, message: str, *, path: Path | None = None, kept_as: Path | None = None,
                 expected: dict | None = None, found: dict | None = None):
        super().__init__(message)
        self.path, self.kept_as, self.expected, self.found = path, kept_as, expected, found


class CacheDirError(DatasetUnavailableError):
    """The cache folder cannot be used: it is a file, lies below a file, or is not writable.

    Raised by :func:`eomlib.data.fetch` (hence :func:`eomlib.data.mnist`,
    :func:`eomlib.data.cifar10` and :func:`eomlib.data.load`); a
    :class:`eomlib.data.DatasetUnavailableError`.  The message names the folder, where it
    came from (``cache_dir=``, ``$EOMLIB_DATA`` or the default) and the way out: set
    ``EOMLIB_DATA`` or pass ``cache_dir=`` (``--data-dir`` on the command line) to a
    writable folder.  A folder is only required to be writable when something must be
    written: an already cached, verified file is read from a read-only folder.

    Args:
        message: the message.
        path: keyword only; the ``pathlib.Path`` of the cache folder (default None).

    Example:
        >>> from eomlib import data
        >>> try: ds = data.mnist(cache_dir="/etc/passwd/cache")  # below a file
        ... except data.CacheDirError as exc: print(exc.path)
    """

    def __init__(self, message: str, *, path: Path | None = None):
        super().__init__(message)
        self.path = path


class RemoteFile(NamedTuple):
    """An original dataset file and its published size and checksums."""

    name: str
    size: int  # bytes
    sha256: str
    md5: str


#: The original MNIST files (LeCun, Cortes & Burges), as served by two standard mirrors
#: (torchvision's and TensorFlow's).  MD5: torchvision; SHA-256: TensorFlow Datasets.
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/")
MNIST_FILES = {
    "train": (
        RemoteFile("train-images-idx3-ubyte.gz", 9_912_422,
                   "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                   "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        RemoteFile("train-labels-idx1-ubyte.gz", 28_881,
                   "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                   "d53e105ee54ea40749a09fcbcd1e9432"),
    ),
    "test": (
        RemoteFile("t10k-images-idx3-ubyte.gz", 1_648_877,
                   "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                   "9fb629c4189551a2d022fa330f9573f3"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", 4_542,
                   "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                   "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
}

#: CIFAR-10, python version (Krizhevsky, 2009).  MD5 as published on the download page.
CIFAR10_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
CIFAR10_ARCHIVE = RemoteFile(
    "cifar-10-python.tar.gz", 170_498_071,
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    "c58f30108f718f92721af3b95e74349a")
CIFAR10_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}

DOWNLOAD_TIMEOUT_S = 30.0
CACHE_DIR_HINT = ("Set the environment variable EOMLIB_DATA or pass cache_dir= (--data-dir on "
                  "the command line) to a writable folder.")


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The download folder: ``path`` if given, else ``$EOMLIB_DATA``, else ``~/.cache/eomlib``.

    Args:
        path: the folder (a string or path-like; ``~`` is expanded), or None (the default)
            for ``$EOMLIB_DATA`` if set and not empty, else ``~/.cache/eomlib``.

    Returns:
        The folder as a ``pathlib.Path`` (not created or checked here: see
        :func:`eomlib.data.fetch`).

    Example:
        >>> from eomlib import data
        >>> data.cache_dir("~/datasets")  # PosixPath('/home/me/datasets')
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("EOMLIB_DATA", "")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "eomlib"


def cache_dir_error(folder: Path, directory, problem: str) -> CacheDirError:
    """A :class:`CacheDirError` naming ``folder``, where it came from, ``problem`` and the fix."""
    if directory is not None:
        origin = "given as cache_dir="
    elif os.environ.get("EOMLIB_DATA", ""):
        origin = "from $EOMLIB_DATA"
    else:
        origin = "the default"
    return CacheDirError(f"the dataset cache folder {folder} ({origin}) cannot be used: "
                         f"{problem}. {CACHE_DIR_HINT}", path=folder)


def check_cache_folder(folder: Path, directory=None) -> None:
    """Raise :class:`CacheDirError` if ``folder`` or one of its parents exists but is not a
    folder.  Only reads (``stat``): a read-only cache passes."""
    problem = None
    try:
        for p in (folder, *folder.parents):
            if p.exists():
                if not p.is_dir():
                    problem = ("it is a file, not a folder" if p == folder
                               else f"{p} is a file, so no folder can exist below it")
                break
    except OSError as exc:
        raise cache_dir_error(folder, directory, f"it cannot be inspected ({exc})") from exc
    if problem:
        raise cache_dir_error(folder, directory, problem)


def file_digests(path: Path) -> dict:
    """``{"size", "sha256", "md5"}`` of the file at ``path`` (read in 1 MiB blocks)."""
    sha256, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha256.update(block)
            md5.update(block)
            size += len(block)
    return {"size": size, "sha256": sha256.hexdigest(), "md5": md5.hexdigest()}


def published_digests(remote: RemoteFile) -> dict:
    """``{"size", "sha256", "md5"}`` as published for ``remote``."""
    return {"size": remote.size, "sha256": remote.sha256, "md5": remote.md5}


def mismatches(found: dict, remote: RemoteFile) -> list:
    """The keys (``size``, ``sha256``, ``md5``) where ``found`` differs from ``remote``."""
    return [k for k, v in published_digests(remote).items() if found[k] != v]


def describe_digests(d: dict) -> str:
    return f"size {d['size']} bytes, SHA-256 {d['sha256']}, MD5 {d['md5']}"


def verify_file(path: Path, remote: RemoteFile) -> None:
    """Raise :class:`eomlib.data.ChecksumError` unless size, SHA-256 and MD5 match ``remote``."""
    found = file_digests(path)
    bad = mismatches(found, remote)
    if bad:
        raise ChecksumError(
            f"{path} is not the published {remote.name}: its {', '.join(bad)} differ "
            f"(expected {describe_digests(published_digests(remote))}; found "
            f"{describe_digests(found)}).")


def keep_aside(path: Path, name: str, found: dict, *, reuse_identical: bool = False) -> Path:
    """Rename the bad copy ``path`` of the file ``name`` (with digests ``found``) to
    ``<name>.bad-<sha256[:12]>`` in the same folder (``-2``, ``-3``, … if taken; never
    overwrites) and return the new path.  With ``reuse_identical`` (a fresh download of ours,
    not a user's file), an earlier kept-aside copy with the same bytes is returned instead
    and ``path`` is left for the caller to remove."""
    stem = f"{name}.bad-{found['sha256'][:12]}"
    for i in itertools.count(1):
        target = path.with_name(stem if i == 1 else f"{stem}-{i}")
        if not os.path.lexists(target):
            os.rename(path, target)
            return target
        if reuse_identical and target.is_file() and file_digests(target) == found:
            return target


def create_part(folder: Path, name: str) -> Path:
    """Create an empty, uniquely named temporary file ``.<name>.<random>.part`` in ``folder``
    (never taken for the cached file ``name``) and return its path."""
    while True:
        part = folder / f".{name}.{secrets.token_hex(4)}.part"
        try:
            os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return part
        except FileExistsError:
            continue


def download(url: str, dest: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Stream ``url`` into ``dest`` (the caller's temporary file, verified and renamed by it)."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as fh:
        shutil.copyfileobj(response, fh, 1 << 20)


def corrupt_error(remote: RemoteFile, path: Path, bad: list, failures: list) -> CorruptFileError:
    """A :class:`CorruptFileError` for the bad copies ``bad``, a list of ``(source, kept_as,
    found, note)`` (``note`` says what became of a copy that could not be kept aside), after
    the downloads that failed with ``failures``."""
    parts = []
    for source, kept_as, found, note in bad:
        where = f"is kept aside as {kept_as}" if kept_as is not None else note
        parts.append(f"{source} has {describe_digests(found)} and {where}")
    expected = describe_digests(published_digests(remote))
    msg = f"{remote.name} failed its checksum: expected {expected}; {'; '.join(parts)}. " \
          "Nothing was deleted."
    if failures:
        msg += f" No good copy could be downloaded ({'; '.join(failures)})."
    kept = list(dict.fromkeys(k for _, k, _, _ in bad if k is not None))
    if kept:
        names = ", ".join(str(k) for k in kept)
        msg += (f" To fix this: delete {names} once you no longer need "
                f"{'them' if len(kept) > 1 else 'it'} and run again to download a fresh copy, "
                f"or put a good copy of {remote.name} at {path}.")
    else:
        msg += (f" To fix this: replace {path} with a good copy of {remote.name}, or choose a "
                f"writable cache folder with cache_dir= or $EOMLIB_DATA.")
    if failures:
        msg += f" {OFFLINE_HINT}"
    _, kept_as, found, _ = bad[-1]
    return CorruptFileError(msg, path=path, kept_as=kept_as,
                            expected=published_digests(remote), found=found)


def fetch(remote: RemoteFile, mirrors: Sequence[str], directory: str | os.PathLike | None = None,
          *, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Path of ``remote`` in the cache, downloading and verifying it on first use.

    A cached file is re-verified (size, SHA-256 and MD5) on every call; when it verifies it
    is read as is, so a read-only cache folder works.  Otherwise mirrors are tried in order.

    Policy for bad files: nothing in the cache folder is ever deleted except this
    function's own unfinished downloads.  A download goes to a hidden temporary file
    ``.<name>.<random>.part`` in the cache folder, is verified, and only then renamed to
    ``<name>`` (``os.replace``), so a partial download never looks like a cached file; the
    temporary file is removed if the download fails.  A cached or downloaded file that fails
    its checksum is kept aside, renamed ``<name>.bad-<first 12 hex digits of its SHA-256>``
    (``-2``, ``-3``, … appended rather than overwrite an earlier one; a fresh download
    identical to an already kept-aside copy is not kept twice), and the next mirror is
    tried.  If a later download verifies, it is used and a ``UserWarning`` names the
    kept-aside file(s); otherwise :class:`eomlib.data.CorruptFileError` says what was kept
    where, with the expected and found checksums.  Kept-aside files are never read, reused
    or removed by eomlib: delete them yourself.

    Args:
        remote: the file, a ``RemoteFile`` record of its name, size in bytes, SHA-256 and
            MD5 (e.g. ``eomlib.data.CIFAR10_ARCHIVE``).
        mirrors: base URLs ending in ``/``, tried in order; the file's URL is the mirror
            followed by ``remote.name``.
        directory: the cache folder, as for :func:`eomlib.data.cache_dir` (default None:
            ``$EOMLIB_DATA``, else ``~/.cache/eomlib``); created if missing and a download
            is needed.
        timeout: keyword only; the socket timeout in seconds of each download, > 0
            (default 30).

    Returns:
        The ``pathlib.Path`` of the verified file in the cache folder.

    Raises:
        eomlib.data.CacheDirError: if the cache folder is a file or lies below one, or
            cannot be created or written when a download is needed (a
            ``DatasetUnavailableError``).
        eomlib.data.CorruptFileError: if the cached file or every download fails its
            checksum and no good copy was obtained (a ``DatasetUnavailableError`` and a
            ``ChecksumError``; the bad files are kept aside, see above).
        eomlib.data.DatasetUnavailableError: if the file is not cached and no mirror can be
            reached (the message names any earlier kept-aside copies).

    Example:
        >>> from eomlib import data
        >>> path = data.fetch(data.CIFAR10_ARCHIVE, data.CIFAR10_MIRRORS)  # once: 163 MiB
    """
    folder = cache_dir(directory)
    path = folder / remote.name
    check_cache_folder(folder, directory)
    bad = []  # (source, kept_as, found digests, error moving it aside)
    if os.path.lexists(path):
        if not path.is_file():
            raise cache_dir_error(folder, directory, f"{path} exists but is not a file")
        try:
            found = file_digests(path)
        except OSError as exc:
            raise cache_dir_error(folder, directory, f"{path} cannot be read ({exc})") from exc
        if not mismatches(found, remote):
            return path
        source = f"the cached file {path}"
        try:
            bad.append((source, keep_aside(path, remote.name, found), found, None))
        except OSError as exc:
            note = f"could not be moved aside ({exc}), so it is left in place"
            raise corrupt_error(remote, path, [(source, None, found, note)], []) from exc
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cache_dir_error(folder, directory, f"it cannot be created ({exc})") from exc
    failures = []
    for mirror in mirrors:
        url = mirror + remote.name
        try:
            part = create_part(folder, remote.name)
        except OSError as exc:
            raise cache_dir_error(folder, directory, f"it is not writable ({exc})") from exc
        try:
            try:
                download(url, part, timeout)
            except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts included
                failures.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            found = file_digests(part)
            if mismatches(found, remote):
                source = f"the download from {url}"
                try:
                    kept_as = keep_aside(part, remote.name, found, reuse_identical=True)
                    bad.append((source, kept_as, found, None))
                except OSError as exc:  # unlikely: the folder was writable a moment ago
                    bad.append((source, None, found, f"could not be kept aside ({exc}), so this "
                                "download's temporary file was discarded"))
                failures.append(f"{url}: the file it served fails its checksum")
                continue
            os.replace(part, path)
        finally:
            part.unlink(missing_ok=True)
        kept = list(dict.fromkeys(str(k) for _, k, _, _ in bad if k is not None))
        if kept:
            what = ("a copy of {} failed its checksum and is kept aside as {} (delete it"
                    if len(kept) == 1 else
                    "copies of {} failed their checksum and are kept aside as {} (delete them")
            warnings.warn(what.format(remote.name, ", ".join(kept)) + " when no longer needed); "
                          f"a fresh download verified and is now used: {path}.",
                          UserWarning, stacklevel=2)
        return path
    if bad:
        raise corrupt_error(remote, path, bad, failures)
    msg = (f"could not download {remote.name} into {folder} ({'; '.join(failures)}). "
           "The file is fetched once and cached: connect to the network, or copy the original "
           f"file into {folder} (choose the folder with cache_dir= or $EOMLIB_DATA).")
    earlier = sorted(folder.glob(glob.escape(remote.name) + ".bad-*"))
    if earlier:
        msg += (f" Earlier copies that failed their checksum are kept aside as "
                f"{', '.join(map(str, earlier))}.")
    raise DatasetUnavailableError(f"{msg} {OFFLINE_HINT}")


# ---------------------------------------------------------------------------------------------
# Parsers of the original formats
# ---------------------------------------------------------------------------------------------

#: IDX type codes (third byte of the magic number) and their big-endian numpy dtypes.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw: bytes) -> np.ndarray:
    """Decode an (uncompressed) IDX file, the format of the MNIST files.

    Layout: two zero bytes, a type code (``eomlib.data.IDX_DTYPES``), the number of
    dimensions ``r``, then ``r`` big-endian uint32 sizes, then the values in C order,
    big-endian.

    Args:
        raw: the bytes of the file, uncompressed (``gzip.decompress`` the ``.gz`` files).

    Returns:
        A numpy array of the shape and type given in the header, in native byte order.

    Raises:
        ValueError: if ``raw`` does not start with two zero bytes, has an unknown type code,
            or is shorter or longer than its header says.

    Example:
        >>> from eomlib import data
        >>> raw = gzip.decompress(open("t10k-labels-idx1-ubyte.gz", "rb").read())  # import gzip
        >>> labels = data.parse_idx(raw)  # uint8, shape (10000,)
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError("not an IDX file: it must start with two zero bytes.")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"not an IDX file: unknown type code 0x{code:02x}.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"truncated IDX file: {len(raw)} bytes, header needs {header}.")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"IDX file of shape {shape} and dtype {dtype} must have {expected} bytes, "
                         f"got {len(raw)}.")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only builtins and numpy arrays: what a CIFAR batch holds, nothing else."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("codecs", "encode"), ("_codecs", "encode"), ("builtins", "bytearray"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a CIFAR batch may not reference {module}.{name}.")


def parse_cifar_batch(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Decode one pickled CIFAR-10 batch: ``(images (n, 32, 32, 3) uint8, labels (n,) int64)``.

    The batch is a (Python 2) pickled dict with ``data``, an ``(n, 3072)`` uint8 array whose
    rows hold the red, green and blue 32×32 planes in turn, and ``labels``, n integers in
    0…9.  Only numpy arrays and builtins are unpickled (anything else is refused: a batch
    that references any other object fails with ``pickle.UnpicklingError``).

    Args:
        raw: the bytes of one batch file (``data_batch_1`` … ``data_batch_5`` or
            ``test_batch`` of ``cifar-10-python.tar.gz``).

    Returns:
        The tuple ``(images, labels)``, the images in height × width × channel order.

    Raises:
        ValueError: if the batch is not a dict with ``data`` and ``labels``, ``data`` is not
            ``(n, 3072)`` with n labels, or a label lies outside 0…9.

    Example:
        >>> from eomlib import data
        >>> images, labels = data.parse_cifar_batch(open("test_batch", "rb").read())
    """
    batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    if not isinstance(batch, dict):
        raise ValueError(f"a CIFAR batch must be a dict, got {type(batch).__name__}.")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"a CIFAR batch needs 'data' and 'labels', got keys {sorted(batch)}.")
    data = np.asarray(batch["data"], np.uint8)
    labels = np.asarray(batch["labels"], np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise ValueError(f"CIFAR data must be (n, 3072) with n labels, got {data.shape} and "
                         f"{labels.shape[0]} labels.")
    if labels.size and not (labels.min() >= 0 and labels.max() < NUM_CLASSES):
        raise ValueError("CIFAR labels must lie in 0…9.")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_cifar_archive(path: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """All images and labels of ``split`` from ``cifar-10-python.tar.gz`` (read in memory)."""
    wanted = CIFAR10_BATCHES[split]
    found = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if member.isfile() and name in wanted:
                found[name] = parse_cifar_batch(tar.extractfile(member).read())
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ValueError(f"{path} lacks the CIFAR-10 batches {missing}.")
    images, labels = zip(*(found[n] for n in wanted))
    return np.concatenate(images), np.concatenate(labels)


def check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    return split


def mnist(n_train: int = 1024, seed: int = 0, *, split: str = "train",
          cache_dir: str | os.PathLike | None = None, dtype=None) -> Dataset:
    """A fixed random subset of MNIST (28×28 grey digits; 60 000 train / 10 000 test images).

    Downloads the split's two original IDX files (images and labels) once (see
    :func:`eomlib.data.fetch`; needs a network the first time, else raises
    :class:`eomlib.data.DatasetUnavailableError`).  Pixels scaled to [0, 1], centred.

    Args:
        n_train: the number of examples in the subset, an integer in [1, 60000] for the
            training split, [1, 10000] for the test split (default 1024).
        seed: the seed of the permutation that picks the subset (default 0).
        split: keyword only; ``"train"`` (the default) or ``"test"``.
        cache_dir: keyword only; the download folder, as for :func:`eomlib.data.cache_dir`
            (default None: ``$EOMLIB_DATA``, else ``~/.cache/eomlib``).
        dtype: keyword only; the floating dtype of ``x`` and ``y``; None (the default) is
            JAX's default float.

    Returns:
        A :class:`eomlib.data.Dataset` with ``x`` of shape ``(n_train, 784)`` and ``y`` of
        shape ``(n_train, 10)``.

    Raises:
        ValueError: if ``split`` is neither ``"train"`` nor ``"test"``, or ``n_train`` is
            out of range.
        eomlib.data.DatasetUnavailableError: if a file is not cached and cannot be
            downloaded; as :class:`eomlib.data.CorruptFileError` if no copy passes its
            checksum (bad copies are kept aside, never deleted), as
            :class:`eomlib.data.CacheDirError` if the cache folder cannot be used.

    Example:
        >>> from eomlib import data
        >>> ds = data.mnist(n_train=1024, seed=0)  # about 10 MiB downloaded the first time
    """
    images_file, labels_file = MNIST_FILES[check_split(split)]
    images = parse_idx(gzip.decompress(fetch(images_file, MNIST_MIRRORS, cache_dir).read_bytes()))
    labels = parse_idx(gzip.decompress(fetch(labels_file, MNIST_MIRRORS, cache_dir).read_bytes()))
    idx = seeded_subset(len(labels), n_train, seed)
    pixels = images[idx].reshape(len(idx), -1).astype(np.float64) / 255.0
    return classification_dataset(pixels, labels[idx].astype(np.int64), dtype)


def cifar10(n_train: int = 1024, seed: int = 0, *, split: str = "train",
            cache_dir: str | os.PathLike | None = None, dtype=None) -> Dataset:
    """A fixed random subset of CIFAR-10 (32×32 colour; 50 000 train / 10 000 test images).

    Downloads ``cifar-10-python.tar.gz`` once (163 MiB; see :func:`eomlib.data.fetch`) and
    reads the pickled batches from it in memory.  Rows are images flattened as 32×32×3
    (HWC), pixels scaled to [0, 1] and centred.

    Args:
        n_train: the number of examples in the subset, an integer in [1, 50000] for the
            training split, [1, 10000] for the test split (default 1024).
        seed: the seed of the permutation that picks the subset (default 0).
        split: keyword only; ``"train"`` (the default) or ``"test"``.
        cache_dir: keyword only; the download folder, as for :func:`eomlib.data.cache_dir`
            (default None: ``$EOMLIB_DATA``, else ``~/.cache/eomlib``).
        dtype: keyword only; the floating dtype of ``x`` and ``y``; None (the default) is
            JAX's default float.

    Returns:
        A :class:`eomlib.data.Dataset` with ``x`` of shape ``(n_train, 3072)`` and ``y`` of
        shape ``(n_train, 10)``.

    Raises:
        ValueError: if ``split`` is neither ``"train"`` nor ``"test"``, ``n_train`` is out
            of range, or the archive lacks a batch or holds a malformed one.
        eomlib.data.DatasetUnavailableError: if the archive is not cached and cannot be
            downloaded; as :class:`eomlib.data.CorruptFileError` if no copy passes its
            checksum (bad copies are kept aside, never deleted), as
            :class:`eomlib.data.CacheDirError` if the cache folder cannot be used.

    Example:
        >>> from eomlib import data
        >>> ds = data.cifar10(n_train=2048, split="train")
    """
    archive = fetch(CIFAR10_ARCHIVE, CIFAR10_MIRRORS, cache_dir)
    images, labels = read_cifar_archive(archive, check_split(split))
    idx = seeded_subset(len(labels), n_train, seed)
    pixels = images[idx].reshape(len(idx), -1).astype(np.float64) / 255.0
    return classification_dataset(pixels, labels[idx], dtype)


#: The dataset names :func:`eomlib.data.load` accepts.
DATASETS = ("digits", "mnist", "cifar10", "teacher_student")


def load(name: str, n_train: int = 256, seed: int = 0, *,
         cache_dir: str | os.PathLike | None = None, dtype=None) -> Dataset:
    """Dispatch on ``name`` (one of :data:`eomlib.data.DATASETS`): a subset of ``n_train`` examples.

    ``teacher_student`` uses ``jax.random.PRNGKey(seed)`` and its default sizes.

    Args:
        name: ``"digits"`` (:func:`eomlib.data.digits`), ``"mnist"``
            (:func:`eomlib.data.mnist`), ``"cifar10"`` (:func:`eomlib.data.cifar10`) or
            ``"teacher_student"`` (:func:`eomlib.data.teacher_student`).
        n_train: the number of examples, ≥ 1 (and at most the size of the dataset, for the
            image datasets); default 256.
        seed: the seed of the subset (of the teacher and inputs for ``teacher_student``);
            default 0.
        cache_dir: keyword only; the download folder of ``mnist`` and ``cifar10``, as for
            :func:`eomlib.data.cache_dir` (default None); unused by the offline datasets.
        dtype: keyword only; the floating dtype of ``x`` and ``y``; None (the default) is
            JAX's default float.

    Returns:
        The :class:`eomlib.data.Dataset`.

    Raises:
        ValueError: if ``name`` is not in :data:`eomlib.data.DATASETS`, or ``n_train`` is
            out of range.
        eomlib.data.DatasetUnavailableError: if ``mnist`` or ``cifar10`` is not cached and
            cannot be downloaded; as :class:`eomlib.data.CorruptFileError` if no copy passes
            its checksum (bad copies are kept aside, never deleted), as
            :class:`eomlib.data.CacheDirError` if the cache folder cannot be used.

    Example:
        >>> import jax.numpy as jnp
        >>> from eomlib import data
        >>> ds = data.load("digits", n_train=512, dtype=jnp.float64)
    """
    if name == "digits":
        return digits(n_train, seed, dtype)
    if name == "mnist":
        return mnist(n_train, seed, cache_dir=cache_dir, dtype=dtype)
    if name == "cifar10":
        return cifar10(n_train, seed, cache_dir=cache_dir, dtype=dtype)
    if name == "teacher_student":
        return teacher_student(jax.random.PRNGKey(seed), n=n_train, dtype=dtype)
    raise ValueError(f"name must be one of {DATASETS}, got {name!r}.")
