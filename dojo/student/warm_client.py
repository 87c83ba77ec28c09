"""The thin client of ``make kata``: hand the run to the warm server (:mod:`dojo.student.warm`).

Every ``make kata`` starts a Python interpreter only to reach the server, so the common case,
``python -m dojo kata 05`` with a server already up, is answered here, before the command line
(:mod:`dojo.cli`) is imported: this module needs sockets, JSON, a hash and the kata runner's
verdict rules (:mod:`dojo.student.runner`), all standard library. It reaches the server about
30 ms sooner than the full command line did. Anything else (no server yet, a stale one, a wrong
kata number, extra pytest arguments) returns None and :mod:`dojo.cli` does it, with its messages.

The server's side of the wire (length-prefixed JSON, the terminal passed as file descriptors), where
its socket lives and which server a client may use (:func:`key`) are defined here, once, for both.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import sys

from dojo.student import runner

KEY_PREFIXES = ("PYTHON", "HYPOTHESIS", "OPENBLAS", "OMP_", "MKL_", "NUMPY", "LC_", "DOJO_", "VECLIB")
KEY_NAMES = ("LANG", "TINYTORCH_THREADS", "GOTO_NUM_THREADS", "BLIS_NUM_THREADS")
OFF = ("0", "false", "no", "off")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # dojo.ROOT, without pathlib


class Unavailable(Exception):
    """No warm run this time (no server, a stale one that could not be replaced, …): run cold."""


class Stale(Unavailable):
    """The server's harness or packages changed since it started: it takes no more runs and goes."""


# -- where and who ----------------------------------------------------------------------------


def enabled() -> bool:
    """Linux (fork without exec), not under CI, not ``DOJO_WARM=0``, and the warm fork allowed
    (``DOJO_FORK``)."""
    if os.environ.get("DOJO_WARM", "").strip().lower() in OFF or os.environ.get("CI", "").strip():
        return False
    return hasattr(os, "fork") and runner.fork_available() and hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds")


def folder() -> str:
    """A folder only this user can enter: ``DOJO_WARM_DIR``, else ``$XDG_RUNTIME_DIR/tinytorch-dojo``,
    else ``$TMPDIR/tinytorch-dojo-<uid>`` (``/tmp`` without TMPDIR). Created 0700; refused if
    someone else owns it or can enter it."""
    if not hasattr(os, "getuid"):  # Windows: no warm server, no folder for it
        raise Unavailable("no warm server on this system")
    path = os.environ.get("DOJO_WARM_DIR", "").strip()
    if not path and os.environ.get("XDG_RUNTIME_DIR", "").strip():
        path = os.path.join(os.environ["XDG_RUNTIME_DIR"], "tinytorch-dojo")
    if not path:
        path = os.path.join(os.environ.get("TMPDIR", "").strip() or "/tmp", f"tinytorch-dojo-{os.getuid()}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError as error:
        raise Unavailable(f"cannot use {path}: {error}") from error
    if st.st_uid != os.getuid() or (st.st_mode & 0o077) or not os.path.isdir(path) or os.path.islink(path):
        raise Unavailable(f"{path} is not a private folder of this user")
    return path


def key(environ=None, cwd=None) -> str:
    """Which server a client may use: the checkout, the interpreter and everything the server's
    imports read from the environment."""
    environ = os.environ if environ is None else environ
    chosen = sorted((k, v) for k, v in environ.items() if k.startswith(KEY_PREFIXES) or k in KEY_NAMES)
    material = json.dumps([ROOT, sys.executable, sys.version, os.getcwd() if cwd is None else cwd, chosen])
    return hashlib.sha256(material.encode()).hexdigest()[:20]


def socket_path(k=None) -> str:
    return os.path.join(folder(), f"{k or key()}.sock")


def kata_folder(arg):
    """``katas/NN_slug`` for ``5``, ``05``, ``tensor`` or ``01_tensor`` from the folder names alone
    (the curriculum's own rules, without parsing it: the child pytest does that anyway). None
    when unsure: the caller then asks the curriculum, which also explains a wrong value."""
    if os.environ.get("DOJO_CURRICULUM"):
        return None
    text = str(arg).strip().lower()
    katas = os.path.join(ROOT, "katas")
    try:
        names = os.listdir(katas)
    except OSError:
        return None
    found = []
    for name in names:
        kid, _, slug = name.partition("_")
        if len(kid) == 2 and kid.isdigit() and slug and (
            text in (kid, slug, name) or (text.isdigit() and int(text) == int(kid))
        ):
            found.append(name)
    return os.path.join(katas, found[0]) if len(found) == 1 and os.path.isdir(os.path.join(katas, found[0])) else None


# -- the wire: length-prefixed JSON messages -----------------------------------------------------


def send(sock, message, fds=()) -> None:
    data = json.dumps(message).encode()
    payload = struct.pack("!I", len(data)) + data
    if fds:
        socket.send_fds(sock, [payload], list(fds))
    else:
        sock.sendall(payload)


def _recv_exact(sock, n, fds=None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if fds is not None and not chunks:
            data, received, _, _ = socket.recv_fds(sock, n - got, 8)
            fds.extend(received)
        else:
            data = sock.recv(n - got)
        if not data:
            raise EOFError("connection closed")
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def recv(sock, fds=None):
    (size,) = struct.unpack("!I", _recv_exact(sock, 4, fds))
    if size > 16 * 1024 * 1024:
        raise ValueError("message too large")
    return json.loads(_recv_exact(sock, size).decode())


def connect(path):
    """A connection to the server at ``path``, or None when none listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(os.fspath(path))
    except OSError:
        sock.close()
        return None
    return sock


# -- one run ---------------------------------------------------------------------------------------


def run(args, sock, k) -> int:
    """Run pytest ``args`` in a child of the server at ``sock`` (this process's terminal, folder and
    environment) and return the exit code, judged by the plugin's verdict file as a cold run is
    (:func:`dojo.student.runner.conclude`). Raises :class:`Unavailable` (:class:`Stale`) when the
    server did not start the run."""
    verdict = os.path.join(folder(), f"verdict-{os.getpid()}.json")  # this user's folder; this process's name
    _unlink(verdict)
    ahead = None
    try:
        request = {
            "key": k, "args": runner._with_verdict(args, verdict), "env": runner.child_environment(args), "cwd": os.getcwd(),
            "encoding": getattr(sys.stdout, "encoding", None) or "utf-8",
        }
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            send(sock, request, fds=[0, 1, 2])
            reply = recv(sock)
        except (OSError, EOFError, ValueError) as error:
            raise Unavailable(f"the warm server did not answer: {error}") from error
        if reply.get("stale"):
            raise Stale("the warm server is out of date")
        if "pid" not in reply:
            raise Unavailable(reply.get("error", "the warm server refused the run"))
        pid = int(reply["pid"])
        ahead = reply.get("verdict")  # a run the server prepared ahead writes its verdict there, in this folder
        if ahead is not None and (os.path.dirname(str(ahead)) != os.path.dirname(verdict)
                                  or not os.path.basename(str(ahead)).startswith("verdict-ahead-")):
            raise Unavailable(f"the warm server named a verdict file outside its folder: {ahead}")

        def forward(signum):
            try:
                os.kill(pid, signum)
            except OSError:
                pass

        code = 1
        with runner._Forwarding(forward) as signals:
            while True:
                try:
                    code = int(recv(sock)["exit"])
                    break
                except KeyboardInterrupt:  # pragma: no cover - _Forwarding handles SIGINT itself
                    continue
                except (OSError, EOFError, ValueError, KeyError):  # the server died: judge by the verdict file
                    code = 1
                    break
        status, message = runner._read_verdict(ahead or verdict)
    finally:
        _unlink(verdict)
        if ahead:
            _unlink(ahead)
    return runner.conclude(status, message, code, signals.received)


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def main(argv) -> int | None:
    """``python -m dojo kata <kata>`` (``argv``: what follows ``kata``) through a warm server that
    is already up: the run's exit code. None when this client cannot do it: the command line then
    does (it starts a server, runs cold, or explains what is wrong)."""
    if len(argv) != 1 or not enabled():
        return None
    kata = kata_folder(argv[0])
    if kata is None:
        return None
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as the command line does: pytest caches its rewrites
    if hasattr(sys.stderr, "reconfigure"):  # a console that cannot print a character gets "?", never a crash
        sys.stderr.reconfigure(errors="replace")
    try:
        k = key()
        sock = connect(socket_path(k))
        if sock is None:
            return None
        with sock:
            return run(runner.pytest_args(kata), sock, k)
    except Unavailable:  # nothing started: the command line starts a fresh server, or runs cold
        return None
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
