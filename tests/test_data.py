"""Dataset loaders: IDX and CIFAR parsers on fixture files written here, checksums, the
download cache and the offline error.  No network is used: mirrors point at a closed port."""

import gzip
import io
import os
import pickle
import tarfile

import jax
import numpy as np
import pytest

from eomlib import data

CLOSED_PORT = "http://127.0.0.1:9/"  # the discard port: connection refused, instantly


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


def test_checksum_mismatch_is_an_error_and_the_file_is_removed(tmp_path, monkeypatch):
    good = data.RemoteFile("f.bin", 5, "0" * 64, "0" * 32)
    (tmp_path / "payload").write_bytes(b"hello")
    with pytest.raises(data.ChecksumError, match="sha256"):
        data.verify_file(tmp_path / "payload", good._replace(size=5))

    def fake_download(url, dest, timeout=None):  # a mirror serving the wrong bytes
        dest.write_bytes(b"hello")

    monkeypatch.setattr(data, "download", fake_download)
    with pytest.raises(data.ChecksumError, match="expected"):
        data.fetch(good, ("http://mirror.invalid/",), tmp_path)
    assert not (tmp_path / "f.bin").exists()


def test_corrupt_cached_file_is_fetched_again(tmp_path, monkeypatch):
    payload = b"the real bytes"
    (tmp_path / "src").write_bytes(payload)
    remote = remote_for(tmp_path / "src", "f.bin")
    (tmp_path / "f.bin").write_bytes(b"truncated")
    monkeypatch.setattr(data, "download", lambda url, dest, timeout=None: dest.write_bytes(payload))
    assert data.fetch(remote, ("http://mirror.invalid/",), tmp_path).read_bytes() == payload


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
