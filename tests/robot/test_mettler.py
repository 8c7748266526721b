"""MT-SICS level-0 conformance: the emulator answers every level-0 command as the MT-SICS reference manual documents
it, and the driver writes those commands and parses recorded replies, error forms included. Reference: Mettler
Toledo, MT-SICS Interface Command reference manual, section "Level 0" (@, I0, I1, I2, I3, I4, S, SI, SIR, Z, ZI) and
"Error messages" (ES, ET, EL; the I, +, - answers of each command)."""

import time

import pytest

from robot.drivers.mettler import LEVEL0, Balance, parse_strings, parse_weight
from robot.errors import BalanceError, ProtocolError
from robot.sim.mettler import CAPACITY_G, MODEL, SERIAL, SOFTWARE, BalanceEmulator
from robot.sim.world import World
from tests.robot.wire import RecordedPort, exchange


@pytest.fixture
def world():
    w = World(seed=2)
    w.balance_noise_g = 0.0
    return w


@pytest.fixture
def emu(world, start_emulator):
    return start_emulator(BalanceEmulator, world)


def ask(emu, cmd: bytes) -> bytes:
    return exchange(emu.url, cmd + b"\r\n", quiet_s=0.1)


def test_identification_commands(emu):
    assert ask(emu, b"I4") == f'I4 A "{SERIAL}"\r\n'.encode()
    assert ask(emu, b"@") == f'I4 A "{SERIAL}"\r\n'.encode()  # reset answers like I4
    assert ask(emu, b"I2") == f'I2 A "{MODEL} {CAPACITY_G:.4f} g"\r\n'.encode()
    assert ask(emu, b"I3") == f'I3 A "{SOFTWARE}"\r\n'.encode()
    assert ask(emu, b"I1") == b'I1 A "0" "2.20" "" "" ""\r\n'
    lines = ask(emu, b"I0").decode().split("\r\n")[:-1]
    assert lines[0] == 'I0 B 0 "@"' and lines[-1] == 'I0 A 0 "ZI"'
    assert len(lines) == len(LEVEL0) and all(ln.startswith("I0 B ") for ln in lines[:-1])


def test_weighing_and_zeroing(emu, world):
    world.vial_g = {1: 2.5}
    assert ask(emu, b"S") == b"S S     2.5000 g\r\n"
    assert ask(emu, b"SI") == b"S S     2.5000 g\r\n"
    assert ask(emu, b"Z") == b"Z A\r\n"
    assert ask(emu, b"S") == b"S S     0.0000 g\r\n"
    world.vial_g = {1: 3.0}
    assert ask(emu, b"ZI") == b"ZI S\r\n"
    world.vial_g = {1: CAPACITY_G + 1}
    assert ask(emu, b"S") == b"S +\r\n"
    assert ask(emu, b"Z") == b"Z +\r\n"


def test_sir_streams_until_the_next_command(emu, world):
    world.vial_g = {1: 1.0}
    raw = exchange(emu.url, b"SIR\r\n", quiet_s=0.7)
    assert raw.count(b"S S     1.0000 g\r\n") >= 2  # repeated, not answered once


def test_error_forms(emu):
    assert ask(emu, b"XYZ") == b"ES\r\n"  # not a command
    assert ask(emu, b"S 5") == b"EL\r\n"  # a level-0 command takes no parameter
    assert ask(emu, b"S\xff") == b"ET\r\n"  # bytes no MT-SICS command is made of


def test_driver_against_recorded_replies():
    port = RecordedPort([b'I4 A "B021002593"\r\n', b'I2 A "XPR205 220.00000 g"\r\n', b'I3 A "1.10 10.28.0.493.142"\r\n',
                         b"S D      1.2345 g\r\n", b"ZI D\r\n", b"Z I\r\n", b"I4 I\r\n", b"S -\r\n"])
    b = Balance("unused", port=port)
    assert b.identity() == {"balance": "B021002593", "balance_model": "XPR205 220.00000 g",
                            "balance_software": "1.10 10.28.0.493.142"}
    assert b.weigh_immediate_g() == (False, 1.2345)
    assert b.zero_immediately() is False
    with pytest.raises(BalanceError, match="zeroing not possible"):
        b.zero()
    with pytest.raises(BalanceError, match="cannot be executed"):
        b.serial_number()
    with pytest.raises(BalanceError, match="underload"):
        b.weigh_g()
    assert port.written == [b"I4\r\n", b"I2\r\n", b"I3\r\n", b"SI\r\n", b"ZI\r\n", b"Z\r\n", b"I4\r\n", b"S\r\n"]


def test_parsers_on_documented_and_malformed_lines():
    assert parse_weight("S S      12.3456 g") == (True, 12.3456, "g")
    assert parse_weight("S D       0.0012 g")[0] is False
    for line, msg in [("S +", "overload"), ("S -", "underload"), ("S I", "not possible"), ("ES", "syntax"),
                      ("ET", "transmission"), ("EL", "logical")]:
        with pytest.raises(BalanceError, match=msg):
            parse_weight(line)
    with pytest.raises(ProtocolError):
        parse_weight("S S abc g")
    assert parse_strings('I1 A "0" "2.20" "" "" ""', "I1") == ["0", "2.20", "", "", ""]
    with pytest.raises(ProtocolError):
        parse_strings('I3 A "1.0"', "I4")


def test_driver_against_the_emulator(emu, world):
    b = Balance(emu.url, timeout=1.0)
    assert b.reset() == SERIAL
    assert b.commands() == list(LEVEL0)
    assert b.sics_levels()[0] == "0"
    world.vial_g = {1: 0.75}
    stream = b.weigh_stream_g(2)
    assert stream == [(True, 0.75), (True, 0.75)]
    time.sleep(0.1)
    assert b.weigh_g() == pytest.approx(0.75)  # the stream ended: the next answer is S's own
    b.close()
