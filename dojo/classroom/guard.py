"""The fork-CI guard: an audit hook (PEP 578) in every process that runs the student's code.

Fork CI runs the student's ``tinytorch/`` in two kinds of process: the pytest run and the probe
run (``dojo.classroom.probes.run``). Before any student code is imported, this module installs an audit
hook that the student's code cannot remove, which refuses (raises ``PermissionError``):

- reading anything under a forbidden folder: the reference ``solutions/`` always; in the probe
  run also the whole fork and course tree (the student's package is a copy elsewhere), so neither
  the reference nor git objects holding it can be read;
- writing, deleting or renaming anything outside the run's scratch folders, so pytest, the harness
  and the kata tests cannot be altered on disk;
- starting processes, opening sockets, loading C libraries with ctypes, walking every live
  object with ``gc`` and replacing a function's code.

Each refusal is also appended at once as a line ``DOJO-GUARD <json>`` to a report file that the
judge reads, naming the operation and the student's file that asked for it, so the judge
can say per kata "this is not the student's work". The hook keeps its configuration in a closure
(no module global to clear) and is never referenced from Python code after installation.

Configuration comes from the ``DOJO_GUARD`` environment variable (JSON, written by the judge):
``{"forbid_read": [dirs], "allow_read": [dirs], "allow_write": [dirs], "student": [dirs],
"report": path}``. The pytest run loads it with ``-p dojo.classroom.guard``; without the variable this
module does nothing, so plain pytest runs are never guarded.
"""

from __future__ import annotations

import json
import os
import sys

ENV = "DOJO_GUARD"
PREFIX = "DOJO-GUARD "

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# System tools the standard library runs for harmless facts (``platform.uname().processor`` runs
# ``uname -p``, ``platform.architecture()`` runs ``file``): allowed without a shell. Anything else
# would be a process the guard does not watch, so it is refused.
HARMLESS_TOOLS = {"uname", "file"}
_REFUSED = {  # refused whoever asks
    "subprocess.Popen": "starts a process",
    "os.system": "starts a process",
    "os.exec": "starts a process",
    "os.posix_spawn": "starts a process",
    "os.spawn": "starts a process",
    "os.fork": "starts a process",
    "os.forkpty": "starts a process",
    "os.startfile": "starts a process",
    "pty.spawn": "starts a process",
    "socket.connect": "opens a network connection",
    "socket.bind": "opens a network connection",
    "socket.getaddrinfo": "opens a network connection",
}
_REFUSED_FOR_STUDENT = {  # refused when the student's own code asks (libraries it imports use some)
    "ctypes.dlopen": "loads a C library with ctypes",
    "ctypes.dlsym": "uses ctypes",
    "ctypes.addressof": "uses ctypes",
    "ctypes.cdata": "uses ctypes",
    "ctypes.string_at": "uses ctypes",
    "ctypes.wstring_at": "uses ctypes",
    "ctypes.call_function": "uses ctypes",
    "gc.get_objects": "walks every live object (gc)",
    "gc.get_referrers": "walks every live object (gc)",
    "gc.get_referents": "walks every live object (gc)",
    "sys.setprofile": "installs a profiler hook",
    "sys._current_frames": "reads other threads' frames",
}
_WRITE_EVENTS = {  # event: the positions of the arguments it changes
    "os.remove": (0,), "os.rmdir": (0,), "os.rename": (0, 1), "os.replace": (0, 1), "os.truncate": (0,),
    "os.chmod": (0,), "os.chown": (0,), "os.link": (1,), "os.symlink": (1,), "os.mkdir": (0,), "os.utime": (0,),
    "shutil.rmtree": (0,), "shutil.copyfile": (1,), "shutil.copytree": (1,), "shutil.move": (0, 1),
}


def _norm(path) -> str:
    return os.path.normcase(os.path.realpath(os.fspath(path)))


def _under(path: str, folders) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def install(config: dict) -> None:
    """Install the hook described by ``config`` (see the module docstring). Idempotent per process."""
    if getattr(sys, "_dojo_guarded", False):
        return
    # The import system caches bytecode next to each module it compiles (the student's package,
    # a scratch copy of it): a write outside the scratch folder that no student code asked for.
    # Refused, it would be reported with no culprit and counted against every kata, so a guarded
    # process writes no caches at all (fork CI also sets PYTHONDONTWRITEBYTECODE and runs probes with -B).
    sys.dont_write_bytecode = True
    forbid_read = tuple(_norm(p) for p in config.get("forbid_read", ()))
    allow_read = tuple(_norm(p) for p in config.get("allow_read", ()))
    allow_write = tuple(_norm(p) for p in [*config.get("allow_write", ()), os.devnull])
    student = tuple(_norm(p) for p in config.get("student", ()))
    report = config.get("report")
    getframe, dumps, realpath = sys._getframe, json.dumps, os.path.realpath
    os_open, os_write, os_close, flags = os.open, os.write, os.close, os.O_WRONLY | os.O_APPEND | os.O_CREAT
    state = {"busy": False}

    def culprit() -> str:
        """The deepest frame of the student's package on the stack, as 'file:line'."""
        frame, found = getframe(1), ""
        while frame is not None:
            name = frame.f_code.co_filename
            if name and not name.startswith("<"):
                path = os.path.normcase(realpath(name))
                if _under(path, student):
                    found = f"{path}:{frame.f_lineno}"
                    break
            frame = frame.f_back
        return found

    def refuse(event, what, target=""):
        where = culprit()
        line = PREFIX + dumps({"event": event, "what": what, "target": str(target)[:300], "where": where}) + "\n"
        if report:
            state["busy"] = True
            try:
                fd = os_open(report, flags, 0o600)
                try:
                    os_write(fd, line.encode("utf-8", "replace"))
                finally:
                    os_close(fd)
            except OSError:
                pass  # the refusal below still stands
            finally:
                state["busy"] = False
        raise PermissionError(f"fork CI does not allow this: {what}" + (f" ({target})" if target else "") + " [dojo guard]")

    def readable(path: str) -> bool:
        return _under(path, allow_read) or not _under(path, forbid_read)

    def above_forbidden(path: str) -> bool:
        """``path`` holds a forbidden folder: a handle on it (a dir_fd, a link) would reach inside."""
        return any(f == path or f.startswith(path.rstrip(os.sep) + os.sep) for f in forbid_read)

    def hook(event, args):
        if state["busy"]:
            return
        if event == "open":
            target = args[0]
            if isinstance(target, int):
                return
            state["busy"] = True
            try:
                text = os.fsdecode(target) if isinstance(target, bytes) else os.fspath(target)
                path = _norm(text)
                mode, flags = args[1], args[2] if len(args) > 2 else 0
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                    mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS
                )
                # A path relative to a directory handle (dir_fd) is not resolved here, so neither
                # '..' in a relative path nor a handle on a folder above a forbidden one is allowed.
                climbs = not os.path.isabs(text) and ".." in text.replace("\\", "/").split("/")
                handle = above_forbidden(path) and not _under(path, allow_read) and os.path.isdir(path)
            finally:
                state["busy"] = False
            if climbs:
                refuse(event, "opens a relative path that climbs with '..'", text)
            if handle:
                refuse(event, "opens a folder that holds files fork CI keeps from the student's code", path)
            if writing and not _under(path, allow_write):
                refuse(event, "writes a file outside the run's scratch folder", path)
            if not readable(path):
                what = "reads the reference solutions" if f"{os.sep}solutions{os.sep}" in path else "reads a file outside its own package"
                refuse(event, what, path)
            return
        if event == "import":
            name = args[0] or ""
            if name == "solutions" or name.startswith("solutions."):
                refuse(event, "imports the reference solutions", name)
            return
        if event in _WRITE_EVENTS:
            targets = [args[i] for i in _WRITE_EVENTS[event] if i < len(args) and isinstance(args[i], (str, bytes, os.PathLike))]
            state["busy"] = True
            try:
                paths = [_norm(t if not isinstance(t, bytes) else os.fsdecode(t)) for t in targets]
            finally:
                state["busy"] = False
            for path in paths:
                if not _under(path, allow_write):
                    refuse(event, "changes a file outside the run's scratch folder", path)
            if event in ("os.link", "os.symlink") and isinstance(args[0], (str, bytes, os.PathLike)) and isinstance(args[1], (str, bytes, os.PathLike)):
                state["busy"] = True
                try:
                    source = os.fsdecode(args[0]) if isinstance(args[0], bytes) else os.fspath(args[0])
                    if event == "os.symlink":  # a link's target counts from the link's own folder
                        link = os.fsdecode(args[1]) if isinstance(args[1], bytes) else os.fspath(args[1])
                        source = os.path.join(os.path.dirname(os.path.abspath(link)), source)
                    source = _norm(source)
                    bad = not readable(source) or above_forbidden(source)
                finally:
                    state["busy"] = False
                if bad:  # the link would make a forbidden file readable under another name
                    refuse(event, "links to files fork CI keeps from the student's code", source)
            return
        if event in _REFUSED:
            if event == "subprocess.Popen" and isinstance(args[1], (list, tuple)) and args[1]:
                tool = os.path.basename(os.fsdecode(args[1][0]) if isinstance(args[1][0], (str, bytes)) else "")
                if tool in HARMLESS_TOOLS and args[0] in (None, args[1][0]):
                    return
            refuse(event, _REFUSED[event], " ".join(map(str, args[1]))[:200] if event == "subprocess.Popen" and isinstance(args[1], (list, tuple)) else "")
        if event in _REFUSED_FOR_STUDENT or (event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__"):
            caller = getframe(1).f_code.co_filename  # the code that asked, not a library it imported
            state["busy"] = True
            try:
                asked = bool(caller) and not caller.startswith("<") and _under(os.path.normcase(realpath(caller)), student)
            finally:
                state["busy"] = False
            if asked:
                what = _REFUSED_FOR_STUDENT.get(event, "replaces a function's code")
                refuse(event, what, getattr(args[0], "__qualname__", "") if event == "object.__setattr__" else "")

    sys.addaudithook(hook)
    sys._dojo_guarded = True
    del hook  # the interpreter keeps the only reference


def from_environment() -> None:
    """Install the guard described by ``$DOJO_GUARD``; nothing when it is unset."""
    text = os.environ.get(ENV, "").strip()
    if text:
        # Load what the run needs before the hook refuses the C libraries behind it.
        import numpy  # noqa: F401
        import hypothesis.strategies  # noqa: F401

        install(json.loads(text))


# ``pytest -p dojo.classroom.guard``: installed while pytest loads its plugins, before conftest.py and before
# any kata module (and so the student's package) is imported.
from_environment()
