"""Data for the milestones: a careful downloader, an IDX reader, MNIST and the bundled 8×8 digits.

Where data lives
----------------
``TINYTORCH_DATA`` (default ``~/.cache/tinytorch``) is the data folder. MNIST is looked for in
that folder itself (so ``TINYTORCH_DATA=../shared/data/mnist-small`` works when it holds the four
files) and in its ``mnist/`` subfolder, where downloads go. Files already there are used as they
are once their IDX headers check out, even when they are not the official files (a reduced MNIST
is fine). ``TINYTORCH_OFFLINE=1`` forbids any download.

How a download happens (:func:`fetch`)
--------------------------------------
Each URL is tried in turn (a mirror after the primary), every round up to ``retries`` times with
an exponential back-off. Bytes stream into a temporary file in the destination folder while their
SHA-256 is computed and a tqdm bar shows progress; only a complete file with the right checksum
is moved into place with ``os.replace``. A dropped connection, a wrong checksum, Ctrl-C or any
other error leaves no file behind. ``fetch`` knows nothing about MNIST, so CIFAR-10 and Tiny
Shakespeare can reuse it.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import struct
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

__all__ = [
    "DownloadError", "IDXError", "data_dir", "fetch", "read_idx", "mnist_folder", "load_mnist",
    "load_digits", "MNIST_URLS", "MNIST_SHA256", "MNIST_FILES",
]

HERE = Path(__file__).resolve().parent

# Pinned sources. The primary is Google's copy of the official files; the mirror is PyTorch's.
MNIST_URLS = [
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
]
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MNIST_FILES = list(MNIST_SHA256)

CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """Every URL failed (network error, HTTP error, dropped connection or wrong checksum)."""


class IDXError(ValueError):
    """A file is not a valid IDX file (or not the IDX file it should be)."""


def data_dir() -> Path:
    """The data folder: ``$TINYTORCH_DATA`` or ``~/.cache/tinytorch``."""
    return Path(os.environ.get("TINYTORCH_DATA") or Path.home() / ".cache" / "tinytorch").expanduser()


def offline() -> bool:
    """True when ``TINYTORCH_OFFLINE`` is set to something other than 0/empty."""
    return os.environ.get("TINYTORCH_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


# ---------------------------------------------------------------------------------------------
# The generic downloader
# ---------------------------------------------------------------------------------------------


def sha256sum(path, chunk=CHUNK) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


class _Permanent(Exception):
    """This URL will not work however often it is tried (HTTP 4xx, wrong checksum)."""


def _download_once(opener, url, sha256, dest, timeout, progress):
    """Stream ``url`` into a temporary file beside ``dest``; verify; move into place."""
    from tqdm.auto import tqdm

    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = opener.open(url, timeout=timeout)
            except urllib.error.HTTPError as error:
                if 400 <= error.code < 500 and error.code not in (408, 429):
                    raise _Permanent(f"HTTP {error.code} {error.reason}") from None
                raise
            with response:
                length = response.headers.get("Content-Length")
                length = int(length) if length and length.isdigit() else None
                digest = hashlib.sha256()
                received = 0
                bar = tqdm(
                    total=length, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                    leave=False, disable=None if progress else True,
                )
                with bar:
                    while True:
                        block = response.read(CHUNK)
                        if not block:
                            break
                        out.write(block)
                        digest.update(block)
                        received += len(block)
                        bar.update(len(block))
                if length is not None and received != length:
                    raise ConnectionError(
                        f"connection dropped after {received:,} of {length:,} bytes"
                    )
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256.lower():
            raise _Permanent(
                f"checksum mismatch: expected sha256 {sha256}, got {actual} "
                f"({received:,} bytes; file discarded)"
            )
        os.replace(tmp, dest)
        tmp = None
    finally:
        if tmp is not None:  # any failure, Ctrl-C included: no partial file survives
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def fetch(urls, sha256, dest, *, retries=3, backoff=1.0, timeout=30.0, progress=True) -> Path:
    """Download ``dest`` from the first of ``urls`` that delivers a file with checksum ``sha256``.

    Parameters
    ----------
    urls : str or list of str
        Where the file can be found, best first (a primary and its mirrors).
    sha256 : str or None
        The expected SHA-256 (hex). ``None`` skips the check (only for data you make yourself).
    dest : path
        Where the file goes. If it already exists with the right checksum, nothing is fetched.
    retries : int
        Rounds over all URLs; transient errors (network, dropped connection, HTTP 5xx) are retried
        after ``backoff * 2**round`` seconds. A 4xx or a wrong checksum rules that URL out.
    timeout : float
        Seconds before a connection or read with no data is given up.

    Returns the path. Raises :class:`DownloadError` naming every URL and what went wrong; in
    every failure case (Ctrl-C included) no file is left at ``dest`` or beside it.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    if dest.exists() and (sha256 is None or sha256sum(dest) == sha256.lower()):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    opener = urllib.request.build_opener()  # reads proxy settings now, not at first import
    errors = {url: "not tried" for url in urls}
    alive = list(urls)
    for attempt in range(max(1, retries)):
        if attempt and alive:
            time.sleep(backoff * 2 ** (attempt - 1))
        for url in list(alive):
            try:
                _download_once(opener, url, sha256, dest, timeout, progress)
                return dest
            except _Permanent as error:
                errors[url] = str(error)
                alive.remove(url)
            except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, drops
                errors[url] = _describe(error)
        if not alive:
            break
    tried = "; ".join(f"{url} ({why})" for url, why in errors.items())
    rounds = f" ({max(1, retries)} attempts)" if max(1, retries) > 1 else ""
    raise DownloadError(f"could not download {dest.name}{rounds}: {tried}")


def _describe(error) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"network error: {error.reason}"
    return f"{type(error).__name__}: {error}"


# ---------------------------------------------------------------------------------------------
# IDX files (the MNIST format)
# ---------------------------------------------------------------------------------------------

IDX_TYPES = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzip-compressed when its name ends in ``.gz``) into a NumPy array.

    Header: two zero bytes, a type code, the number of dimensions, then each dimension as a
    big-endian uint32; the data follows and must have exactly the announced size.
    Raises :class:`IDXError` naming the file and the problem.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        raise IDXError(f"{path}: cannot read it as {'gzip' if path.suffix == '.gz' else 'a file'} ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise IDXError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: IDX header truncated")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise IDXError(
            f"{path}: IDX header announces shape {dims} ({expected:,} bytes) but the file has "
            f"{len(raw):,} bytes"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


# ---------------------------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------------------------


def mnist_folder(root=None) -> Path:
    """Where MNIST is read from: ``root`` itself when it holds MNIST files, else ``root/mnist``."""
    root = Path(root) if root is not None else data_dir()
    if any((root / name).exists() or (root / name[:-3]).exists() for name in MNIST_FILES):
        return root
    return root / "mnist"


def _local(folder, name):
    for candidate in (folder / name, folder / name[:-3]):  # gzipped or not
        if candidate.exists():
            return candidate
    return None


def _offline_message(folder, urls, missing, reason) -> str:
    sources = " or ".join(urls)
    return (
        f"MNIST is not available: {reason}. The milestone needs the four files "
        f"{', '.join(MNIST_FILES)}; missing here: {', '.join(missing)}. They are downloaded from "
        f"{sources} (SHA-256 checked). If this machine is offline, download them elsewhere from "
        f"one of those addresses and copy them into {folder} (or set TINYTORCH_DATA to a folder "
        "that holds them; files already there are used once their IDX headers check out, so a "
        "reduced MNIST works too). Set TINYTORCH_OFFLINE=1 to skip downloading altogether."
    )


def load_mnist(root=None, *, download=True, urls=None, checksums=None, retries=3, backoff=1.0,
               timeout=30.0, progress=True):
    """Load MNIST as ``(train_images, train_labels), (test_images, test_labels)``.

    Images are uint8 arrays (N, 28, 28), labels int64 (N,). Files already in the folder are
    used (after an IDX header check); missing ones are downloaded with :func:`fetch` from
    ``urls`` (default :data:`MNIST_URLS`, primary first) and checked against ``checksums``
    (default :data:`MNIST_SHA256`).

    Raises :class:`DownloadError` (with a paragraph on what to do offline) when files are
    missing and cannot be downloaded, :class:`IDXError` for a file that is not valid MNIST.
    """
    folder = mnist_folder(root)
    urls = list(urls or MNIST_URLS)
    checksums = dict(checksums or MNIST_SHA256)
    paths = {name: _local(folder, name) for name in MNIST_FILES}
    missing = [name for name, path in paths.items() if path is None]
    if missing and (not download or offline()):
        why = "downloading is off (TINYTORCH_OFFLINE)" if download else "downloading was not allowed"
        raise DownloadError(_offline_message(folder, urls, missing, why))
    for name in missing:
        try:
            paths[name] = fetch(
                [base.rstrip("/") + "/" + name for base in urls], checksums.get(name), folder / name,
                retries=retries, backoff=backoff, timeout=timeout, progress=progress,
            )
        except DownloadError as error:
            raise DownloadError(_offline_message(folder, urls, missing, str(error))) from None
    arrays = {name: read_idx(path) for name, path in paths.items()}
    out = []
    for split in ("train", "t10k"):
        images_name, labels_name = f"{split}-images-idx3-ubyte.gz", f"{split}-labels-idx1-ubyte.gz"
        images, labels = arrays[images_name], arrays[labels_name]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise IDXError(f"{paths[images_name]}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}")
        if labels.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
            raise IDXError(
                f"{paths[labels_name]}: expected {len(images)} uint8 labels to match "
                f"{paths[images_name].name}, got {labels.dtype} {labels.shape}"
            )
        if labels.size and labels.max() > 9:
            raise IDXError(f"{paths[labels_name]}: labels must be digits 0..9, found {labels.max()}")
        out.append((images, labels.astype(np.int64)))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# The bundled 8×8 digits (UCI, CC BY 4.0: see data/LICENSE-digits.txt)
# ---------------------------------------------------------------------------------------------


def load_digits():
    """The 1797 bundled 8×8 digit images: ``images`` uint8 (1797, 8, 8) in 0..16, ``labels`` int64."""
    with np.load(HERE / "data" / "digits.npz") as f:
        return f["images"], f["labels"].astype(np.int64)


def split(images, labels, test_fraction=0.2, seed=0):
    """A seeded shuffle split into ``(train_images, train_labels), (test_images, test_labels)``."""
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(len(images) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return (images[train], labels[train]), (images[test], labels[test])
