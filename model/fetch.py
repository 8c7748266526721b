"""`diffmix data fetch`: download the public originals for machines with internet access (tests never call this).

The checksums pinned here are those of the copies our benchmarks were measured on. The public originals hold
a few more publications / binary systems, so a download may differ: then nothing is overwritten unless the
user passes ``allow_different`` (and numbers will differ from benchmarks/RESULTS.md).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    file: str
    url: str | None
    sha256: str
    citation: str


_OFF = "https://raw.githubusercontent.com/openforcefield/open-forcefield-data/master/Binary-Mixtures/Property%20data/"
SOURCES = [
    Source("calisol23.csv", None,
           "fa1d9b82426ace5a72f82d60f254e01cf0b4e734ac0d33f61e030b07dbd46d0e",
           "CALiSol-23, Scientific Data 11 (2024), doi:10.1038/s41597-024-03575-8 (CC BY 4.0); "
           "download the CSV from the article's data record and pass its URL with --calisol-url"),
    Source("eme_bin.csv", _OFF + "eme_bin.csv",
           "28ebb82d3eeb119114c1f9dd9a7b6644fdc35c7ab69571d7afb5a7a798f472d3",
           "NIST ThermoML via openforcefield/open-forcefield-data (MIT)"),
    Source("emv_bin.csv", _OFF + "emv_bin.csv",
           "455718b8aa11c224017a815ba521f3fab1c515d2984327716748d4d585013cf2",
           "NIST ThermoML via openforcefield/open-forcefield-data (MIT)"),
]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(directory: Path) -> dict[str, str]:
    """'ok', 'missing' or 'different' for each file."""
    out = {}
    for s in SOURCES:
        p = directory / s.file
        out[s.file] = "missing" if not p.exists() else ("ok" if sha256(p) == s.sha256 else "different")
    return out


def fetch(directory: Path, calisol_url: str | None = None, allow_different: bool = False) -> dict[str, str]:
    """Download each missing file, verify its sha256 and say per file what happened."""
    directory.mkdir(parents=True, exist_ok=True)
    status = {}
    for s in SOURCES:
        url = calisol_url if s.file == "calisol23.csv" and calisol_url else s.url
        target = directory / s.file
        if target.exists() and sha256(target) == s.sha256:
            status[s.file] = "ok (already present)"
            continue
        if url is None:
            status[s.file] = f"skipped: no pinned URL ({s.citation})"
            continue
        log.info(f"downloading {s.file} from {url}")
        tmp = target.with_suffix(".part")
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as r:
            r.raise_for_status()
            with open(tmp, "wb") as f:
                f.writelines(r.iter_bytes())
        digest = sha256(tmp)
        if digest != s.sha256 and not allow_different:
            tmp.unlink()
            status[s.file] = (f"refused: sha256 {digest} differs from the pinned {s.sha256}; "
                              "rerun with --allow-different to keep it")
            continue
        tmp.replace(target)
        status[s.file] = "ok" if digest == s.sha256 else f"kept with a different sha256 {digest}"
    return status
