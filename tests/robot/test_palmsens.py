"""MethodSCRIPT conformance: the emulator frames its output as the MethodSCRIPT documentation describes (``e``, a
measurement loop between ``M…`` and ``*``, packets with metadata, the closing empty line) and answers ``t``, ``i`` and
``Z``; the driver parses recorded output with every documented line type. Reference: PalmSens MethodSCRIPT
documentation, sections "Communication protocol" (t, i, Z and their answers) and "Output" (data packages, variable
types, metadata, loop and scan markers, errors), and PalmSens' public example parsers that read it."""

import pytest

from robot.drivers import methodscript as ms
from robot.drivers.palmsens import Potentiostat
from robot.errors import PotentiostatError, ProtocolError
from robot.sim.palmsens import FIRMWARE, SERIAL, PotentiostatEmulator
from robot.sim.world import Fluid, World
from tests.robot.wire import RecordedPort, exchange

SCRIPT_OUTPUT = [
    b"e\n",
    b"M0000\n",
    b"Pdc80C3500 ;cc800005E ,10,20F;cd7FFFFF6 ,10,20F\n",
    b"Pdc8036B0F ;cc8000064 ,12,20F;cd7FFFFF0 ,10,20F,4010\n",
    b"*\n",
    b"\n",
]


@pytest.fixture
def world():
    w = World(seed=3)
    w.reservoirs[2] = Fluid({"COC(=O)OC": 0.7, "O=C1OCCO1": 0.3}, salt_molality=1.0, density_g_ml=1.25)
    w.vial_g = {2: 2.0}
    w.fill_cell()
    return w


@pytest.fixture
def emu(world, start_emulator):
    return start_emulator(PotentiostatEmulator, world)


def test_emulator_answers_identification_and_abort(emu):
    assert exchange(emu.url, b"t\n") == ("\n".join(FIRMWARE) + "\n").encode()
    assert exchange(emu.url, b"i\n") == f"i{SERIAL}\n".encode()
    assert exchange(emu.url, b"Z\n") == b"Z!0006\n"  # no script is running


def test_emulator_frames_a_measurement_loop(emu):
    raw = exchange(emu.url, ms.eis_script(800e3, 14e3, 3).encode()).decode()
    lines = raw.split("\n")
    assert lines[:2] == ["e", "M0000"]
    assert lines[-3:] == ["*", "", ""]  # loop closed, then the empty line that ends the output
    packets = lines[2:-3]
    assert len(packets) == 3 and all(p.startswith("P") for p in packets)
    variables = ms.parse_variables(packets[0])
    assert [v.type for v in variables] == ["dc", "cc", "cd"]
    assert variables[1].status == 0 and variables[1].current_range == 0x0F


def test_a_version_query_does_not_stick_to_the_next_script(emu):
    raw = exchange(emu.url, b"t\n" + ms.eis_script(800e3, 14e3, 2).encode()).decode()
    assert raw.startswith("\n".join(FIRMWARE) + "\ne\nM0000\n")


def test_driver_parses_recorded_output_with_loop_markers_and_metadata():
    port = RecordedPort([b"".join(SCRIPT_OUTPUT)])
    sp = Potentiostat("unused", port=port).eis(800e3, 14e3, 2)
    assert sp.frequency_Hz == [800e3, 224015.0]  # 0x80C3500 − 2^27 = 800000, 0x8036B0F − 2^27 = 224015
    assert sp.z_real_ohm == [94.0, 100.0] and sp.z_imag_ohm == [-10.0, -16.0]
    assert sp.flags == ["potentiostat_overload"]  # status 2 on the second point's Z_real


def test_driver_accepts_plain_loops_scans_and_text_lines():
    out = ms.OutputParser()
    for line in ["L\n", "Thello\n", "M0005\n", "Pda8000000 \n", "-\n", "C\n", "Pda8000001 \n", "-\n", "*\n",
                 "+\n", "\n"]:
        out.feed(line)
    assert out.done and out.out.loops == ["L", "M0005", "C"] and out.out.text == ["hello"]
    assert len(out.out.packets) == 2
    for bad in (["*\n"], ["M0000\n", "\n"], ["L\n", "*\n"], ["Q\n"]):
        p = ms.OutputParser()
        with pytest.raises(ValueError):
            for line in bad:
                p.feed(line)


def test_driver_reports_script_errors_with_their_position():
    port = RecordedPort([b"e\nM0000\n!4003: Line 13, Col 5\n"])
    with pytest.raises(PotentiostatError, match="4003") as e:
        Potentiostat("unused", port=port).eis(800e3, 14e3, 2)
    assert "Line 13" in str(e.value)
    with pytest.raises(PotentiostatError, match="0003"):
        Potentiostat("unused", port=RecordedPort([b"!0003\n"])).run("e\n\n")
    with pytest.raises(ProtocolError, match="did not accept"):
        Potentiostat("unused", port=RecordedPort([b"x\n"])).run("e\n\n")


def test_driver_identity_and_abort_against_recorded_and_emulated_instruments(emu):
    port = RecordedPort([b"iES4HR21A0001\n", b"tes4_hr1.3#Jan 26 2024\n" + b"R*\n", b"Z\n" + b"*\n\n"])
    pot = Potentiostat("unused", port=port)
    assert pot.identity() == {"potentiostat": "ES4HR21A0001", "potentiostat_firmware": "es4_hr1.3#Jan 26 2024 R"}
    assert pot.abort() is True  # a running script was aborted and its output read to the end
    assert port.written == [b"i\n", b"t\n", b"\nZ\n"]
    live = Potentiostat(emu.url, timeout=2)
    assert live.serial_number() == SERIAL
    assert live.firmware().startswith("es4_hr")
    assert live.abort() is False
    assert len(live.eis(800e3, 14e3, 4).frequency_Hz) == 4
    live.close()
