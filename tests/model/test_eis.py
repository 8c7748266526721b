"""EIS analysis on synthetic spectra with known answers."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from diffmix.cli import app
from model import eis


def spectrum(r_b, q, alpha=0.85, c_stray=5e-12, f=None, noise=0.0, seed=0):
    f = np.geomspace(800e3, 14e3, 5) if f is None else f
    z = eis.circuit(np.array([np.log(r_b), np.log(c_stray), np.log(q), alpha]), f)
    if noise:
        rng = np.random.default_rng(seed)
        z = z * (1 + noise * (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))))
    return f, z.real, z.imag


def test_min_phase_on_the_plateau():
    f, zr, zi = spectrum(100.0, 2e-5)
    res = eis.analyze(f, zr, zi)
    assert res.method == "min-phase" and not res.flags
    assert res.resistance_ohm == pytest.approx(100.0, rel=0.01)
    assert res.conductivity_mS_cm(1.0) == pytest.approx(10.0, rel=0.01)


def test_plateau_above_the_band_needs_the_fit():
    # weak electrode capacitance: at 14–800 kHz the CPE still adds real impedance, the phase never nears zero
    f = np.geomspace(800e3, 14e3, 5)
    f, zr, zi = spectrum(100.0, 2e-8, alpha=0.8, f=f, noise=0.001)
    naive = eis.min_phase(f, zr, zi)
    assert naive.flags == ["plateau_not_reached"] and naive.resistance_ohm > 110  # overestimates R
    res = eis.analyze(f, zr, zi, "auto")
    assert res.method == "fit" and "plateau_not_reached" in res.flags
    assert res.resistance_ohm == pytest.approx(100.0, rel=0.03)
    assert res.fit_residual < 0.01


def test_fit_on_a_wide_sweep_with_stray_capacitance():
    f = np.geomspace(1e6, 10, 31)
    f, zr, zi = spectrum(2500.0, 1e-7, alpha=0.9, c_stray=2e-11, f=f, noise=0.002, seed=3)
    res = eis.fit(f, zr, zi)
    assert res.resistance_ohm == pytest.approx(2500.0, rel=0.02)
    assert res.fit_params["alpha"] == pytest.approx(0.9, abs=0.03)


def test_bad_spectra():
    with pytest.raises(ValueError):
        eis.analyze([1, 2], [1], [1])
    with pytest.raises(ValueError):
        eis.analyze([1, -2, 3], [1, 1, 1], [1, 1, 1])
    with pytest.raises(ValueError):
        eis.analyze([1, 2], [1, 1], [-1, -1], method="guess")


def test_cli(tmp_path):
    f, zr, zi = spectrum(100.0, 2e-8, alpha=0.8)
    p = tmp_path / "s.csv"
    np.savetxt(p, np.column_stack([f, zr, zi]), delimiter=",", header="frequency_Hz,z_real_ohm,z_imag_ohm", comments="")
    r = CliRunner().invoke(app, ["eis", "analyze", str(p), "--cell-constant", "1.0"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["method"] == "fit" and out["conductivity_mS_cm"] == pytest.approx(10.0, rel=0.03)
    assert set(out) >= {"resistance_ohm", "conductivity_mS_cm", "method", "phase_deg", "fit_residual"}
    bad = CliRunner().invoke(app, ["eis", "analyze", str(p), "--cell-constant", "-1"])
    assert bad.exit_code == 2 and "positive" in bad.output
