"""The "Try it yourself" exercises: one list that the notebooks, the seminar guide and the benchmark share.

Each exercise is a concrete parameter change of one research-question notebook, run with
papermill under the ``cpu`` preset, the one whose reference results the book shows. Two kinds,
neither needing anything built or trained first:

- a *re-analysis* reads the committed task spaces again under another definition (the
  similarity, the phenomenon grouping, the threshold of a rule, the transfer metric), in about a
  minute;
- a *compute* exercise fine-tunes and probes the small model on the paradigms it selects, in a
  few minutes: its final weights ship with the results (``book.shipped_sizes``,
  :mod:`taskspace_core.lm.shipped` installs them, sha256-checked), so the exercise computes on a
  model well above chance without pretraining one.

The notebooks print each exercise with its commands and its run time measured by
``benchmarks/exercises.py`` from a fresh clone on this project's 2-core machine
(``benchmarks/results/exercises_<preset>.json``); the seminar guide (English and Japanese) hands
them out to groups.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

import pandas as pd

from ..analysis.accuracy import accuracy_table, final_scores
from ..config import load_preset
from ..lm.models import spec_parameters
from ..paths import REPO_ROOT

PRESET = "cpu"  # the preset exercises run under: its committed results, and the small model's shipped weights
TIMINGS = REPO_ROOT / "benchmarks" / "results" / f"exercises_{PRESET}.json"
COMPUTE, REANALYSIS = "compute", "re-analysis"


@dataclass(frozen=True)
class Exercise:
    """One parameter change of one notebook, with what to look for (English and Japanese)."""

    id: str
    notebook: str  # a name of taskspace_core.book.NOTEBOOKS
    parameters: dict = field(default_factory=dict)
    title: str = ""
    look_for: str = ""
    title_ja: str = ""
    look_for_ja: str = ""

    @property
    def kind(self) -> str:
        """``compute`` when it fine-tunes the shipped model (it selects its own paradigms), else ``re-analysis``."""
        return COMPUTE if "data_phenomena" in self.parameters else REANALYSIS

    def parameter_pairs(self, preset: str = PRESET) -> list[tuple[str, str]]:
        """``(name, value as typed on a command line)`` for every ``-p`` of this exercise."""
        return [(name, _literal_text(value)) for name, value in [("preset", preset), *self.parameters.items()]]

    def arguments(self, preset: str = PRESET) -> list[str]:
        return [part for name, text in self.parameter_pairs(preset) for part in ("-p", name, text)]

    def command(self, preset: str = PRESET) -> str:
        """The ``taskspace run`` command (papermill, with each parameter checked first)."""
        short = self.notebook.split("_")[0]
        return shlex.join(["taskspace", "run", short, *self.arguments(preset), "--out", f"_build/run/{self.id}.ipynb"])

    def papermill_command(self, preset: str = PRESET) -> str:
        """The same run with plain papermill, on the notebook converted once by jupytext."""
        return shlex.join(["papermill", f"{self.notebook}.ipynb", f"{self.id}.ipynb", *self.arguments(preset)])


def _literal_text(value) -> str:
    return json.dumps(value) if isinstance(value, (list, tuple)) else str(value)


# a compute exercise: the small model (its weights ship), these paradigms only, and the untrained
# null and seed replicates read where they exist instead of pretrained for the new selection
ON_THE_SHIPPED_MODEL = {"size": "small", "compute_companions": False}

EXERCISES = [
    Exercise(
        "rq1-two-phenomena", "rq1_cross_task_knowledge",
        {"data_phenomena": ["DN-AGR", "SV-AGR"]} | ON_THE_SHIPPED_MODEL,
        "Only two phenomena: determiner-noun and subject-verb agreement",
        "Both are number agreement. If the model learned one notion of agreement, the two blocks "
        "transfer to each other as much as within themselves; if it learned each construction "
        "separately, the off-block cells stay near zero.",
        "二つの現象だけ: 限定詞-名詞の一致と主語-動詞の一致",
        "どちらも数の一致である。モデルが「一致」という一つの概念を学んだなら、二つのブロックは"
        "ブロック内と同じくらい互いに転移する。構文ごとに別々に学んだなら、ブロック外のセルはほぼ 0 のままである。"),
    Exercise(
        "rq1-islands", "rq1_cross_task_knowledge",
        {"data_phenomena": ["FG-DEP", "ISL-E"]} | ON_THE_SHIPPED_MODEL,
        "Filler-gap dependencies and the islands that block them",
        "An island is a place a filler-gap dependency may not reach into, so the two phenomena are two "
        "sides of one grammar. The small model scores below chance on the islands (the RQ2 chapter's "
        "accuracy per phenomenon): does fine-tuning on an island paradigm move the filler-gap paradigms, and "
        "does the task space still group the paradigms by phenomenon?",
        "フィラー・ギャップ依存と、それを妨げる島",
        "島とは、フィラー・ギャップ依存が入り込めない場所である。二つの現象は一つの文法の表と裏と言える。"
        "小さいモデルは島の課題でチャンス以下である(RQ2 の章の現象ごとの正解率)。島のパラダイムでの"
        "ファインチューニングはフィラー・ギャップのパラダイムを動かすか。タスク空間はまだパラダイムを現象ごとにまとめるか。"),
    Exercise(
        "rq1-threshold", "rq1_cross_task_knowledge",
        {"data_phenomena": ["DN-AGR", "SV-AGR"], "ftgd_threshold": 0.01} | ON_THE_SHIPPED_MODEL,
        "The two agreement phenomena with a ten times higher FTGD threshold",
        "The share of parameters each fine-tune may change falls. Put your run beside `rq1-two-phenomena`: "
        "does the task space still resemble the hypothesis space (the Mantel r), and does self-transfer "
        "(the diagonal) shrink with the mask?",
        "二つの一致現象で、FTGD のしきい値を 10 倍にする",
        "各ファインチューニングが更新できるパラメータの割合が下がる。`rq1-two-phenomena` の結果と並べる。"
        "タスク空間は仮説空間にまだ似ているか(Mantel の r)、自己転移(対角)はマスクと一緒に小さくなるか。"),
    Exercise(
        "rq1-accuracy", "rq1_cross_task_knowledge", {"space_metric": "accuracy"},
        "Transfer measured in accuracy instead of effect size",
        "Nothing is recomputed, only re-analysed. With 100 test pairs a paradigm's accuracy moves in "
        "steps of 1/100: how much of the structure survives the coarser measure?",
        "転移を効果量ではなく正解率で測る",
        "再計算はなく、分析し直すだけである。テストペアが 100 組なので正解率は 1/100 刻みでしか動かない。"
        "粗い尺度でも構造はどれだけ残るか。"),
    Exercise(
        "rq1-centred", "rq1_cross_task_knowledge", {"space_similarity": "centred"},
        "Another similarity: the direct transfer between two paradigms, less what is common to all",
        "The default similarity compares whole transfer profiles. `centred` keeps only the transfer "
        "between the two paradigms themselves, after removing how much each fine-tune moves everything "
        "and how easily each paradigm is moved. Which blocks survive, and does the Mantel r rise or fall?",
        "別の類似度: 二つのパラダイム間の直接の転移から、全体に共通する部分を除く",
        "既定の類似度は転移のプロファイル全体を比べる。`centred` は、各ファインチューニングが全体をどれだけ"
        "動かすかと、各パラダイムがどれだけ動きやすいかを取り除いた上で、二つのパラダイムの間の転移だけを残す。"
        "どのブロックが残るか。Mantel の r は上がるか、下がるか。"),
    Exercise(
        "rq1-patterns", "rq1_cross_task_knowledge", {"pattern_high": 0.5},
        "A stricter rule for \"similar\": 0.5 instead of 0.3",
        "The chapter's within-phenomenon patterns call a pair of paradigms similar at a similarity of 0.3 "
        "or more. At 0.5, which phenomena still count as sharing knowledge, and which were carried by "
        "pairs just above the old line?",
        "「似ている」の基準を厳しくする: 0.3 ではなく 0.5",
        "この章の現象内パターンは、類似度 0.3 以上のパラダイムの組を「似ている」と数える。0.5 にすると、"
        "どの現象がまだ知識を共有していると言えるか。どの現象は古い基準のすぐ上の組に支えられていたか。"),
    Exercise(
        "rq2-taxonomy", "rq2_model_size", {"data_taxonomy": "13"},
        "The size comparison under BLiMP's own 13 phenomena",
        "BLiMP's files label s-selection as a phenomenon of its own; the paper (and this book) folds it "
        "into argument structure. Nothing is recomputed: only the hypothesis space changes. Does the "
        "ordering of sizes depend on that grouping?",
        "BLiMP 自身の 13 現象でサイズを比べる",
        "BLiMP のファイルは s-selection を独立した現象としているが、論文(とこの本)は項構造に含めている。"
        "再計算はなく、仮説空間だけが変わる。サイズの順序はこのまとめ方に左右されるか。"),
    Exercise(
        "rq2-mutual", "rq2_model_size", {"space_similarity": "mutual"},
        "The size comparison with the direct transfer as similarity",
        "The default similarity correlates whole transfer profiles, which is blind to how large the "
        "transfers are. `mutual` is the transfer between two paradigms itself, both ways, in effect-size "
        "units. Does the ordering of the sizes change when the size of the transfer counts, and does each "
        "size's lead over its untrained network hold?",
        "直接の転移を類似度としてサイズを比べる",
        "既定の類似度は転移のプロファイル全体の相関で、転移の大きさは見ない。`mutual` は二つのパラダイムの間の"
        "転移そのもの(両方向、効果量の単位)である。転移の大きさも数えると、サイズの順序は変わるか。"
        "各サイズの未学習のネットワークに対する差は保たれるか。"),
    Exercise(
        "rq3-accuracy", "rq3_learning_dynamics", {"space_metric": "accuracy"},
        "Learning dynamics measured in accuracy",
        "Early in training the model is near chance, and effect sizes can move while accuracies do not. "
        "Does the task space still change most in the first part of training when transfer is counted "
        "in pairs won and lost?",
        "正解率で測る学習ダイナミクス",
        "学習の初期のモデルはチャンスに近く、正解率が動かなくても効果量は動きうる。転移を正解したペアの"
        "増減で数えても、タスク空間は学習の最初の部分で最も大きく変わるか。"),
    Exercise(
        "rq3-centred", "rq3_learning_dynamics", {"space_similarity": "centred"},
        "Learning dynamics of the pair-specific transfer",
        "Early in training a fine-tune may move every paradigm alike. `centred` removes each fine-tune's "
        "general shift and each paradigm's general movability, leaving what is specific to a pair. Is the "
        "early change of the task space that general shift, or structure between particular paradigms?",
        "ペアに固有の転移の学習ダイナミクス",
        "学習の初期には、ファインチューニングがどのパラダイムも同じように動かすことがある。`centred` は各"
        "ファインチューニングの全体的なずれと各パラダイムの動きやすさを取り除き、ペアに固有の部分を残す。"
        "タスク空間の初期の変化は全体的なずれか、それとも特定のパラダイムの間の構造か。"),
]


def exercises_for(notebook: str) -> list[Exercise]:
    return [e for e in EXERCISES if e.notebook == notebook]


def measured_times() -> dict[str, dict]:
    """Exercise id -> its benchmark record (``seconds``, ``new_spaces``), from the committed timings file."""
    if not TIMINGS.exists():
        return {}
    return {r["id"]: r for r in json.loads(TIMINGS.read_text())["exercises"]}


def exercise_table(exercises: list[Exercise], japanese: bool = False) -> pd.DataFrame:
    """One row per exercise: title, kind and measured minutes (as the notebooks and guides show them)."""
    times = measured_times()
    rows = []
    for e in exercises:
        record = times.get(e.id)
        minutes = record["seconds"] / 60 if record else float("nan")
        if japanese:
            rows.append({"課題": e.id, "内容": e.title_ja, "種類": KIND_JA[e.kind], "実行時間(分)": minutes})
        else:
            rows.append({"exercise": e.id, "what": e.title, "kind": e.kind, "minutes": minutes})
    return pd.DataFrame(rows)


KIND_JA = {COMPUTE: "計算", REANALYSIS: "再分析"}


def shipped_model() -> tuple[str, float, float]:
    """``(size, millions of parameters, BLiMP test accuracy)`` of the model the compute exercises
    fine-tune: the preset's shipped size, its accuracy from the committed per-pair scores."""
    config = load_preset(PRESET)
    size = config.book.shipped_sizes[0]
    scores = final_scores(config)
    accuracy = accuracy_table({size: scores[size]}).loc["overall", size] if size in scores else float("nan")
    return size, spec_parameters(config.size(size), config.tokenizer.vocab_size) / 1e6, float(accuracy)


def exercise_intro(notebook: str) -> str:
    """The paragraph that opens a notebook's "Try it yourself": the preset, what each kind of
    exercise does and needs, the shipped model's size and committed BLiMP accuracy, and where
    the times come from."""
    config = load_preset(PRESET)
    size, millions, accuracy = shipped_model()
    final = f"epoch-{max(config.pretrain.checkpoints):g}"
    return (
        f"Each exercise below changes a parameter of this notebook and runs it again with papermill, under "
        f"the `{PRESET}` preset whose results this book shows. Nothing has to be built or trained first. A "
        f"*{REANALYSIS}* reads the committed task spaces again under another definition. A *{COMPUTE}* "
        f"exercise fine-tunes and probes the {size} model ({millions:.2f}M parameters, {accuracy:.3f} on the "
        f"BLiMP test split, where chance is 0.5) on the paradigms it selects: its final weights ship with the "
        f"results (`results/{PRESET}/models/{size}/{final}/`, with a model card) and are installed into the "
        f"work directory, sha256-checked, the first time a run needs them. A compute exercise reads the "
        f"untrained network and the seed replicates only where they exist (`compute_companions` off), so "
        f"nothing is pretrained for its new selection of paradigms. Each time below is measured by "
        f"`benchmarks/exercises.py` from a fresh clone on a 2-core, laptop-class machine. For the papermill "
        f"form, convert the notebook once: `jupytext --to ipynb notebooks/{notebook}.md -o {notebook}.ipynb`.")


def exercise_markdown(notebook: str) -> str:
    """The "Try it yourself" block of one notebook: each exercise with its kind, commands, time and what to look for."""
    times = measured_times()
    blocks = []
    for e in exercises_for(notebook):
        record = times.get(e.id)
        measured = (f"measured: {record['seconds'] / 60:.1f} min, {record['new_spaces']} new task space(s)"
                    if record else "not measured yet: run `python benchmarks/exercises.py`")
        blocks.append(
            f"**{e.title}** (`{e.id}`, {e.kind}; {measured})\n\n"
            f"```bash\n{e.command()}\n# or, with plain papermill on the converted notebook:\n{e.papermill_command()}\n```\n\n"
            f"*What to look for.* {e.look_for}")
    return "\n\n".join(blocks)
