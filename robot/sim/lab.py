"""The simulated lab: a World plus emulators for pumps, balance and potentiostat, wired to a lab configuration."""

from __future__ import annotations

from dataclasses import replace

from robot.lab import LabConfig
from robot.sim.cavro import CavroEmulator
from robot.sim.electrolyte import salt_molar_mass
from robot.sim.mettler import BalanceEmulator
from robot.sim.palmsens import PotentiostatEmulator
from robot.sim.world import Fluid, World


class SimLab:
    def __init__(self, lab: LabConfig, world: World | None = None, move_s: float = 0.005):
        self.world = world or World()
        for s in lab.stocks:
            self.world.reservoirs[s.pump_address] = Fluid(dict(s.solvent), s.molality, salt_molar_mass(s.salt) if s.salt else 151.905,
                                                          s.density_g_ml, salt=s.salt or Fluid.salt)
        if lab.standard_pump is not None:
            self.world.reservoirs[lab.standard_pump] = Fluid({}, 0.0, density_g_ml=1.0, standard_mS_cm=lab.standard_mS_cm)
        addresses = [s.pump_address for s in lab.stocks] + [lab.transfer_pump, lab.rinse_pump]
        if lab.standard_pump is not None:
            addresses.append(lab.standard_pump)
        roles = {lab.transfer_pump: "transfer", lab.rinse_pump: "rinse"}
        self.pumps = CavroEmulator(self.world, addresses, {a: lab.syringe_ul for a in addresses}, lab.pump_steps,
                                   move_s=move_s, role=roles)
        self.balance = BalanceEmulator(self.world)
        self.potentiostat = PotentiostatEmulator(self.world)
        self.lab = replace(lab, pump_url=self.pumps.url, balance_url=self.balance.url,
                           potentiostat_url=self.potentiostat.url)

    def close(self):
        for e in (self.pumps, self.balance, self.potentiostat):
            e.close()
