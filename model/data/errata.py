"""Published data we know to be wrong: whole publications kept in the table but never trained or scored on.

A row of an erratum stays in the ``MixtureTable`` (``excluded``) so every other row keeps its row number: the splits
stored beside every trained run are row numbers, and they stay valid. ``model.splits.make_split`` assigns rows exactly
as it would without the erratum and then leaves its rows out of train, validation and test; evaluating a run trained
before an erratum was listed leaves them out of its test rows. ``diffmix data info`` lists what each erratum took out.

An entry names the file, the publication (its DOI as the file spells it) and the evidence, so that anyone can check
the call against the original paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Erratum:
    file: str
    doi: str
    reason: str


ERRATA: tuple[Erratum, ...] = (
    Erratum(
        "calisol23.csv", "10.1007/s10008-002-0300-9",
        "1 mol/kg LiPF6 and LiBF4 in EC:DMC:DEC 1:1:1 (w/w), −50 to 60 °C, read 0.03–0.16 mS/cm: 45–70× below "
        "what such carbonate electrolytes conduct (CALiSol-23's other rows of 1 mol/kg salt in EC with linear "
        "carbonates at 20–25 °C: LiPF6 7.2–11.1 mS/cm, 6 rows; LiBF4 2.6–6.3, 4 rows). The ratio differs between "
        "the two salts (at 20 °C, LiPF6 ~70×, LiBF4 ~45×), so it is no unit slip to correct. Every other publication sits "
        "within 3 % (median) of the shipped ensemble that trained on it; this one at 0.10×."),
)


def excluded_rows(file: str, dois: np.ndarray, errata: tuple[Erratum, ...] = ERRATA) -> tuple[np.ndarray, dict]:
    """[N] whether each row (by its publication) is in an erratum of ``file``, and what each erratum took out:
    {doi: {"rows": n, "reason": ...}} (n may be 0 when a version of the file lacks that publication)."""
    dois = np.asarray(dois)
    mask = np.zeros(len(dois), dtype=bool)
    report = {}
    for e in errata:
        if e.file != file:
            continue
        rows = dois == e.doi
        mask |= rows
        report[e.doi] = {"rows": int(rows.sum()), "reason": e.reason}
    return mask, report
