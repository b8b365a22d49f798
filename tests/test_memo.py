"""The analysis memo: a value is found only under the exact inputs and code that produced it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taskspace_core.analysis.hypothesis import compare, mantel, memoised_mantel
from taskspace_core.analysis.memo import Memo, memo_key


def _matrices(seed: int = 0, n: int = 12):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    similarity = (a + a.T) / 2
    labels = np.arange(n) % 3
    hypothesis = (labels[:, None] == labels[None, :]).astype(float)
    return similarity, hypothesis


def test_key_changes_with_every_input_and_with_the_code():
    similarity, hypothesis = _matrices()
    key = memo_key("mantel", "code", similarity, hypothesis, 99, 0, "pearson", None)
    assert key == memo_key("mantel", "code", similarity.copy(), hypothesis, 99, 0, "pearson", None)
    nudged = similarity.copy()
    nudged[0, 1] += 1e-12
    assert key != memo_key("mantel", "code", nudged, hypothesis, 99, 0, "pearson", None)
    assert key != memo_key("mantel", "code", similarity.astype(np.float32), hypothesis, 99, 0, "pearson", None)
    assert key != memo_key("mantel", "code", similarity, hypothesis, 100, 0, "pearson", None)
    assert key != memo_key("mantel", "code", similarity, hypothesis, 99, 1, "pearson", None)
    assert key != memo_key("mantel", "code", similarity, hypothesis, 99, 0, "pearson", [hypothesis])
    assert key != memo_key("mantel", "edited code", similarity, hypothesis, 99, 0, "pearson", None)
    with pytest.raises(TypeError, match="memo keys take"):
        memo_key("mantel", "code", object())


def test_memoised_mantel_equals_mantel_and_is_computed_once(tmp_path):
    similarity, hypothesis = _matrices()
    control = np.abs(_matrices(1)[0])
    memo = Memo(writable=tmp_path / "memo.json")
    for controls in (None, control, [control, hypothesis * 0.5 + control]):
        direct = mantel(similarity, hypothesis, 199, 3, "pearson", controls)
        assert memoised_mantel(memo, similarity, hypothesis, 199, 3, "pearson", controls) == direct
    memo.flush()
    stored = json.loads((tmp_path / "memo.json").read_text())
    assert len(stored) == 3
    # a fresh memo reads them back and never computes: strict turns a miss into an error
    again = Memo([tmp_path / "memo.json"], strict=True)
    assert memoised_mantel(again, similarity, hypothesis, 199, 3, "pearson", control) == \
        mantel(similarity, hypothesis, 199, 3, "pearson", control)
    with pytest.raises(KeyError, match="a Mantel test is not in the memo"):
        memoised_mantel(again, similarity, hypothesis, 200, 3, "pearson", control)


def test_compare_with_a_memo_gives_the_same_comparison(tmp_path):
    similarity, _ = _matrices(2, n=9)
    paradigms = ["anaphor_gender_agreement", "anaphor_number_agreement", "animate_subject_passive",
                 "animate_subject_trans", "causative", "drop_argument", "coordinate_structure_constraint_complex_left_branch",
                 "coordinate_structure_constraint_object_extraction", "adjunct_island"]
    control = np.abs(_matrices(3, n=9)[0])
    plain = compare(similarity, paradigms, permutations=99, control=control, second_control=control ** 2)
    memo = Memo(writable=tmp_path / "memo.json")
    assert compare(similarity, paradigms, permutations=99, control=control, second_control=control ** 2,
                   memo=memo) == plain
    memo.flush()
    assert compare(similarity, paradigms, permutations=99, control=control, second_control=control ** 2,
                   memo=Memo([tmp_path / "memo.json"], strict=True)) == plain


def test_flush_merges_with_entries_another_process_wrote(tmp_path):
    path = tmp_path / "memo.json"
    first, second = Memo(writable=path), Memo(writable=path)
    first.get("a", lambda: {"r": 1.0})
    second.get("b", lambda: {"r": 2.0})
    first.flush()
    second.flush()
    assert json.loads(path.read_text()) == {"a": {"r": 1.0}, "b": {"r": 2.0}}


def test_a_damaged_memo_names_its_file(tmp_path):
    path = tmp_path / "memo.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=f"{path}: not a readable memo"):
        Memo([path])
