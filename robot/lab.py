"""The lab configuration file (TOML): stocks with their pumps, the balance, the potentiostat, the cell."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from robot.errors import RecipeError


@dataclass
class Stock:
    name: str
    pump_address: int
    density_g_ml: float
    solvent: dict[str, float]  # solvent SMILES → mass fraction of the solvent part
    salt: str | None = None  # salt SMILES (dot-separated ions)
    molality: float = 0.0  # mol salt per kg of the stock's solvent part
    volume_ml: float = 100.0  # initial volume in the reservoir


@dataclass
class LabConfig:
    stocks: list[Stock]
    pump_url: str
    balance_url: str
    potentiostat_url: str
    transfer_pump: int
    rinse_pump: int
    standard_pump: int | None = None
    standard_mS_cm: float = 12.88  # at 25 °C
    syringe_ul: float = 5000.0
    pump_steps: int = 3000
    min_dispense_ul: float = 20.0
    sample_volume_ml: float = 2.0
    cell_id: str = "cell-1"
    cell_constant_per_cm: float | None = None  # if set, used instead of a stored calibration
    temperature_K: float | None = None  # constant cell temperature when no sensor is configured
    eis_f_max_hz: float = 800e3
    eis_f_min_hz: float = 14e3
    eis_points: int = 5
    wide_f_max_hz: float = 1e6
    wide_f_min_hz: float = 10.0
    wide_points: int = 31
    max_temperature_drift_K: float = 0.5
    temperature_tolerance_K: float = 0.5  # the cell must be this close to the experiment's planned temperature
    reference_thermometer: bool = False  # an independent thermometer the cell's reading is checked against
    rinse_attempts: int = 3  # rinses tried before the robot stops taking work
    thermostat: bool = False  # the cell sits in a thermostat the robot sets to each experiment's planned temperature
    settle_timeout_s: float = 900.0  # how long the thermostat may take to settle
    settle_poll_s: float = 5.0  # how often the cell's temperature is read while it settles
    truth: dict | None = None  # the simulated lab's ground truth ([truth], robot/sim/truth.py); ignored by hardware
    pump_protocol: str = "dt"  # Cavro framing: "dt" (plain ASCII) or "oem" (checksummed, retransmitted)
    instrument_ids: dict[str, str] = field(default_factory=dict)  # extra ids; the instruments' own are read at start-up

    def __post_init__(self):
        if self.settle_timeout_s <= 0 or self.settle_poll_s <= 0:
            raise RecipeError("settle_timeout_s and settle_poll_s must be positive")
        if self.temperature_tolerance_K <= 0 or self.rinse_attempts < 1:
            raise RecipeError("temperature_tolerance_K must be positive and rinse_attempts at least 1")
        if self.pump_protocol not in ("dt", "oem"):
            raise RecipeError(f"pump_protocol = {self.pump_protocol!r}: choose \"dt\" or \"oem\"")
        addresses = [s.pump_address for s in self.stocks] + [self.transfer_pump, self.rinse_pump]
        addresses += [self.standard_pump] if self.standard_pump is not None else []
        for a in addresses:
            if not 1 <= a <= 16:
                raise RecipeError(f"pump address {a} is outside 1–16 (a pump's address switch 0–F plus one)")
        if len(set(addresses)) != len(addresses):
            raise RecipeError(f"two pumps share an address in {sorted(addresses)}")

    def stock(self, name: str) -> Stock:
        for s in self.stocks:
            if s.name == name:
                return s
        raise KeyError(name)


def _named(stock: dict) -> dict:
    """A stock as the lab file wrote it, its solvents and salt by SMILES or by a name from the species table
    (EC, LiPF6): names become their SMILES here, so the rest of the robot and the service see SMILES only."""
    from model.errors import DiffMixInputError
    from model.names import resolve

    out = dict(stock)
    try:
        if isinstance(out.get("solvent"), dict):
            out["solvent"] = {resolve(k): v for k, v in out["solvent"].items()}
        if isinstance(out.get("salt"), str):
            out["salt"] = resolve(out["salt"])
    except DiffMixInputError as e:
        raise RecipeError(f"stock {out.get('name', '?')!r}: {e}") from None
    return out


def load(path: str | Path, overrides: dict | None = None) -> LabConfig:
    data = tomllib.loads(Path(path).read_text())
    data.update(overrides or {})
    try:
        stocks = [Stock(**_named(s)) for s in data.pop("stocks")]
        cfg = LabConfig(stocks=stocks, **data)
    except (TypeError, KeyError, RecipeError) as e:
        raise RecipeError(f"lab file {path}: {e}") from None
    if cfg.truth is not None:  # a simulated lab's truth: refuse a bad plug-in now, not at the first experiment
        from robot.sim.truth import from_table

        try:
            from_table(cfg.truth)
        except RecipeError as e:
            raise RecipeError(f"lab file {path}: {e}") from None
    return cfg
