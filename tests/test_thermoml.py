import pytest

from model.data import thermoml
from model.data.loaders import load_table

HEADER = ("Unnamed: 0;filename;x1;x2;SMILES1;SMILES2;cas1;cas2;InChI1;InChI2;components;Mole fraction;"
          "Temperature, K;Pressure, kPa;{col};{col}_std\n")


def test_units_are_converted(tmp_path):
    p = tmp_path / "eme_bin.csv"
    col = thermoml.FILES["excess_molar_enthalpy"].column
    p.write_text(HEADER.format(col=col) + "1;doc1;methanol;water;CO;O;a;b;i;j;methanol__water;0.2;298.15;101.3;-0.6419;0.0028\n")
    df, mixtures = thermoml.load(p, "excess_molar_enthalpy")
    assert df["target"][0] == pytest.approx(-641.9)  # kJ/mol → J/mol
    assert mixtures[0].fractions() == {"CO": 0.2, "O": pytest.approx(0.8)}
    v = tmp_path / "emv_bin.csv"
    col = thermoml.FILES["excess_molar_volume"].column
    v.write_text(HEADER.format(col=col) + "1;doc1;methanol;water;CO;O;a;b;i;j;methanol__water;0.5;298.15;101.3;-1.2e-06;1e-9\n")
    df, _ = thermoml.load(v, "excess_molar_volume")
    assert df["target"][0] == pytest.approx(-1.2)  # m³/mol → cm³/mol


@pytest.mark.realdata
@pytest.mark.parametrize("prop,rows", [("excess_molar_enthalpy", 3135), ("excess_molar_volume", 795)])
def test_real_thermoml_files(real_data_dir, prop, rows):
    table, info = load_table(prop, real_data_dir)
    assert len(table) == rows and table.width == 2
    assert abs(table.y).max() < (3000 if prop == "excess_molar_enthalpy" else 5)  # J/mol, cm³/mol scales
