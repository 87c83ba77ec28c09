"""make watch: changes are noticed by polling, debounced, and Ctrl-C stops cleanly."""

import _thread
import sys
import threading
import time

import pytest

from dojo.student import watch

pytestmark = pytest.mark.timeout(60)


def write_later(path, text, delay):
    timer = threading.Timer(delay, path.write_text, args=(text,))
    timer.start()
    return timer


def test_snapshot_sees_content_and_new_files(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    before = watch.snapshot([tmp_path])
    (tmp_path / "a.py").write_text("x = 22\n")
    (tmp_path / "b.py").write_text("y = 1\n")
    (tmp_path / "notes.txt").write_text("ignored\n")
    after = watch.snapshot([tmp_path])
    assert set(after) == {str(tmp_path / "a.py"), str(tmp_path / "b.py")}
    assert after[str(tmp_path / "a.py")] != before[str(tmp_path / "a.py")]


def test_a_save_is_noticed_and_a_burst_counts_once(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # force the polling fallback
    target = tmp_path / "tensor.py"
    target.write_text("v = 0\n")
    timers = [write_later(target, f"v = {i}\n" + "#" * i, 0.2 + 0.05 * i) for i in range(1, 4)]
    started = time.monotonic()
    changed = watch.wait_for_change([tmp_path], poll=0.05, debounce=0.3)
    for t in timers:
        t.join()
    assert changed == [str(target)]
    assert target.read_text().startswith("v = 3")  # returned only after the burst settled
    assert time.monotonic() - started < 10


def test_watch_runs_the_command_then_stops_cleanly_on_ctrl_c(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "watchfiles", None)
    marker = tmp_path / "ran.txt"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('run\\n')"]
    ctrl_c = threading.Timer(1.0, _thread.interrupt_main)  # what Ctrl-C does to the main thread
    ctrl_c.start()
    try:
        assert watch.watch(command, [tmp_path / "nothing-changes-here"]) == 0
    finally:
        ctrl_c.cancel()
    assert marker.read_text() == "run\n"
    assert "stopped watching" in capsys.readouterr().out
