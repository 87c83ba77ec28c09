"""`make kata` through the warm server (dojo/student/warm.py, issue 12 §6): the same verdicts as a
fresh interpreter, never the results of stale code (a save, an edited harness), and nothing left
behind (a killed client's run, an idle server). How fast it is is measured by
``make benchloop``, never asserted here. The abnormal runs (os._exit, Ctrl-C, KeyboardInterrupt
raised by the student's code) are in tests/test_abnormal_runs.py, cold and warm.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from dojo.student import warm
from tests import minirepo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not minirepo.warm_possible(), reason="the warm server runs on Linux only"),
]

SUM_BODY = "        _check_axis(axis, self.ndim)\n        return np.sum(self.data, axis=axis, keepdims=keepdims)\n"

scenarios = minirepo.Scenarios(workers=2)
scenario_runs = scenarios.runner()


def _solved(tmp):
    root = minirepo.make(tmp)
    minirepo.solve(root, "tensor.py")
    return root


def kata(repo, mode="warm", **extra):
    env = minirepo.warm_environment(repo) if mode == "warm" else {}
    env.update(extra)
    return minirepo.run(repo, "-m", "dojo", "kata", "01", env=env, timeout=120)


def verdict(result) -> str:
    found = re.search(r"^(GREEN|RED|PASS)\b.*$", result.stdout, re.M)
    return found.group(0) if found else f"no verdict line in:\n{result.stdout}\n{result.stderr}"


def server_pid(repo) -> int:
    pids = minirepo.warm_pids(repo)
    assert len(pids) == 1, pids
    return pids[0]


def children(pid) -> list:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def alive(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def next_run(server, seconds=15.0) -> int:
    """The run the server forked ahead (its only child between runs), once there is one."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = children(server)
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"server {server} forked no run ahead")


@scenarios.add
def saves(tmp):
    """Green, a planted bug, fixed again: warm (one server throughout) and cold, run by run."""
    repo = minirepo.copy_of(minirepo.template("kata-01-solved", _solved), tmp)
    tensor = repo / "tinytorch" / "tensor.py"
    good = tensor.read_text()
    runs, pids = [], []
    with minirepo.warm_servers(repo):
        for source in (good, good.replace(SUM_BODY, "        return None\n"), good):
            tensor.write_text(source)
            runs.append((kata(repo), kata(repo, mode="cold")))
            pids.append(minirepo.warm_pids(repo))
    return runs, pids


def test_a_warm_run_gives_the_cold_runs_verdict_and_sees_every_save(saves):
    runs, pids = saves
    (green, green_cold), (red, red_cold), (again, again_cold) = runs
    assert "starting the warm server" in green.stderr and "starting" not in red.stderr + again.stderr
    assert len(pids[0]) == 1 and pids[0] == pids[1] == pids[2], pids  # one warm server answered all three
    for warm_run, cold_run in runs:
        assert warm_run.returncode == cold_run.returncode
        assert verdict(warm_run) == verdict(cold_run)
    assert verdict(green).startswith("GREEN 6/6") and verdict(again).startswith("GREEN 6/6")
    assert verdict(red).startswith("RED 5/6"), red.stdout  # the planted bug, seen at once
    assert "Traceback" not in red.stderr


@scenarios.add
def thin_client(tmp):
    """A server is up: a plain `python -m dojo kata 01` (its imports listed by -X importtime), a
    wrong kata number and a run with an extra pytest argument, then a cold run."""
    repo = minirepo.copy_of(minirepo.template("kata-01-solved", _solved), tmp)
    env = minirepo.warm_environment(repo)
    with minirepo.warm_servers(repo):
        kata(repo)  # starts the server
        thin = minirepo.run(repo, "-X", "importtime", "-m", "dojo", "kata", "01", env=env, timeout=120)
        wrong = minirepo.run(repo, "-m", "dojo", "kata", "99", env=env, timeout=120)
        extra = minirepo.run(repo, "-X", "importtime", "-m", "dojo", "kata", "01", "-x", env=env, timeout=120)
        pids = minirepo.warm_pids(repo)
    return thin, wrong, extra, pids, kata(repo, mode="cold")


def _imported(result) -> set:
    return set(re.findall(r"^import time:.*\|\s*(\S+)\s*$", result.stderr, re.M))


def test_a_plain_make_kata_reaches_the_server_without_importing_the_command_line(thin_client):
    thin, wrong, extra, pids, cold = thin_client
    imported = _imported(thin)
    assert "dojo.student.warm_client" in imported and not imported & {"dojo.cli", "argparse", "pytest", "numpy"}, sorted(imported)
    assert thin.returncode == cold.returncode == 0 and verdict(thin) == verdict(cold)
    assert wrong.returncode == 2 and "no kata '99'" in wrong.stderr  # the command line's message
    assert "dojo.cli" in _imported(extra) and extra.returncode == 0 and verdict(extra) == verdict(cold)
    assert "starting the warm server" not in thin.stderr + extra.stderr and len(pids) == 1  # both went to the same server


@scenarios.add
def harness_edit(tmp):
    """A run, then an edit to the harness the server imported (dojo/report.py), then a run."""
    repo = minirepo.copy_of(minirepo.template("kata-01-solved", _solved), tmp)
    with minirepo.warm_servers(repo):
        first = kata(repo)
        before = minirepo.warm_pids(repo)
        waiting = next_run(before[0])
        report = repo / "dojo" / "report.py"
        report.write_text(report.read_text() + "\n# edited\n")
        second = kata(repo)
        after = minirepo.warm_pids(repo)
        for _ in range(200):  # bounded: 10 s
            if not alive(waiting) and not alive(before[0]):
                break
            time.sleep(0.05)
        gone = not alive(waiting), not alive(before[0])
    return first, second, before, after, gone


def test_an_edited_harness_gets_a_fresh_server(harness_edit):
    first, second, before, after, gone = harness_edit
    assert verdict(first).startswith("GREEN 6/6") and verdict(second).startswith("GREEN 6/6"), second.stdout + second.stderr
    assert len(before) == 1 and len(after) == 1 and before != after, (before, after)
    assert "starting the warm server" in second.stderr
    assert gone == (True, True)  # the stale server and the run it had forked ahead (built from the old harness)


@scenarios.add
def killed_client(tmp):
    """The client is killed (SIGKILL) while the kata runs inside Tensor.sum, which sleeps 60 s."""
    repo = minirepo.copy_of(minirepo.template("kata-01-solved", _solved), tmp)
    tensor = repo / "tinytorch" / "tensor.py"
    good = tensor.read_text()
    marker = repo / "sum-started"
    with minirepo.warm_servers(repo):
        assert verdict(kata(repo)).startswith("GREEN")
        pid = server_pid(repo)
        tensor.write_text(good.replace(SUM_BODY, f"        open({str(marker)!r}, 'w').close()\n        import time\n        time.sleep(60)\n" + SUM_BODY))
        env = minirepo.student_environment(minirepo.warm_environment(repo))
        client = subprocess.Popen([sys.executable, "-m", "dojo", "kata", "01"], cwd=repo, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            if marker.exists() or client.poll() is not None:
                break
            time.sleep(0.05)
        running = children(pid)
        client.kill()
        client.wait()
        for _ in range(200):  # the server stops the orphaned run (bounded: 10 s)
            if not set(children(pid)) & set(running):
                break
            time.sleep(0.05)
        left = children(pid)
        tensor.write_text(good)
        after = kata(repo)
        same = minirepo.warm_pids(repo) == [pid]
    return marker.exists(), running, left, after, same


def test_a_killed_clients_run_is_stopped_and_the_server_goes_on(killed_client):
    reached, running, left, after, same = killed_client
    assert reached and len(running) == 1, running  # the run was inside the student's code, a child of the server
    assert not set(left) & set(running), (running, left)  # stopped (what is left is the next run, forked ahead)
    assert verdict(after).startswith("GREEN 6/6") and same


@scenarios.add
def idle(tmp):
    """A server told to end after 1 idle second."""
    repo = minirepo.copy_of(minirepo.template("kata-01-solved", _solved), tmp)
    with minirepo.warm_servers(repo):
        result = kata(repo, DOJO_WARM_IDLE="1")
        pid = server_pid(repo)
        ahead = next_run(pid)
        for _ in range(300):  # bounded: 15 s
            if not alive(pid) and not alive(ahead):
                break
            time.sleep(0.05)
        gone = not alive(pid), not alive(ahead)
        files = sorted(p.suffix for p in minirepo.warm_folder(repo).iterdir())
    return result, gone, files


def test_an_idle_server_ends_and_removes_its_socket(idle):
    result, gone, files = idle
    assert verdict(result).startswith("GREEN 6/6")
    assert gone == (True, True)  # the server, and the run it had forked ahead
    assert ".sock" not in files and ".json" not in files, files


@scenarios.add
def ahead(tmp):
    """Runs through the run the server forks ahead: the same request twice, a save while the
    next one waits, then a request with another environment (TIMEOUT=30), twice."""
    repo = minirepo.copy_of(minirepo.template("kata-01-solved", _solved), tmp)
    tensor = repo / "tinytorch" / "tensor.py"
    ran_in = repo / "ran-in"
    good = tensor.read_text().replace(SUM_BODY, f"        open({str(ran_in)!r}, 'w').write(str(__import__('os').getpid()))\n" + SUM_BODY)
    seen = []
    with minirepo.warm_servers(repo):
        tensor.write_text(good)
        seen.append(("first", kata(repo), None, None))
        server = server_pid(repo)
        for name, source, extra in [("same", good, {}), ("saved while it waited", good.replace(SUM_BODY, "        return None\n"), {}),
                                    ("other environment", good, {"TIMEOUT": "30"}), ("that environment again", good, {"TIMEOUT": "30"})]:
            waiting = next_run(server)
            tensor.write_text(source)
            result = kata(repo, **extra)
            seen.append((name, result, waiting, int(ran_in.read_text())))
        leftovers = [p.name for p in minirepo.warm_folder(repo).glob("verdict-*")]
    return seen, leftovers


def test_a_run_forked_ahead_sees_the_files_as_saved_and_serves_only_its_own_request(ahead):
    seen, leftovers = ahead
    expected = {"first": ("GREEN 6/6", None), "same": ("GREEN 6/6", True), "saved while it waited": ("RED 5/6", True),
                "other environment": ("GREEN 6/6", False), "that environment again": ("GREEN 6/6", True)}
    for name, result, waiting, ran_in in seen:
        line, by_the_waiting_run = expected[name]
        assert verdict(result).startswith(line), (name, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr and ("starting" not in result.stderr or name == "first")
        if by_the_waiting_run is not None:
            assert (ran_in == waiting) == by_the_waiting_run, (name, ran_in, waiting)
    assert leftovers == []  # every verdict file was read and removed


@scenarios.add
def status_and_stop(tmp):
    repo = minirepo.copy_of(minirepo.template("kata-01-solved", _solved), tmp)
    env = minirepo.warm_environment(repo)
    with minirepo.warm_servers(repo):
        kata(repo)
        status = minirepo.run(repo, "-m", "dojo", "warm", env=env)
        stop = minirepo.run(repo, "-m", "dojo", "warm", "stop", env=env)
        after = minirepo.run(repo, "-m", "dojo", "warm", env=env)
    return status, stop, after


def test_warm_status_lists_this_checkouts_server_and_stop_ends_it(status_and_stop):
    status, stop, after = status_and_stop
    assert re.search(r"^pid \d+ · started .* · imports [\d.]+ s · .*\.sock$", status.stdout, re.M), status.stdout
    assert stop.stdout.strip() == "stopped 1 warm server"
    assert "no warm server is running for this checkout" in after.stdout


def test_a_folder_others_can_enter_is_refused_and_the_run_is_cold(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    monkeypatch.setenv("DOJO_WARM_DIR", str(shared))
    with pytest.raises(warm.Unavailable, match="not a private folder"):
        warm.folder()


def test_the_warm_server_is_off_under_ci_and_with_dojo_warm_0(monkeypatch):
    monkeypatch.setenv("DOJO_WARM", "1")
    monkeypatch.setenv("CI", "true")
    assert not warm.enabled()
    monkeypatch.setenv("CI", "")
    assert warm.enabled()
    monkeypatch.setenv("DOJO_WARM", "0")
    assert not warm.enabled()


def test_each_import_time_environment_gets_its_own_server():
    base = {"PATH": "/bin", "IMPL": "solutions"}
    assert warm.key(base, "/x") == warm.key({**base, "IMPL": "tinytorch", "UNLOCK": "1"}, "/x")  # read by each run
    for name, value in [("TINYTORCH_THREADS", "2"), ("PYTHONPATH", "/y"), ("OPENBLAS_NUM_THREADS", "1"),
                        ("HYPOTHESIS_STORAGE_DIRECTORY", "/z"), ("LANG", "C")]:
        assert warm.key({**base, name: value}, "/x") != warm.key(base, "/x"), name
    assert warm.key(base, "/x") != warm.key(base, "/elsewhere")


def test_the_wire_carries_messages_and_a_terminal(tmp_path):
    import socket

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b, open(tmp_path / "f", "w") as handle:
        warm.send(a, {"args": ["x"] * 1000, "n": 1}, fds=[handle.fileno()])
        fds = []
        assert warm.recv(b, fds) == {"args": ["x"] * 1000, "n": 1}
        assert len(fds) == 1
        os.write(fds[0], b"through the passed descriptor")
        os.close(fds[0])
    assert (tmp_path / "f").read_text() == "through the passed descriptor"


@scenarios.add
def edit_during_a_run(tmp):
    """The harness is edited while a warm run is inside Tensor.sum (which sleeps 2 s); a second
    client comes meanwhile."""
    repo = minirepo.copy_of(minirepo.template("kata-01-solved", _solved), tmp)
    tensor = repo / "tinytorch" / "tensor.py"
    marker = repo / "sum-started"
    with minirepo.warm_servers(repo):
        assert verdict(kata(repo)).startswith("GREEN")
        first_server = server_pid(repo)
        tensor.write_text(tensor.read_text().replace(
            SUM_BODY, f"        open({str(marker)!r}, 'w').close()\n        import time\n        time.sleep(2)\n" + SUM_BODY))
        env = minirepo.student_environment(minirepo.warm_environment(repo))
        first = subprocess.Popen([sys.executable, "-m", "dojo", "kata", "01"], cwd=repo, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(600):
            if marker.exists() or first.poll() is not None:
                break
            time.sleep(0.05)
        report = repo / "dojo" / "report.py"
        report.write_text(report.read_text() + "\n# edited\n")
        second = kata(repo)
        out, err = first.communicate(timeout=120)
        servers = minirepo.warm_pids(repo)
    return out + err, second, first_server, servers


def test_a_run_going_on_when_the_harness_changes_finishes_and_the_next_gets_a_fresh_server(edit_during_a_run):
    first, second, first_server, servers = edit_during_a_run
    assert re.search(r"^GREEN 6/6", first, re.M), first
    assert verdict(second).startswith("GREEN 6/6") and "starting the warm server" in second.stderr
    assert len(servers) == 1 and servers != [first_server]


# -- two cores for one run (dojo/student/shards.py) --------------------------------------------------

ADD_BODY = '        return _broadcasting("+", np.add, self.data, other.data)\n'


@scenarios.add
def sharded(tmp):
    """Kata 01 with a bug in Tensor.__add__ (tested by test_02, a file the worker runs), cold and
    sharded (DOJO_SHARDS=2: the six files split between the run and a worker): a failure that
    prints, then os._exit(3), then a segmentation fault."""
    repo = minirepo.copy_of(minirepo.template("kata-01-solved", _solved), tmp)
    tensor = repo / "tinytorch" / "tensor.py"
    good = tensor.read_text()
    assert good.count(ADD_BODY) == 1
    runs = {}
    with minirepo.warm_servers(repo):
        for name, code in [("fails", '        print("adding", self.shape)\n        raise ValueError("planted")\n'),
                           ("exits", "        import os\n        os._exit(3)\n"),
                           ("crashes", "        import os, signal\n        os.kill(os.getpid(), signal.SIGSEGV)\n")]:
            tensor.write_text(good.replace(ADD_BODY, code + ADD_BODY))
            for mode in ("cold", "sharded"):
                results = repo / f"{name}-{mode}.json"
                env = {"DOJO_SHARDS": "2"} if mode == "sharded" else {}
                run = minirepo.run(repo, "-m", "dojo", "kata", "01", "--", f"--dojo-results={results}",
                                   env={**(minirepo.warm_environment(repo) if mode == "sharded" else {}), **env}, timeout=120)
                data = json.loads(results.read_text())["katas"]["01"] if results.exists() else None
                runs[name, mode] = (run, data, (repo / "progress.toml").read_text() if (repo / "progress.toml").exists() else "")
    return runs


def _last_line(text) -> str:
    return [line for line in text.strip().splitlines() if line.strip()][-1]


def test_a_sharded_run_gives_the_single_process_verdict_details_and_output(sharded):
    cold, cold_data, _ = sharded["fails", "cold"]
    split, split_data, _ = sharded["fails", "sharded"]
    assert cold_data is not None and split_data == cold_data  # every test's outcome, message, hint, output
    assert any("adding (2,)" in t.get("output", "") for t in cold_data["details"]), cold_data["details"]
    assert verdict(split) == verdict(cold) and verdict(cold).startswith("RED 5/6"), split.stdout
    assert split.returncode == cold.returncode == 1


@pytest.mark.parametrize("ending", ["exits", "crashes"])
def test_a_worker_that_dies_in_the_students_code_ends_the_run_the_same_way(sharded, ending):
    cold, _, cold_progress = sharded[ending, "cold"]
    split, split_data, split_progress = sharded[ending, "sharded"]
    assert split.returncode == cold.returncode != 0
    assert _last_line(split.stderr) == _last_line(cold.stderr), split.stderr
    assert "ended without the dojo's verdict" in _last_line(split.stderr)
    assert split_data is None and split_progress == cold_progress


def test_shards_are_used_only_for_plain_runs_with_two_free_cores(monkeypatch):
    from dojo.student import runner, shards

    plain = runner.pytest_args("katas/01_tensor")
    monkeypatch.delenv("DOJO_SHARDS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.4, 0.4, 0.4))
    assert shards.wanted(plain)
    assert not shards.wanted([*plain, "-s"])  # OUTPUT=1: prints appear as they happen, in order
    assert not shards.wanted(runner.pytest_args("katas/01_tensor", ["--lf"]))  # extra pytest arguments
    monkeypatch.setattr(os, "getloadavg", lambda: (1.7, 1.7, 1.7))
    assert not shards.wanted(plain)  # the second core is busy
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert not shards.wanted(plain)
    monkeypatch.setenv("DOJO_SHARDS", "0")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert not shards.wanted(plain)
    monkeypatch.setenv("DOJO_SHARDS", "2")
    assert shards.wanted([*plain, "-s"])


def test_whole_files_are_shared_by_their_expected_cost():
    from types import SimpleNamespace

    from dojo.student import shards

    def given():
        pass

    given.is_hypothesis_test = True
    items = [SimpleNamespace(path=f"test_0{f}.py", obj=given if f == 1 else None, n=n)
             for f, count in [(1, 2), (2, 10), (3, 5), (4, 3)] for n in range(count)]
    mine, theirs = shards.split(items)
    assert {i.path for i in mine} == {"test_01.py"} and {i.path for i in theirs} == {"test_02.py", "test_03.py", "test_04.py"}
    assert sorted(map(id, mine + theirs)) == sorted(map(id, items))  # every test once
    assert [i.n for i in theirs if i.path == "test_03.py"] == list(range(5))  # a file's tests stay in order
    measured = {"test_01.py": 0.010, "test_02.py": 0.200, "test_03.py": 0.050, "test_04.py": 0.120}  # the last run's seconds
    mine, theirs = shards.split(items, measured)
    assert {i.path for i in mine} == {"test_02.py"} and {i.path for i in theirs} == {"test_01.py", "test_03.py", "test_04.py"}


def test_the_costs_of_the_last_split_run_are_kept_whole(tmp_path, monkeypatch):
    from dojo.student import shards

    monkeypatch.setattr(shards, "COSTS", tmp_path / "cache" / "shard-costs.json")
    assert shards.load_costs() == {}
    shards.save_costs({"a.py": 0.5, "b.py": 0.25})
    assert shards.load_costs() == {"a.py": 0.5, "b.py": 0.25}
    shards.COSTS.write_text("{not json", encoding="utf-8")  # a corrupt file: estimates, then rewritten
    assert shards.load_costs() == {}
    shards.save_costs({"c.py": 1.0})
    assert shards.load_costs() == {"c.py": 1.0}
    shards.COSTS.unlink()
    shards.COSTS.mkdir()  # cannot be written: nothing kept, nothing left behind
    shards.save_costs({"d.py": 1.0})
    assert shards.load_costs() == {} and [p.name for p in shards.COSTS.parent.iterdir()] == ["shard-costs.json"]


def test_verdict_files_left_by_killed_clients_are_removed_after_a_day(tmp_path):
    old, fresh = tmp_path / "verdict-1.json", tmp_path / "verdict-2.json"
    for path in (old, fresh, tmp_path / "other.json"):
        path.write_text("{}")
    os.utime(old, (time.time() - 25 * 3600,) * 2)
    os.utime(tmp_path / "other.json", (time.time() - 25 * 3600,) * 2)
    warm._remove_old_verdicts(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json", "verdict-2.json"]


def test_children_of_a_warmed_parent_draw_their_own_random_examples():
    """The warm parent runs one throwaway property test (hypothesis's set-up, once); its children
    must still draw different examples from each other, as fresh interpreters do, not the ones
    the parent's random generator would give them all."""
    import hypothesis.core
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from dojo.student import runner

    runner._exercise_hypothesis()
    assert hypothesis.core.threadlocal._hypothesis_global_random is None

    @settings(max_examples=5, database=None, derandomize=False)
    @given(st.integers(0, 2**62))
    def record(n):
        drawn.append(n)

    firsts = []
    for _ in range(3):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            drawn = []
            try:
                record()
                os.write(write, json.dumps(drawn).encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as handle:
            firsts.append(tuple(json.loads(handle.read() or "[]")))
        os.waitpid(pid, 0)
    assert all(firsts) and len(set(firsts)) == 3, firsts


def test_the_warm_parent_starts_without_a_word_on_stderr():
    """Setting up the warm parent of make watch and the warm server (imports, hypothesis's one
    throwaway property test) prints nothing: hypothesis takes that parent for one still inside
    pytest's plugin set-up and warned "slow code in plugin" eight times as make watch started."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "PYTHONWARNINGS")}
    proc = subprocess.run([sys.executable, "-c", "from dojo.student import runner; runner.ForkRunner(); print('ready')"],
                          capture_output=True, text=True, env=env, cwd=str(warm.ROOT), timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ready", proc.stderr
    assert proc.stderr == "", proc.stderr
