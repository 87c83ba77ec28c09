"""Downloads that a bad server or a signal must not turn into a hang, a full disk or a stray file,
and pickles the restricted unpickler must refuse with its own error (issue 9, 7b).

Every server here is tests/httpserver.py on 127.0.0.1; every slow, endless or hanging answer
ends when the test's server stops, and each test has a pytest timeout. No wall time is asserted:
the tests count requests and check messages and files.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from milestones import cifar10, data
from tests.httpserver import sha

pytestmark = pytest.mark.timeout(60)


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def get(urls, digest, dest, **kwargs):
    kwargs = {"retries": 3, "backoff": 0, "timeout": 5.0, "progress": False, **kwargs}
    return data.fetch(urls, digest, dest, **kwargs)


def test_a_trickling_server_is_stopped_by_the_deadline(server, tmp_path):
    """One byte every 50 ms never trips a read timeout; the download's deadline ends it."""
    body = b"s" * 10_000  # would take over 8 minutes
    server.routes["/slow.bin"] = [("slow", (body, 0.05))]
    with pytest.raises(data.DownloadError) as error:
        get(server.url("/slow.bin"), sha(body), tmp_path / "slow.bin", deadline=1.0)
    assert "deadline passed" in str(error.value)
    assert server.hits["/slow.bin"] == 1, "a passed deadline is not retried"
    assert leftovers(tmp_path) == []


def test_an_endless_stream_stops_at_the_size_cap(server, tmp_path):
    """No Content-Length and no end: the cap stops it long before the disk fills."""
    server.routes["/endless.bin"] = [("endless", b"e" * 65536)]
    with pytest.raises(data.DownloadError) as error:
        get(server.url("/endless.bin"), sha(b"whatever"), tmp_path / "endless.bin", max_bytes=1 << 20)
    assert "sent more than 1 MiB" in str(error.value)
    assert server.hits["/endless.bin"] == 1, "a file over the cap is not asked for again"
    assert leftovers(tmp_path) == []


def test_an_announced_size_over_the_cap_is_refused_before_downloading(server, tmp_path):
    body = b"b" * 300_000
    server.routes["/big.bin"] = [("ok", body)]
    with pytest.raises(data.DownloadError) as error:
        get(server.url("/big.bin"), sha(body), tmp_path / "big.bin", max_bytes=100_000)
    assert "announces 300,000 bytes, more than the 100,000 bytes" in str(error.value)
    assert leftovers(tmp_path) == []


def test_mnist_files_have_a_tighter_cap():
    assert data.MNIST_MAX_BYTES < data.MAX_BYTES and data.MNIST_MAX_BYTES >= 10 << 20


def test_a_server_that_never_answers_costs_one_timeout_per_url(server, tmp_path):
    """Accepted, then silence: each URL is asked once (not once per retry round), the mirror too."""
    server.routes["/a.bin"] = [("hang", None)]
    server.routes["/b.bin"] = [("hang", None)]
    with pytest.raises(data.DownloadError) as error:
        get([server.url("/a.bin"), server.url("/b.bin")], sha(b"x"), tmp_path / "f.bin", timeout=0.5, retries=3)
    assert server.hits["/a.bin"] == 1 and server.hits["/b.bin"] == 1
    assert str(error.value).count("no answer within 0.5 s") == 2
    assert leftovers(tmp_path) == []


def test_defaults_bound_every_download():
    """The documented defaults: a short timeout, a deadline and a size cap, all finite."""
    import inspect

    defaults = {k: v.default for k, v in inspect.signature(data.fetch).parameters.items()}
    assert defaults["timeout"] <= 10 and defaults["deadline"] < float("inf") and defaults["max_bytes"] <= 1 << 30


SIGNAL_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from milestones import data
    data.fetch({url!r}, None, {dest!r}, retries=1, timeout=5.0, progress=False, deadline=50.0)
""")


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_remove_the_partial_file(server, tmp_path, name):
    """A download killed politely (the system shutting down, a closed terminal) leaves no .part."""
    from dojo import ROOT

    body = b"t" * 10_000
    server.routes["/t.bin"] = [("slow", (body, 0.02))]
    folder = tmp_path / "cache"
    folder.mkdir()
    script = SIGNAL_SCRIPT.format(root=str(ROOT), url=server.url("/t.bin"), dest=str(folder / "t.bin"))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(400):  # until the partial file exists (bounded: at most 20 s)
            if any(p.name.endswith(".part") for p in folder.iterdir()) or child.poll() is not None:
                break
            time.sleep(0.05)
        assert any(p.name.endswith(".part") for p in folder.iterdir()), "the download never started"
        child.send_signal(getattr(signal, name))
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 128 + getattr(signal, name), err
    assert leftovers(folder) == []


# ---------------------------------------------------------------------------------------------
# the restricted unpickler
# ---------------------------------------------------------------------------------------------


def test_a_very_deep_pickle_is_refused_with_its_own_error(tmp_path):
    """200,000 nested lists: pickle itself builds them without recursion; walking them must not recurse either."""
    depth = 200_000
    path = tmp_path / "deep"
    path.write_bytes(b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b".")
    with pytest.raises(cifar10.UnsafePickleError, match="nested more than"):
        cifar10.safe_load_pickle(path)


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_a_self_referencing_pickle_is_refused_with_its_own_error(tmp_path, kind):
    if kind == "list":
        value = []
        value.append(value)
    else:
        value = {}
        value[b"data"] = value
    path = tmp_path / "cycle"
    path.write_bytes(pickle.dumps(value, protocol=2))
    with pytest.raises(cifar10.UnsafePickleError, match=f"a {kind} that contains itself"):
        cifar10.safe_load_pickle(path)


def test_shared_references_cannot_expand_without_end(tmp_path):
    """A pickle of a few kilobytes whose lists name the same list ten times, twelve levels deep:
    10**12 values to walk. The walk stops at MAX_OBJECTS with an UnsafePickleError, not a hang."""
    leaf = list(range(300))
    value = leaf
    for _ in range(12):
        value = [value] * 10  # shallower than MAX_DEPTH, 10**12 paths
    path = tmp_path / "laughs"
    path.write_bytes(pickle.dumps(value, protocol=2))
    with pytest.raises(cifar10.UnsafePickleError, match="more than 1,000,000 values"):
        cifar10.safe_load_pickle(path)
