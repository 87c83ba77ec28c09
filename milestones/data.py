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
is moved into place with ``os.replace``. A dropped connection, a wrong checksum, Ctrl-C, SIGTERM,
SIGHUP or any other error leaves no file behind. Limits keep a bad server from costing more than
it should: a server that accepts and never answers is given up after ``timeout`` seconds and not
retried; the whole download has a deadline (a server that trickles one byte a second ends with a
clear error); and a size cap stops an endless stream before it fills the disk. ``fetch`` knows
nothing about MNIST, so CIFAR-10 and Tiny Shakespeare can reuse it.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import signal
import struct
import tempfile
import threading
import time
from contextlib import contextmanager
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
TIMEOUT = 10.0  # seconds: connecting, waiting for the answer, and any read that brings no data
DEADLINE = 30 * 60.0  # seconds for a whole download, every URL and retry included
MAX_BYTES = 1 << 30  # a file larger than this (1 GiB) is refused: the largest dataset here is 163 MB
MNIST_MAX_BYTES = 64 << 20  # the largest MNIST file is 9.9 MB


class DownloadError(RuntimeError):
    """Every URL failed (network error, HTTP error, dropped connection or wrong checksum).

    ``str(error)`` says everything (every URL, what each did, what to do offline); ``error.short``
    says it in one short line, for a program that goes on without the data (M03 and M04 fall
    back to the bundled digits).
    """

    def __init__(self, message, short=None):
        super().__init__(message)
        self.short = short or _shorten(message)


def _shorten(text, limit=200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    """This URL will not work however often it is tried (HTTP 4xx, wrong checksum, too large, no answer)."""


class _OutOfTime(Exception):
    """The download's deadline has passed: no URL is tried again."""


class _Terminated(SystemExit):
    """SIGTERM or SIGHUP arrived during a download: clean up, then exit as the signal asked."""


def _size(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


@contextmanager
def _cleanup_on_termination():
    """While downloading, SIGTERM and SIGHUP raise (so ``finally`` removes the partial file) instead
    of ending the process on the spot. Only where those signals still have their default action."""
    installed = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            number = getattr(signal, name, None)
            if number is not None and signal.getsignal(number) is signal.SIG_DFL:

                def terminate(signum, frame):
                    raise _Terminated(128 + signum)

                installed[number] = signal.signal(number, terminate)
    try:
        yield
    finally:
        for number, previous in installed.items():
            signal.signal(number, previous)


def _download_once(opener, url, sha256, dest, timeout, progress, end=None, max_bytes=MAX_BYTES):
    """Stream ``url`` into a temporary file beside ``dest``; verify; move into place.

    ``end`` is the ``time.monotonic()`` deadline of the whole download; ``max_bytes`` caps the size.
    """
    from tqdm.auto import tqdm

    def remaining():
        return float("inf") if end is None else end - time.monotonic()

    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            if remaining() <= 0:
                raise _OutOfTime()
            try:
                response = opener.open(url, timeout=max(0.01, min(timeout, remaining())))
            except urllib.error.HTTPError as error:
                if 400 <= error.code < 500 and error.code not in (408, 429):
                    raise _Permanent(f"HTTP {error.code} {error.reason}") from None
                raise
            except (TimeoutError, urllib.error.URLError) as error:  # accepted, then no answer: not worth retrying
                reason = getattr(error, "reason", error)
                if isinstance(error, TimeoutError) or isinstance(reason, TimeoutError):
                    if remaining() <= 0:
                        raise _OutOfTime() from None
                    raise _Permanent(f"no answer within {timeout:g} s") from None
                raise
            with response:
                length = response.headers.get("Content-Length")
                length = int(length) if length and length.isdigit() else None
                if length is not None and length > max_bytes:
                    raise _Permanent(f"announces {_size(length)}, more than the {_size(max_bytes)} this file may have")
                digest = hashlib.sha256()
                received = 0
                read = getattr(response, "read1", response.read)  # whatever has arrived: the deadline is checked often
                bar = tqdm(
                    total=length, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                    leave=False, disable=None if progress else True,
                )
                with bar:
                    while True:
                        if remaining() <= 0:
                            raise _OutOfTime()
                        block = read(min(CHUNK, max_bytes + 1 - received))
                        if not block:
                            break
                        if received + len(block) > max_bytes:
                            raise _Permanent(f"sent more than {_size(max_bytes)}, more than this file may have: stopped")
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


def fetch(urls, sha256, dest, *, retries=3, backoff=1.0, timeout=TIMEOUT, progress=True, deadline=DEADLINE,
          max_bytes=MAX_BYTES) -> Path:
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
        Seconds before a connection, its answer, or a read with no data is given up. A server that
        accepts but does not answer in time is not asked again.
    deadline : float
        Seconds for the whole download, every URL and retry included (a server that trickles
        bytes cannot keep it going forever).
    max_bytes : int
        The most a file may have: a larger Content-Length, or a stream that goes on past it, is
        refused (an endless stream cannot fill the disk).

    Returns the path. Raises :class:`DownloadError` naming every URL and what went wrong; in
    every failure case (Ctrl-C, SIGTERM and SIGHUP included) no file is left at ``dest`` or beside it.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    if dest.exists() and (sha256 is None or sha256sum(dest) == sha256.lower()):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    opener = urllib.request.build_opener()  # reads proxy settings now, not at first import
    errors = {url: "not tried" for url in urls}
    alive = list(urls)
    end = time.monotonic() + deadline
    out_of_time = False
    with _cleanup_on_termination():
        for attempt in range(max(1, retries)):
            if attempt and alive:
                time.sleep(max(0.0, min(backoff * 2 ** (attempt - 1), end - time.monotonic())))
            for url in list(alive):
                try:
                    _download_once(opener, url, sha256, dest, timeout, progress, end, max_bytes)
                    return dest
                except _Permanent as error:
                    errors[url] = str(error)
                    alive.remove(url)
                except _OutOfTime:
                    errors[url] = f"stopped: the download's {deadline:g} s deadline passed"
                    out_of_time = True
                    break
                except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, drops
                    errors[url] = _describe(error)
            if not alive or out_of_time:
                break
    tried = "; ".join(f"{url} ({why})" for url, why in errors.items())
    rounds = f" ({max(1, retries)} attempts)" if max(1, retries) > 1 and not out_of_time else ""
    first = next((why for why in errors.values() if why != "not tried"), "not tried")
    raise DownloadError(f"could not download {dest.name}{rounds}: {tried}",
                        short=f"could not download {dest.name}: {_shorten(first, 100)}")


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


def _short_offline_message(folder, reason) -> str:
    """One line: why, and where the files go (the folder path may be long; the rest is short)."""
    return (f"MNIST is not available ({_shorten(reason, 120)}): put its four files in {folder} "
            "or set TINYTORCH_DATA to a folder that has them")


def load_mnist(root=None, *, download=True, urls=None, checksums=None, retries=3, backoff=1.0,
               timeout=TIMEOUT, progress=True):
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
        raise DownloadError(_offline_message(folder, urls, missing, why), short=_short_offline_message(folder, why))
    for name in missing:
        try:
            paths[name] = fetch(
                [base.rstrip("/") + "/" + name for base in urls], checksums.get(name), folder / name,
                retries=retries, backoff=backoff, timeout=timeout, progress=progress, max_bytes=MNIST_MAX_BYTES,
            )
        except DownloadError as error:
            raise DownloadError(_offline_message(folder, urls, missing, str(error)),
                                short=_short_offline_message(folder, error.short)) from None
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
