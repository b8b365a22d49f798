"""Provenance: the code version every record carries."""

from __future__ import annotations

import subprocess

from taskspace_core import provenance


def test_the_code_version_is_dirty_for_changed_code_not_for_the_results_a_run_writes(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "meta.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    head = provenance.git_commit()
    assert len(head) == 40
    (tmp_path / "results" / "meta.json").write_text('{"files": {}}')  # a reference run rewrites its index
    (tmp_path / "untracked.txt").write_text("")
    assert provenance.git_commit() == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert provenance.git_commit() == head + "-dirty"


def test_an_atomic_write_gets_the_mode_a_plain_write_gets(tmp_path):
    """Not mkstemp's 0600: results written by a run are readable as any file the user writes."""
    import os

    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    for mask in (0o022, 0o002):
        old = os.umask(mask)
        try:
            plain.unlink()
            plain.write_text("{}")
            provenance.atomic_write_json(tmp_path / "atomic.json", {})
        finally:
            os.umask(old)
        assert (tmp_path / "atomic.json").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o666 & ~mask
