"""Drivers against the emulators (real bytes over sockets) under each line fault; the protocols' conformance to the
vendors' manuals is in test_cavro.py, test_mettler.py and test_palmsens.py."""

import pytest

from robot.drivers import methodscript as ms
from robot.drivers.cavro import CavroPump
from robot.drivers.mettler import Balance
from robot.drivers.palmsens import Potentiostat
from robot.errors import DeviceDisconnected, DeviceTimeout, ProtocolError, PumpError
from robot.sim.cavro import CavroEmulator
from robot.sim.mettler import BalanceEmulator
from robot.sim.palmsens import PotentiostatEmulator
from robot.sim.world import Fluid, World


@pytest.fixture
def world():
    w = World(seed=1)
    w.reservoirs[1] = Fluid({"COC(=O)OC": 1.0}, density_g_ml=1.063)
    return w


@pytest.fixture
def pump(world):
    emu = CavroEmulator(world, [1], {1: 5000.0}, move_s=0.01)
    p = CavroPump(emu.url, 1, 5000.0, 3000, timeout=0.5)
    yield p
    p.close()
    emu.close()


def test_pump_dispenses_into_the_vial(pump, world):
    pump.initialize()
    delivered = pump.transfer(7000.0)  # more than one stroke of a 5 mL syringe
    assert delivered == pytest.approx(7000.0, abs=2)
    assert world.vial_mass_g() == pytest.approx(7.0 * 1.063, rel=0.03)  # ~1 % volumetric error per stroke
    assert pump.position() == 0


def test_pump_error_status_raises(pump, world):
    pump.initialize()
    world.inject("pump_error")
    with pytest.raises(PumpError, match="plunger overload") as e:
        pump.aspirate(100)
    assert e.value.code == 9


def test_uninitialised_pump_refuses_moves(pump):
    with pytest.raises(PumpError, match="not initialised"):
        pump.aspirate(100)


def test_timeout_and_garbled_and_disconnect(pump, world):
    pump.initialize()
    world.inject("timeout")
    with pytest.raises(DeviceTimeout):
        pump.command("Q", execute=False)
    world.inject("garble")
    with pytest.raises(ProtocolError):
        pump.command("Q", execute=False)
    world.inject("disconnect")
    with pytest.raises((DeviceTimeout, DeviceDisconnected)):
        pump.command("Q", execute=False)


def test_balance_zero_and_weigh(world):
    emu = BalanceEmulator(world)
    b = Balance(emu.url, timeout=0.5)
    world.vial_g = {1: 3.0}
    b.zero()
    world.vial_g = {1: 4.25}
    assert b.weigh_g() == pytest.approx(1.25, abs=0.002)
    b.close()
    emu.close()


def test_methodscript_value_codec_round_trip():
    for v in [0.0, 1.0, -1.0, 123.456, 800e3, 14e3, 1e-7, -3.2e5, 5e9]:
        enc = ms.encode_value(v)
        assert len(enc) == 8
        assert ms.decode_value(enc) == pytest.approx(v, rel=1e-6, abs=1e-12)
    # a packet as the documentation's example parsers read it: 7 hex digits offset by 2^27, then the prefix
    assert ms.decode_value("8000000 ") == 0.0
    assert ms.decode_value("8000001m") == pytest.approx(1e-3)
    pkt = ms.parse_packet("Pdc80C3500 ;cc800005E ;cd7FFFFF6 ,14,20B\n")
    assert pkt == {"dc": pytest.approx(800_000), "cc": 94.0, "cd": -10.0}
    with pytest.raises(ValueError):
        ms.parse_packet("Pdc80C35\n")


def test_eis_script_shape():
    s = ms.eis_script(800e3, 14e3, 5, 0.01)
    lines = s.split("\n")
    assert lines[0] == "e" and s.endswith("\n\n")
    assert "meas_loop_eis f r j 10m 800k 14k 5 0" in lines


def test_potentiostat_eis_against_emulator(world):
    world.reservoirs[2] = Fluid({"COC(=O)OC": 0.7, "O=C1OCCO1": 0.3}, salt_molality=1.0, density_g_ml=1.25)
    world.vial_g = {2: 2.0}
    world.fill_cell()
    emu = PotentiostatEmulator(world)
    pot = Potentiostat(emu.url, timeout=2)
    sp = pot.eis(800e3, 14e3, 5)
    assert len(sp.frequency_Hz) == 5 and sp.frequency_Hz[0] == pytest.approx(800e3)
    assert all(z < 0 for z in sp.z_imag_ohm)  # capacitive reactance is negative
    r_true = 1000 * world.cell_constant_per_cm / world.cell_conductivity_mS_cm()
    assert min(sp.z_real_ohm) == pytest.approx(r_true, rel=0.05)
    world.inject("garble")
    with pytest.raises(ProtocolError):
        pot.eis(800e3, 14e3, 5)
    pot.close()
    emu.close()
