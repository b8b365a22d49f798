"""The "Try it yourself" exercises: one list that the notebooks, the seminar guide and the benchmark share.

Each exercise is a concrete parameter change of one research-question notebook, run with
papermill under a small preset (``tiny`` by default). The notebooks print each exercise with its
commands and its run time measured by ``benchmarks/exercises.py`` on this project's 2-core
machine (``benchmarks/results/exercises_<preset>.json``); the seminar guide (English and
Japanese) hands them out to groups.
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
from .measurements import end_to_end_minutes

PRESET = "tiny"  # the preset exercises run under: one first full run (see exercise_intro), then minutes each
TIMINGS = REPO_ROOT / "benchmarks" / "results" / f"exercises_{PRESET}.json"


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


EXERCISES = [
    Exercise(
        "rq1-threshold", "rq1_cross_task_knowledge", {"ftgd_threshold": 0.01},
        "A ten times higher FTGD threshold",
        "The share of parameters each fine-tune may change falls. Does the task space still resemble "
        "the hypothesis space (the Mantel r), and does self-transfer (the diagonal) shrink with the mask?",
        "FTGD のしきい値を 10 倍にする",
        "各ファインチューニングが更新できるパラメータの割合が下がる。タスク空間は仮説空間に"
        "まだ似ているか(Mantel の r)、自己転移(対角)はマスクと一緒に小さくなるか。"),
    Exercise(
        "rq1-two-phenomena", "rq1_cross_task_knowledge", {"data_phenomena": ["DN-AGR", "SV-AGR"]},
        "Only two phenomena: determiner-noun and subject-verb agreement",
        "Both are number agreement. If the model learned one notion of agreement, the two blocks "
        "transfer to each other as much as within themselves; if it learned each construction "
        "separately, the off-block cells stay near zero.",
        "二つの現象だけ: 限定詞-名詞の一致と主語-動詞の一致",
        "どちらも数の一致である。モデルが「一致」という一つの概念を学んだなら、二つのブロックは"
        "ブロック内と同じくらい互いに転移する。構文ごとに別々に学んだなら、ブロック外のセルはほぼ 0 のままである。"),
    Exercise(
        "rq1-accuracy", "rq1_cross_task_knowledge", {"space_metric": "accuracy"},
        "Transfer measured in accuracy instead of effect size",
        "Nothing is recomputed, only re-analysed. With 30 test pairs a paradigm's accuracy moves in "
        "steps of 1/30: how much of the structure survives the coarser measure?",
        "転移を効果量ではなく正解率で測る",
        "再計算はなく、分析し直すだけである。テストペアが 30 組なので正解率は 1/30 刻みでしか動かない。"
        "粗い尺度でも構造はどれだけ残るか。"),
    Exercise(
        "rq2-earlier-checkpoint", "rq2_model_size", {"checkpoint": "0.5"},
        "The size comparison half-way through training",
        "Compare the within-phenomenon table with the final one. Is the ordering of sizes the same "
        "early in training, or does size matter only once the models have learned more?",
        "学習の途中(0.5 エポック)でサイズを比べる",
        "現象内類似度の表を最終チェックポイントのものと比べる。サイズの順序は学習の初期でも同じか、"
        "それともモデルがもっと学んでから初めてサイズが効くのか。"),
    Exercise(
        "rq2-plain", "rq2_model_size", {"ftgd_method": "plain"},
        "The size comparison with plain fine-tuning (no mask)",
        "Plain fine-tuning may change every parameter. Does the within-phenomenon similarity still "
        "depend on size, and does the between-phenomenon similarity rise (more entanglement)?",
        "マスクなしの通常のファインチューニングでサイズを比べる",
        "通常のファインチューニングはすべてのパラメータを変えられる。現象内類似度はまだサイズに"
        "依存するか。現象間の類似度は上がるか(もつれが増えるか)。"),
    Exercise(
        "rq3-other-size", "rq3_learning_dynamics", {"size": "medium"},
        "Learning dynamics of a larger model",
        "The chapter follows the small model (the `tiny` preset's choice, for time). Does the medium "
        "model's task space also change most in the first part of training? Compare the change between "
        "checkpoints and the union of the masks with the small model's.",
        "より大きいモデルの学習ダイナミクス",
        "この章は(`tiny` プリセットでは時間の都合で)小さいモデルを追う。中くらいのモデルのタスク空間も"
        "学習の最初の部分で最も大きく変わるか。チェックポイント間の変化とマスクの和集合を小さいモデルと比べる。"),
    Exercise(
        "rq3-top-fraction", "rq3_learning_dynamics", {"ftgd_mask_rule": "top_fraction"},
        "A fixed 5% mask instead of a fixed threshold, over training",
        "A fixed threshold picks a share that depends on the gradient scale, which changes during "
        "training. With every mask at exactly 5%, does the union of the masks still grow? Compare your "
        "run with the top 5% verdicts of the claims chapter, computed on the reference models.",
        "学習を通して、固定しきい値の代わりに上位 5% のマスクを使う",
        "固定しきい値が選ぶ割合は勾配の大きさに依存し、勾配の大きさは学習中に変わる。どのマスクも"
        "ちょうど 5% にしたとき、マスクの和集合はまだ大きくなるか。参照モデルで計算した主張の章の"
        "上位 5% の判定と比べる。"),
]


def exercises_for(notebook: str) -> list[Exercise]:
    return [e for e in EXERCISES if e.notebook == notebook]


def measured_times() -> dict[str, dict]:
    """Exercise id -> its benchmark record (``seconds``, ``new_spaces``), from the committed timings file."""
    if not TIMINGS.exists():
        return {}
    return {r["id"]: r for r in json.loads(TIMINGS.read_text())["exercises"]}


def exercise_table(exercises: list[Exercise], japanese: bool = False) -> pd.DataFrame:
    """One row per exercise: title, command and measured minutes (as the notebooks and guides show them)."""
    times = measured_times()
    rows = []
    for e in exercises:
        record = times.get(e.id)
        minutes = record["seconds"] / 60 if record else float("nan")
        if japanese:
            rows.append({"課題": e.id, "内容": e.title_ja, "実行時間(分)": minutes})
        else:
            rows.append({"exercise": e.id, "what": e.title, "minutes": minutes})
    return pd.DataFrame(rows)


NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


def exercise_intro(notebook: str) -> str:
    """The paragraph that opens a notebook's "Try it yourself": the exercises' preset, its model
    sizes and test split (from the preset file), the measured time of its first full run and its
    models' committed BLiMP test accuracy."""
    config = load_preset(PRESET)
    sizes = [f"{spec_parameters(config.size(s), config.tokenizer.vocab_size) / 1e6:.2f}M" for s in config.sizes]
    try:
        first_run = f"{end_to_end_minutes(PRESET):.0f} minutes on 2 cores, measured by `benchmarks/speed.py --end-to-end {PRESET}`"
    except FileNotFoundError:
        first_run = f"not measured yet: `python benchmarks/speed.py --sizes= --end-to-end {PRESET}`"
    scores = final_scores(config)
    overall = accuracy_table(scores).loc["overall", list(scores)] if scores else None
    accuracy = ("" if overall is None else
                f" The `{PRESET}` models score {overall.min():.3f} to {overall.max():.3f} on the BLiMP test split (the mean "
                f"over paradigms; chance is 0.5; scores committed in `results/{PRESET}/models/`), so read the results "
                f"for their direction, not their size.")
    return (
        f"Each exercise below changes one parameter of this notebook and runs it again with papermill, "
        f"under the `{PRESET}` preset ({NUMBER_WORDS.get(len(sizes), len(sizes))} models of {', '.join(sizes[:-1])} and {sizes[-1]} parameters, "
        f"{config.data.n_test} test pairs per paradigm). Build the `{PRESET}` book once first, with "
        f"`PRESET={PRESET} bash scripts/main.sh` ({first_run}); that pretrains the models and computes the "
        f"default task spaces. Each time below is measured from that starting point by `benchmarks/exercises.py` "
        f"on a 2-core, laptop-class machine, and includes any task spaces the change needs. For the papermill "
        f"form, convert the notebook once: `jupytext --to ipynb notebooks/{notebook}.md -o {notebook}.ipynb`."
        + accuracy)


def exercise_markdown(notebook: str) -> str:
    """The "Try it yourself" block of one notebook: each exercise with its commands, time and what to look for."""
    times = measured_times()
    blocks = []
    for e in exercises_for(notebook):
        record = times.get(e.id)
        measured = (f"measured: {record['seconds'] / 60:.1f} min, {record['new_spaces']} new task space(s)"
                    if record else "not measured yet: run `python benchmarks/exercises.py`")
        blocks.append(
            f"**{e.title}** (`{e.id}`; {measured})\n\n"
            f"```bash\n{e.command()}\n# or, with plain papermill on the converted notebook:\n{e.papermill_command()}\n```\n\n"
            f"*What to look for.* {e.look_for}")
    return "\n\n".join(blocks)
