"""table.tex: the study table in LaTeX, checked without a TeX installation.

The check stands in for compiling (no TeX on the project's machines): the text is ASCII, every
environment that begins ends in the same order, braces balance (escaped ones aside), booktabs'
three rules frame a tabular whose every row has one cell per column of its preamble, a resolved
difference's ✓ becomes ``\\checkmark`` in the same rows as in the Markdown table, and the special
characters of cells (``%``, ``_``, ``&``) are escaped.
"""
import re
from pathlib import Path

import pandas as pd
import pytest

from archlab.study.latex import LatexError, escape, latex_table
from archlab.study.loader import load_study
from archlab.study.table import markdown_table

ROOT = Path(__file__).parents[3]


def check_latex(text: str) -> list[list[str]]:
    """Structural checks; returns the tabular's rows as lists of cells."""
    assert text.isascii(), sorted({c for c in text if not c.isascii()})
    body = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{(\w+)\}", body):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, f"\\end{{{name}}} closes something else"
    assert not stack, f"unclosed environments: {stack}"
    depth = 0
    for char in re.sub(r"\\[{}]", "", body):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0, "a closing brace without its opening one"
    assert depth == 0, "unbalanced braces"
    assert re.search(r"(?<!\\)%", body) is None, "an unescaped % comments out the rest of a line"
    preamble = re.search(r"\\begin\{tabular\}\{([lrc]+)\}", body)[1]
    inner = body.split("\\toprule", 1)[1].split("\\bottomrule", 1)[0]
    assert "\\midrule" in inner
    rows = [r.strip() for r in inner.replace("\\midrule", "").split("\\\\") if r.strip()]
    cells = [re.split(r"(?<!\\)&", row) for row in rows]
    assert all(len(c) == len(preamble) for c in cells), [len(c) for c in cells]
    return [[c.strip() for c in row] for row in cells]


@pytest.mark.parametrize("name", ["dapf_vs_aspp", "context_modules"])
def test_the_committed_studies_give_well_formed_latex_with_the_markdown_cells(name):
    study = load_study(name)
    frame = pd.read_csv(ROOT / "reports" / name / "results.csv")
    rows = check_latex(latex_table(study, frame, command=f"python -m archlab.study {name}"))
    header, body = rows[0], rows[1:]
    assert len(body) == len(frame) and [r[0] for r in body] == [escape(v) for v in frame["variant"]]
    markdown = [line for line in markdown_table(study, frame, command="x").splitlines() if line.startswith("| ")]
    md_header = [c.strip() for c in markdown[0].strip("|").split("|")]
    assert header == [escape(h) for h in md_header]       # the same columns, units in the headers
    md_rows = [[c.strip() for c in line.strip("|").split("|")] for line in markdown[1:]]
    for latex_row, md_row in zip(body, md_rows):
        assert latex_row == [escape(c) for c in md_row]
        assert ("\\checkmark" in " ".join(latex_row)) == ("✓" in " ".join(md_row))


def test_special_characters_are_escaped_and_unknown_ones_named():
    assert escape("50% of a_b & c") == r"50\% of a\_b \& c"
    assert escape("-1.6 ± 0.4 ✓") == r"$-$1.6 $\pm$ 0.4 \checkmark"
    assert escape("0.93–1.03") == "0.93--1.03" and escape("a-b") == "a-b"
    with pytest.raises(LatexError, match="'☃'"):
        escape("snow ☃", "cell")


def test_a_resolved_difference_is_marked_in_its_row():
    study = load_study("dapf_vs_aspp")
    frame = pd.read_csv(ROOT / "reports" / "dapf_vs_aspp" / "results.csv")
    frame["miou_delta_resolved"] = frame["variant"] == "+DAPF"
    body = check_latex(latex_table(study, frame, command="x"))[1:]
    marked = [row[0] for row in body if any(cell.endswith("\\checkmark") for cell in row)]
    assert marked == ["+DAPF"]
