"""The warm kata server: ``make kata`` without paying for NumPy, pytest and hypothesis every time.

Importing NumPy, pytest and hypothesis takes about 0.4 s, more than the whole goal for a
``make kata`` run. So on Linux the first ``make kata`` starts a small background process, the
*warm server*, that imports them once (the same warm parent as ``make watch``,
:class:`dojo.student.runner.ForkRunner`) and then waits on a Unix socket. Each later ``make kata``
is a thin client: it sends its arguments, environment, working folder and its terminal (stdin,
stdout and stderr, passed as file descriptors), and the server forks a fresh child that runs the
kata exactly as ``python -m dojo.student.runner`` would, writing straight to the student's
terminal. The child imports ``tinytorch`` as it is on disk at that moment (the server never
imports it), and the client reads the dojo plugin's verdict file itself, with the same rules as
a cold run (:func:`dojo.student.runner.conclude`).

After each run the server forks the next one ahead, for the same request: it reads pytest's
arguments, configuration and plugins and waits before touching the terminal or the student's
files; a client that asks for exactly that (same arguments, environment and folder) gets it,
about 30 ms sooner, with its own terminal; any other request gets a fresh child.

Never stale, never shared:

* one server per checkout, interpreter, working folder and import-time environment (``PYTHON*``,
  ``HYPOTHESIS_*``, BLAS thread variables, locale, ``TINYTORCH_THREADS``, ``DOJO_*``): a client
  whose environment differs gets its own server;
* before every run the server checks the files of the harness it imported (``dojo/``) and the
  installed packages' folders: after an edit or ``pip install`` it says "stale", exits, and the
  client starts a fresh one;
* the socket lives in a folder only this user can enter, and the server also checks the peer's
  user id;
* it ends after ``DOJO_WARM_IDLE`` seconds without a run (default 900).

Used by ``make kata`` (``python -m dojo kata``) on Linux only, never under ``CI`` (fork CI and
``make test`` always start a fresh interpreter); ``DOJO_WARM=0`` turns it off.
``python -m dojo warm`` lists this checkout's servers, ``python -m dojo warm stop`` ends them.

The client is :mod:`dojo.student.warm_client` (a server that is up is reached before the command
line is even imported); this module starts servers and is one. It imports only the standard
library, and nothing POSIX-only at import time: off Linux :func:`enabled` is False and nothing
else runs.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from dojo import ROOT
from dojo.student import runner, warm_client
from dojo.student.warm_client import Stale, Unavailable, connect, enabled, key, recv, send

IDLE_SECONDS = 900.0
START_SECONDS = 30.0  # a cold start on a busy machine: imports take seconds, not minutes
TICK_SECONDS = 1.0


def folder() -> Path:
    """The private folder of this user's warm servers (:func:`dojo.student.warm_client.folder`)."""
    return Path(warm_client.folder())


def socket_path(k=None) -> Path:
    return folder() / f"{k or key()}.sock"


# -- the client (make kata, when the thin client could not: dojo/student/warm_client.py) ----------


def run_kata(args) -> int:
    """``make kata``: through the warm server when :func:`enabled` (started here if none is up),
    else (or if that fails before the kata started) in a fresh interpreter,
    :func:`dojo.student.runner.run_with_verdict`."""
    if enabled():
        try:
            return _run_warm(args)
        except Unavailable:
            pass
    return runner.run_with_verdict(args)


def idle_seconds() -> float:
    """``DOJO_WARM_IDLE`` (seconds), else 15 minutes."""
    try:
        return max(1.0, float(os.environ.get("DOJO_WARM_IDLE", "") or IDLE_SECONDS))
    except ValueError:
        return IDLE_SECONDS


def _start(path, k) -> subprocess.Popen:
    log = path.with_suffix(".log")
    idle = idle_seconds()
    after = f"{idle / 60:g} idle minutes" if idle >= 120 else f"{idle:g} idle seconds"
    print(f"make kata: starting the warm server (NumPy, pytest and hypothesis imported once for the next runs; "
          f"it ends after {after}; DOJO_WARM=0 turns it off)", file=sys.stderr, flush=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dojo.student.warm", "serve", os.fspath(path), k],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def _connect_or_start(path, k):
    sock = connect(path)
    if sock is not None:
        return sock
    server = _start(path, k)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        sock = connect(path)
        if sock is not None:
            return sock
        code = server.poll()
        if code not in (None, 0):  # 0: another client's server holds the lock; it is warming up
            raise Unavailable(f"the warm server did not start (exit code {code}; log: {path.with_suffix('.log')})")
        time.sleep(0.01)
    raise Unavailable("the warm server did not start in time")


def _run_warm(args, retries=1) -> int:
    k = key()
    path = socket_path(k)
    with _connect_or_start(path, k) as sock:
        try:
            return warm_client.run(args, sock, k)
        except Stale:  # the harness changed since it started: it has gone
            if retries <= 0:
                raise
    _wait_gone(path)
    return _run_warm(args, retries - 1)


def _wait_gone(path, seconds=5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and path.exists():
        time.sleep(0.01)


# -- the server --------------------------------------------------------------------------------


def fingerprint() -> dict:
    """What the server's imports were built from: the harness files it imported and the installed
    packages' folders (their listing changes with every ``pip install``)."""
    state = {}
    harness = os.path.join(os.fspath(ROOT), "dojo") + os.sep
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if name and name.startswith(harness):
            state[name] = _stat(name)
    for entry in sys.path:
        if entry.endswith("-packages"):
            state[entry] = _stat(entry)
    pyproject = os.path.join(os.fspath(ROOT), "pyproject.toml")  # pytest's options, read before a run forked ahead waits
    state[pyproject] = _stat(pyproject)
    return state


def _stat(name):
    try:
        st = os.stat(name)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class Server:
    """The warm server's loop: one process, no threads (it forks), one child per run.

    After a run, the next one is forked ahead for the same request (arguments, environment,
    folder): it parses pytest's arguments and configuration and loads the plugins, then waits
    (:func:`dojo.student.runner.gate`) before pytest takes the standard streams. A request that
    matches lets it go on with the client's terminal (about 30 ms sooner); any other request
    gets a fresh child as before, and the one waiting ends."""

    def __init__(self, path, k, idle=None):
        import fcntl
        import selectors
        import signal

        self.path, self.key = Path(path), k
        self.idle = idle_seconds() if idle is None else idle
        self.lock = open(self.path.with_suffix(".lock"), "w")
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SystemExit(0)  # another server for this key is alive (or warming up)
        self.warm = runner.ForkRunner()
        self.state = fingerprint()
        self.children = {}  # pid -> the client's connection
        self.requests = {}  # pid -> the request it runs (the next run is prepared for the same)
        self.ahead = None  # the next run, forked ahead: {"pid", "sock", "request", "verdict"}
        self.forked_ahead = 0  # how many runs were forked ahead (names their verdict files)
        self.last = time.monotonic()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._terminate)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(os.fspath(self.path))
        os.chmod(self.path, 0o600)
        self.inode = os.stat(self.path).st_ino  # at the end, remove the socket only if it is still ours
        self.listener.listen(16)
        _remove_old_verdicts(self.path.parent)
        self.path.with_suffix(".json").write_text(json.dumps({
            "root": str(ROOT), "pid": os.getpid(), "python": sys.executable, "cwd": os.getcwd(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "warm_seconds": round(self.warm.warm_seconds, 3),
        }), encoding="utf-8")
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.running = True
        self.draining = False

    def _stop_listening(self) -> None:
        """Take the socket away (the next client starts a fresh server) and end once the runs
        that are going on have finished."""
        if self.draining:
            return
        self.draining = True
        self._discard_ahead()
        try:
            self.selector.unregister(self.listener)
        except (KeyError, ValueError):
            pass
        self._unlink_socket()
        self.listener.close()
        self.lock.close()  # a fresh server for this key may start now

    def _unlink_socket(self) -> None:
        try:
            if os.stat(self.path).st_ino == self.inode:
                self.path.unlink()
        except OSError:
            pass

    def _terminate(self, *_):
        self.running = False

    def serve(self) -> int:
        try:
            while self.running:
                events = self.selector.select(timeout=TICK_SECONDS)
                for selected, _ in events:
                    if selected.data == "accept":
                        self._accept()
                    elif selected.data == "wake":
                        self._reap()
                    else:
                        self._client_event(selected.fileobj, selected.data)
                self._reap()
                if not self.children:
                    if self.draining or time.monotonic() - self.last > self.idle:
                        break
                    if fingerprint() != self.state:  # the harness or the packages changed: go
                        break
        finally:
            self.close()
        return 0

    def close(self) -> None:
        self._discard_ahead(kill=True)
        for pid in list(self.children):
            try:
                os.killpg(pid, 15)
            except OSError:
                pass
        if not self.draining:
            self._unlink_socket()
        described = self.path.with_suffix(".json")
        try:
            if json.loads(described.read_text(encoding="utf-8")).get("pid") == os.getpid():
                described.unlink()
        except (OSError, ValueError, AttributeError):
            pass
        self.listener.close()

    def _accept(self) -> None:
        import selectors

        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        self.last = time.monotonic()
        conn.settimeout(10)
        fds = []
        try:
            uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
            if uid != os.getuid():
                raise PermissionError("another user")
            request = recv(conn, fds)
            if any(m == "tinytorch" or m.startswith("tinytorch.") for m in sys.modules):
                send(conn, {"error": "the warm server has imported tinytorch: a run would not see the code on disk"})
                self.running = False
            elif request.get("key") != self.key:
                send(conn, {"error": "this warm server was started for another environment"})
            elif fingerprint() != self.state:  # no new runs here; the ones running finish first
                self._stop_listening()
                send(conn, {"stale": True})
            elif len(fds) != 3:
                send(conn, {"error": "the terminal did not arrive"})
            else:
                pid, verdict = self._start(request, fds, conn)
                send(conn, {"pid": pid, **({"verdict": verdict} if verdict else {})})
                self.children[pid] = conn
                self.requests[pid] = request
                conn.setblocking(False)
                self.selector.register(conn, selectors.EVENT_READ, pid)
                return
        except (OSError, EOFError, ValueError, KeyError, PermissionError, TypeError):
            pass
        finally:
            for fd in fds:
                os.close(fd)
        conn.close()

    def _start(self, request, fds, conn) -> tuple:
        """Start the run ``request`` asks for: (its pid, the verdict file it writes if not the
        client's own). The run forked ahead goes on if it was prepared for the same request."""
        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            if _same_run(ahead["request"], request):
                try:
                    send(ahead["sock"], {k: request[k] for k in ("cwd", "env", "encoding") if k in request}, fds=fds)
                    ahead["sock"].close()
                    return ahead["pid"], ahead["verdict"]
                except OSError:  # it ended while it waited (its configuration failed): a fresh one
                    pass
            self._end_ahead(ahead)
        return self._fork(request, fds, conn), None

    def _prepare(self, request) -> None:
        """Fork the next run ahead, for a request like ``request`` (see the class docstring)."""
        self.forked_ahead += 1
        verdict = os.fspath(self.path.parent / f"verdict-ahead-{os.getpid()}-{self.forked_ahead}.json")
        args = runner._with_verdict(_without_verdict(request["args"]), verdict)
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                self._leave_server(None)
                os.chdir(request["cwd"])
                os.environ.clear()
                os.environ.update(request["env"])
                gate = runner.gate(lambda: _take_terminal(theirs), early=True)
                runner._child([*args, "-W", "ignore::pytest.PytestAssertRewriteWarning"], gate=gate)  # os._exit
            except BaseException:  # noqa: BLE001 - the child must never return into the server
                pass
            os._exit(1)
        theirs.close()
        self.ahead = {"pid": pid, "sock": ours, "request": request, "verdict": verdict}

    def _discard_ahead(self, kill=False) -> None:
        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            self._end_ahead(ahead, kill)

    @staticmethod
    def _end_ahead(ahead, kill=False) -> None:
        """The run forked ahead is not wanted: closing its socket ends it where it waits (it is
        reaped with the others, :meth:`_reap`)."""
        ahead["sock"].close()
        if kill:
            try:
                os.killpg(ahead["pid"], 15)
            except OSError:
                pass

    def _fork(self, request, fds, conn) -> int:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                self._leave_server(conn)
                _become_client_process(request, fds)
                # modules the server imported cannot be rewritten for assertions: pytest would say so
                runner._child([*request["args"], "-W", "ignore::pytest.PytestAssertRewriteWarning"])  # os._exit
            except BaseException:  # noqa: BLE001 - the child must never return into the server
                pass
            os._exit(code)
        return pid

    def _leave_server(self, conn) -> None:
        """In the forked child: drop everything of the server's (its socket, lock, wake-up pipe and
        signal handlers) and start a process group of its own."""
        import signal

        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self.selector.close()
        self.listener.close()
        if conn is not None:
            conn.close()
        for other in self.children.values():
            other.close()
        if self.ahead is not None:  # only the run forked ahead may hold its end: it ends when the server drops it
            self.ahead["sock"].close()
        if not self.lock.closed:
            self.lock.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        os.setpgid(0, 0)

    def _client_event(self, conn, pid) -> None:
        """The client's end closed while its run goes on (killed, terminal closed): stop the run."""
        try:
            data = conn.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data and pid in self.children:
            try:
                os.killpg(pid, 15)
            except OSError:
                pass

    def _reap(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except (BlockingIOError, OSError):
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if self.ahead is not None and pid == self.ahead["pid"]:  # it died while it waited
                self._discard_ahead()
            request = self.requests.pop(pid, None)
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            try:
                self.selector.unregister(conn)
            except (KeyError, ValueError):
                pass
            try:
                conn.setblocking(True)
                conn.settimeout(2)
                send(conn, {"exit": code})
            except OSError:
                pass
            conn.close()
            self.last = time.monotonic()
            if request is not None and self.running and not self.draining and self.ahead is None:
                self._prepare(request)


def _without_verdict(args) -> list:
    """A run's pytest arguments but the verdict file's (each client names its own)."""
    return [a for a in args if not str(a).startswith("--dojo-verdict=")]


def _same_run(prepared, request) -> bool:
    """Would ``request`` run exactly what was prepared? The same pytest arguments (but the verdict
    file), environment and folder."""
    return (_without_verdict(prepared.get("args", [])) == _without_verdict(request.get("args", []))
            and prepared.get("env") == request.get("env") and prepared.get("cwd") == request.get("cwd"))


def _take_terminal(sock) -> bool:
    """In a run forked ahead, at its gate: wait for the client's terminal and environment (the
    server sends them when a client asks for this run), and take them. False: not wanted."""
    fds = []
    try:
        message = recv(sock, fds)
    except (OSError, EOFError, ValueError):
        message = None
    finally:
        sock.close()
    if message is None or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return False
    _become_client_process(message, fds)
    for fd in fds:
        os.close(fd)
    return True


def _remove_old_verdicts(base, hours=24.0) -> None:
    """Verdict files a client left here when it was killed (each client removes its own)."""
    for path in base.glob("verdict-*.json"):
        try:
            if time.time() - path.stat().st_mtime > hours * 3600:
                path.unlink()
        except OSError:
            continue


def _become_client_process(request, fds) -> None:
    """In the forked child: the client's terminal on 0, 1 and 2, its folder and environment, and
    Python's standard streams rebuilt on them as its own interpreter would have them."""
    import io

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    encoding = request.get("encoding") or "utf-8"
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))

    def stream(fd, mode, errors="replace", line_buffering=None):
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buffered, encoding=encoding, errors=errors, write_through=unbuffered and mode == "w",
                                line_buffering=raw.isatty() if line_buffering is None else line_buffering)

    sys.stdin = sys.__stdin__ = stream(0, "r")
    sys.stdout = sys.__stdout__ = stream(1, "w")
    sys.stderr = sys.__stderr__ = stream(2, "w", errors="backslashreplace", line_buffering=True)


# -- python -m dojo warm [stop] ------------------------------------------------------------------


def servers() -> list:
    """This checkout's warm servers: [(socket path, their description)]."""
    try:
        base = folder()
    except Unavailable:
        return []
    found = []
    for described in sorted(base.glob("*.json")):
        try:
            info = json.loads(described.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if info.get("root") == str(ROOT):
            found.append((described.with_suffix(".sock"), info))
    return found


def stop(wait=5.0) -> int:
    """End this checkout's warm servers; how many there were."""
    import signal

    found = servers()
    for _, info in found:
        try:
            os.kill(int(info["pid"]), signal.SIGTERM)
        except (OSError, KeyError, ValueError):
            continue
    deadline = time.monotonic() + wait
    for path, _ in found:
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    return len(found)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"] and len(argv) == 3:
        os.chdir(os.getcwd())
        return Server(argv[1], argv[2]).serve()
    if argv[:1] == ["stop"]:
        count = stop()
        print(f"stopped {count} warm server{'s' if count != 1 else ''}")
        return 0
    if argv in ([], ["status"]):
        found = servers()
        if not enabled():
            print("the warm server is off here (Linux only; not under CI; DOJO_WARM=0 turns it off)")
        for path, info in found:
            print(f"pid {info.get('pid')} · started {info.get('started')} · imports {info.get('warm_seconds')} s · {path}")
        if not found:
            print("no warm server is running for this checkout (the next make kata starts one)")
        return 0
    print("usage: python -m dojo warm [status|stop]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
