import numpy as np
import pytest

from model.data import thermoml
from model.data.loaders import load_table

HEADER = ("Unnamed: 0;filename;x1;x2;SMILES1;SMILES2;cas1;cas2;InChI1;InChI2;components;Mole fraction;"
          "Temperature, K;Pressure, kPa;{col};{col}_std\n")


def test_units_are_converted(tmp_path):
    p = tmp_path / "eme_bin.csv"
    col = thermoml.FILES["excess_molar_enthalpy"].column
    p.write_text(HEADER.format(col=col) + "1;doc1;methanol;water;CO;O;a;b;i;j;methanol__water;0.2;298.15;101.3;-0.6419;0.0028\n")
    df, mixtures, _ = thermoml.load(p, "excess_molar_enthalpy")
    assert df["target"][0] == pytest.approx(-641.9)  # kJ/mol → J/mol
    assert mixtures[0].fractions() == {"CO": 0.2, "O": pytest.approx(0.8)}
    v = tmp_path / "emv_bin.csv"
    col = thermoml.FILES["excess_molar_volume"].column
    v.write_text(HEADER.format(col=col) + "1;doc1;methanol;water;CO;O;a;b;i;j;methanol__water;0.5;298.15;101.3;-1.2e-06;1e-9\n")
    df, _, _ = thermoml.load(v, "excess_molar_volume")
    assert df["target"][0] == pytest.approx(-1.2)  # m³/mol → cm³/mol


def test_a_listed_mirrored_series_gets_its_fractions_flipped_and_is_counted(tmp_path, monkeypatch):
    col = thermoml.FILES["excess_molar_enthalpy"].column
    fix = thermoml.MirroredSeries("doc2", "ethanol__water", "test")
    monkeypatch.setitem(thermoml.MIRRORED, "eme_bin.csv", (fix,))
    p = tmp_path / "eme_bin.csv"
    p.write_text(HEADER.format(col=col)
                 + "1;doc1;ethanol;water;CCO;O;a;b;i;j;ethanol__water;0.2;298.15;101.3;-0.5;0\n"
                 + "2;doc2;ethanol;water;CCO;O;a;b;i;j;ethanol__water;0.2;298.15;101.3;-0.7;0\n"
                 + "3;doc2;methanol;water;CO;O;a;b;i;j;methanol__water;0.3;298.15;101.3;-0.6;0\n"
                 + "4;doc2;methanol;water;CO;O;a;b;i;j;methanol__water;;298.15;101.3;-0.6;0\n")
    df, mixtures, report = thermoml.load(p, "excess_molar_enthalpy")
    # only the listed (source, system) series is mirrored; the same source's other system and the same system
    # from another source are not
    assert [m.fractions()["O"] for m in mixtures] == [pytest.approx(0.8), pytest.approx(0.2), pytest.approx(0.7)]
    assert list(df["target"]) == pytest.approx([-500.0, -700.0, -600.0])
    assert report == {"rows_read": 4, "rows_kept": 3, "rows_dropped": {"no Mole fraction": 1}, "rows_mirrored": 1}


@pytest.mark.realdata
@pytest.mark.parametrize("prop,rows", [("excess_molar_enthalpy", 3135), ("excess_molar_volume", 795)])
def test_real_thermoml_files(real_data_dir, prop, rows):
    table, info = load_table(prop, real_data_dir)
    assert len(table) == rows and table.width == 2
    assert abs(table.y).max() < (3000 if prop == "excess_molar_enthalpy" else 5)  # J/mol, cm³/mol scales
    assert info["rows_read"] == info["rows_kept"] + sum(info["rows_dropped"].values())
    assert info["rows_mirrored"] == (9 if prop == "excess_molar_enthalpy" else 0)


@pytest.mark.realdata
def test_the_mirrored_pentanol_cyclohexane_series_now_agrees_with_the_other_source(real_data_dir):
    table, _ = load_table("excess_molar_enthalpy", real_data_dir)
    pentanol = table.vocab.index("CCCCCO")
    rows = np.where((table.groups["system"] == "1-pentanol__cyclohexane") & (np.abs(table.T - 298.15) < 0.01))[0]
    x = np.where(table.idx[rows, 0] == pentanol, table.x[rows, 0], table.x[rows, 1])
    ref = rows[table.groups["doi"][rows] == "j.fluid.2012.01.007"]
    fixed = table.groups["doi"][rows] == "je060368"
    assert len(ref) > 10 and fixed.sum() == 9
    order = np.argsort(x[~fixed])
    gap = np.abs(np.interp(x[fixed], x[~fixed][order], table.y[rows[~fixed]][order]) - table.y[rows[fixed]])
    assert gap.mean() < 0.05 * np.abs(table.y[rows[fixed]]).mean()  # 15 J/mol; 206 before the correction
    assert x[~fixed][np.argmax(table.y[rows[~fixed]])] < 0.5 and x[fixed][np.argmax(table.y[rows[fixed]])] < 0.5
