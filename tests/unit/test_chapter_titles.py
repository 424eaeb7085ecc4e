"""A chapter has one title: its notebook's H1 is the title in paper_values.yml (which the
scoreboard and the instructor appendix print)."""

import json
from pathlib import Path

import pytest

from precmed_utils.studies import study_info

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def _h1(path: Path) -> str:
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise AssertionError(f"{path.name} has no H1")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_h1_is_the_yml_title(path):
    assert _h1(path) == study_info(path.stem)["title"]
