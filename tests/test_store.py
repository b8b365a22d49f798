"""The results store: round trips, integrity checks, and keys that hit or miss."""

import numpy as np
import pytest

from taskspace_core.errors import CorruptResultWarning
from taskspace_core.results.store import ResultStore


def test_round_trip_and_key_addressing(tmp_path):
    store = ResultStore(tmp_path, "tiny-large", {"a": 1, "b": [1, 2]})
    assert store.load("source/x") is None and not store.has("source/x")
    store.save("source/x", {"v": np.arange(5.0)}, {"note": "hello"})
    arrays, meta = store.load("source/x")
    assert np.array_equal(arrays["v"], np.arange(5.0)) and meta["note"] == "hello"
    assert ResultStore(tmp_path, "tiny-large", {"b": [1, 2], "a": 1}).dir == store.dir  # same key: same place
    assert ResultStore(tmp_path, "tiny-large", {"a": 2, "b": [1, 2]}).dir != store.dir  # changed: a miss
    store.write_manifest(extra="x")
    assert (store.dir / "manifest.json").is_file()


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_npz", "bad_json"])
def test_a_damaged_result_is_reported_and_treated_as_missing(tmp_path, damage):
    store = ResultStore(tmp_path, "x", {"k": 1})
    store.save("eval1", {"v": np.arange(1000.0)}, {})
    npz, meta = store.dir / "eval1.npz", store.dir / "eval1.json"
    if damage == "truncate":
        npz.write_bytes(npz.read_bytes()[:50])
    elif damage == "flip":
        data = bytearray(npz.read_bytes())
        data[len(data) // 2] ^= 0xFF
        npz.write_bytes(bytes(data))
    elif damage == "delete_npz":
        npz.unlink()
    else:
        meta.write_text("{not json")
    with pytest.warns(CorruptResultWarning, match="eval1"):
        assert store.load("eval1") is None
    store.save("eval1", {"v": np.arange(3.0)}, {})  # recomputing overwrites it cleanly
    assert store.load("eval1")[0]["v"].tolist() == [0.0, 1.0, 2.0]
