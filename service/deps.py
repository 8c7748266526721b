"""The service's typed dependencies, in the style of the FastAPI full-stack template.

``StateDep`` is what the running service holds (settings, models), ``SessionDep`` the one database session of a
request (the caller's key is looked up in it too), ``caller(...)`` the authenticated key with a role check.
Routes declare what they need with these and never reach into ``request.app.state``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from diffmix.settings import Settings
from model.contract import Limits
from model.plausibility import Plausibility, Problem
from service.state import ServiceState


def get_state(request: Request) -> ServiceState:
    """The ServiceState the app was created with."""
    state: ServiceState = request.app.state.diffmix
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    """The service's settings."""
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_limits(settings: SettingsDep) -> Limits:
    """The plausible ranges a robot's numbers must fall in (DIFFMIX_CELL_CONSTANT_RANGE_PER_CM, …)."""
    return Limits(settings.cell_constant_range_per_cm, settings.resistance_range_ohm)


LimitsDep = Annotated[Limits, Depends(get_limits)]


def get_plausibility(settings: SettingsDep) -> Plausibility:
    """The checks a result must pass before it is stored (DIFFMIX_RESULT_*)."""
    return Plausibility(resistance_tolerance=settings.result_resistance_tolerance,
                        composition_tolerance=settings.result_composition_tolerance,
                        clock_skew_s=settings.result_clock_skew_s)


PlausibilityDep = Annotated[Plausibility, Depends(get_plausibility)]


def refuse(problems: list[Problem]) -> None:
    """422 naming each field of an implausible body (FastAPI's validation error shape)."""
    if problems:
        raise RequestValidationError([{"loc": ["body", *p.loc], "msg": p.message, "type": "value_error.implausible"}
                                      for p in problems])


def refuse_implausible(limits: Limits, **values: float) -> None:
    """422 naming each field outside its plausible range (FastAPI's validation error shape)."""
    refuse([Problem((field,), msg) for field, value in values.items() if (msg := limits.check(field, value))])


def get_session(state: StateDep) -> Iterator[Session]:
    """One session per request, closed when the request is done (a plain generator: FastAPI runs it in its
    thread pool, so blocking database I/O never stalls the event loop)."""
    with state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
