"""Dataset loaders: IDX and CIFAR parsers on fixture files written here, checksums, the
download cache (bad files kept aside, bad cache folders, temporary files) and the offline
error.  No network is used: mirrors point at a closed port, or downloads are faked."""

import gzip
import io
import os
import pickle
import stat
import tarfile
import urllib.error

import jax
import numpy as np
import pytest

from eomlib import data

CLOSED_PORT = "http://127.0.0.1:9/"  # the discard port: connection refused, instantly
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # chmod does not stop root


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """An IDX file: 0, 0, type code, ndim, big-endian uint32 dims, big-endian values."""
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(data.IDX_DTYPES[code]).tobytes()


def cifar_batch_bytes(images: np.ndarray, labels) -> bytes:
    """A CIFAR-10 batch as the original: a pickled dict, rows = R, G, B planes of 32×32."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    batch = {b"batch_label": b"fixture", b"labels": [int(v) for v in labels], b"data": rows,
             b"filenames": [b"img%d.png" % i for i in range(len(labels))]}
    return pickle.dumps(batch, protocol=2)


def remote_for(path, name=None) -> data.RemoteFile:
    d = data.file_digests(path)
    return data.RemoteFile(name or path.name, d["size"], d["sha256"], d["md5"])


def test_parse_idx_reads_what_was_written(tmp_path):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images, 0x08)))
    parsed = data.parse_idx(gzip.decompress(path.read_bytes()))
    assert parsed.dtype == np.uint8 and parsed.shape == (3, 4, 5)
    np.testing.assert_array_equal(parsed, images)
    shorts = np.array([[-2, 300], [7, -32768]], dtype=np.int16)  # big-endian on disk
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(shorts, 0x0B)), shorts)


@pytest.mark.parametrize("raw, match", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "zero bytes"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "type code"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "bytes"),  # 3 values announced, 1 present
])
def test_parse_idx_rejects_bad_files(raw, match):
    with pytest.raises(ValueError, match=match):
        data.parse_idx(raw)


def test_parse_cifar_batch_reorders_planes_to_hwc(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "data_batch_1"
    path.write_bytes(cifar_batch_bytes(images, [3, 0, 9]))
    parsed, labels = data.parse_cifar_batch(path.read_bytes())
    np.testing.assert_array_equal(parsed, images)
    np.testing.assert_array_equal(labels, [3, 0, 9])
    raw_row = pickle.loads(path.read_bytes())[b"data"][1]
    assert parsed[1, 5, 7, 2] == raw_row[2 * 1024 + 5 * 32 + 7]  # blue plane, row 5, col 7


def test_parse_cifar_batch_refuses_foreign_objects():
    evil = pickle.dumps({b"data": np.zeros((0, 3072), np.uint8), b"labels": [], b"x": os.getcwd})
    with pytest.raises(pickle.UnpicklingError, match="may not reference"):
        data.parse_cifar_batch(evil)


def test_mnist_loader_from_cached_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 20).astype(np.uint8)
    files = []
    for name, array, code in (("tr-images.gz", images, 0x08), ("tr-labels.gz", labels, 0x08)):
        (tmp_path / name).write_bytes(gzip.compress(idx_bytes(array, code)))
        files.append(remote_for(tmp_path / name))
    monkeypatch.setattr(data, "MNIST_FILES", {"train": tuple(files), "test": tuple(files)})
    monkeypatch.setattr(data, "MNIST_MIRRORS", (CLOSED_PORT,))  # must not be needed
    monkeypatch.setenv("EOMLIB_DATA", str(tmp_path))  # the cache folder, from the environment
    ds = data.mnist(n_train=8, seed=3)
    assert ds.x.shape == (8, 784) and ds.y.shape == (8, 10) and ds.labels.shape == (8,)
    idx = data.seeded_subset(20, 8, 3)
    np.testing.assert_array_equal(ds.labels, labels[idx])
    expected = images[idx].reshape(8, -1) / 255.0
    np.testing.assert_allclose(ds.x, expected - expected.mean(axis=0), atol=1e-12)
    np.testing.assert_array_equal(data.mnist(n_train=8, seed=3).x, ds.x)  # fixed subset


def test_cifar10_loader_from_cached_archive(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    archive = tmp_path / "cifar-10-python.tar.gz"
    batches = {}
    with tarfile.open(archive, "w:gz") as tar:
        for name in (*data.CIFAR10_BATCHES["train"], "test_batch", "batches.meta"):
            images = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
            labels = rng.integers(0, 10, 2)
            raw = cifar_batch_bytes(images, labels)
            batches[name] = (images, labels)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    monkeypatch.setattr(data, "CIFAR10_ARCHIVE", remote_for(archive))
    monkeypatch.setattr(data, "CIFAR10_MIRRORS", (CLOSED_PORT,))
    ds = data.load("cifar10", n_train=10, seed=0, cache_dir=tmp_path)
    assert ds.x.shape == (10, 32 * 32 * 3) and ds.y.shape == (10, 10)
    all_labels = np.concatenate([batches[n][1] for n in data.CIFAR10_BATCHES["train"]])
    np.testing.assert_array_equal(ds.labels, all_labels[data.seeded_subset(10, 10, 0)])
    test = data.cifar10(n_train=2, split="test", cache_dir=tmp_path)
    np.testing.assert_array_equal(np.sort(test.labels), np.sort(batches["test_batch"][1]))


def test_verify_file_names_expected_and_found_checksums(tmp_path):
    good = data.RemoteFile("f.bin", 5, "0" * 64, "0" * 32)
    (tmp_path / "payload").write_bytes(b"hello")
    found = data.file_digests(tmp_path / "payload")
    with pytest.raises(data.ChecksumError, match="sha256") as info:
        data.verify_file(tmp_path / "payload", good)
    assert "0" * 64 in str(info.value) and found["sha256"] in str(info.value)


def remote_of(payload: bytes, tmp_path, name="f.bin") -> data.RemoteFile:
    """The RemoteFile whose published checksums are those of ``payload``."""
    (tmp_path / "published").write_bytes(payload)
    remote = remote_for(tmp_path / "published", name)
    (tmp_path / "published").unlink()
    return remote


def serving(payload: bytes, calls=None):
    """A fake ``data.download`` writing ``payload`` (recording where it writes)."""
    def fake_download(url, dest, timeout=None):
        if calls is not None:
            calls.append(dest)
        dest.write_bytes(payload)
    return fake_download


def offline(url, dest, timeout=None):
    raise urllib.error.URLError("no network in the tests")


def test_corrupt_download_is_kept_aside_not_deleted(tmp_path, monkeypatch):
    remote = remote_of(b"the real bytes", tmp_path)
    cache = tmp_path / "cache"
    calls = []
    monkeypatch.setattr(data, "download", serving(b"hello", calls))
    with pytest.raises(data.CorruptFileError) as info:
        data.fetch(remote, ("http://mirror.invalid/",), cache)
    found = data.file_digests(cache / info.value.kept_as.name)
    kept = cache / f"f.bin.bad-{found['sha256'][:12]}"
    assert info.value.kept_as == kept and kept.read_bytes() == b"hello"
    assert isinstance(info.value, data.ChecksumError)  # old handlers still catch it
    assert isinstance(info.value, data.DatasetUnavailableError)  # so does the command line
    msg = str(info.value)
    for part in (str(kept), remote.sha256, found["sha256"], remote.md5, found["md5"],
                 "mirror.invalid", "delete", str(cache / "f.bin")):
        assert part in msg, part
    assert info.value.found == found and info.value.expected["sha256"] == remote.sha256
    assert info.value.path == cache / "f.bin"
    assert calls[0].parent == cache and calls[0] != cache / "f.bin"  # a temporary name
    # The same bad bytes again are not kept twice; the kept copy is never reused as the file.
    with pytest.raises(data.CorruptFileError):
        data.fetch(remote, ("http://mirror.invalid/",), cache)
    assert sorted(os.listdir(cache)) == [kept.name]


def test_corrupt_cached_file_is_kept_aside_with_a_clear_message(tmp_path, monkeypatch):
    remote = remote_of(b"the real bytes", tmp_path)
    (tmp_path / "f.bin").write_bytes(b"truncated")
    found = data.file_digests(tmp_path / "f.bin")
    kept = tmp_path / f"f.bin.bad-{found['sha256'][:12]}"
    kept.write_bytes(b"an earlier bad copy")  # same name by chance: must not be overwritten
    monkeypatch.setattr(data, "download", offline)
    with pytest.raises(data.CorruptFileError) as info:
        data.fetch(remote, ("http://mirror.invalid/",), tmp_path)
    kept2 = kept.with_name(kept.name + "-2")
    assert kept2.read_bytes() == b"truncated" and kept.read_bytes() == b"an earlier bad copy"
    assert not (tmp_path / "f.bin").exists() and info.value.kept_as == kept2
    msg = str(info.value)
    for part in (f"the cached file {tmp_path / 'f.bin'}", str(kept2), remote.sha256,
                 found["sha256"], f"size {remote.size}", f"size {found['size']}",
                 "no network in the tests", "delete", "good copy", "eomlib.data.digits"):
        assert part in msg, part
    # Offline again: the plain error, which still points at the kept-aside copies.
    with pytest.raises(data.DatasetUnavailableError, match="kept aside") as info:
        data.fetch(remote, ("http://mirror.invalid/",), tmp_path)
    assert str(kept2) in str(info.value) and not isinstance(info.value, data.CorruptFileError)


def test_good_download_after_a_corrupt_one_is_used_with_a_warning(tmp_path, monkeypatch):
    payload = b"the real bytes"
    remote = remote_of(payload, tmp_path)
    (tmp_path / "f.bin").write_bytes(b"truncated")
    kept = tmp_path / f"f.bin.bad-{data.file_digests(tmp_path / 'f.bin')['sha256'][:12]}"
    monkeypatch.setattr(data, "download", serving(payload))
    with pytest.warns(UserWarning, match=str(kept)):
        path = data.fetch(remote, ("http://mirror.invalid/",), tmp_path)
    assert path == tmp_path / "f.bin" and path.read_bytes() == payload
    assert kept.read_bytes() == b"truncated"

    # A corrupt download from the first mirror, a good one from the second.
    (tmp_path / "f.bin").unlink()
    monkeypatch.setattr(data, "download", lambda url, dest, timeout=None: dest.write_bytes(
        b"wrong" if "first" in url else payload))
    with pytest.warns(UserWarning, match=r"f\.bin\.bad-"):
        path = data.fetch(remote, ("http://first.invalid/", "http://second.invalid/"), tmp_path)
    assert path.read_bytes() == payload
    assert len([n for n in os.listdir(tmp_path) if n.startswith("f.bin.bad-")]) == 2


def test_corrupt_cached_file_that_cannot_be_moved_is_left_in_place(tmp_path, monkeypatch):
    remote = remote_of(b"the real bytes", tmp_path)
    (tmp_path / "f.bin").write_bytes(b"truncated")

    def read_only(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data, "keep_aside", read_only)
    monkeypatch.setattr(data, "download", serving(b"unused"))
    with pytest.raises(data.CorruptFileError, match="could not be moved aside") as info:
        data.fetch(remote, ("http://mirror.invalid/",), tmp_path)
    assert (tmp_path / "f.bin").read_bytes() == b"truncated" and info.value.kept_as is None
    assert "EOMLIB_DATA" in str(info.value) and remote.sha256 in str(info.value)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_offline_error_names_the_digits_default(name, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MNIST_MIRRORS", (CLOSED_PORT,))
    monkeypatch.setattr(data, "CIFAR10_MIRRORS", (CLOSED_PORT,))
    with pytest.raises(data.DatasetUnavailableError, match=r"eomlib\.data\.digits") as info:
        data.load(name, 16, cache_dir=tmp_path / "cache")
    assert "127.0.0.1:9" in str(info.value) and str(tmp_path / "cache") in str(info.value)
    assert not any((tmp_path / "cache").glob("*.part"))


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("EOMLIB_DATA", str(tmp_path / "env"))
    assert data.cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert data.cache_dir() == tmp_path / "env"
    monkeypatch.delenv("EOMLIB_DATA")
    assert data.cache_dir().parts[-2:] == (".cache", "eomlib")


def test_load_dispatches_offline_datasets():
    digits = data.load("digits", 32, seed=1)
    assert digits.x.shape == (32, 64) and digits.y.shape == (32, 10)
    np.testing.assert_allclose(np.asarray(digits.x).mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_array_equal(digits.labels, data.digits(32, seed=1).labels)
    ts = jax.eval_shape(lambda: data.load("teacher_student", 12))  # shapes only: no compiling
    assert ts.x.shape == (12, 4) and ts.y.shape == (12, 1)
    with pytest.raises(ValueError, match="name"):
        data.load("imagenet", 8)
    with pytest.raises(ValueError, match="n_train"):
        data.digits(0)


def assert_names_the_way_out(exc, folder):
    msg = str(exc)
    assert str(folder) in msg and "EOMLIB_DATA" in msg and "cache_dir=" in msg, msg
    assert exc.path == folder


@pytest.mark.parametrize("via", ["argument", "environment"])
def test_cache_path_that_is_a_file_is_a_clear_error(via, tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    folder.write_bytes(b"not a folder")
    monkeypatch.setattr(data, "MNIST_MIRRORS", (CLOSED_PORT,))
    monkeypatch.setenv("EOMLIB_DATA", str(folder))
    with pytest.raises(data.CacheDirError, match="is a file, not a folder") as info:
        data.load("mnist", 8, cache_dir=folder if via == "argument" else None)
    assert_names_the_way_out(info.value, folder)
    assert ("EOMLIB_DATA" if via == "environment" else "given as cache_dir=") in \
        str(info.value).split("cannot be used")[0]
    assert folder.read_bytes() == b"not a folder"


def test_cache_path_below_a_file_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "file").write_bytes(b"")
    folder = tmp_path / "file" / "sub" / "cache"
    monkeypatch.setattr(data, "download", serving(b"unused"))
    with pytest.raises(data.CacheDirError, match="is a file, so no folder") as info:
        data.fetch(remote_of(b"x", tmp_path), ("http://mirror.invalid/",), folder)
    assert_names_the_way_out(info.value, folder)
    assert str(tmp_path / "file") in str(info.value)


@pytest.mark.skipif(AS_ROOT, reason="chmod does not restrict root")
def test_unwritable_cache_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "download", serving(b"x"))
    remote = remote_of(b"x", tmp_path)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(data.CacheDirError, match="not writable") as info:
            data.fetch(remote, ("http://mirror.invalid/",), folder)
        assert_names_the_way_out(info.value, folder)
        with pytest.raises(data.CacheDirError, match="cannot be created") as info:
            data.fetch(remote, ("http://mirror.invalid/",), folder / "sub")
        assert_names_the_way_out(info.value, folder / "sub")
    finally:
        folder.chmod(stat.S_IRWXU)


def test_unwritable_cache_folder_error_as_any_user(tmp_path, monkeypatch):
    def refused(folder, name):  # what creating a file in a read-only folder raises
        raise PermissionError(13, "Permission denied", str(folder / name))

    monkeypatch.setattr(data, "create_part", refused)
    monkeypatch.setattr(data, "download", serving(b"x"))
    with pytest.raises(data.CacheDirError, match="not writable") as info:
        data.fetch(remote_of(b"x", tmp_path), ("http://mirror.invalid/",), tmp_path)
    assert_names_the_way_out(info.value, tmp_path)
    assert "Permission denied" in str(info.value)


def test_read_only_cache_with_a_good_file_still_loads(tmp_path, monkeypatch):
    payload = b"the real bytes"
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "f.bin").write_bytes(payload)
    remote = remote_for(folder / "f.bin")

    def no_write(*args, **kwargs):
        raise AssertionError("a verified cached file needs no write")

    for name in ("download", "create_part", "keep_aside"):  # also for root, whom chmod won't stop
        monkeypatch.setattr(data, name, no_write)
    (folder / "f.bin").chmod(stat.S_IRUSR)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert data.fetch(remote, ("http://mirror.invalid/",), folder).read_bytes() == payload
    finally:
        folder.chmod(stat.S_IRWXU)


@pytest.mark.parametrize("failure", [OSError("connection reset"), KeyboardInterrupt()])
def test_a_failed_download_leaves_no_temporary_file(failure, tmp_path, monkeypatch):
    calls = []

    def half_download(url, dest, timeout=None):
        calls.append(dest)
        dest.write_bytes(b"the first half")
        raise failure

    monkeypatch.setattr(data, "download", half_download)
    with pytest.raises(type(failure) if isinstance(failure, KeyboardInterrupt)
                       else data.DatasetUnavailableError):
        data.fetch(remote_of(b"the first half and more", tmp_path), ("http://a.invalid/",),
                   tmp_path / "cache")
    assert calls and calls[0].name.startswith(".f.bin.") and calls[0].name.endswith(".part")
    assert os.listdir(tmp_path / "cache") == []
