import re

import pytest

from taskspace_core.cli.args import parse_dotted_args
from taskspace_core.config import PRESETS, Config, ModelSpec, apply_overrides, load_preset, stable_hash
from taskspace_core.errors import ConfigError
from taskspace_core.lm.models import spec_parameters
from taskspace_core.paths import REPLACES, REPO_ROOT
from taskspace_core.results.export import INDEX


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_with_sizes(name):
    config = load_preset(name)
    assert config.preset == name
    assert config.sizes and all(isinstance(s, ModelSpec) for s in config.sizes.values())
    assert all(0 <= c <= config.pretrain.epochs for c in config.pretrain.checkpoints)
    assert 0.0 in config.pretrain.checkpoints  # initialisation ("epoch 0") is always kept


def test_cpu_sizes_follow_the_paper_ratios():
    config = load_preset("cpu")
    n = [spec_parameters(config.sizes[s], config.tokenizer.vocab_size) for s in ("small", "medium", "large")]
    assert n[0] < n[1] < n[2]
    # paper: 27M : 70M : 203M = 1 : 2.6 : 7.5
    assert 2.0 < n[1] / n[0] < 3.2 and 6.0 < n[2] / n[0] < 9.0


def test_paper_preset_is_paper_scale():
    config = load_preset("paper")
    n = [spec_parameters(config.sizes[s], config.tokenizer.vocab_size) / 1e6 for s in ("small", "medium", "large")]
    for got, want in zip(n, (27, 70, 203)):
        assert abs(got - want) / want < 0.1


def test_overrides_coerce_types_and_reach_nested_fields():
    config = load_preset("ci", {"pretrain.lr": "1e-3", "data.n_test": "7", "sizes.small.n_layers": "3",
                                "pretrain.checkpoints": "0,0.5,1", "work_dir": "elsewhere"})
    assert config.pretrain.lr == 1e-3 and config.data.n_test == 7
    assert config.sizes["small"].n_layers == 3
    assert config.pretrain.checkpoints == (0.0, 0.5, 1.0)
    assert config.work_dir == "elsewhere"


@pytest.mark.parametrize("overrides, culprit", [
    ({"pretrain.lrr": "1"}, "pretrain.lrr"),
    ({"nosuch.field": "1"}, "nosuch.field"),
    ({"pretrain.lr": "fast"}, "pretrain.lr"),
    ({"data.n_test": "1.5"}, "data.n_test"),
    ({"pretrain": "1"}, "pretrain"),
])
def test_bad_overrides_name_the_field(overrides, culprit):
    with pytest.raises(ConfigError, match=culprit.replace(".", r"\.")):
        load_preset("ci", overrides)


def test_unknown_preset_and_size():
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        load_preset("huge")
    with pytest.raises(ConfigError, match="unknown size 'xl'"):
        load_preset("ci").size("xl")


def test_stable_hash_tracks_content():
    a = load_preset("ci")
    assert stable_hash(a) == stable_hash(load_preset("ci"))
    assert stable_hash(a) != stable_hash(apply_overrides(a, {"pretrain.seed": 1}))
    assert isinstance(a, Config)



def test_a_field_added_later_at_its_earlier_value_keeps_the_preset_hash():
    """`cpu` pins scoring.eval2 at "sentences" (what it computed before the field existed), so that
    field stays out of its hash; a later field it sets to something new (book.random_mask_sizes:
    it plans the random-mask control) is in the hash, and changes it."""
    from taskspace_core.config import LATER_FIELDS, is_earlier_behaviour, preset_hash, to_dict
    cpu = load_preset("cpu")
    earlier = {(section, name) for section, name in LATER_FIELDS if is_earlier_behaviour(cpu, section, name)}
    assert earlier == set(LATER_FIELDS) - {("book", "random_mask_sizes"), ("book", "benchmark_spaces"),
                                           ("book", "benchmark_sizes")}
    raw = to_dict(cpu)
    for where in ("work_dir", "results_dir"):
        raw.pop(where)
    without = {section: {k: v for k, v in values.items() if (section, k) not in earlier}
               if isinstance(values, dict) else values for section, values in raw.items()}
    assert preset_hash("cpu") == stable_hash(without) != stable_hash(raw)
    assert not is_earlier_behaviour(load_preset("tiny"), "scoring", "eval2")  # tiny runs margins

def test_parse_dotted_args():
    assert parse_dotted_args(["--pretrain.lr", "1e-3", "--data.n_test=5", "--work-dir", "x"]) == {
        "pretrain.lr": "1e-3", "data.n_test": "5", "work_dir": "x"}
    with pytest.raises(ConfigError, match="needs a value"):
        parse_dotted_args(["--pretrain.lr"])
    with pytest.raises(ConfigError, match="unrecognised argument"):
        parse_dotted_args(["stray"])


@pytest.mark.parametrize("text", ['["DN-AGR", "SV-AGR"]', "['DN-AGR', 'SV-AGR']", "[DN-AGR, SV-AGR]",
                                  "DN-AGR,SV-AGR", " DN-AGR, 'SV-AGR' "])
def test_list_parameters_read_as_json_yaml_or_commas(text):
    """papermill -p passes a list as its text; every way of writing it gives the same list."""
    from taskspace_core.config import parameter_overrides

    assert load_preset("tiny", parameter_overrides(data_phenomena=text)).data.phenomena == ("DN-AGR", "SV-AGR")


def test_a_broken_list_parameter_names_the_field():
    from taskspace_core.config import parameter_overrides

    with pytest.raises(ConfigError, match=r"config\.data\.phenomena: cannot read .* as JSON or YAML"):
        load_preset("tiny", parameter_overrides(data_phenomena='["DN-AGR", '))


@pytest.mark.parametrize("document, models_column, listed", [("README.md", 3, set(PRESETS)),
                                                             ("book/intro.md", 2, {"ci", "tiny", "cpu-v1", "cpu", "paper"})])
def test_the_preset_tables_give_each_presets_parameter_counts(document, models_column, listed):
    """The presets tables of the README and the introduction type each preset's model sizes
    ("1.08M, 2.95M, 8.39M"): each must be the preset's parameter count, rounded as shown."""
    rows = {}
    for line in (REPO_ROOT / document).read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = cells[0].strip("`")
        if line.startswith("| `") and name in PRESETS and len(cells) > models_column - 1:
            rows[name] = re.findall(r"(\d+\.\d+)M", cells[models_column - 1])
    assert listed <= set(rows), f"{document}: the presets table lacks {listed - set(rows)}"
    for name, shown in rows.items():
        config = load_preset(name)
        exact = [spec_parameters(config.size(s), config.tokenizer.vocab_size) / 1e6 for s in config.sizes]
        assert len(shown) >= len(exact), f"{document}: `{name}` row gives {shown}"
        for text, value in zip(shown, exact):
            decimals = len(text.split(".")[1])
            assert abs(float(text) - value) <= 0.5 * 10 ** -decimals + 1e-9, f"{document}: `{name}` says {text}M, it has {value:.3f}M"


def test_a_replaced_preset_is_shipped_with_committed_results():
    for new, old in REPLACES.items():
        assert new in PRESETS and old in PRESETS and new != old
        assert (load_preset(old).reference_dir() / INDEX).is_file(), f"{old}: the claims chapter compares with it"
