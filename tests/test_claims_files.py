"""Every paper's claims.yaml: the schema figures and tables read, and one claim per figure artifact."""

import numbers
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PAPERS = ("lisa", "misa", "ist", "sparse_mezo", "variance_lab")
CLAIM_KEYS = {
    "id",
    "figure",
    "claim",
    "paper_value",
    "unit",
    "direction",
    "paper_text",
    "source",
    "testable_offline",
}
OPTIONAL_KEYS = {"primary"}  # required when testable_offline is true: the pre-registered primary test(s)
DIRECTIONS = {"higher", "lower", None}


def load(paper):
    return yaml.safe_load((REPO / "papers" / paper / "claims.yaml").read_text())


def figure_artifacts(paper):
    return set(yaml.safe_load((REPO / "papers" / paper / "figures.yaml").read_text()) or {})


def claim_errors(claim, arxiv_id):
    """The schema violations of one claim, as readable strings (empty when the claim is valid). arxiv_id: the
    paper's id, or a tuple of ids for a file spanning several papers (the variance lab); the source names one."""
    ids = (arxiv_id,) if isinstance(arxiv_id, str) else tuple(arxiv_id)
    errors = []
    if not CLAIM_KEYS <= set(claim) <= CLAIM_KEYS | OPTIONAL_KEYS:
        errors.append(f"keys {sorted((set(claim) - OPTIONAL_KEYS) ^ CLAIM_KEYS)} missing or unknown")
        return errors
    if claim["testable_offline"] is True and not (
        isinstance(claim.get("primary"), list)
        and claim["primary"]
        and all(isinstance(p, str) for p in claim["primary"])
    ):
        errors.append(
            "a testable claim needs `primary`: the list of its pre-registered tests ('comparison, metric')"
        )
    for key in ("id", "claim", "paper_text", "source"):
        if not isinstance(claim[key], str) or not claim[key].strip():
            errors.append(f"{key} must be a non-empty string")
    value = claim["paper_value"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        errors.append(f"paper_value {value!r} is neither a number nor null")
    if claim["unit"] is not None and not isinstance(claim["unit"], str):
        errors.append("unit must be a string or null")
    if value is not None and not claim["unit"]:
        errors.append("a numeric paper_value needs a unit")
    if claim["direction"] not in DIRECTIONS:
        errors.append(f"direction {claim['direction']!r} not in higher | lower | null")
    testable = claim["testable_offline"]
    if testable is not True and not (isinstance(testable, str) and testable.strip()):
        errors.append("testable_offline must be true or a string giving the reason it is not")
    if claim["figure"] is not None and not isinstance(claim["figure"], str):
        errors.append("figure must be an artifact name or null")
    ours = isinstance(claim["claim"], str) and claim["claim"].startswith("(ours")
    if not ours and not any(i in str(claim["source"]) for i in ids):
        errors.append(f"source must name the paper ({', '.join(ids)}) unless the claim is marked '(ours'")
    return errors


@pytest.mark.parametrize("paper", PAPERS)
def test_claims_file_follows_the_schema(paper):
    data = load(paper)
    assert set(data) == {"paper", "claims"}
    assert set(data["paper"]) == {"short", "title", "ref"}
    refs = [r.strip() for r in data["paper"]["ref"].split(",")]  # one paper, or the lab's several
    assert all(r.startswith("arXiv:") for r in refs) and all(data["paper"].values())
    arxiv_ids = tuple(r.removeprefix("arXiv:") for r in refs)
    errors = {c.get("id"): e for c in data["claims"] if (e := claim_errors(c, arxiv_ids))}
    assert not errors, errors
    ids = [c["id"] for c in data["claims"]]
    assert len(ids) == len(set(ids)), "claim ids must be unique"


@pytest.mark.parametrize("paper", PAPERS)
def test_every_figure_artifact_has_its_claim(paper):
    claims = load(paper)["claims"]
    artifacts = figure_artifacts(paper)
    by_id = {c["id"]: c for c in claims}
    # "claims" is the forest plot, drawn from every claim
    missing = sorted(a for a in artifacts - {"claims"} if by_id.get(a, {}).get("figure") != a)
    assert not missing, f"figure artifacts without a claim whose id and figure are the artifact: {missing}"
    unknown = sorted({c["figure"] for c in claims if c["figure"]} - artifacts)
    assert not unknown, f"claims name figures that papers/{paper}/figures.yaml does not list: {unknown}"


def test_schema_check_catches_bad_claims():
    good = {
        "id": "x",
        "figure": None,
        "claim": "c",
        "paper_value": 2.9,
        "unit": "x",
        "direction": "higher",
        "paper_text": "t",
        "source": "Fig. 4, arXiv:2403.17919",
        "testable_offline": True,
        "primary": ["LISA / full FT, step time"],
    }
    assert claim_errors(good, "2403.17919") == []
    bad = [
        dict(good, direction="up"),
        dict(good, paper_value="2.9"),
        dict(good, testable_offline=False),
        dict(good, source="Fig. 4"),
        dict(good, unit=None),
        {k: v for k, v in good.items() if k != "source"},
        dict(good, paper_value=True),
        {k: v for k, v in good.items() if k != "primary"},
        dict(good, primary="LISA / full FT, step time"),
    ]
    assert all(claim_errors(c, "2403.17919") for c in bad)
    several = ("2403.17919", "2305.17333")  # a file spanning papers: the source names one of them
    assert claim_errors(dict(good, source="§2, arXiv:2305.17333"), several) == []
    assert claim_errors(dict(good, source="§2, arXiv:2410.11772"), several)
