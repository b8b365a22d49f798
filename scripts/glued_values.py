"""Every value a built book glues into its prose, to compare two builds (e.g. before and after a refactor).

    python scripts/glued_values.py _build/cpu > glued.json            # one build's glued values
    python scripts/glued_values.py --compare before.json after.json   # every name whose value differs

A glued value is a myst-nb ``glue`` output of an executed notebook in ``<build>/src`` (the
notebooks and the executed book pages); it is read as its ``text/plain`` form, which is what
the prose shows after formatting.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat


def glued_values(build: Path) -> dict[str, str]:
    """``{"<page>:<name>": text/plain}`` for every glue output under ``build/src``."""
    values = {}
    for path in sorted(Path(build, "src").rglob("*.ipynb")):
        if path.name.startswith("."):
            continue
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                record = output.get("metadata", {}).get("scrapbook", {})
                if record.get("name"):
                    prefix = record.get("mime_prefix", "")
                    values[f"{path.stem}:{record['name']}"] = output.get("data", {}).get(f"{prefix}text/plain", "")
    return values


def compare(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """One line per glued name that is missing on one side or has another value."""
    lines = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            lines.append(f"{name}: {before.get(name, '<missing>')} -> {after.get(name, '<missing>')}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--compare", action="store_true", help="compare two JSON files written by this script")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.paths)
        differences = compare(before, after)
        print(f"{len(set(before) | set(after))} glued values, {len(differences)} differ")
        print("\n".join(differences))
        return 1 if differences else 0
    json.dump(glued_values(args.paths[0]), sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
