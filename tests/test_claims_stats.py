"""papers/<p>/claims.py run on the committed results and state every comparison in the verdict vocabulary."""

import contextlib
import importlib
import io
import re

import pytest

VERDICT = re.compile(r": (holds|does not hold|inconclusive \(MDE = [^)]+\)|not testable offline \(.+\))$")


@pytest.mark.parametrize("paper", ["lisa", "misa", "ist", "sparse_mezo"])
def test_claims_script_prints_intervals_and_verdicts(paper):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        importlib.import_module(f"papers.{paper}.claims").main()
    lines = out.getvalue().splitlines()
    decided = [line for line in lines if VERDICT.search(line)]
    assert len(decided) >= 3, lines
    for line in decided:  # an interval before every verdict that is not 'not testable'
        assert "not testable" in line or re.search(r"-?[\d.e+-]+ \[-?[\d.e+-]+, -?[\d.e+-]+\]", line), line
