"""papers/<p>/claims.py run on the committed results: every row prints its interval and a verdict of the
vocabulary (or 'secondary'), and every claim line ends in one verdict of the vocabulary."""

import contextlib
import importlib
import io
import re

import pytest

from core.analysis.verdicts import is_verdict

ROW = re.compile(r": (-?[\d.e+-]+) \[(-?[\d.e+-]+), (-?[\d.e+-]+)\].* -> (.+)$")
CLAIM = re.compile(r"^claim (\S+): (.+)$")


@pytest.mark.parametrize("paper", ["lisa", "misa", "ist", "sparse_mezo"])
def test_claims_script_prints_intervals_and_verdicts(paper):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        importlib.import_module(f"papers.{paper}.claims").main()
    lines = out.getvalue().splitlines()
    rows = [line for line in lines if " -> " in line]
    claims = [CLAIM.match(line) for line in lines if line.startswith("claim ")]
    assert rows and claims, lines
    for (
        line
    ) in rows:  # an interval, lo <= estimate <= hi, then the row's verdict; no number only when untestable
        if line.endswith(")") and ": — -> not testable" in line:
            continue
        m = ROW.search(line)
        assert m, line
        lo, est, hi = float(m[2]), float(m[1]), float(m[3])
        assert lo <= est <= hi, line
        assert m[4] == "secondary" or is_verdict(m[4]), line
    assert all(c and is_verdict(c[2]) for c in claims), [c[0] if c else None for c in claims]
    decided = [c for c in claims if not c[2].startswith("not testable")]
    assert len(decided) >= 3, lines
