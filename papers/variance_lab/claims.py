"""Every comparison behind the variance lab's claims table, as rows of the claims engine (core.reporting.claims_file).

    .venv/bin/python -m core.reporting.claims_file variance_lab     # -> data/results/variance_lab/claims/cpu.json +
    README

The intervals are those of `papers.variance_lab.compare` on the committed lab file. Primary rows (pre-registered
in claims.yaml, LOG.md 10) are read at the pre-trained point (IST: after 5 LoRA steps, where its scores can move);
the other point is shown as a secondary row. Equality claims (LISA's closed form, MeZO's (d + 1)‖g‖²) are two
one-sided tests at ±10 % of the closed form (`equivalence`); ratio claims (unit 'x') are judged as ratio − 1.
"""

from __future__ import annotations

import sys

from core.reporting.claims_file import Row, report
from papers.variance_lab import compare as c

EQUAL = (1.0, c.MARGIN)


def _points(primary_point: str):
    """(point, primary?) with the primary point first."""
    return [(pt, pt == primary_point) for pt in sorted(c.POINTS, key=lambda p: p != primary_point)]


def lisa_rows(lab: dict, runs: list[str]) -> list[Row]:
    """LISA §3.2: 1/π-reweighted layer sampling is unbiased with variance Σ_b(1/π_b − 1)‖g_b‖² = the closed form
    (MC ÷ closed form); γ = 2 at the pre-trained point decides, after FT is shown (the other budgets are in the
    estimators figure)."""
    return [
        Row(
            "estimators",
            "LISA γ = 2: MC ÷ closed form",
            f"1/π error, {c.POINT_WORDS[pt]}",
            c.lisa_closed_form(lab, pt, 2),
            primary=first,
            unit="x",
            design=c.DESIGN,
            runs=runs,
            equivalence=EQUAL,
        )
        for pt, first in _points(c.PRIMARY_POINT)
    ]


def misa_variance_rows(lab: dict, runs: list[str]) -> list[Row]:
    """MISA's abstract: module-wise importance sampling has lower variance than layer-wise sampling. MISA ÷ LISA
    at equal memory (γ layers, emb./head in both), every budget at the pre-trained point decides."""
    gammas = lab["setting"]["gammas"]
    rows = [
        Row(
            "misa_variance",
            f"MISA ÷ LISA, γ = {g}",
            f"1/π error, {c.POINT_WORDS[pt]}",
            c.misa_over_lisa(lab, pt, g),
            primary=first,
            direction=-1,
            unit="x",
            design=c.DESIGN,
            runs=runs,
        )
        for pt, first in _points(c.PRIMARY_POINT)
        for g in gammas
    ]
    rows += [
        Row(
            "misa_variance",
            f"module-uniform ÷ LISA, γ = {g}",
            f"1/π error, {c.POINT_WORDS[c.PRIMARY_POINT]}",
            c.uniform_over_lisa(lab, c.PRIMARY_POINT, g),
            primary=False,
            direction=-1,
            unit="x",
            design=c.DESIGN,
            runs=runs,
            note="module granularity without MISA's scores",
        )
        for g in gammas
    ]
    return rows


def captured_energy_rows(lab: dict, runs: list[str]) -> list[Row]:
    """MISA's p ∝ exp(η‖g_b‖²) maximises captured energy: its captured energy ÷ uniform's (η = 1 decides)."""
    return [
        Row(
            "misa_captured_energy",
            f"p ∝ exp(η G_b²), η = {eta[3:]} ÷ uniform p",
            f"captured energy, {c.POINT_WORDS[pt]}",
            c.captured_energy(lab, pt, eta),
            primary=first and eta == "eta1",
            unit="x",
            design=c.DESIGN,
            runs=runs,
        )
        for pt, first in _points(c.PRIMARY_POINT)
        for eta in ("eta1", "eta10")
    ]


def ist_rows(lab: dict, runs: list[str]) -> list[Row]:
    """IST's importance-aware layers vs random layers: 1/π error of the LoRA gradient (lower is
    better); after 5 LoRA steps decides."""
    return [
        Row(
            "ist_vs_random",
            "IST − random layers",
            f"1/π error, {c.IST_POINT_WORDS[pt]}",
            c.ist_minus_random(lab, pt),
            primary=first,
            direction=-1,
            design=c.DESIGN,
            runs=runs,
        )
        for pt, first in _points(c.IST_POINT)
    ]


def zo_rows(lab: dict, runs: list[str]) -> list[Row]:
    """MeZO: E‖ĝ − g‖² = (d + 1)‖g‖² (equality at ±10 %); Sparse MeZO: its error ÷ MeZO's is below 1."""
    d = lab["zo"]["d"]
    rows = [
        Row(
            "mezo_spsa",
            f"MeZO, MC ÷ (d + 1)‖g‖², d = {d:,}",
            f"error, {c.POINT_WORDS[pt]}",
            c.mezo_closed_form(lab, pt),
            primary=first,
            unit="x",
            design=c.DESIGN,
            runs=runs,
            equivalence=EQUAL,
        )
        for pt, first in _points(c.PRIMARY_POINT)
    ]
    rows += [
        Row(
            "sparse_mezo_error",
            "S-MeZO (80 % masked) ÷ MeZO",
            f"error, {c.POINT_WORDS[pt]}",
            c.smezo_over_mezo(lab, pt),
            primary=first,
            direction=-1,
            unit="x",
            design=c.DESIGN,
            runs=runs,
        )
        for pt, first in _points(c.PRIMARY_POINT)
    ]
    return rows


def rows(profile: str = "cpu") -> list[Row]:
    """Every comparison of the lab's claims table (core.reporting.claims_file)."""
    lab = c.load(profile)
    runs = [c.lab_file(profile)]
    return [
        *lisa_rows(lab, runs),
        *misa_variance_rows(lab, runs),
        *captured_energy_rows(lab, runs),
        *ist_rows(lab, runs),
        *zo_rows(lab, runs),
    ]


def main(profile: str = "cpu") -> None:
    print("\n".join(report("variance_lab", rows(profile))))


if __name__ == "__main__":
    main(*sys.argv[1:])
