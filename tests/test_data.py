"""The milestone data code (milestones/data.py) against a real HTTP server on 127.0.0.1.

No test leaves this machine: the server (the ``server`` fixture, tests/httpserver.py) listens on
127.0.0.1 with a port the OS picks, every request has a short timeout, retries have no back-off,
and the MNIST files are small IDX files made here.
"""

from __future__ import annotations

import gzip
import struct
import urllib.request

import numpy as np
import pytest

from milestones import data
from tests.httpserver import sha

TIMEOUT = 5.0


def leftovers(folder):
    """Every file in ``folder`` (partial downloads would show up here)."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def get(urls, digest, dest, **kwargs):
    kwargs = {"retries": 3, "backoff": 0, "timeout": TIMEOUT, "progress": False, **kwargs}
    return data.fetch(urls, digest, dest, **kwargs)


# ---------------------------------------------------------------------------------------------
# fetch
# ---------------------------------------------------------------------------------------------


def test_good_download_is_verified_and_cached(server, tmp_path):
    """A file with the right checksum lands at dest; asking again uses the cached copy."""
    body = bytes(range(256)) * 1000
    server.routes["/f.bin"] = [("ok", body)]
    dest = tmp_path / "cache" / "f.bin"
    assert get(server.url("/f.bin"), sha(body), dest) == dest
    assert dest.read_bytes() == body
    get(server.url("/f.bin"), sha(body), dest)
    assert server.hits["/f.bin"] == 1
    assert leftovers(tmp_path) == ["f.bin"]


def test_checksum_mismatch_is_rejected_and_leaves_no_file(server, tmp_path):
    """A complete download whose SHA-256 differs is an error naming both sums; nothing is kept."""
    server.routes["/f.bin"] = [("ok", b"tampered bytes")]
    expected = sha(b"the real bytes")
    with pytest.raises(data.DownloadError) as error:
        get(server.url("/f.bin"), expected, tmp_path / "f.bin")
    message = str(error.value)
    assert "checksum mismatch" in message and expected in message and sha(b"tampered bytes") in message
    assert server.hits["/f.bin"] == 1, "a wrong checksum is not retried from the same URL"
    assert leftovers(tmp_path) == []


def test_dropped_connection_is_retried_then_reported_without_partial_file(server, tmp_path):
    """A transfer cut short is retried ``retries`` times, then fails clearly with no partial file."""
    body = b"x" * 50_000
    server.routes["/f.bin"] = [("drop", body)]
    with pytest.raises(data.DownloadError) as error:
        get(server.url("/f.bin"), sha(body), tmp_path / "f.bin", retries=3)
    assert server.hits["/f.bin"] == 3
    assert server.url("/f.bin") in str(error.value)
    assert leftovers(tmp_path) == []


def test_dropped_connection_then_success_on_retry(server, tmp_path):
    """One dropped transfer followed by a good one gives the file."""
    body = b"y" * 50_000
    server.routes["/f.bin"] = [("drop", body), ("ok", body)]
    dest = get(server.url("/f.bin"), sha(body), tmp_path / "f.bin")
    assert dest.read_bytes() == body and server.hits["/f.bin"] == 2
    assert leftovers(tmp_path) == ["f.bin"]


def test_mirror_is_used_when_primary_404s(server, tmp_path):
    """A 404 on the primary moves on to the mirror (and the primary is not asked again)."""
    body = b"mirrored" * 100
    server.routes["/mirror/f.bin"] = [("ok", body)]
    dest = get([server.url("/primary/f.bin"), server.url("/mirror/f.bin")], sha(body), tmp_path / "f.bin")
    assert dest.read_bytes() == body
    assert server.hits["/primary/f.bin"] == 1 and server.hits["/mirror/f.bin"] == 1


def test_interrupt_mid_transfer_leaves_no_file(server, tmp_path, monkeypatch):
    """Ctrl-C (KeyboardInterrupt) during the transfer propagates and removes the partial file."""
    body = b"z" * 300_000
    server.routes["/f.bin"] = [("ok", body)]
    real_build_opener = urllib.request.build_opener

    class InterruptingOpener:
        def __init__(self):
            self.real = real_build_opener()

        def open(self, url, timeout):
            response = self.real.open(url, timeout=timeout)
            calls = []

            def read(n=-1):
                calls.append(n)
                if len(calls) > 1:
                    raise KeyboardInterrupt
                return type(response).read(response, n)

            response.read = response.read1 = read
            return response

    monkeypatch.setattr(data.urllib.request, "build_opener", InterruptingOpener)
    with pytest.raises(KeyboardInterrupt):
        get(server.url("/f.bin"), sha(body), tmp_path / "f.bin")
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# IDX and MNIST
# ---------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}[array.dtype]
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def small_mnist(n_train=12, n_test=5, seed=0):
    """The four MNIST files (gzipped IDX) of a tiny random MNIST, by name."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    files = {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in arrays.items()}
    return arrays, files


def check_same(loaded, arrays):
    (xtr, ytr), (xte, yte) = loaded
    np.testing.assert_array_equal(xtr, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(ytr, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(xte, arrays["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(yte, arrays["t10k-labels-idx1-ubyte.gz"])
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int64


def test_read_idx_round_trips_dtypes_and_shapes(tmp_path):
    """read_idx reads uint8, big-endian int32 and float32 IDX files, gzipped or not."""
    for i, array in enumerate([
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.arange(-3, 3, dtype=">i4"),
        np.linspace(-1, 1, 6, dtype=">f4").reshape(3, 2),
    ]):
        plain, packed = tmp_path / f"a{i}.idx", tmp_path / f"a{i}.idx.gz"
        plain.write_bytes(idx_bytes(array))
        packed.write_bytes(gzip.compress(idx_bytes(array)))
        for path in (plain, packed):
            np.testing.assert_array_equal(data.read_idx(path), array)


def test_load_mnist_downloads_from_the_mirror_list(server, tmp_path):
    """Missing MNIST files are fetched (checksums injected), cached in <root>/mnist and parsed."""
    arrays, files = small_mnist()
    for name, body in files.items():
        server.routes[f"/mnist/{name}"] = [("ok", body)]
    loaded = data.load_mnist(
        tmp_path, urls=[server.url("/mnist/")], checksums={n: sha(b) for n, b in files.items()},
        retries=1, backoff=0, timeout=TIMEOUT, progress=False,
    )
    check_same(loaded, arrays)
    assert leftovers(tmp_path) == sorted(files)
    assert all((tmp_path / "mnist" / name).exists() for name in files)


def test_local_files_with_valid_headers_are_used_without_network(tmp_path, monkeypatch):
    """Four valid IDX files already in the data folder are read as they are (no checksum, no fetch)."""
    arrays, files = small_mnist(seed=1)
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)

    def no_network(*args, **kwargs):
        raise AssertionError("load_mnist tried to download although the files are there")

    monkeypatch.setattr(data, "fetch", no_network)
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    check_same(data.load_mnist(), arrays)


@pytest.mark.parametrize(
    "name, body, problem",
    [
        ("train-images-idx3-ubyte.gz", gzip.compress(b"\x08\x03\x00\x00" + b"\x00" * 40), "bad magic"),
        ("train-images-idx3-ubyte.gz", b"not gzip at all", "gzip"),
        ("t10k-labels-idx1-ubyte.gz", gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"\x01\x02"), "announces"),
        ("train-images-idx3-ubyte.gz", gzip.compress(idx_bytes(np.zeros((12, 8, 8), np.uint8))), "(N, 28, 28)"),
        ("train-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(np.zeros(11, np.uint8))), "to match"),
    ],
    ids=["magic", "not-gzip", "size", "dims", "count"],
)
def test_invalid_local_file_is_rejected_with_its_name(tmp_path, monkeypatch, name, body, problem):
    """A local file whose IDX header (magic, dims, size) is wrong is an IDXError naming the file."""
    _, files = small_mnist()
    files[name] = body
    for n, b in files.items():
        (tmp_path / n).write_bytes(b)
    monkeypatch.setattr(data, "fetch", lambda *a, **k: pytest.fail("no download expected"))
    with pytest.raises(data.IDXError) as error:
        data.load_mnist(tmp_path)
    assert name in str(error.value) and problem in str(error.value)


def test_offline_message_names_urls_folder_and_tinytorch_data(server, tmp_path):
    """When every source fails, one paragraph says what failed, where from, and how to fix it."""
    primary, mirror = server.url("/a/"), server.url("/b/")
    with pytest.raises(data.DownloadError) as error:
        data.load_mnist(tmp_path, urls=[primary, mirror], retries=1, backoff=0, timeout=TIMEOUT, progress=False)
    message = str(error.value)
    for needle in (primary, mirror, str(tmp_path / "mnist"), "TINYTORCH_DATA", "HTTP 404", "train-images-idx3-ubyte.gz"):
        assert needle in message
    assert "\n" not in message
    assert leftovers(tmp_path) == []


def test_offline_switch_prevents_any_download(server, tmp_path, monkeypatch):
    """TINYTORCH_OFFLINE=1 fails at once with the offline message, without a request."""
    monkeypatch.setenv("TINYTORCH_OFFLINE", "1")
    with pytest.raises(data.DownloadError, match="TINYTORCH_OFFLINE"):
        data.load_mnist(tmp_path, urls=[server.url("/a/")])
    assert sum(server.hits.values()) == 0


def test_bundled_digits_are_complete():
    """The bundled UCI digits: 1797 images 8×8 in 0..16, labels 0..9, all ten classes, licence beside."""
    images, labels = data.load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8 and images.max() == 16
    assert labels.shape == (1797,) and set(np.unique(labels)) == set(range(10))
    assert "CC BY 4.0" in (data.HERE / "data" / "LICENSE-digits.txt").read_text(encoding="utf-8")
