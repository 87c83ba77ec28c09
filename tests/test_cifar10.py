"""CIFAR-10 (milestones/cifar10.py): download, safe extraction and safe unpickling, offline.

Every archive here is a tiny CIFAR-10 look-alike built in the test (a few 32×32 images per
batch, pickled the way the real files are: Python 2 protocol 2 with a NumPy array), served by a
real HTTP server on 127.0.0.1 (a port the OS picks; the ``server`` fixture, tests/httpserver.py).
Nothing leaves this machine.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from milestones import cifar10, data
from tests.httpserver import sha

TIMEOUT = 5.0
N_TRAIN, N_TEST = 4, 3  # images per training batch (5 batches) and in the test batch


# ---------------------------------------------------------------------------------------------
# Pickles exactly like the real batches (Python 2 cPickle, protocol 2, a numpy.core array)
# ---------------------------------------------------------------------------------------------


def _int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    return b"J" + struct.pack("<i", v)


def _str(b: bytes) -> bytes:  # a Python 2 str: SHORT_BINSTRING or BINSTRING
    return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<i", len(b)) + b


def _uint8_array(a: np.ndarray) -> bytes:
    shape = b"".join(_int(s) for s in a.shape) + {1: b"\x85", 2: b"\x86", 3: b"\x87"}[a.ndim]
    return (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _int(0) + b"\x85" + _str(b"b") + b"\x87R"
        + b"(" + _int(1) + shape
        + b"cnumpy\ndtype\n" + _str(b"u1") + _int(0) + _int(1) + b"\x87R"
        + b"(" + _int(3) + _str(b"|") + b"NNN" + _int(-1) + _int(-1) + _int(0) + b"tb"
        + b"\x89" + _str(a.tobytes()) + b"tb"
    )


def py2_pickle(batch: dict) -> bytes:
    """Pickle {bytes: uint8 array | list of ints | list of bytes | bytes} like Python 2's cPickle."""
    out = b"\x80\x02}("
    for key, value in batch.items():
        out += _str(key)
        if isinstance(value, np.ndarray):
            out += _uint8_array(value)
        elif isinstance(value, bytes):
            out += _str(value)
        else:
            items = b"".join(_int(v) if isinstance(v, int) else _str(v) for v in value)
            out += b"](" + items + b"e"
    return out + b"u."


def fake_batch(n, seed):
    r = np.random.default_rng(seed)
    images = r.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in r.integers(0, 10, n)]
    return images, labels


def batch_bytes(images, labels, name):
    return py2_pickle({
        b"batch_label": name.encode(), b"labels": labels, b"data": images,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
    })


def make_archive(extra=()) -> tuple[bytes, dict]:
    """A tar.gz shaped like cifar-10-python.tar.gz, plus ``extra`` TarInfo members (with data).

    Returns (archive bytes, {batch name: (images, labels)}).
    """
    batches = {name: fake_batch(N_TRAIN, i) for i, name in enumerate(cifar10.TRAIN_BATCHES)}
    batches[cifar10.TEST_BATCH] = fake_batch(N_TEST, 99)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        folder = tarfile.TarInfo(cifar10.FOLDER)
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, (images, labels) in batches.items():
            body = batch_bytes(images, labels, name)
            info = tarfile.TarInfo(f"{cifar10.FOLDER}/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        for info, body in extra:
            tar.addfile(info, io.BytesIO(body) if body is not None else None)
    return buffer.getvalue(), batches


def member(name, kind=tarfile.REGTYPE, body=b"pwned\n", linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    if kind == tarfile.REGTYPE:
        info.size = len(body)
        return info, body
    return info, None


# ---------------------------------------------------------------------------------------------
# Loading through the local server (the ``server`` fixture, tests/httpserver.py)
# ---------------------------------------------------------------------------------------------


def load(server, root, body, path="/cifar-10-python.tar.gz", **kwargs):
    server.serve(path, body, kwargs.pop("kind", "ok"))
    kwargs = {"url": server.url(path), "sha256": sha(body), "retries": 2, "backoff": 0, "timeout": TIMEOUT,
              "progress": False, **kwargs}
    return cifar10.load_cifar10(root, **kwargs)


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*"))


# ---------------------------------------------------------------------------------------------
# The good path
# ---------------------------------------------------------------------------------------------


def test_pinned_source():
    """The real archive's URL and SHA-256 are pinned."""
    assert cifar10.CIFAR10_URL == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert cifar10.CIFAR10_SHA256 == "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"


def test_good_archive_downloads_extracts_and_loads(server, tmp_path):
    """A good archive is downloaded, checked, extracted into <root>/cifar10 and read: uint8 NCHW images
    (row 0..1023 of a record is the red channel) and int64 labels, the 5 training batches in order."""
    body, batches = make_archive()
    (x_train, y_train), (x_test, y_test) = load(server, tmp_path, body)
    assert x_train.shape == (5 * N_TRAIN, 3, 32, 32) and x_train.dtype == np.uint8
    assert x_test.shape == (N_TEST, 3, 32, 32) and y_train.dtype == np.int64
    images, labels = batches["data_batch_2"]
    np.testing.assert_array_equal(x_train[N_TRAIN : 2 * N_TRAIN], images.reshape(-1, 3, 32, 32))
    np.testing.assert_array_equal(x_train[N_TRAIN, 0].reshape(-1), images[0, :1024])  # red plane first
    np.testing.assert_array_equal(y_train[N_TRAIN : 2 * N_TRAIN], labels)
    np.testing.assert_array_equal(y_test, batches["test_batch"][1])
    cache = tmp_path / "cifar10"
    assert sorted(p.name for p in cache.iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]


def test_second_load_uses_the_cache_even_offline(server, tmp_path, monkeypatch):
    """Once extracted, loading again contacts nobody (TINYTORCH_OFFLINE=1 is fine)."""
    body, _ = make_archive()
    load(server, tmp_path, body)
    monkeypatch.setenv("TINYTORCH_OFFLINE", "1")
    (x_train, _), _ = cifar10.load_cifar10(tmp_path, url=server.url("/cifar-10-python.tar.gz"), sha256=sha(body))
    assert len(x_train) == 5 * N_TRAIN
    assert server.hits["/cifar-10-python.tar.gz"] == 1


# ---------------------------------------------------------------------------------------------
# Malicious archives
# ---------------------------------------------------------------------------------------------


def malicious_members(tmp_path):
    outside = tmp_path / "outside.txt"
    return {
        "dot-dot": (member("../x"), "'../x'", tmp_path / "x"),
        "dot-dot deep": (member(f"{cifar10.FOLDER}/../../y"), "would be written outside", tmp_path / "y"),
        "absolute path": (member(str(outside)), "absolute path", outside),
        "symlink": (member(f"{cifar10.FOLDER}/evil", tarfile.SYMTYPE, linkname=str(outside)), "symbolic link", outside),
        "hard link": (member(f"{cifar10.FOLDER}/evil", tarfile.LNKTYPE, linkname="../../outside.txt"), "hard link", outside),
        "device": (member(f"{cifar10.FOLDER}/dev", tarfile.CHRTYPE), "device", None),
        "fifo": (member(f"{cifar10.FOLDER}/fifo", tarfile.FIFOTYPE), "special file", None),
    }


@pytest.mark.parametrize("case", ["dot-dot", "dot-dot deep", "absolute path", "symlink", "hard link", "device", "fifo"])
def test_malicious_member_is_refused_and_nothing_is_written(server, tmp_path, case):
    """An archive with one unsafe member (path leaving the cache, absolute path, link, device) is refused
    with a message naming the member; nothing is extracted, inside the cache or outside it."""
    (info, body_bytes), words, outside = malicious_members(tmp_path)[case]
    body, _ = make_archive(extra=[(info, body_bytes)])
    root = tmp_path / "root"
    with pytest.raises(cifar10.UnsafeArchiveError) as error:
        load(server, root, body)
    message = str(error.value)
    assert "refusing to extract" in message and repr(info.name) in message and words in message, message
    assert "Nothing was extracted" in message
    assert files_under(root / "cifar10") == ["cifar-10-python.tar.gz"], "something was extracted"
    if outside is not None:
        assert not outside.exists(), f"{outside} was written"
    assert files_under(tmp_path) == sorted(["root", "root/cifar10", "root/cifar10/cifar-10-python.tar.gz"])


def test_safe_extract_checks_every_member_before_writing(tmp_path):
    """The unsafe member comes last in the archive: still nothing of the good members is written."""
    body, _ = make_archive(extra=[member("../late")])
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(body)
    with pytest.raises(cifar10.UnsafeArchiveError):
        cifar10.safe_extract(archive, tmp_path / "out")
    assert files_under(tmp_path / "out") == []
    assert not (tmp_path / "late").exists()


# ---------------------------------------------------------------------------------------------
# Interrupted and wrong downloads
# ---------------------------------------------------------------------------------------------


def test_interrupted_download_leaves_no_partial_archive(server, tmp_path):
    """The connection drops halfway (every attempt): a DownloadError, and the cache holds no file at all."""
    body, _ = make_archive()
    with pytest.raises(data.DownloadError) as error:
        load(server, tmp_path, body, kind="drop")
    assert "connection dropped" in str(error.value)
    assert server.hits["/cifar-10-python.tar.gz"] == 2, "each retry should have been tried"
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_wrong_checksum_is_refused_and_nothing_kept(server, tmp_path):
    """A complete download with another SHA-256 is discarded before any extraction."""
    body, _ = make_archive()
    with pytest.raises(data.DownloadError, match="checksum mismatch"):
        load(server, tmp_path, body, sha256=sha(b"something else"))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_offline_without_data_explains_what_to_do(tmp_path, monkeypatch):
    """Offline and nothing cached: a DownloadError naming the URL, the checksum and the folder to copy into."""
    monkeypatch.setenv("TINYTORCH_OFFLINE", "1")
    with pytest.raises(data.DownloadError) as error:
        cifar10.load_cifar10(tmp_path)
    message = str(error.value)
    assert cifar10.CIFAR10_URL in message and cifar10.CIFAR10_SHA256 in message and str(tmp_path / "cifar10") in message


# ---------------------------------------------------------------------------------------------
# Restricted unpickling
# ---------------------------------------------------------------------------------------------


class Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.target}",))


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    """A batch file whose pickle calls os.system is refused by name, and the command never runs."""
    target = tmp_path / "pwned.txt"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Exploit(target)}, protocol=2))
    with pytest.raises(cifar10.UnsafePickleError, match="system"):
        cifar10.read_batch(path)
    assert not target.exists()


def test_only_uint8_arrays_are_accepted(tmp_path):
    """An array of another dtype (here float64, or an object array) is refused: CIFAR-10 holds only uint8."""
    for array in (np.zeros((2, 3072)), np.array([None, None], dtype=object)):
        path = tmp_path / "data_batch_1"
        path.write_bytes(pickle.dumps({b"data": array, b"labels": [0, 1]}, protocol=2))
        with pytest.raises(cifar10.UnsafePickleError):
            cifar10.read_batch(path)


def test_python3_protocol2_pickles_load_too(tmp_path):
    """A batch re-pickled by Python 3 and NumPy 2 (protocol 2: _codecs.encode, numpy._core) reads the same."""
    images, labels = fake_batch(3, 5)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": images, b"labels": labels}, protocol=2))
    x, y = cifar10.read_batch(path)
    np.testing.assert_array_equal(x, images.reshape(-1, 3, 32, 32))
    np.testing.assert_array_equal(y, labels)


def test_malformed_batch_is_a_clear_error(tmp_path):
    """Data with the wrong width or labels outside 0..9 are refused with the file's name."""
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_pickle({b"data": np.zeros((2, 100), dtype=np.uint8), b"labels": [0, 1]}))
    with pytest.raises(cifar10.UnsafePickleError, match="data_batch_1"):
        cifar10.read_batch(path)
    path.write_bytes(py2_pickle({b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [0, 12]}))
    with pytest.raises(cifar10.UnsafePickleError, match="labels"):
        cifar10.read_batch(path)


# ---------------------------------------------------------------------------------------------
# The recipe runs (one epoch on the tiny look-alike, reference solutions)
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_recipe_runs_one_epoch(server, tmp_path, solutions):
    """The CIFAR-10 recipe (augmentation, the VGG-style network, Adam) trains one epoch and reports its result."""
    body, _ = make_archive()
    load(server, tmp_path, body)  # download and extract once
    result = cifar10.run(quick=True, root=tmp_path, log=lambda *_: None)
    assert 0.0 <= result["metric"] <= 1.0 and result["target"] == 0.75 and result["epochs"] == 1
    assert np.isfinite(result["losses"]).all()
