"""CIFAR-10 for the ambitious: a safe downloader and loader, and a recipe that reaches 75%.

CIFAR-10 (Krizhevsky, 2009) is 60,000 colour photos of 32×32 pixels in 10 classes (airplane,
automobile, bird, cat, deer, dog, frog, horse, ship, truck): 50,000 to train, 10,000 to test.
After MNIST it is the classic next step, and much harder: objects in any pose, on any
background.

Getting the data
----------------
:func:`load_cifar10` looks in ``$TINYTORCH_DATA/cifar10`` (default ``~/.cache/tinytorch``):

1. the extracted folder ``cifar-10-batches-py/`` is used when all its batches are there;
2. otherwise the archive ``cifar-10-python.tar.gz`` (163 MB) is downloaded from the pinned
   :data:`CIFAR10_URL` with the milestones' downloader (``milestones.data.fetch``: retries, a
   progress bar, the SHA-256 :data:`CIFAR10_SHA256` checked, and no partial file ever left
   behind) — or taken from the folder if it is already there with the right checksum;
3. and extracted by :func:`safe_extract`, which checks **every** member before writing anything
   and refuses the whole archive when a member would land outside the cache folder (``../x``,
   an absolute path), is a symbolic or hard link (which could point anywhere), or is a device,
   FIFO or other special file. Files are written by this code, not by ``tarfile.extractall``,
   into a temporary folder that is moved into place only when everything is out.

Offline (``TINYTORCH_OFFLINE=1``, or no network): download the archive elsewhere from the URL
above, check its SHA-256, and copy it into ``$TINYTORCH_DATA/cifar10/``.

Pickles, and why they are read with a restricted unpickler
------------------------------------------------------------
The "python version" of CIFAR-10 stores each batch as a Python **pickle** (made by Python 2's
cPickle): a dict with ``data`` (a uint8 NumPy array, 10000×3072), ``labels`` (a list of ints),
``filenames`` and ``batch_label`` (bytes). ``pickle.load`` on a file you downloaded can run any
code: a pickle names functions to call while loading (``os.system`` works as well as
``numpy.ndarray``), so a tampered archive would own your machine. The SHA-256 check makes that
unlikely; :func:`safe_load_pickle` makes it impossible. Its unpickler allows no global at all
except the three a NumPy array needs (``numpy.core.multiarray._reconstruct``,
``numpy.ndarray``, ``numpy.dtype``) and ``_codecs.encode`` (how Python 3 writes bytes in
protocol 2) — and even those are replaced by inert stand-ins written here, which only accept a
uint8 array's shape and raw bytes. Anything else — any other global, any other dtype — is an
:class:`UnsafePickleError`. What comes out is only dicts, lists, ints, str, bytes and uint8
arrays.

The recipe (``python -m milestones.cifar10``)
----------------------------------------------
Built from your katas only: ``Conv2d``, ``MaxPool2d``, ``Flatten`` (09), ``DataLoader`` with
``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip()`` and ``Normalize`` (08), ``Dropout``
and ``Linear`` (03), ``relu`` (02), ``cross_entropy`` (04), ``Adam`` (06)::

    conv(3→32, 3×3, pad 1) relu conv(32→32) relu maxpool 2        32×32 → 16×16
    conv(32→64, 3×3, pad 1) relu conv(64→64) relu maxpool 2       16×16 → 8×8
    flatten → linear(4096→256) relu dropout(0.5) → linear(256→10)

Adam lr 1e-3 decayed along half a cosine, batch 64, **15 epochs**, pixels normalised with the
CIFAR-10 channel means and standard deviations. Target: **≥ 75% test accuracy** (networks of
this shape and schedule, with this augmentation, reach about 80% in PyTorch).

Expected time with the reference solutions on this project's 2-core reference machine: one
training step (forward, backward and Adam on a batch of 64) measured 0.5 s on one busy core
(PyTorch, same network, same core: 0.18 s), so about **6–7 minutes per epoch** (782 batches)
and **about 1.5 hours for the 15 epochs**. ``--epochs 5`` gives a first taste in about
half an hour. On a machine busy with other work, ``OPENBLAS_NUM_THREADS=1`` avoids BLAS threads
waiting for each other.
"""

from __future__ import annotations

import math
import os
import pickle
import shutil
import tarfile
import tempfile
import time
from pathlib import Path, PurePosixPath

import numpy as np

from milestones import data

__all__ = [
    "CIFAR10_URL", "CIFAR10_SHA256", "CLASSES", "UnsafeArchiveError", "UnsafePickleError",
    "cifar_folder", "safe_extract", "safe_load_pickle", "read_batch", "load_cifar10", "run",
]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MEAN = (0.4914, 0.4822, 0.4465)  # per channel, on pixels scaled to [0, 1]
STD = (0.2470, 0.2435, 0.2616)
TARGET = 0.75


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the cache, or is a link or a special file."""


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asks for something a CIFAR-10 batch never contains (a global, a non-uint8 array)."""


def cifar_folder(root=None) -> Path:
    """``root/cifar10`` (default root: ``milestones.data.data_dir()``, i.e. ``$TINYTORCH_DATA``)."""
    return Path(root if root is not None else data.data_dir()) / "cifar10"


# ---------------------------------------------------------------------------------------------
# Safe extraction
# ---------------------------------------------------------------------------------------------


def _member_problem(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` must not be extracted, or None when it is a plain file or folder inside."""
    name = member.name
    if member.issym() or member.islnk():
        kind = "a symbolic link" if member.issym() else "a hard link"
        return f"is {kind} (to {member.linkname!r}); links could point outside the cache"
    if not (member.isfile() or member.isdir()):
        return "is a device, FIFO or other special file"
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in path.parts:
        return "would be written outside the cache folder ('..' in its path)"
    if not path.parts or path.parts == (".",):
        return "has an empty name"
    return None


def safe_extract(archive, dest) -> list:
    """Extract the tar archive ``archive`` into the folder ``dest``, refusing anything unsafe.

    Every member is checked first; if any is unsafe (see :func:`_member_problem`) an
    :class:`UnsafeArchiveError` names it and **nothing** is written. Otherwise plain files and
    folders are written into a temporary folder inside ``dest``; when all are out, each top-level
    entry is moved into ``dest`` (replacing an older copy). On any failure the temporary folder
    is removed, so ``dest`` never holds a half-extracted tree. Returns the top-level paths.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            problem = _member_problem(member)
            if problem:
                raise UnsafeArchiveError(
                    f"refusing to extract {archive.name}: member {member.name!r} {problem}. Nothing was "
                    f"extracted. The archive is damaged or was tampered with: delete {archive} and "
                    "download it again."
                )
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
        try:
            for member in members:
                target = staging.joinpath(*PurePosixPath(member.name.replace("\\", "/")).parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
            moved = []
            for entry in sorted(staging.iterdir()):
                final = dest / entry.name
                if final.is_dir() and not final.is_symlink():
                    shutil.rmtree(final)
                elif final.exists() or final.is_symlink():
                    final.unlink()
                os.replace(entry, final)
                moved.append(final)
            return moved
        finally:
            shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Restricted unpickling
# ---------------------------------------------------------------------------------------------


class _NDArrayType:
    """Stand-in for the global ``numpy.ndarray`` (only ever passed to ``_reconstruct``)."""


class _DType:
    """Stand-in for ``numpy.dtype(name, align, copy)``: remembers the name, nothing else."""

    def __init__(self, name, *args):
        self.name = name.decode("latin1") if isinstance(name, bytes) else str(name)

    def __setstate__(self, state):  # byte order and flags: irrelevant for uint8
        pass


class _Array:
    """Stand-in for an ndarray being unpickled: accepts only a uint8 array's shape and raw bytes."""

    def __init__(self, kind, shape, typecode):
        if kind is not _NDArrayType:
            raise UnsafePickleError("an array of an unexpected type")
        self.array = None

    def __setstate__(self, state):
        if len(state) == 5:
            state = state[1:]  # (version, shape, dtype, is_fortran, raw)
        shape, dtype, fortran, raw = state
        if not isinstance(dtype, _DType) or dtype.name not in ("u1", "uint8", "|u1"):
            raise UnsafePickleError(f"an array of dtype {getattr(dtype, 'name', dtype)!r} (CIFAR-10 holds only uint8)")
        if isinstance(raw, str):
            raw = raw.encode("latin1")
        shape = tuple(int(s) for s in shape)
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != math.prod(shape):
            raise UnsafePickleError(f"array data of the wrong size for shape {shape}")
        self.array = np.frombuffer(raw, dtype=np.uint8).reshape(shape, order="F" if fortran else "C").copy()


def _reconstruct(kind, shape, typecode):
    return _Array(kind, shape, typecode)


def _encode(text, encoding="latin1"):
    """Stand-in for ``_codecs.encode`` (Python 3's way to write bytes in protocol 2): latin-1 only."""
    if not isinstance(text, str) or encoding != "latin1":
        raise UnsafePickleError("an unexpected _codecs.encode call")
    return text.encode("latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDArrayType,
    ("numpy", "dtype"): _DType,
    ("_codecs", "encode"): _encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load the global {module}.{name}: a CIFAR-10 batch holds only dicts, lists, "
                "ints, bytes and uint8 arrays (a pickle that names other functions could run code)"
            ) from None


MAX_DEPTH = 16  # a CIFAR-10 batch is a dict of lists and arrays: 2 levels
MAX_OBJECTS = 1_000_000  # a batch holds about 20,000 (10,000 labels, 10,000 file names)


def _finish(value):
    """Replace the stand-ins by the arrays they built, in dicts and lists.

    A structure nested deeper than MAX_DEPTH, one that contains itself, or one with more than
    MAX_OBJECTS values (shared references can make a small pickle expand enormously) is an
    :class:`UnsafePickleError`, never a RecursionError or an endless walk.
    """
    count = 0
    path = set()  # ids of the dicts and lists being walked: meeting one again is a cycle

    def walk(value, depth):
        nonlocal count
        count += 1
        if count > MAX_OBJECTS:
            raise UnsafePickleError(f"more than {MAX_OBJECTS:,} values (a CIFAR-10 batch has about 20,000)")
        if isinstance(value, _Array):
            if value.array is None:
                raise UnsafePickleError("an array without data")
            return value.array
        if isinstance(value, (dict, list)):
            if id(value) in path:
                raise UnsafePickleError(f"a {type(value).__name__} that contains itself")
            if depth >= MAX_DEPTH:
                raise UnsafePickleError(f"dicts and lists nested more than {MAX_DEPTH} levels deep (a CIFAR-10 batch has 2)")
            path.add(id(value))
            try:
                if isinstance(value, list):
                    return [walk(v, depth + 1) for v in value]
                out = {}
                for k, v in value.items():
                    if not isinstance(k, (int, str, bytes)):
                        raise UnsafePickleError(f"a dict key of type {type(k).__name__}")
                    out[k] = walk(v, depth + 1)
                return out
            finally:
                path.discard(id(value))
        if isinstance(value, (int, str, bytes, type(None))):
            return value
        raise UnsafePickleError(f"an unexpected {type(value).__name__} in the pickle")

    return walk(value, 0)


def safe_load_pickle(path):
    """Load a CIFAR-10 batch pickle without ever running code from it (see the module docstring)."""
    with open(path, "rb") as f:
        try:
            return _finish(_RestrictedUnpickler(f, encoding="bytes").load())
        except UnsafePickleError as error:
            raise UnsafePickleError(f"{path}: {error}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, RecursionError, MemoryError) as error:
            raise UnsafePickleError(f"{path}: not a valid CIFAR-10 batch ({type(error).__name__}: {error})") from None


def read_batch(path):
    """``(images, labels)`` of one batch file: uint8 ``(N, 3, 32, 32)`` (NCHW) and int64 ``(N,)``."""
    batch = safe_load_pickle(path)
    if not isinstance(batch, dict):
        raise UnsafePickleError(f"{path}: expected a dict, got {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    images, labels = batch.get("data"), batch.get("labels")
    if not isinstance(images, np.ndarray) or images.ndim != 2 or images.shape[1] != 3 * 32 * 32:
        raise UnsafePickleError(f"{path}: 'data' must be a uint8 array (N, 3072)")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(images),) or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise UnsafePickleError(f"{path}: 'labels' must be {len(images)} ints in 0..9")
    return images.reshape(-1, 3, 32, 32), labels


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def _offline_message(folder, url, reason):
    return (
        f"CIFAR-10 is not available: {reason}. Download {url} elsewhere (SHA-256 {CIFAR10_SHA256}) "
        f"and copy it into {folder}, or set TINYTORCH_DATA to a folder whose cifar10/ subfolder holds "
        f"it (or the extracted {FOLDER}/)."
    )


def load_cifar10(root=None, *, download=True, url=CIFAR10_URL, sha256=CIFAR10_SHA256, retries=3, backoff=1.0,
                 timeout=data.TIMEOUT, progress=True):
    """Load CIFAR-10 as ``(train_images, train_labels), (test_images, test_labels)``.

    Images uint8 ``(N, 3, 32, 32)``, labels int64; 50,000 and 10,000 of them. Downloads and
    extracts into :func:`cifar_folder` when needed (see the module docstring). Raises
    ``milestones.data.DownloadError`` when the data is missing and cannot be downloaded,
    :class:`UnsafeArchiveError` / :class:`UnsafePickleError` for a malicious or broken archive.
    """
    folder = cifar_folder(root)
    extracted = folder / FOLDER
    names = TRAIN_BATCHES + [TEST_BATCH]
    if not all((extracted / name).is_file() for name in names):
        archive = folder / ARCHIVE
        if not download or data.offline():
            why = "downloading is off (TINYTORCH_OFFLINE)" if download else "downloading was not allowed"
            if not archive.exists():
                raise data.DownloadError(_offline_message(folder, url, why))
            if sha256 is not None and data.sha256sum(archive) != sha256.lower():
                raise data.DownloadError(_offline_message(folder, url, f"{archive} has the wrong checksum"))
        else:
            try:
                data.fetch([url], sha256, archive, retries=retries, backoff=backoff, timeout=timeout, progress=progress)
            except data.DownloadError as error:
                raise data.DownloadError(_offline_message(folder, url, str(error))) from None
        safe_extract(archive, folder)
        missing = [name for name in names if not (extracted / name).is_file()]
        if missing:
            raise UnsafePickleError(f"{archive} does not hold {FOLDER}/{', '.join(missing)}: not the CIFAR-10 archive")
    train = [read_batch(extracted / name) for name in TRAIN_BATCHES]
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return (x_train, y_train), read_batch(extracted / TEST_BATCH)


# ---------------------------------------------------------------------------------------------
# The recipe
# ---------------------------------------------------------------------------------------------


def model():
    """The recipe's network (see the module docstring)."""
    from tinytorch.activations import ReLU
    from tinytorch.layers import Dropout, Linear, Sequential
    from tinytorch.spatial import Conv2d, Flatten, MaxPool2d

    return Sequential(
        Conv2d(3, 32, 3, padding=1), ReLU(), Conv2d(32, 32, 3, padding=1), ReLU(), MaxPool2d(2),
        Conv2d(32, 64, 3, padding=1), ReLU(), Conv2d(64, 64, 3, padding=1), ReLU(), MaxPool2d(2),
        Flatten(), Linear(64 * 8 * 8, 256), ReLU(), Dropout(0.5), Linear(256, 10),
    )


def run(quick: bool = False, seed: int = 0, log=print, epochs: int = 15, limit: int | None = None, root=None) -> dict:
    """Train the recipe; returns ``{"metric": test accuracy, "dataset", "seconds", "target", ...}``.

    ``limit`` keeps only the first ``limit`` training and test images (for smoke tests), and
    ``quick`` means one epoch without a progress bar.
    """
    from milestones.common import accuracy, train_epoch
    from tinytorch import optim, rng
    from tinytorch.data import Compose, DataLoader, Normalize, RandomCrop, RandomHorizontalFlip, TensorDataset

    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load_cifar10(root, progress=not quick)
    if limit is not None:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    epochs = 1 if quick else epochs
    normalize = Normalize(MEAN, STD)
    x_train = x_train.astype(np.float32) / np.float32(255)
    x_test = np.stack([normalize(image) for image in x_test.astype(np.float32) / np.float32(255)])
    augment = Compose([RandomCrop(32, padding=4, seed=seed), RandomHorizontalFlip(seed=seed + 1), normalize])
    loader = DataLoader(TensorDataset(x_train, y_train, transform=augment), batch_size=64, shuffle=True, seed=seed)
    rng.manual_seed(seed)
    net = model()
    optimizer = optim.Adam(net.parameters(), lr=1e-3)
    log(f"CIFAR-10 recipe: {len(x_train):,} training images, {epochs} epoch(s), Adam 1e-3 (cosine), batch 64, "
        "random crop + flip")
    losses = []
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        losses.append(train_epoch(net, optimizer, loader, quick=quick, desc=f"epoch {epoch + 1}/{epochs}"))
        log(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.3f} ({time.perf_counter() - start:.0f} s)")
    test_accuracy = accuracy(net, x_test, y_test, batch_size=500)
    seconds = time.perf_counter() - start
    log(f"test accuracy {test_accuracy:.2%} (target {TARGET:.0%}) in {seconds / 60:.1f} min")
    return {"metric": test_accuracy, "dataset": f"CIFAR-10 ({len(x_train):,} train, {len(x_test):,} test)",
            "seconds": seconds, "target": TARGET, "epochs": epochs, "losses": losses}


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Train the CIFAR-10 recipe on your tinytorch (or --impl=solutions).")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--impl", default=None, help="solutions, student, or a folder holding a tinytorch package")
    args = parser.parse_args()
    if args.impl:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from dojo import impl

        impl.activate(impl.resolve(args.impl))
    result = run(epochs=args.epochs, seed=args.seed)
    sys.exit(0 if result["metric"] >= TARGET else 1)
