"""The mixture properties DiffMix models, their units and the law each is built on."""

from __future__ import annotations

from dataclasses import dataclass

from model.errors import UnknownPropertyError


@dataclass(frozen=True)
class Property:
    name: str
    unit: str
    law: str  # "redlich_kister" or "vft"
    log_scale: bool  # fitted in ln(property): positive and spanning orders of magnitude
    excess: bool  # an excess property: zero for every pure component


PROPERTIES = {
    p.name: p
    for p in [
        Property("ionic_conductivity", "mS/cm", "vft", log_scale=True, excess=False),
        Property("excess_molar_enthalpy", "J/mol", "redlich_kister", log_scale=False, excess=True),
        Property("excess_molar_volume", "cm³/mol", "redlich_kister", log_scale=False, excess=True),
    ]
}


def get_property(name: str) -> Property:
    if name not in PROPERTIES:
        raise UnknownPropertyError(f"unknown property {name!r}; choose one of {', '.join(PROPERTIES)}")
    return PROPERTIES[name]
