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
