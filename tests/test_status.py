"""The generated top-README status and the figure links of every README: nothing a reader sees can go stale."""

import json
import re

import pytest

from core.infra.io import REPO
from core.reporting.status import BEGIN, END, readme_with_status, table, timing_cell, wall_minutes


def test_wall_minutes_reads_every_timing_format():
    assert wall_minutes({"wall_clock": "1:35:34"}) == pytest.approx(95 + 34 / 60)
    assert wall_minutes({"wall_total_s": 25956}) == pytest.approx(432.6)
    assert wall_minutes({"start_unix": 100, "end_unix": 700}) == 10
    assert wall_minutes(
        {"start_utc": "2026-12-02T14:27:33+00:00", "end_utc": "2026-12-02T15:56:23+00:00"}
    ) == (pytest.approx(88 + 50 / 60))
    assert wall_minutes({}) is None


def test_status_counts_come_from_the_claims_files(tmp_path):
    (tmp_path / "lisa" / "claims").mkdir(parents=True)
    claims = {
        "a": "holds",
        "b": "holds, smaller than the paper's",
        "c": "inconclusive (MDE = 0.1)",
        "d": "holds",
    }
    (tmp_path / "lisa" / "claims" / "cpu.json").write_text(json.dumps({"claims": claims}))
    row = next(line for line in table(tmp_path).splitlines() if "[LISA]" in line)
    assert "| 4 | 2 | 1 | 0 | 1 | 0 |" in row and "not timed" in row
    assert "no claims file" in next(line for line in table(tmp_path).splitlines() if "[MISA]" in line)


def test_timing_cell_names_runs_added_after_and_a_design_changed_since(tmp_path):
    (tmp_path / "timings").mkdir()
    record = {"wall_clock": "1:34:39", "budget_min": 90, "git_sha": "1b6a3ecdef", "after_wall_s": 600}
    path = tmp_path / "timings" / "reproduce-misa-cpu.json"
    path.write_text(json.dumps(record))
    assert timing_cell("reproduce-misa", tmp_path).startswith(
        "95 min (budget 90) + 10 min of runs added after, at 1b6a3ec; load and parts in"
    )
    path.write_text(json.dumps(record | {"changed_since": "the 64-item design"}))
    assert ", at 1b6a3ec (the 64-item design); load" in timing_cell("reproduce-misa", tmp_path)
    assert timing_cell("reproduce-ist", tmp_path) == "not timed"


def test_readme_status_is_generated_and_current():
    text = (REPO / "README.md").read_text()
    assert BEGIN in text and END in text
    assert readme_with_status(text) == text, "run python -m core.reporting.status"


FIGURE_LINK = re.compile(r"figures/(\w+)/(\w+)/(v\d{3})\.png")


def stale_links(text: str, manifests: dict) -> list[str]:
    """Links to a figure version that is not its artifact's latest, except on a line that says it is superseded."""
    out = []
    lines = (line for line in text.splitlines() if "superseded" not in line.lower())
    for paper, artifact, version in FIGURE_LINK.findall("\n".join(lines)):
        latest = manifests.get(paper, {}).get(artifact, {}).get("latest")
        if latest != version:
            out.append(f"{paper}/{artifact}/{version} (latest {latest})")
    return out


def test_stale_link_check_catches_an_old_version():
    manifests = {"lisa": {"time_cost": {"latest": "v004"}}}
    assert stale_links("see [fig](../../figures/lisa/time_cost/v003.png)", manifests) == [
        "lisa/time_cost/v003 (latest v004)"
    ]
    assert stale_links("see figures/lisa/time_cost/v004.png", manifests) == []
    assert stale_links("superseded: figures/lisa/time_cost/v003.png", manifests) == []


READMES = [REPO / "README.md", *sorted((REPO / "papers").glob("*/README.md"))]


@pytest.mark.parametrize("path", READMES, ids=lambda p: str(p.relative_to(REPO)))
def test_readme_figure_links_point_at_the_latest_version(path):
    manifests = {m.parent.name: json.loads(m.read_text()) for m in (REPO / "figures").glob("*/MANIFEST.json")}
    assert stale_links(path.read_text(), manifests) == []
