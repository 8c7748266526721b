"""Cavro XCalibur conformance: the emulator answers the manual's frames byte for byte, the driver writes them and
parses recorded answers. Reference: Tecan Cavro XCalibur pump operating manual, chapter "Communication" (address
switch table, DT protocol, OEM protocol, status byte and error codes) and chapter "Command set" (initialisation,
plunger, valve and report commands)."""

import time

import pytest

from robot.drivers.cavro import (
    CavroPump,
    address_char,
    broadcast,
    checksum,
    frame,
    oem_frame,
    parse_oem_reply,
    parse_reply,
)
from robot.errors import DeviceTimeout, ProtocolError, PumpError
from robot.sim.cavro import FIRMWARE, CavroEmulator
from robot.sim.world import Fluid, World
from tests.robot.wire import RecordedPort, exchange

READY, BUSY = 0x60, 0x40  # status byte: bit 6 always, bit 5 ready


@pytest.fixture
def world():
    w = World(seed=1)
    for a in (1, 2, 10):
        w.reservoirs[a] = Fluid({"COC(=O)OC": 1.0}, density_g_ml=1.063)
    return w


@pytest.fixture
def emu(world, start_emulator):
    return start_emulator(CavroEmulator, world, [1, 2, 3, 10, 16], {a: 5000.0 for a in (1, 2, 3, 10, 16)}, move_s=0.05)


def dt(emu, text: str) -> bytes:
    return exchange(emu.url, text.encode() + b"\r", quiet_s=0.15)


def answer(status: int, data: str = "") -> bytes:
    return b"/0" + bytes([status]) + data.encode() + b"\x03\r\n"


def settle(emu):
    time.sleep(emu.move_s * 1.5)


# ---------------------------------------------------------------- addresses (manual: address switch table)
def test_single_pump_addresses_follow_the_switch_table():
    assert [address_char(n) for n in range(1, 17)] == list("123456789:;<=>?@")
    assert frame(10, "Q", execute=False) == b"/:Q\r"  # pump 10 (switch 9) is ':', not the group address 'A'
    assert frame(16, "Z") == b"/@ZR\r"
    with pytest.raises(ValueError):
        address_char(17)


def test_emulator_answers_single_addresses_and_not_group_or_absent_ones(emu):
    assert dt(emu, "/:Q") == answer(READY)  # pump 10
    assert dt(emu, "/@Q") == answer(READY)  # pump 16
    assert dt(emu, "/4Q") == b""  # no pump at switch 3
    assert dt(emu, "/AQ") == b""  # a group address: no answer


def test_a_dual_group_address_moves_both_of_its_pumps_and_only_them(emu):
    for p in ("1", "2", "3"):
        dt(emu, f"/{p}ZR")
    settle(emu)
    port = RecordedPort([])
    broadcast(port, "A", "A300")
    assert port.written == [b"/AA300R\r"]
    assert exchange(emu.url, port.written[0], quiet_s=0.15) == b""  # pumps addressed as a group do not answer
    settle(emu)
    assert dt(emu, "/1?") == answer(READY, "300")
    assert dt(emu, "/2?") == answer(READY, "300")
    assert dt(emu, "/3?") == answer(READY, "0")  # pump 3 belongs to group C, not A
    with pytest.raises(ValueError):
        broadcast(port, "B", "A0")


# ---------------------------------------------------------------- commands, reports, errors
def test_initialisation_with_its_documented_operands(emu):
    assert dt(emu, "/1Z0,0,0R") == answer(BUSY)  # accepted, moving (not error 7)
    settle(emu)
    assert dt(emu, "/1Q") == answer(READY)
    assert dt(emu, "/1Z3R")[2] & 0x0F == 3  # force is 0, 1 or 2


def test_reports_position_speeds_valve_firmware_and_buffer(emu):
    dt(emu, "/1ZR")
    settle(emu)
    assert dt(emu, "/1?") == answer(READY, "0")
    assert dt(emu, "/1?1") == answer(READY, "900")
    assert dt(emu, "/1?2") == answer(READY, "1400")
    assert dt(emu, "/1?3") == answer(READY, "900")
    assert dt(emu, "/1?6") == answer(READY, "i")
    assert dt(emu, "/1&") == answer(READY, FIRMWARE)
    assert dt(emu, "/1V2000v500c800R") == answer(BUSY)
    settle(emu)
    assert [dt(emu, f"/1?{k}") for k in (1, 2, 3)] == [answer(READY, "500"), answer(READY, "2000"), answer(READY, "800")]
    assert dt(emu, "/1OA1200R") == answer(BUSY)
    settle(emu)
    assert dt(emu, "/1?6") == answer(READY, "o")
    assert dt(emu, "/1?4") == answer(READY, "1200")
    assert dt(emu, "/1IA0") == answer(READY)  # stored, not executed
    assert dt(emu, "/1?10") == answer(READY, "1")
    assert dt(emu, "/1R") == answer(BUSY)
    settle(emu)
    assert dt(emu, "/1?") == answer(READY, "0")
    assert dt(emu, "/1?99") == answer(READY | 2)  # an unknown report is an invalid command


def test_normal_and_fine_positioning_modes(emu, world):
    """N0 / N1 (the manual's microstep mode off / on): a third-party XCalibur client sends N0R in its constructor.
    In N1 the stroke is addressed in 24,000 increments instead of 3,000; the plunger is where it was."""
    assert dt(emu, "/1N0R") == answer(BUSY)  # accepted before initialisation: it moves nothing
    settle(emu)
    dt(emu, "/1ZR")
    settle(emu)
    assert dt(emu, "/1A1500R") == answer(BUSY)
    settle(emu)
    assert dt(emu, "/1N1R") == answer(BUSY)
    settle(emu)
    assert dt(emu, "/1?") == answer(READY, "12000")  # the same place, in fine increments
    assert dt(emu, "/1A24001R") == answer(READY | 3)  # beyond the stroke in fine increments
    assert dt(emu, "/1OD4000R") == answer(BUSY)  # 4000 fine increments = 500 steps, dispensed
    settle(emu)
    assert dt(emu, "/1?") == answer(READY, "8000")
    assert world.vial_g[1] == pytest.approx(500 * 5000.0 / 3000 * 1e-3 * 1.063, rel=0.05)
    assert dt(emu, "/1N0A3000R") == answer(BUSY)  # a mode change applies to the rest of its string
    settle(emu)
    assert dt(emu, "/1?") == answer(READY, "3000")
    assert dt(emu, "/1N2R") == answer(READY | 3)  # no such mode on an XCalibur


def test_an_invalid_operand_is_answered_once_and_moves_nothing(emu):
    dt(emu, "/1ZR")
    settle(emu)
    assert dt(emu, "/1A3001R") == answer(READY | 3)  # beyond the 3000-step syringe
    assert dt(emu, "/1Q") == answer(READY)  # reported once, as an immediate error
    assert dt(emu, "/1?") == answer(READY, "0")


def test_a_malformed_number_is_rejected_whole_before_anything_moves(emu):
    dt(emu, "/1ZR")
    settle(emu)
    assert dt(emu, "/1P600.0R") == answer(READY | 3)
    assert dt(emu, "/1?") == answer(READY, "0")  # not moved by 600 (nor by the valid prefix)
    assert dt(emu, "/1IP600XR") == answer(READY | 2)  # an unknown command letter
    assert dt(emu, "/1?6") == answer(READY, "i")


def test_moves_before_initialisation_and_while_busy_are_refused(world, start_emulator):
    slow = start_emulator(CavroEmulator, world, [1], {1: 5000.0}, move_s=30.0)
    assert dt(slow, "/1A10R") == answer(READY | 7)
    dt(slow, "/1ZR")
    assert dt(slow, "/1A10R") == answer(BUSY | 15)  # command overflow: sent while the pump moves
    assert dt(slow, "/1TR") == answer(READY)  # terminate stops the move at once


def test_a_plunger_overload_is_reported_once_and_leaves_the_pump_uninitialised(emu, world):
    dt(emu, "/1ZR")
    settle(emu)
    world.inject("pump_error")
    assert dt(emu, "/1IA600R") == answer(BUSY)  # accepted; the plunger stalls while moving
    assert dt(emu, "/1Q")[2] & 0x0F == 9
    assert dt(emu, "/1Q")[2] & 0x0F == 0
    assert dt(emu, "/1A10R")[2] & 0x0F == 7  # must be initialised again


# ---------------------------------------------------------------- OEM protocol
def test_oem_frame_bytes_and_checksum():
    # STX, '1' (pump 1), sequence byte 0011 0 001, "ZR", ETX, XOR of all of them
    f = oem_frame("1", 1, "Z")
    assert f == b"\x02" + b"1" + bytes([0x31]) + b"ZR" + b"\x03" + bytes([0x09])
    assert oem_frame("1", 1, "Z", repeat=True)[2] == 0x39  # the repeat flag is bit 3
    assert checksum(f) == 0  # XOR over a frame with its checksum is zero
    reply = b"\x02" + b"0" + bytes([READY]) + b"1200" + b"\x03"
    assert parse_oem_reply(reply + bytes([checksum(reply)])) == (True, 0, "1200")
    with pytest.raises(ProtocolError, match="checksum"):
        parse_oem_reply(reply + bytes([checksum(reply) ^ 1]))


def test_emulator_speaks_oem_and_a_repeat_is_answered_without_executing_twice(emu):
    raw = exchange(emu.url, oem_frame("1", 1, "Z"))
    assert parse_oem_reply(raw) == (False, 0, "")
    settle(emu)
    first = exchange(emu.url, oem_frame("1", 2, "IP300"))
    settle(emu)
    again = exchange(emu.url, oem_frame("1", 2, "IP300", repeat=True))
    assert again == first  # the same answer, replayed
    assert parse_oem_reply(exchange(emu.url, oem_frame("1", 3, "?", execute=False)))[2] == "300"  # moved once
    assert exchange(emu.url, oem_frame("1", 4, "Q", execute=False)[:-1] + b"\x00") == b""  # bad checksum: ignored


def test_oem_driver_retransmits_with_the_repeat_flag_after_a_corrupt_answer():
    good = b"\x02" + b"0" + bytes([READY]) + b"\x03"
    good += bytes([checksum(good)])
    port = RecordedPort([good[:-1] + bytes([good[-1] ^ 0xFF]), good])
    pump = CavroPump("unused", 10, port=port, protocol="oem")
    assert pump.command("Q", execute=False) == (True, "")
    assert port.written[0][1:3] == b":" + bytes([0x31])
    assert port.written[1][1:3] == b":" + bytes([0x39])  # same sequence number, repeat flag set
    silent = RecordedPort([None, None, None])
    with pytest.raises(DeviceTimeout):
        CavroPump("unused", 1, port=silent, protocol="oem", retransmissions=2).command("Q", execute=False)
    assert len(silent.written) == 3


def test_oem_driver_against_the_emulator_with_a_lost_answer(emu, world):
    pump = CavroPump(emu.url, 10, 5000.0, 3000, timeout=0.3, protocol="oem")
    pump.initialize()
    world.inject("timeout")  # the pump executes but its answer is lost; the retransmission is not executed again
    pump.aspirate(1000.0)
    assert pump.position() == 600
    assert pump.valve() == "i"
    pump.close()


# ---------------------------------------------------------------- driver on recorded DT answers
def test_driver_writes_documented_dt_frames_and_parses_recorded_answers():
    port = RecordedPort([answer(READY, "1400"), answer(READY, "900"), answer(READY, "900"), answer(READY, "o"),
                         answer(READY, FIRMWARE), answer(READY | 3)])
    pump = CavroPump("unused", 12, port=port)
    assert pump.speeds() == {"start": 1400, "top": 900, "cutoff": 900}
    assert pump.valve() == "o"
    assert pump.firmware() == FIRMWARE
    with pytest.raises(PumpError, match="invalid operand") as e:
        pump.command("A3001")
    assert e.value.code == 3
    assert port.written == [b"/<?1\r", b"/<?2\r", b"/<?3\r", b"/<?6\r", b"/<&\r", b"/<A3001R\r"]
    assert parse_reply(b"/0`\x03\r\n") == (True, 0, "")
    assert parse_reply(b"/0i\x03\r\n") == (True, 9, "")
    for bad in (b"garbage\r\n", b"/0\x20\x03\r\n", b"/0\xf0\x03\r\n"):
        with pytest.raises(ProtocolError):
            parse_reply(bad)
