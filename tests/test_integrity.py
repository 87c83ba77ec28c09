"""dojo.maintainers.integrity (`make test`): its subprocesses get their environment passed, never by changing
the caller's os.environ (the harness tests run integrity code in-process)."""

import os
import types

from dojo.maintainers import integrity


def test_main_leaves_the_callers_environment_alone(monkeypatch):
    """``integrity.main`` used to pop PYTHONDONTWRITEBYTECODE from os.environ, and the change leaked
    into every later test of the same pytest process."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    before = dict(os.environ)
    assert integrity.main(None, plan=[("a check that passes", lambda p: None)]) == 0
    assert dict(os.environ) == before


def test_subprocesses_write_bytecode_and_get_their_own_variables(monkeypatch):
    """Each subprocess still runs without PYTHONDONTWRITEBYTECODE (pytest caches its assertion
    rewrites), with the variables its part sets, and nothing else changed."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("IMPL", "tinytorch")
    monkeypatch.setenv("DOJO_SOMETHING", "kept")
    env = integrity.child_env(drop=("IMPL",), UNLOCK="1")
    assert "PYTHONDONTWRITEBYTECODE" not in env and "IMPL" not in env
    assert env["UNLOCK"] == "1" and env["DOJO_SOMETHING"] == "kept"
    assert os.environ["PYTHONDONTWRITEBYTECODE"] == "1" and os.environ["IMPL"] == "tinytorch"

    seen = []

    def fake_run(command, **kwargs):
        seen.append(kwargs["env"])
        return types.SimpleNamespace(returncode=0, stdout="M01 accuracy 0.9 target 0.8\n", stderr="")

    monkeypatch.setattr(integrity.subprocess, "run", fake_run)
    c = types.SimpleNamespace(milestones=[types.SimpleNamespace(id="01")])
    part = integrity.Part("milestones")
    integrity.part_milestones(c, part)
    assert part.problems == [] and len(seen) == 2
    for env in seen:
        assert "PYTHONDONTWRITEBYTECODE" not in env
        assert env["IMPL"] == "solutions" and env["UNLOCK"] == "1" and env["DOJO_SOMETHING"] == "kept"
