"""2-D structure drawings (RDKit) of a species, by SMILES or by a name from the species table."""

from __future__ import annotations

from functools import lru_cache

from rdkit import Chem
from rdkit.Chem.Draw import rdMolDraw2D

from model.errors import InvalidSmilesError
from model.names import resolve


@lru_cache(maxsize=512)
def structure_svg(text: str, width: int = 220, height: int = 160) -> str:
    """An SVG drawing of the species (salts drawn with their ions side by side); raises with 'did you mean'
    suggestions for an unknown name and the SMILES named for one that does not parse."""
    smiles = resolve(text)
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise InvalidSmilesError(f"cannot draw {text!r}: not a SMILES RDKit can parse")
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    drawer.drawOptions().clearBackground = False
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()
