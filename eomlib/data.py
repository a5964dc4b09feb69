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

Images are flattened in height × width × channel order (see
:data:`eomlib.data.IMAGE_SHAPES`), scaled to [0, 1] and centred per feature over the subset;
``y`` is one-hot.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import os
import pickle
import shutil
import tarfile
import urllib.request
from pathlib import Path
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Dataset", "load", "digits", "teacher_student", "mnist", "cifar10", "fetch",
           "parse_idx", "parse_cifar_batch", "cache_dir", "DatasetUnavailableError",
           "ChecksumError", "NUM_CLASSES", "IMAGE_SHAPES", "DATASETS"]


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
    """A dataset file could not be downloaded (no network, or every mirror failed).

    Raised by :func:`eomlib.data.fetch`, hence by :func:`eomlib.data.mnist`,
    :func:`eomlib.data.cifar10` and :func:`eomlib.data.load`; an ``OSError`` whose message
    lists the mirrors tried and names the offline default :func:`eomlib.data.digits`.

    Args:
        *args: the message, as for ``OSError``.

    Example:
        >>> from eomlib import data
        >>> try: ds = data.mnist()
        ... except data.DatasetUnavailableError: ds = data.digits()
    """


class ChecksumError(ValueError):
    """A file's size, SHA-256 or MD5 differs from the published value.

    Raised by :func:`eomlib.data.fetch` (hence :func:`eomlib.data.mnist`,
    :func:`eomlib.data.cifar10` and :func:`eomlib.data.load`) after it has removed the
    corrupt download; a ``ValueError``.

    Args:
        *args: the message, as for ``ValueError``.

    Example:
        >>> from eomlib import data
        >>> try: ds = data.cifar10()
        ... except data.ChecksumError as exc: print(exc)  # then try again
    """


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


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The download folder: ``path`` if given, else ``$EOMLIB_DATA``, else ``~/.cache/eomlib``.

    Args:
        path: the folder (a string or path-like; ``~`` is expanded), or None (the default)
            for ``$EOMLIB_DATA`` if set and not empty, else ``~/.cache/eomlib``.

    Returns:
        The folder as a ``pathlib.Path`` (not created here).

    Example:
        >>> from eomlib import data
        >>> data.cache_dir("~/datasets")  # PosixPath('/home/me/datasets')
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("EOMLIB_DATA", "")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "eomlib"


def file_digests(path: Path) -> dict:
    """``{"size", "sha256", "md5"}`` of the file at ``path`` (read in 1 MiB blocks)."""
    sha256, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha256.update(block)
            md5.update(block)
            size += len(block)
    return {"size": size, "sha256": sha256.hexdigest(), "md5": md5.hexdigest()}


def verify_file(path: Path, remote: RemoteFile) -> None:
    """Raise :class:`eomlib.data.ChecksumError` unless size, SHA-256 and MD5 match ``remote``."""
    got = file_digests(path)
    for key in ("size", "sha256", "md5"):
        expected = getattr(remote, key)
        if got[key] != expected:
            raise ChecksumError(
                f"{path} is not the published {remote.name}: {key} is {got[key]}, expected "
                f"{expected}: the download is corrupt, or the mirror serves a different file.")


def download(url: str, dest: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Stream ``url`` into ``dest`` (written to ``dest.part`` first, renamed when complete)."""
    partial = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as fh:
            shutil.copyfileobj(response, fh, 1 << 20)
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)


def fetch(remote: RemoteFile, mirrors: Sequence[str], directory: str | os.PathLike | None = None,
          *, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Path of ``remote`` in the cache, downloading and verifying it on first use.

    A cached file is re-verified on every call (a corrupt one is removed and fetched again).
    Mirrors are tried in order.  Raises :class:`eomlib.data.DatasetUnavailableError` (naming
    the offline default ``eomlib.data.digits``) when no mirror can be reached, and
    :class:`eomlib.data.ChecksumError` when the downloaded bytes are not the published file.

    Args:
        remote: the file, a ``RemoteFile`` record of its name, size in bytes, SHA-256 and
            MD5 (e.g. ``eomlib.data.CIFAR10_ARCHIVE``).
        mirrors: base URLs ending in ``/``, tried in order; the file's URL is the mirror
            followed by ``remote.name``.
        directory: the cache folder, as for :func:`eomlib.data.cache_dir` (default None:
            ``$EOMLIB_DATA``, else ``~/.cache/eomlib``); created if missing.
        timeout: keyword only; the socket timeout in seconds of each download, > 0
            (default 30).

    Returns:
        The ``pathlib.Path`` of the verified file in the cache folder.

    Raises:
        eomlib.data.DatasetUnavailableError: if no mirror can be reached.
        eomlib.data.ChecksumError: if the downloaded file is not the published one (it is
            removed).

    Example:
        >>> from eomlib import data
        >>> path = data.fetch(data.CIFAR10_ARCHIVE, data.CIFAR10_MIRRORS)  # once: 163 MiB
    """
    folder = cache_dir(directory)
    path = folder / remote.name
    if path.exists():
        try:
            verify_file(path, remote)
            return path
        except ChecksumError:
            path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror + remote.name
        try:
            download(url, path, timeout)
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts included
            failures.append(f"{url}: {getattr(exc, 'reason', exc)}")
            continue
        try:
            verify_file(path, remote)
        except ChecksumError as exc:
            path.unlink(missing_ok=True)
            raise ChecksumError(f"{exc} The file has been removed; try again.") from exc
        return path
    raise DatasetUnavailableError(
        f"could not download {remote.name} into {folder} ({'; '.join(failures)}). "
        "The file is fetched once and cached: connect to the network, or copy the original "
        f"file into {folder} (choose the folder with cache_dir= or $EOMLIB_DATA). {OFFLINE_HINT}")


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
            downloaded.
        eomlib.data.ChecksumError: if a downloaded file is not the published one.

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
            downloaded.
        eomlib.data.ChecksumError: if the downloaded archive is not the published one.

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
            cannot be downloaded.
        eomlib.data.ChecksumError: if a downloaded file is not the published one.

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
