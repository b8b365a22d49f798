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


def test_a_record_names_the_cpu_and_the_matrix_units_its_kernels_ran_on():
    """bf16 training on AMX tiles and on AVX-512 bf16 dot products agrees to rounding, not bit for
    bit, so a record says which CPU made it (a retrain compares against it)."""
    intel = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C\n"
             "flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n")
    assert provenance.cpu_identity(intel) == {"cpu": "Intel(R) Xeon(R) Platinum 8481C",
                                              "matmul_flags": ["amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2"]}
    amd = "model name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"
    assert provenance.cpu_identity(amd)["matmul_flags"] == ["avx512_bf16", "avx512f", "avx2"]
    assert provenance.cpu_identity("")["matmul_flags"] == []  # no /proc/cpuinfo: no flags claimed
    assert provenance.cpu_label({"cpu": "AMD EPYC", "matmul_flags": ["avx512_bf16"]}) == "AMD EPYC (avx512_bf16)"
    assert provenance.cpu_label({"cpus": 2}) == ""  # a record from before the field
    host = provenance.provenance()["host"]
    assert {"platform", "cpus", "cpu", "matmul_flags"} <= set(host) and host["cpu"]
