"""Names used in CALiSol-23 → verified structures, molar masses and pure-liquid densities.

Every SMILES is checked in ``tests/model/test_chem.py`` against the literature molar mass below (RDKit's
average molecular weight of the structure must agree within 0.05 g/mol) — a wrong structure nearly always
shows as a wrong mass.

Sources (read for facts, values typed in by hand):
- Molar masses: PubChem compound records (computed average molecular weight), 2024.
- Densities of the pure liquids at 25 °C (g/cm³): CRC Handbook of Chemistry and Physics, 97th ed.,
  "Physical Constants of Organic Compounds"; for battery solvents the values collected by Xu, Chem. Rev.
  104 (2004) 4303, Table 1 (EC at 40 °C, as it is solid at 25 °C). Values marked "est." are estimates from
  homologues (stated in the comment) and affect only volume-fraction rows that use that solvent.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from model.chem import canonical
from model.errors import InvalidSmilesError


@dataclass(frozen=True)
class Solvent:
    name: str
    smiles: str
    molar_mass: float  # g/mol, literature
    density: float  # g/cm³ near 25 °C
    note: str = ""
    aliases: tuple[str, ...] = ()  # other names and abbreviations a lab writes (matched case-insensitively)
    cas: str = ""  # CAS registry number, where it helps to tell isomers apart (checked by its check digit)


SOLVENTS: dict[str, Solvent] = {s.name: s for s in [
    Solvent("EC", "O=C1OCCO1", 88.06, 1.321, "ethylene carbonate; density at 40 °C (mp 36 °C)", aliases=("ethylene carbonate",), cas="96-49-1"),
    Solvent("PC", "CC1COC(=O)O1", 102.09, 1.200, "propylene carbonate", aliases=("propylene carbonate",), cas="108-32-7"),
    Solvent("DMC", "COC(=O)OC", 90.08, 1.063, "dimethyl carbonate", aliases=("dimethyl carbonate",), cas="616-38-6"),
    Solvent("EMC", "CCOC(=O)OC", 104.10, 1.006, "ethyl methyl carbonate", aliases=("ethyl methyl carbonate", "MEC"), cas="623-53-0"),
    Solvent("DEC", "CCOC(=O)OCC", 118.13, 0.969, "diethyl carbonate", aliases=("diethyl carbonate",), cas="105-58-8"),
    Solvent("DME", "COCCOC", 90.12, 0.863, "1,2-dimethoxyethane", aliases=("1,2-dimethoxyethane", "monoglyme", "glyme", "G1"), cas="110-71-4"),
    Solvent("DMSO", "CS(C)=O", 78.13, 1.096, "dimethyl sulfoxide", aliases=("dimethyl sulfoxide",), cas="67-68-5"),
    Solvent("AN", "CC#N", 41.05, 0.777, "acetonitrile", aliases=("acetonitrile", "MeCN", "ACN"), cas="75-05-8"),
    Solvent("MOEMC", "COCCOC(=O)OC", 134.13, 1.10, "2-methoxyethyl methyl carbonate; est. from DMC/DME"),
    Solvent("TFP", "O=P(OCC(F)(F)F)(OCC(F)(F)F)OCC(F)(F)F", 344.07, 1.587, "tris(2,2,2-trifluoroethyl) phosphate"),
    Solvent("EA", "CCOC(C)=O", 88.11, 0.894, "ethyl acetate", aliases=("ethyl acetate",), cas="141-78-6"),
    Solvent("MA", "COC(C)=O", 74.08, 0.927, "methyl acetate", aliases=("methyl acetate",), cas="79-20-9"),
    Solvent("FEC", "O=C1OCC(F)O1", 106.05, 1.454, "4-fluoro-1,3-dioxolan-2-one", aliases=("fluoroethylene carbonate",), cas="114435-02-8"),
    Solvent("DOL", "C1COCO1", 74.08, 1.060, "1,3-dioxolane", aliases=("1,3-dioxolane", "dioxolane"), cas="646-06-0"),
    Solvent("2-MeTHF", "CC1CCCO1", 86.13, 0.854, "2-methyltetrahydrofuran", aliases=("2-methyltetrahydrofuran", "MeTHF"), cas="96-47-9"),
    Solvent("DMM", "COCOC", 76.09, 0.860, "dimethoxymethane"),
    Solvent("Freon 11", "FC(Cl)(Cl)Cl", 137.36, 1.476, "trichlorofluoromethane"),
    Solvent("Methylene chloride", "ClCCl", 84.93, 1.317, "dichloromethane"),
    Solvent("THF", "C1CCOC1", 72.11, 0.883, "tetrahydrofuran", aliases=("tetrahydrofuran",), cas="109-99-9"),
    Solvent("Toluene", "Cc1ccccc1", 92.14, 0.862, "toluene"),
    Solvent("Sulfolane", "O=S1(=O)CCCC1", 120.17, 1.261, "sulfolane (at 30 °C, mp 27 °C)", aliases=("tetramethylene sulfone",), cas="126-33-0"),
    Solvent("2-Glyme", "COCCOCCOC", 134.17, 0.939, "diglyme, bis(2-methoxyethyl) ether", aliases=("diglyme", "G2"), cas="111-96-6"),
    Solvent("3-Glyme", "COCCOCCOCCOC", 178.23, 0.981, "triglyme", aliases=("triglyme", "G3"), cas="112-49-2"),
    Solvent("4-Glyme", "COCCOCCOCCOCCOC", 222.28, 1.005, "tetraglyme", aliases=("tetraglyme", "TEGDME", "G4"), cas="143-24-8"),
    Solvent("3-Me-2-Oxazolidinone", "CN1CCOC1=O", 101.10, 1.170, "3-methyl-2-oxazolidinone"),
    Solvent("3-MeSulfolane", "CC1CCS(=O)(=O)C1", 134.20, 1.190, "3-methylsulfolane"),
    Solvent("Ethyldiglyme", "CCOCCOCCOCC", 162.23, 0.906, "diethylene glycol diethyl ether"),
    Solvent("DMF", "CN(C)C=O", 73.09, 0.944, "N,N-dimethylformamide"),
    Solvent("Ethylbenzene", "CCc1ccccc1", 106.17, 0.863, "ethylbenzene"),
    Solvent("Ethylmonoglyme", "CCOCCOCC", 118.17, 0.842, "1,2-diethoxyethane"),
    Solvent("Benzene", "c1ccccc1", 78.11, 0.874, "benzene"),
    Solvent("g-Butyrolactone", "O=C1CCCO1", 86.09, 1.125, "γ-butyrolactone", aliases=("GBL", "γ-butyrolactone", "gamma-butyrolactone"), cas="96-48-0"),
    Solvent("Cumene", "CC(C)c1ccccc1", 120.19, 0.857, "isopropylbenzene"),
    Solvent("Propylsulfone", "CCCS(=O)(=O)CCC", 150.24, 1.03, "dipropyl sulfone; est. (mp 29 °C), from sulfolane/ethyl sulfones"),
    Solvent("Pseudocumeme", "Cc1ccc(C)c(C)c1", 120.19, 0.872, "1,2,4-trimethylbenzene (pseudocumene; CALiSol spells it 'Pseudocumeme')"),
    Solvent("TEOS", "CCO[Si](OCC)(OCC)OCC", 208.33, 0.933, "tetraethyl orthosilicate"),
    Solvent("m-Xylene", "Cc1cccc(C)c1", 106.17, 0.860, "m-xylene"),
    Solvent("o-Xylene", "Cc1ccccc1C", 106.17, 0.876, "o-xylene"),
    # not in CALiSol-23 as solvents, but common in electrolytes a lab makes
    Solvent("VC", "O=C1OC=CO1", 86.05, 1.355, "vinylene carbonate", aliases=("vinylene carbonate",), cas="872-36-6"),
    Solvent("MP", "CCC(=O)OC", 88.11, 0.915, "methyl propionate", aliases=("methyl propionate",), cas="554-12-1"),
]}


@dataclass(frozen=True)
class Salt:
    name: str
    smiles: str
    molar_mass: float  # g/mol, literature
    note: str = ""
    aliases: tuple[str, ...] = ()
    cas: str = ""


SALTS: dict[str, Salt] = {s.name: s for s in [
    Salt("LiPF6", "[Li+].F[P-](F)(F)(F)(F)F", 151.90, "lithium hexafluorophosphate", cas="21324-40-3"),
    Salt("LiBF4", "[Li+].F[B-](F)(F)F", 93.75, "lithium tetrafluoroborate", cas="14283-07-9"),
    Salt("LiBOB", "[Li+].O=C1O[B-]2(OC1=O)OC(=O)C(=O)O2", 193.79, "lithium bis(oxalato)borate", cas="244761-29-3"),
    Salt("LiAsF6", "[Li+].F[As-](F)(F)(F)(F)F", 195.86, "lithium hexafluoroarsenate", cas="29935-35-1"),
    Salt("LiClO4", "[Li+].[O-]Cl(=O)(=O)=O", 106.39, "lithium perchlorate", cas="7791-03-9"),
    Salt("LiTFSI", "[Li+].O=S(=O)([N-]S(=O)(=O)C(F)(F)F)C(F)(F)F", 287.09, "lithium bis(trifluoromethanesulfonyl)imide", cas="90076-65-6"),
    Salt("LiFSI", "[Li+].O=S(=O)(F)[N-]S(=O)(=O)F", 187.07, "lithium bis(fluorosulfonyl)imide", cas="171611-11-3"),
    Salt("LiCF3SO3", "[Li+].O=S(=O)([O-])C(F)(F)F", 156.01, "lithium triflate", aliases=("LiOTf", "lithium triflate")),
    Salt("LiBPFPB",
         "[Li+].FC(F)(F)C1(C(F)(F)F)O[B-]2(OC1(C(F)(F)F)C(F)(F)F)OC(C(F)(F)F)(C(F)(F)F)C(C(F)(F)F)(C(F)(F)F)O2",
         681.85, "lithium bis(perfluoropinacolato)borate, LiB(C6F12O2)2"),
    Salt("LiBMB", "[Li+].O=C1CC(=O)O[B-]2(O1)OC(=O)CC(=O)O2", 221.84, "lithium bis(malonato)borate"),
    Salt("LiTDI", "[Li+].N#CC1=C(C#N)[N-]C(C(F)(F)F)=N1", 192.02, "lithium 4,5-dicyano-2-(trifluoromethyl)imidazolide"),
    Salt("LiPDI", "[Li+].N#CC1=C(C#N)[N-]C(C(F)(F)C(F)(F)F)=N1", 242.03, "lithium 4,5-dicyano-2-(pentafluoroethyl)imidazolide"),
    # not in CALiSol-23
    Salt("LiDFOB", "[Li+].O=C1O[B-](F)(F)OC1=O", 143.77, "lithium difluoro(oxalato)borate", aliases=("LiODFB",), cas="409071-16-5"),
    Salt("NaPF6", "[Na+].F[P-](F)(F)(F)(F)F", 167.95, "sodium hexafluorophosphate", cas="21324-39-0"),
]}

# Spellings in CALiSol-23 that name the same salt.
SALT_ALIASES = {"LiN(CF3SO2)2": "LiTFSI"}


def name_of(smiles: str) -> str:
    """The common name of a solvent or salt in these tables (EC, LiPF6, …), or the SMILES itself when unknown."""
    try:
        return _names().get(canonical(smiles), smiles)
    except InvalidSmilesError:
        return smiles


@cache
def _names() -> dict[str, str]:
    names = {canonical(s.smiles): s.name for table in (SOLVENTS, SALTS) for s in table.values()}
    # the ions of the table's salts: Li⁺, Na⁺; the anion named as its salt without the cation (PF6⁻, TFSI⁻, BOB⁻)
    for s in SALTS.values():
        cation, *anions = sorted(s.smiles.split("."), key=lambda ion: "+" not in ion)
        element = cation.strip("[]+")
        names.setdefault(canonical(cation), f"{element}⁺")
        for anion in anions:
            names.setdefault(canonical(anion), (s.name[len(element):] if s.name.startswith(element) else s.name) + "⁻")
    return names


# Dynamic viscosity of the pure liquids, mPa·s, at 25 °C unless the note says otherwise (read for facts, typed in by
# hand): battery solvents from Xu, Chem. Rev. 104 (2004) 4303, Table 1 (EC at 40 °C, as it is solid at 25 °C; DMC at
# 20 °C); the others from the CRC Handbook of Chemistry and Physics, 97th ed., "Viscosity of Liquids". Values marked
# "est." are estimates from homologues or related liquids, as stated; only rows with that solvent depend on them.
# A study option reads them (DiffMixVFT(walden=…)): Walden's rule, molar conductivity ∝ 1 / viscosity, with a blend's
# viscosity mixed ideally in ln by the solvents' mole shares (Arrhenius / Grunberg–Nissan without interaction).
VISCOSITY_MPA_S: dict[str, tuple[float, str]] = {
    "EC": (1.90, "40 °C"), "PC": (2.53, ""), "DMC": (0.59, "20 °C"), "EMC": (0.65, ""), "DEC": (0.75, ""),
    "DME": (0.46, ""), "DMSO": (1.99, ""), "AN": (0.369, ""), "MOEMC": (1.1, "est., between DMC and diglyme"),
    "TFP": (2.5, "est., from triethyl phosphate (1.55) raised by fluorination as EC → FEC"), "EA": (0.423, ""),
    "MA": (0.364, ""), "FEC": (4.1, "est."), "DOL": (0.59, ""), "2-MeTHF": (0.47, ""), "DMM": (0.33, ""),
    "Freon 11": (0.42, ""), "Methylene chloride": (0.413, ""), "THF": (0.46, ""), "Toluene": (0.560, ""),
    "Sulfolane": (10.0, "30 °C, mp 27 °C"), "2-Glyme": (0.98, ""), "3-Glyme": (1.96, ""), "4-Glyme": (3.39, ""),
    "3-Me-2-Oxazolidinone": (2.45, ""), "3-MeSulfolane": (11.0, "est., as sulfolane"),
    "Ethyldiglyme": (1.3, "est., from diglyme and 1,2-diethoxyethane"), "DMF": (0.794, ""), "Ethylbenzene": (0.631, ""),
    "Ethylmonoglyme": (0.65, "est., from DME with ethyl ends"), "Benzene": (0.604, ""), "g-Butyrolactone": (1.73, ""),
    "Cumene": (0.739, ""), "Propylsulfone": (5.0, "est., molten (mp 29 °C), from ethyl methyl sulfone"),
    "Pseudocumeme": (0.8, "est., between the xylenes and cumene"), "TEOS": (0.65, "est."), "m-Xylene": (0.581, ""),
    "o-Xylene": (0.760, ""), "VC": (1.5, "est."), "MP": (0.431, ""),
}


# Relative permittivity (dielectric constant) of the pure liquids at 25 °C unless the note says otherwise: battery
# solvents from Xu, Chem. Rev. 104 (2004) 4303, Table 1 (EC at 40 °C); the others from the CRC Handbook, 97th ed.,
# "Permittivity (Dielectric Constant) of Liquids". "est." as above. Read by a study option (DiffMixVFT(permittivity=…):
# ion pairing grows as the blend's permittivity falls).
PERMITTIVITY: dict[str, tuple[float, str]] = {
    "EC": (89.78, "40 °C"), "PC": (64.92, ""), "DMC": (3.107, ""), "EMC": (2.958, ""), "DEC": (2.805, ""),
    "DME": (7.2, ""), "DMSO": (46.5, ""), "AN": (35.9, ""), "MOEMC": (7.0, "est., a linear carbonate with an ether arm"),
    "TFP": (11.0, "est., below triethyl phosphate's 13"), "EA": (6.02, ""), "MA": (6.68, ""), "FEC": (78.4, "est."),
    "DOL": (7.1, ""), "2-MeTHF": (6.97, ""), "DMM": (2.7, ""), "Freon 11": (2.28, ""), "Methylene chloride": (8.93, ""),
    "THF": (7.52, ""), "Toluene": (2.38, ""), "Sulfolane": (43.3, "30 °C"), "2-Glyme": (7.23, ""),
    "3-Glyme": (7.62, ""), "4-Glyme": (7.79, ""), "3-Me-2-Oxazolidinone": (77.5, ""),
    "3-MeSulfolane": (29.4, "est."), "Ethyldiglyme": (5.7, "est."), "DMF": (36.7, ""), "Ethylbenzene": (2.45, ""),
    "Ethylmonoglyme": (5.1, "est."), "Benzene": (2.27, ""), "g-Butyrolactone": (39.0, ""), "Cumene": (2.38, ""),
    "Propylsulfone": (32.0, "est., molten, from the dialkyl sulfones"), "Pseudocumeme": (2.38, ""),
    "TEOS": (2.5, "est."), "m-Xylene": (2.36, ""), "o-Xylene": (2.56, ""), "VC": (126.0, ""), "MP": (6.2, ""),
}


# What a model that reads these properties gives a solvent the tables lack (a molecule CALiSol-23 never had): the
# median of the tabulated solvents, a typical battery solvent's value. The domain report names each such solvent
# (model.domain), so a prediction that leans on the stand-in is never taken for one that did not.
TYPICAL_VISCOSITY_MPA_S = statistics.median(v for v, _ in VISCOSITY_MPA_S.values())
TYPICAL_PERMITTIVITY = statistics.median(v for v, _ in PERMITTIVITY.values())


def _tabulated(table: dict[str, tuple[float, str]], smiles: str) -> float | None:
    entry = table.get(name_of(smiles))
    return None if entry is None else entry[0]


def permittivity_of(smiles: str) -> float | None:
    """The table's relative permittivity (near 25 °C) of a solvent, or None when it has none."""
    return _tabulated(PERMITTIVITY, smiles)


def viscosity_of(smiles: str) -> float | None:
    """The table's viscosity (mPa·s near 25 °C) of a solvent, or None when it has none."""
    return _tabulated(VISCOSITY_MPA_S, smiles)


# the solvents' tabulated properties a conductivity model may read (model.nn.solvent): each one's look-up, the stand-in
# a solvent the tables lack gets, and its unit
SOLVENT_PROPERTIES: dict[str, tuple[Callable[[str], float | None], float, str]] = {
    "viscosity": (viscosity_of, TYPICAL_VISCOSITY_MPA_S, "mPa·s"),
    "relative permittivity": (permittivity_of, TYPICAL_PERMITTIVITY, ""),
}


def density_of(smiles: str) -> float | None:
    """The table's density (g/cm³ near 25 °C) of a solvent, or None when it has none."""
    solvent = SOLVENTS.get(name_of(smiles))
    return None if solvent is None else solvent.density


def salt_by_name(name: str) -> Salt:
    key = SALT_ALIASES.get(name.strip(), name.strip())
    if key not in SALTS:
        raise KeyError(f"unknown salt name {name!r}; known: {', '.join(sorted(SALTS))}")
    return SALTS[key]


# Apparent molar volume of a dissolved lithium salt, used only to estimate solution density for rows
# given in molarity (mol per litre of solution). Approximation: solvents mix ideally by volume and the salt
# occupies V_phi = M_salt / 3.0 cm³/mol (an effective density of 3.0 g/cm³). For LiPF6 in EC:DMC 1:1 v/v
# at 1 mol/L this gives 1.284 g/cm³ against the ≈1.3 g/cm³ of the commercial electrolyte (LP30 datasheet),
# about 1 % low; the error moves the derived salt molality by less than that.
SALT_EFFECTIVE_DENSITY = 3.0
