"""The applicability domain: what a model was trained on, and whether a mixture lies within it.

A prediction is only as good as the data behind it. The domain is built from the training rows of a model (the
union of its members' training rows) and saved beside the checkpoint as ``domain.json``; each prediction is then
checked against it and carries ``{"in_domain": bool, "reasons": [...]}``. A mixture is out of the domain when
- it has an element no training molecule has, or an ion never seen;
- its salt was never or rarely seen (fewer than ``min_rows`` training rows);
- a molecule is far from every training molecule (Tanimoto similarity of Morgan fingerprints, radius 2, below
  ``min_similarity``) or was in fewer than ``min_rows`` training rows;
- a molecule is protic (an O–H or N–H hydrogen: water, alcohols, amines) and the training data had none;
- a solvent's share of the solvent blend (by mole) is beyond the largest share training had for it;
- the salt's molality or the temperature is beyond the range that salt was trained on (the temperature beyond the
  training range at all, for mixtures without salt);
- two of its solvents never occur together in a training mixture (fewer than ``min_pair_rows`` rows; a blend's
  pairs are what its binaries teach, and on CALiSol-23's blends a pair never together costs 3–4 times the error of
  pairs taught: benchmarks/RESULTS.md, "Session 11", with what the check measures on each split);
- it has more solvents than any training mixture.
The checks are cheap (a dictionary look-up per species; fingerprints once per new molecule), so every prediction
can carry them.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from model.chem import formal_charge, mol_from_smiles, species
from model.data.dataset import MixtureTable
from model.data.tables import SOLVENT_PROPERTIES, name_of
from model.errors import DiffMixInputError
from model.mixture import Mixture

DOMAIN_FILE = "domain.json"
DOMAIN_VERSION = 1
PRESSURE_TOLERANCE_KPA = 10.0  # weather and altitude move a lab's ambient pressure by a few kPa
_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


@dataclass(frozen=True)
class Thresholds:
    """When a mixture counts as out of the domain (each one can be changed per call)."""

    min_rows: int = 50  # a salt or molecule in fewer training rows than this is "rarely seen"
    min_similarity: float = 0.35  # Tanimoto of the nearest training molecule below this is "far"
    share_margin: float = 0.05  # a solvent share may exceed the largest trained share by this much
    molality_margin: float = 0.10  # relative: molality up to 10 % beyond the trained range is still in
    temperature_margin_K: float = 5.0
    min_pair_rows: int = 1  # two solvents together in fewer training rows than this are "never (rarely) together"


@dataclass(frozen=True)
class Report:
    """The answer for one mixture or one campaign space."""

    in_domain: bool
    reasons: list[str]

    def json(self) -> dict[str, Any]:
        return {"in_domain": self.in_domain, "reasons": list(self.reasons)}


NO_RECORD = Report(False, ["this model carries no record of its training data (no domain.json); "
                           "rebuild it with `diffmix domain --model DIR`"])


def elements(smiles: str) -> set[str]:
    return {a.GetSymbol() for a in Chem.AddHs(mol_from_smiles(smiles)).GetAtoms()}


def is_protic(smiles: str) -> bool:
    """An O–H or N–H hydrogen (water, alcohols, acids, primary and secondary amines)."""
    return formal_charge(smiles) == 0 and any(
        a.GetSymbol() in ("O", "N") and a.GetTotalNumHs() > 0 for a in mol_from_smiles(smiles).GetAtoms())


def salt_key(ions: list[str]) -> str:
    """One key per salt: its ions' canonical SMILES, sorted, joined by '.'."""
    return ".".join(sorted(ions))


def pair_key(a: str, b: str) -> str:
    """One key per unordered pair of neutral species (two solvents), written as the salt key of its two SMILES."""
    return salt_key([a, b])


def molality_of(fractions: dict[str, float]) -> float:
    """mol of cations per kg of the neutral species (solvents) of a mixture given as species mole fractions
    (for a 1:1 salt, the salt's molality; the same convention for every salt in the domain, so ranges compare)."""
    cations = sum(x for s, x in fractions.items() if formal_charge(s) > 0)
    solvent_g = sum(x * species(s).molar_mass for s, x in fractions.items() if formal_charge(s) == 0)
    return float("inf") if solvent_g <= 0 else 1000.0 * cations / solvent_g


@dataclass
class Domain:
    """What the training rows held (see the module docstring)."""

    elements: list[str]
    ions: dict[str, int]  # canonical SMILES → training rows with it
    molecules: dict[str, dict[str, float]]  # neutral species → {"rows": n, "max_share": largest mole share of the blend}
    salts: dict[str, dict[str, float]]  # salt_key → {"rows", "molality_lo", "molality_hi", "T_lo", "T_hi"}
    temperature_K: tuple[float, float]
    pressure_kPa: tuple[float, float]
    max_solvents: int
    protic: bool  # whether any training molecule is protic
    rows: int
    thresholds: Thresholds = field(default_factory=Thresholds)
    # pair_key → training rows holding both solvents; None in a domain.json written before pairs were recorded
    # (its pairs are then not judged; `diffmix domain --model DIR` rebuilds it)
    pairs: dict[str, int] | None = None
    # the solvents' tabulated properties the model reads (``tables.SOLVENT_PROPERTIES``): a property of the model, not of its
    # training rows, so its Ensemble sets it and it is not saved
    reads: tuple[str, ...] = ()

    # ------------------------------------------------------------------ building and persistence
    @classmethod
    def build(cls, table: MixtureTable, rows: np.ndarray | None = None) -> Domain:
        """The domain of ``table``'s rows ``rows`` (default: all)."""
        rows = np.arange(len(table)) if rows is None else np.unique(np.asarray(rows))
        ions: dict[str, int] = {}
        molecules: dict[str, dict[str, float]] = {}
        salts: dict[str, dict[str, float]] = {}
        pairs: dict[str, int] = {}
        max_solvents = 0
        for r in rows:
            frac = {table.vocab[i]: x for i, x in table.present(r)}
            neutral = {s: x for s, x in frac.items() if formal_charge(s) == 0}
            charged = [s for s in frac if formal_charge(s) != 0]
            max_solvents = max(max_solvents, len(neutral))
            blend = sum(neutral.values())
            for s, x in neutral.items():
                m = molecules.setdefault(s, {"rows": 0, "max_share": 0.0})
                m["rows"] += 1
                m["max_share"] = max(m["max_share"], x / blend if blend > 0 else 0.0)
            for s in charged:
                ions[s] = ions.get(s, 0) + 1
            for a, b in itertools.combinations(sorted(neutral), 2):
                key = pair_key(a, b)
                pairs[key] = pairs.get(key, 0) + 1
            T = float(table.T[r])
            if charged:
                b = molality_of(frac)
                k = salt_key(charged)
                st = salts.setdefault(k, {"rows": 0, "molality_lo": b, "molality_hi": b, "T_lo": T, "T_hi": T})
                st["rows"] += 1
                st["molality_lo"], st["molality_hi"] = min(st["molality_lo"], b), max(st["molality_hi"], b)
                st["T_lo"], st["T_hi"] = min(st["T_lo"], T), max(st["T_hi"], T)
        els = sorted({e for s in table.vocab for e in elements(s)})
        return cls(els, ions, molecules, salts, (float(table.T[rows].min()), float(table.T[rows].max())),
                   (float(table.P[rows].min()), float(table.P[rows].max())), max_solvents,
                   any(is_protic(s) for s in molecules), int(len(rows)), pairs=pairs)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / DOMAIN_FILE
        data = {"version": DOMAIN_VERSION, **{k: v for k, v in asdict(self).items() if k != "reads"}}
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Domain | None:
        """The domain saved beside a checkpoint, or None when the checkpoint has none."""
        path = Path(directory) / DOMAIN_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        if data.pop("version", None) != DOMAIN_VERSION:
            return None
        data["thresholds"] = Thresholds(**data.get("thresholds", {}))
        data["temperature_K"] = tuple(data["temperature_K"])
        data["pressure_kPa"] = tuple(data["pressure_kPa"])
        return cls(**data)

    def reading(self, reads: tuple[str, ...]) -> Domain:
        """The same domain for a model that reads these tabulated solvent properties."""
        return replace(self, reads=tuple(reads))

    def with_thresholds(self, **changes: Any) -> Domain:
        """The same domain judged with other thresholds (``min_rows=…``, ``min_similarity=…``)."""
        out = replace(self, thresholds=replace(self.thresholds, **{k: v for k, v in changes.items() if v is not None}))
        return out

    def check_pressure(self, pressure_kPa: float, prop: str) -> None:
        """A pressure the model never learnt is an error, not a value accepted and ignored: the laws have no
        pressure term, so a prediction there would silently be the one at the trained pressure."""
        lo, hi = self.pressure_kPa
        if not (lo - PRESSURE_TOLERANCE_KPA <= pressure_kPa <= hi + PRESSURE_TOLERANCE_KPA):
            trained = f"{lo:g} kPa" if hi - lo < 1e-9 else f"{lo:g}–{hi:g} kPa"
            raise DiffMixInputError(f"pressure_kPa = {pressure_kPa:g} is outside what the {prop} model was trained on "
                                    f"({trained}, ± {PRESSURE_TOLERANCE_KPA:g} kPa)")

    # ------------------------------------------------------------------ similarity
    @cached_property
    def _fingerprints(self) -> tuple[list[str], list[Any]]:
        names = sorted(set(self.molecules) | set(self.ions))
        return names, [_MORGAN.GetFingerprint(mol_from_smiles(s)) for s in names]

    def nearest(self, smiles: str) -> tuple[str, float]:
        """The most similar training molecule or ion and its Tanimoto similarity."""
        names, fps = self._fingerprints
        sims = DataStructs.BulkTanimotoSimilarity(_MORGAN.GetFingerprint(mol_from_smiles(smiles)), fps)
        i = int(np.argmax(sims))
        return names[i], float(sims[i])

    # ------------------------------------------------------------------ the checks
    def _species_reasons(self, smiles: str) -> list[str]:
        t, out = self.thresholds, []
        missing = sorted(elements(smiles) - set(self.elements))
        if missing:
            out.append(f"{name_of(smiles)}: element{'s' if len(missing) > 1 else ''} {', '.join(missing)} never seen in training")
        if formal_charge(smiles) != 0:
            if smiles not in self.ions:
                out.append(f"ion {smiles} never seen in training")
            return out
        for what in self.reads:
            lookup, stand_in, unit = SOLVENT_PROPERTIES[what]
            if lookup(smiles) is None:
                out.append(f"{name_of(smiles)}: no tabulated {what}; the model takes the tabulated solvents' median "
                           f"({stand_in:.3g}{' ' + unit if unit else ''})")
        if is_protic(smiles) and not self.protic:
            out.append(f"{name_of(smiles)} is protic (O–H or N–H); the training data has no protic solvent")
        rows = int(self.molecules.get(smiles, {}).get("rows", 0))
        if rows == 0:
            near, sim = self.nearest(smiles)
            if sim < t.min_similarity:
                out.append(f"{name_of(smiles)} is far from every training molecule (nearest {name_of(near)}, "
                           f"Tanimoto {sim:.2f} < {t.min_similarity:g})")
            else:
                out.append(f"{name_of(smiles)} never seen in training (nearest {name_of(near)}, Tanimoto {sim:.2f})")
        elif rows < t.min_rows:
            out.append(f"{name_of(smiles)} rarely seen: {rows} training rows (fewer than {t.min_rows})")
        return out

    def _share_reasons(self, shares: dict[str, float]) -> list[str]:
        out = []
        for s, share in shares.items():
            m = self.molecules.get(s)
            if m and share > m["max_share"] + self.thresholds.share_margin:
                out.append(f"{name_of(s)} at {100 * share:.0f} % of the solvent blend (by mole); training has it up to "
                           f"{100 * m['max_share']:.0f} %")
        return out

    def _pair_reasons(self, pairs: list[tuple[str, str]]) -> list[str]:
        """Pairs of solvents (both known molecules) that no or few training mixtures hold together."""
        if self.pairs is None:
            return []
        t, out = self.thresholds, []
        for a, b in sorted(tuple(sorted(p)) for p in pairs):
            if a not in self.molecules or b not in self.molecules:
                continue  # an unseen molecule is reported by the species checks
            n = self.pairs.get(pair_key(a, b), 0)
            if n == 0:
                out.append(f"{name_of(a)} and {name_of(b)} never together in a training mixture")
            elif n < t.min_pair_rows:
                out.append(f"{name_of(a)} and {name_of(b)} together in only {n} training rows (fewer than {t.min_pair_rows})")
        return out

    def _salt_reasons(self, ions: list[str], molality: tuple[float, float], T: tuple[float, float]) -> list[str]:
        t, out = self.thresholds, []
        key, name = salt_key(ions), name_of(".".join(sorted(ions)))
        st = self.salts.get(key)
        if st is None:
            if all(i in self.ions for i in ions):
                out.append(f"salt {name} never seen in training (its ions were, in other salts)")
            return out  # unseen ions are reported by the species checks
        if st["rows"] < t.min_rows:
            out.append(f"salt {name} rarely seen: {int(st['rows'])} training rows (fewer than {t.min_rows})")
        lo, hi = st["molality_lo"] * (1 - t.molality_margin), st["molality_hi"] * (1 + t.molality_margin)
        if molality[1] > hi or molality[0] < lo:
            b = molality[1] if molality[1] > hi else molality[0]
            out.append(f"salt {name} at {b:.3g} mol/kg is beyond its training range "
                       f"{st['molality_lo']:.3g}–{st['molality_hi']:.3g} mol/kg")
        m = t.temperature_margin_K
        if T[1] > st["T_hi"] + m or T[0] < st["T_lo"] - m:
            out.append(f"temperature {T[1] if T[1] > st['T_hi'] + m else T[0]:.2f} K is beyond the training range of "
                       f"{name} ({st['T_lo']:.2f}–{st['T_hi']:.2f} K)")
        return out

    def _temperature_reasons(self, T: tuple[float, float]) -> list[str]:
        lo, hi, m = *self.temperature_K, self.thresholds.temperature_margin_K
        if T[1] > hi + m or T[0] < lo - m:
            return [f"temperature {T[1] if T[1] > hi + m else T[0]:.2f} K is beyond the training range {lo:.2f}–{hi:.2f} K"]
        return []

    def _judge(self, species_: list[str], shares: dict[str, float], molality: tuple[float, float],
               T: tuple[float, float], pairs: list[tuple[str, str]] | None = None) -> Report:
        """``pairs``: the pairs of solvents judged (default: every two solvents with a share; a campaign space
        passes the pairs its points hold at once, see ``check_space``)."""
        reasons: list[str] = []
        for s in species_:
            reasons += self._species_reasons(s)
        ions = [s for s in species_ if formal_charge(s) != 0]
        reasons += self._salt_reasons(ions, molality, T) if ions else self._temperature_reasons(T)
        reasons += self._share_reasons(shares)
        reasons += self._pair_reasons(list(itertools.combinations(shares, 2)) if pairs is None else pairs)
        if len(shares) > self.max_solvents:
            reasons.append(f"{len(shares)} solvents; training mixtures have at most {self.max_solvents}")
        return Report(not reasons, list(dict.fromkeys(reasons)))

    def check(self, mixture: Mixture) -> Report:
        """Whether one normalised mixture lies in the domain, and why not."""
        frac = {s: x for s, x in mixture.fractions().items() if x > 0}
        neutral = {s: x for s, x in frac.items() if formal_charge(s) == 0}
        blend = sum(neutral.values())
        shares = {s: x / blend for s, x in neutral.items()} if blend > 0 else {}
        b = molality_of(frac)
        return self._judge(sorted(frac), shares, (b, b), (mixture.temperature_K, mixture.temperature_K))

    def check_space(self, space: Any, temperatures_K: tuple[float, ...] | list[float]) -> Report:
        """Whether a campaign's composition space (``model.optimize.space.CompositionSpace``) lies in the domain
        everywhere: its molecules, its widest molality range and solvent shares, at its temperatures. The extremes
        are found on many feasible points: random ones and, for each solvent, the point with the most of it."""
        n = len(space.solvents)
        rng = np.random.default_rng(0)
        pts = [space.random_points(512, rng)]
        for i in range(n):
            for c in space.salt_range:
                z = np.zeros((1, n + 1))
                z[0, i], z[0, n] = 1.0, c
                pts.append(space.project(z))
        z = np.vstack(pts)
        x = space.species_fractions(torch.as_tensor(z, dtype=torch.float64)).numpy()
        neutral = [j for j, k in enumerate(space.species) if formal_charge(k) == 0]
        blend = x[:, neutral].sum(1, keepdims=True)
        shares = {space.species[j]: float((x[:, j : j + 1] / blend).max()) for j in neutral if x[:, j].max() > 0}
        pairs = [(space.species[i], space.species[j]) for i, j in itertools.combinations(neutral, 2)
                 if ((x[:, i] > 0) & (x[:, j] > 0)).any()]
        b = space.molality(z)
        # the same convention as molality_of (cations per kg of solvent): a salt with ν cations counts ν times
        nu = space.formula.counts[space.formula.ions.index(space.cation)]
        T = (float(min(temperatures_K)), float(max(temperatures_K)))
        return self._judge(space.species, shares, (float(b.min() * nu), float(b.max() * nu)), T, pairs)


def mixture_report(domain: Domain | None, mixture: Mixture) -> Report:
    """``domain.check(mixture)``, or the report that the model has no domain record."""
    return NO_RECORD if domain is None else domain.check(mixture)


def space_report(domain: Domain | None, space: Any, temperatures_K: tuple[float, ...] | list[float]) -> Report:
    """``domain.check_space(…)``, or the report that the model has no domain record."""
    return NO_RECORD if domain is None else domain.check_space(space, temperatures_K)


def fractions_report(domain: Domain | None, fractions: dict[str, float], temperature_K: float) -> Report:
    """The report for species mole fractions (e.g. an experiment's composition) at a temperature."""
    species_ = tuple(sorted(k for k, v in fractions.items() if v > 0))
    mixture = Mixture(species_, tuple(float(fractions[k]) for k in species_), float(temperature_K))
    return mixture_report(domain, mixture)
