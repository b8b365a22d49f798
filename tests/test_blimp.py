import gzip
import json
import shutil

import pytest

from taskspace_core.corpora import blimp, pairs
from taskspace_core.errors import ConfigError, DataError

PAPER_ABBREVIATIONS = ["A-AGR", "ARG-S", "BIND", "CON-R", "DN-AGR", "ELLIP", "FG-DEP", "IRR-F",
                       "ISL-E", "NPI-L", "QUANT", "SV-AGR"]


def test_vendored_blimp_is_complete():
    paradigms = blimp.load_blimp()
    assert len(paradigms) == 67
    assert sum(len(p.pairs) for p in paradigms.values()) == 67_000
    assert all(len(p.pairs) == 1000 for p in paradigms.values())


def test_taxonomy_12_and_13():
    twelve = blimp.phenomena("12")
    assert list(twelve) == PAPER_ABBREVIATIONS
    assert sum(map(len, twelve.values())) == 67
    assert len(twelve["ARG-S"]) == 9 and "animate_subject_passive" in twelve["ARG-S"]
    thirteen = blimp.phenomena("13")
    assert len(thirteen) == 13 and len(thirteen["ARG-S"]) == 7
    assert sorted(thirteen["S-SEL"]) == ["animate_subject_passive", "animate_subject_trans"]
    sizes = {k: len(v) for k, v in twelve.items()}
    assert sizes == {"A-AGR": 2, "ARG-S": 9, "BIND": 7, "CON-R": 5, "DN-AGR": 8, "ELLIP": 2, "FG-DEP": 7,
                     "IRR-F": 2, "ISL-E": 8, "NPI-L": 7, "QUANT": 4, "SV-AGR": 6}
    with pytest.raises(ConfigError, match="taxonomy"):
        blimp.phenomenon_of("passive_1", "14")


def test_unknown_paradigm_suggests_a_name():
    with pytest.raises(ConfigError, match="did you mean 'passive_1'"):
        blimp.load_blimp(paradigms=["pasive_1"])


def test_split_is_deterministic_disjoint_and_seeded():
    par = blimp.load_blimp(paradigms=["passive_1"])["passive_1"]
    train, test = pairs.split_pairs(par, 100, 200, seed=0)
    assert len(train) == 200 and len(test) == 100
    assert not {p.pair_id for p in train} & {p.pair_id for p in test}
    again_train, again_test = pairs.split_pairs(par, 100, 200, seed=0)
    assert again_train == train and again_test == test
    _, other_test = pairs.split_pairs(par, 100, 200, seed=1)
    assert [p.pair_id for p in other_test] != [p.pair_id for p in test]
    # the test split does not depend on how many training pairs are drawn
    _, test_small_train = pairs.split_pairs(par, 100, 10, seed=0)
    assert test_small_train == test
    # pairs are whole: good and bad of a pair always travel together
    by_id = {p.pair_id: p for p in par.pairs}
    assert all(by_id[p.pair_id] == p for p in train + test)
    with pytest.raises(ConfigError, match="data.n_test"):
        pairs.split_pairs(par, 900, 200, seed=0)


def _copy_paradigm(tmp_path, uid="passive_1"):
    src = blimp.paradigm_file(blimp.DEFAULT_BLIMP_DIR, uid)
    lines = gzip.decompress(src.read_bytes()).decode().splitlines()
    return tmp_path / f"{uid}.jsonl", lines


def test_plain_and_gzip_copies_load_identically(tmp_path):
    path, lines = _copy_paradigm(tmp_path)
    path.write_text("\n".join(lines) + "\n")
    plain = blimp.load_blimp(tmp_path, ["passive_1"])
    vendored = blimp.load_blimp(None, ["passive_1"])
    assert plain["passive_1"].pairs == vendored["passive_1"].pairs
    assert pairs.data_hash(plain) == pairs.data_hash(vendored)


@pytest.mark.parametrize("corrupt, line, field", [
    (lambda r: "{not json", 3, None),
    (lambda r: json.dumps({k: v for k, v in r.items() if k != "sentence_bad"}), 3, "sentence_bad"),
    (lambda r: json.dumps(r | {"sentence_good": ""}), 3, "sentence_good"),
    (lambda r: json.dumps(r | {"pairID": "0"}), 3, "pairID"),  # duplicate of line 1
    (lambda r: json.dumps(r | {"UID": "passive_2"}), 3, "UID"),
    (lambda r: json.dumps(r | {"linguistics_term": "binding"}), 3, "linguistics_term"),
])
def test_malformed_records_are_named_by_file_line_and_field(tmp_path, corrupt, line, field):
    path, lines = _copy_paradigm(tmp_path)
    lines[line - 1] = corrupt(json.loads(lines[line - 1]))
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        blimp.load_blimp(tmp_path, ["passive_1"])
    message = str(info.value)
    assert str(path) in message and f"line {line}" in message
    if field:
        assert f"field '{field}'" in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="paradigm file not found"):
        blimp.load_blimp(tmp_path, ["passive_1"])
    with pytest.raises(DataError, match="not found"):
        blimp.load_blimp(tmp_path / "nowhere")


def test_corrupt_gzip_is_reported(tmp_path):
    shutil.copy(blimp.paradigm_file(blimp.DEFAULT_BLIMP_DIR, "passive_1"), tmp_path / "passive_1.jsonl.gz")
    data = (tmp_path / "passive_1.jsonl.gz").read_bytes()
    (tmp_path / "passive_1.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="passive_1.jsonl.gz"):
        blimp.load_blimp(tmp_path, ["passive_1"])


# ---------------------------------------------------------------- through Hugging Face `datasets`

HUB_PARADIGMS = ["adjunct_island", "npi_present_1"]


def _hub_copy(root, rows_of):
    """A local copy in the hub's layout (nyu-mll/blimp): a dataset card with one config per
    paradigm, each a parquet "train" split whose pair ids are integers named ``pair_id``."""
    import datasets

    card = ["---", "configs:"]
    for uid in HUB_PARADIGMS:
        (root / uid).mkdir(parents=True)
        datasets.Dataset.from_list(rows_of(uid)).to_parquet(str(root / uid / "train-00000-of-00001.parquet"))
        card += [f"- config_name: {uid}", "  data_files:", "  - split: train", f"    path: {uid}/train-*"]
    (root / "README.md").write_text("\n".join([*card, "---", "", "BLiMP, hub layout (test copy)."]))
    return root


def _as_hub_rows(uid):
    rows = [json.loads(line) for line in gzip.open(blimp.DEFAULT_BLIMP_DIR / f"{uid}.jsonl.gz", "rt")]
    for row in rows:
        row["pair_id"] = int(row.pop("pairID"))
    return rows


def test_a_hub_layout_copy_loads_through_datasets_with_the_same_pairs(tmp_path):
    shipped = blimp.load_blimp(None, HUB_PARADIGMS)
    hub = blimp.load_blimp(f"hf:{_hub_copy(tmp_path / 'blimp', _as_hub_rows)}", HUB_PARADIGMS)
    for uid in HUB_PARADIGMS:
        assert hub[uid].pairs == shipped[uid].pairs
        assert hub[uid].term == shipped[uid].term
    # the data hash is that of the records, so a different source is a different key
    assert pairs.data_hash(hub) != pairs.data_hash(shipped)
    again = blimp.load_blimp(f"hf:{tmp_path / 'blimp'}", HUB_PARADIGMS)
    assert pairs.data_hash(again) == pairs.data_hash(hub)


def test_the_shipped_files_read_by_datasets_give_the_same_pairs():
    direct = blimp.load_blimp(None, HUB_PARADIGMS)
    via_datasets = blimp.load_blimp(f"hf:{blimp.DEFAULT_BLIMP_DIR}", HUB_PARADIGMS)
    assert all(via_datasets[uid].pairs == direct[uid].pairs for uid in HUB_PARADIGMS)


def test_a_bad_record_from_datasets_is_named_by_source_row_and_field(tmp_path):
    def broken(uid):
        rows = _as_hub_rows(uid)
        if uid == HUB_PARADIGMS[1]:
            rows[4]["UID"] = "adjunct_island"
        return rows

    root = _hub_copy(tmp_path / "blimp", broken)
    with pytest.raises(DataError, match=r"npi_present_1.*line 5.*UID"):
        blimp.load_blimp(f"hf:{root}", HUB_PARADIGMS)


def test_a_source_datasets_cannot_read_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty:adjunct_island.*datasets could not load it"):
        blimp.load_blimp(f"hf:{tmp_path / 'empty'}", ["adjunct_island"])
