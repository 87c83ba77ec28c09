"""Tiny Shakespeare for milestone 05 (milestones/shakespeare.py): download, local files, fallback, baselines.

No test leaves this machine: downloads go to a real HTTP server on 127.0.0.1 (a port the OS
picks; the ``server`` fixture, tests/httpserver.py) with short timeouts and no back-off, serving
a small made-up corpus.
"""

from __future__ import annotations

import numpy as np
import pytest

from milestones import data, shakespeare
from tests.httpserver import sha

TIMEOUT = 5.0
CORPUS = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 20).encode()
GOOD_SHA = sha(CORPUS)


def fetch_options(server, path="/input.txt"):
    return {"urls": [server.url(path)], "retries": 1, "backoff": 0.0, "timeout": TIMEOUT, "progress": False}


def files_in(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------
# Download
# ---------------------------------------------------------------------------------------------


def test_download_puts_a_verified_file_in_the_subfolder(server, tmp_path):
    """A file whose SHA-256 matches lands in <data>/tinyshakespeare/input.txt, byte for byte."""
    server.serve("/input.txt", CORPUS)
    path = shakespeare.download(tmp_path, sha256=GOOD_SHA, **fetch_options(server))
    assert path == tmp_path / "tinyshakespeare" / "input.txt"
    assert path.read_bytes() == CORPUS
    assert files_in(tmp_path) == ["tinyshakespeare/input.txt"], "nothing but the file is left behind"


def test_load_shakespeare_downloads_once_then_reads_the_cache(server, tmp_path):
    """load_shakespeare downloads a missing file, then reads it from the data folder without the network."""
    server.serve("/input.txt", CORPUS)
    text = shakespeare.load_shakespeare(tmp_path, sha256=GOOD_SHA, **fetch_options(server))
    assert text == CORPUS.decode()
    assert shakespeare.load_shakespeare(tmp_path, allow_download=False) == text
    assert server.requests == ["/input.txt"], f"requests: {server.requests}"


def test_checksum_mismatch_is_refused_and_nothing_is_kept(server, tmp_path):
    """A file with the wrong SHA-256 (here: the real pinned checksum, fake content) is refused
    with an error naming the mismatch, and no file or partial file stays on disk."""
    server.serve("/input.txt", CORPUS)
    with pytest.raises(data.DownloadError, match="checksum mismatch"):
        shakespeare.download(tmp_path, sha256=shakespeare.SHA256, **fetch_options(server))
    assert files_in(tmp_path) == [], f"left behind: {files_in(tmp_path)}"


def test_dropped_connection_leaves_no_partial_file(server, tmp_path):
    """A connection that dies half way raises DownloadError and leaves neither input.txt nor a .part file."""
    server.serve("/input.txt", CORPUS, "drop")
    with pytest.raises(data.DownloadError):
        shakespeare.download(tmp_path, sha256=GOOD_SHA, **fetch_options(server))
    assert files_in(tmp_path) == [], f"left behind: {files_in(tmp_path)}"


def test_load_shakespeare_failure_says_what_to_do(server, tmp_path):
    """When the download fails, one line names the pinned URL and the folder to copy it into."""
    with pytest.raises(data.DownloadError) as info:
        shakespeare.load_shakespeare(tmp_path, **fetch_options(server, "/missing.txt"))
    message = str(info.value)
    assert shakespeare.URLS[0] in message and str(tmp_path) in message and "\n" not in message
    assert files_in(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# Local files and offline use
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["input.txt", "tinyshakespeare/input.txt"])
def test_local_input_txt_is_used_without_network(tmp_path, monkeypatch, where):
    """An input.txt in the data folder (or its tinyshakespeare/ subfolder) is read as it is,
    even with downloads forbidden (a TINYTORCH_DATA folder holding input.txt works this way)."""
    monkeypatch.setenv("TINYTORCH_OFFLINE", "1")
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / where).write_text("To be, or not to be\n", encoding="utf-8")
    assert shakespeare.load_shakespeare() == "To be, or not to be\n"
    assert shakespeare.load_text(quick=False, log=lambda *_: None) == ("Tiny Shakespeare", "To be, or not to be\n")


def test_offline_without_a_file_raises(tmp_path, monkeypatch):
    """TINYTORCH_OFFLINE=1 and no local file: DownloadError, and nothing is fetched."""
    monkeypatch.setenv("TINYTORCH_OFFLINE", "1")
    with pytest.raises(data.DownloadError, match="TINYTORCH_OFFLINE"):
        shakespeare.load_shakespeare(tmp_path)


def test_offline_full_run_falls_back_to_the_bundled_excerpt(tmp_path, monkeypatch):
    """load_text(quick=False) offline with an empty data folder explains why and uses the bundled excerpt."""
    monkeypatch.setenv("TINYTORCH_OFFLINE", "1")
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    lines = []
    name, text = shakespeare.load_text(quick=False, log=lines.append)
    assert "bundled" in name and text == shakespeare.load_bundled()
    assert any("falling back" in line for line in lines)


def test_bundled_excerpt_and_its_licence_note():
    """The bundled excerpt is the 39,908-character opening of Tiny Shakespeare; its licence note is beside it."""
    text = shakespeare.load_bundled()
    assert len(text) == 39_908 and text.startswith("First Citizen:\nBefore we proceed any further")
    note = (shakespeare.BUNDLED.parent / "LICENSE-shakespeare.txt").read_text(encoding="utf-8")
    assert "public domain" in note and shakespeare.SHA256 in note


def test_steps_from_the_environment(monkeypatch):
    """TINYTORCH_SHAKESPEARE_STEPS sets the number of training steps; unset it is 1,200; nonsense is a clear error."""
    monkeypatch.delenv(shakespeare.STEPS_ENV, raising=False)
    assert shakespeare.steps_from_env() == 1200
    monkeypatch.setenv(shakespeare.STEPS_ENV, "300")
    assert shakespeare.steps_from_env() == 300
    for bad in ("soon", "-1", "2.5"):
        monkeypatch.setenv(shakespeare.STEPS_ENV, bad)
        with pytest.raises(ValueError, match="steps"):
            shakespeare.steps_from_env()


def test_offline_message_is_one_short_line(tmp_path, monkeypatch):
    """However long the download error, the offline message is one line a person reads at a glance."""
    monkeypatch.setenv("TINYTORCH_OFFLINE", "1")
    with pytest.raises(data.DownloadError) as caught:
        shakespeare.load_shakespeare(tmp_path)
    text = str(caught.value)
    assert "\n" not in text and len(text) <= 260 + len(str(tmp_path)) and "TINYTORCH_DATA" in text
    assert len(shakespeare._offline_message(tmp_path, "x" * 900)) <= 260 + len(str(tmp_path))


def test_targets_per_corpus():
    """The full corpus is scored against 1.9 nats/char; the excerpt against its own bigram baseline."""
    assert shakespeare.target_for("Tiny Shakespeare", 2.48)[0] == 1.9
    target, label = shakespeare.target_for("Shakespeare excerpt (bundled)", 2.51)
    assert target == pytest.approx(2.51 - shakespeare.EXCERPT_MARGIN) and "bigram" in label


# ---------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------


def test_unigram_loss_of_a_uniform_text_is_log_vocab():
    """Every character equally frequent: the unigram loss is log(V) nats/char."""
    ids = np.tile(np.arange(4), 50)
    assert shakespeare.unigram_loss(ids, ids, 4) == pytest.approx(np.log(4))


def test_bigram_beats_unigram_on_structured_text():
    """On a text where each character fixes the next one, the bigram loss is far below the unigram loss."""
    ids = np.tile(np.array([0, 1, 2, 3, 2, 1]), 100)
    train, val = ids[:500], ids[500:]
    assert shakespeare.bigram_loss(train, val, 4) < 0.5 * shakespeare.unigram_loss(train, val, 4)


def test_unseen_characters_have_finite_loss():
    """Add-one smoothing: a validation character never seen in training still has a finite cost."""
    train, val = np.array([0, 0, 1, 0]), np.array([2, 0])
    assert np.isfinite(shakespeare.unigram_loss(train, val, 3)) and np.isfinite(shakespeare.bigram_loss(train, val, 3))
