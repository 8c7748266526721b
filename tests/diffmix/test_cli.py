"""Command-line contracts: train and evaluate, predict's record format, admin create-key's last line, db upgrade."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from diffmix.cli import app
from tests.db.test_migrations import HEAD

RECORD = {"components": [{"smiles": "O=C1OCCO1", "amount": 1.506}, {"smiles": "[Li+].F[P-](F)(F)(F)(F)F", "amount": 0.3006}],
          "basis": "mass", "temperature_K": 298.15}


def test_predict_echoes_records_with_prediction(tmp_path, tiny_models_dir):
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(json.dumps({**RECORD, "temperature_K": t}) for t in (280.0, 300.0, 320.0)) + "\n")
    r = CliRunner().invoke(app, ["predict", "--property", "ionic_conductivity", "--input", str(f),
                                 "--model", str(tiny_models_dir / "ionic_conductivity")])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert [row["temperature_K"] for row in rows] == [280.0, 300.0, 320.0]
    assert all(row["unit"] == "mS/cm" and row["prediction"] > 0 and row["std"] >= 0 for row in rows)


@pytest.mark.parametrize("line,message", [
    ('{"components": [{"smiles": "C1CC", "amount": 1}, {"smiles": "O", "amount": 1}], "basis": "mole", "temperature_K": 300}', "invalid SMILES"),
    ('{"components": [{"smiles": "O=C1OCCO1", "amount": 1.5}, {"smiles": "[Li+].[Cl-]", "amount": 0.1}], "temperature_K": 300}', "'basis' is required"),
    ("not json", "not valid JSON"),
    (json.dumps({**RECORD, "temperature_K": 900}), "outside"),
])
def test_a_bad_record_is_an_error_line_and_the_others_are_predicted(tmp_path, tiny_models_dir, line, message):
    """One typo does not discard a file: the bad record is reported with its number and line on stderr, the good
    ones are written; --on-error fail (default) exits 2, skip exits 0."""
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(RECORD) + "\n\n" + line + "\n" + json.dumps({**RECORD, "id": "last"}) + "\n")
    args = ["predict", "--property", "ionic_conductivity", "--input", str(f),
            "--model", str(tiny_models_dir / "ionic_conductivity")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert r.stderr.splitlines()[0].startswith("error: record 2 (line 3): ") and message in r.stderr
    assert "1 of 3 records had errors; 2 predicted" in r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == 2 and rows[1]["id"] == "last" and all(row["prediction"] > 0 for row in rows)
    assert "in_domain" in rows[0]["domain"]
    skip = CliRunner().invoke(app, [*args, "--on-error", "skip"])
    assert skip.exit_code == 0 and skip.stdout == r.stdout


@pytest.mark.parametrize("change,message", [
    ({"hyper": {"pressure_head": True}}, "has no option 'pressure_head'"),  # an option from elsewhere
    ({"format_version": 99}, "checkpoint format 99"),
])
def test_a_checkpoint_this_version_cannot_read_is_refused_not_loaded_as_another_model(tmp_path, tiny_models_dir,
                                                                                    change, message):
    model = tmp_path / "model"
    shutil.copytree(tiny_models_dir / "ionic_conductivity", model)
    config = json.loads((model / "config.json").read_text())
    for key, value in change.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    (model / "config.json").write_text(json.dumps(config))
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(RECORD) + "\n")
    r = CliRunner().invoke(app, ["predict", "--property", "ionic_conductivity", "--input", str(f), "--model", str(model)])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert '"prediction"' not in r.output


def test_unknown_property_is_a_clear_error(tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(RECORD) + "\n")
    r = CliRunner().invoke(app, ["predict", "--property", "viscosity", "--input", str(f)])
    assert r.exit_code == 2 and "unknown property" in r.output


def test_db_upgrade_and_create_key(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    r = CliRunner().invoke(app, ["admin", "create-key", "--role", "robot", "--url", url])
    assert r.exit_code == 2 and "db upgrade" in r.output
    r = CliRunner().invoke(app, ["db", "upgrade", "--url", url])
    assert r.exit_code == 0 and HEAD in r.output
    r = CliRunner().invoke(app, ["admin", "create-key", "--role", "robot", "--url", url])
    assert r.exit_code == 0
    key = r.output.strip().splitlines()[-1]
    assert key.startswith("dmx_") and " " not in key
    from db import crud
    from db.session import make_engine, make_sessionmaker

    e = make_engine(url)
    with make_sessionmaker(e)() as s:
        assert crud.key_for(s, key).role == "robot"
        from sqlalchemy import select

        from db.models import AuditLog

        made = s.scalars(select(AuditLog).where(AuditLog.action == "create")).one()
        assert made.detail["via"].startswith("cli:")  # attributed: who made it on which machine
    e.dispose()
    assert CliRunner().invoke(app, ["admin", "create-key", "--role", "wizard", "--url", url]).exit_code == 2


def _write_enthalpy_file(directory):
    """A small eme_bin.csv in the ThermoML export's layout: three binary systems, a symmetric x1·x2 excess term."""
    from model.data import thermoml

    col = thermoml.FILES["excess_molar_enthalpy"].column
    lines = ["Unnamed: 0;filename;x1;x2;SMILES1;SMILES2;cas1;cas2;InChI1;InChI2;components;Mole fraction;"
             f"Temperature, K;Pressure, kPa;{col};{col}_std"]
    systems = [("CO", "O", 1.0), ("CCO", "O", -0.8), ("CO", "CC(C)=O", 2.0)]
    row = 0
    for a, b, w in systems:
        for x in np.linspace(0.05, 0.95, 30):
            row += 1
            h = w * x * (1 - x)  # kJ/mol
            lines.append(f"{row};doc{row % 4};{a};{b};{a};{b};c1;c2;i1;i2;{a}__{b};{x:.4f};298.15;101.3;{h:.6f};0.001")
    (directory / "eme_bin.csv").write_text("\n".join(lines) + "\n")


def test_training_in_worker_processes_gives_the_same_weights_every_time(tmp_path):
    """Members trained in spawned worker processes depend only on their seeds, split and thread count: the same
    command twice gives the same weights, and another seed does not."""
    from safetensors.torch import load_file

    _write_enthalpy_file(tmp_path)

    def run(name, seed):
        out = tmp_path / name
        r = CliRunner().invoke(app, ["train", "--property", "excess_molar_enthalpy", "--model", "diffmix", "--order", "2",
                                     "--ensemble", "2", "--workers", "2", "--max-epochs", "5", "--hidden", "8",
                                     "--seed", str(seed), "--data-dir", str(tmp_path), "--out", str(out),
                                     "--no-progress"])
        assert r.exit_code == 0, r.output
        return [load_file(out / f"member_{m}.safetensors") for m in range(2)]

    first, again, other = run("a", 0), run("b", 0), run("c", 1)
    for a, b in zip(first, again):
        assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    assert any(not bool((first[0][k] == other[0][k]).all()) for k in first[0])


def test_train_then_evaluate_from_the_command_line(tmp_path):
    _write_enthalpy_file(tmp_path)
    out = tmp_path / "runs" / "h"
    r = CliRunner().invoke(app, ["train", "--property", "excess_molar_enthalpy", "--model", "diffmix", "--order", "2",
                                 "--ensemble", "2", "--workers", "2", "--max-epochs", "3", "--hidden", "8",
                                 "--huber-beta", "0.01", "--weight-decay", "1e-4", "--head-weight-decay", "1e-3",
                                 "--data-dir", str(tmp_path),
                                 "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["unit"] == "J/mol" and summary["test_mae"] == summary["permuted_mae"]
    assert summary["workers"] == 2 and len(summary["member_test_mae"]) == 2
    members = np.array(summary["member_test_mae"])  # the printed mean ± std is of these
    assert float(summary["test_mae"].split(" ± ")[0]) == pytest.approx(members.mean(), rel=1e-3, abs=1e-4)
    config = json.loads((out / "config.json").read_text())
    assert config["members"] == 2 and config["workers"] == 2 and config["hyper"]["order"] == 2
    assert config["environment"]["threads_per_member"] >= 1 and config["environment"]["packages"]["torch"]
    assert config["train_config"]["huber_beta"] == 0.01 and config["train_config"]["weight_decay"] == 1e-4
    assert config["train_config"]["head_weight_decay"] == 1e-3
    # the domain rebuilt from the members' training rows knows the three binary systems as pairs
    written = json.loads((out / "domain.json").read_text())
    (out / "domain.json").unlink()
    r = CliRunner().invoke(app, ["domain", "--model", str(out), "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["solvent_pairs"] == 3 and json.loads((out / "domain.json").read_text()) == written
    assert set(written["pairs"]) == {"CO.O", "CCO.O", "CC(C)=O.CO"}
    r = CliRunner().invoke(app, ["evaluate", "--runs", str(tmp_path / "runs"), "--plots", str(tmp_path / "plots"),
                                 "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "diffmix (N=2)" in r.stdout and list((tmp_path / "plots").glob("*.png"))
    # the stored splits are row numbers: other data (here: two rows fewer) is refused, not silently mis-scored
    lines = (tmp_path / "eme_bin.csv").read_text().splitlines()
    other = tmp_path / "other"
    other.mkdir()
    (other / "eme_bin.csv").write_text("\n".join(lines[:-2]) + "\n")
    r = CliRunner().invoke(app, ["evaluate", "--runs", str(tmp_path / "runs"), "--data-dir", str(other)])
    assert r.exit_code != 0 and "was trained on 90 rows" in r.output


def test_train_rejects_an_unknown_model_before_touching_anything(tmp_path):
    _write_enthalpy_file(tmp_path)
    r = CliRunner().invoke(app, ["train", "--property", "excess_molar_enthalpy", "--model", "transformer",
                                 "--data-dir", str(tmp_path), "--out", str(tmp_path / "run")])
    assert r.exit_code != 0 and "unknown model 'transformer'" in r.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option, message", [
    (["--weight-ema", "1"], "weight_ema must lie strictly between 0 and 1"),
    (["--huber-beta", "inf"], "huber_beta must be a finite number"),
    (["--head-weight-decay", "1e-3", "--head-decay-modules", "coef"], "this model's head modules are"),
    (["--blend-consistency", "0.1"], "blend consistency is a term for conductivity"),
])
def test_train_turns_a_setting_the_model_cannot_take_into_a_one_line_error(tmp_path, option, message):
    _write_enthalpy_file(tmp_path)
    r = CliRunner().invoke(app, ["train", "--property", "excess_molar_enthalpy", "--data-dir", str(tmp_path),
                                 "--out", str(tmp_path / "run"), "--max-epochs", "1", "--no-progress", *option])
    assert r.exit_code == 2, r.output  # fail()'s code; an exception escaping the command would give 1
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "run").exists()


def test_data_info_reports_each_file_present_with_what_was_kept_dropped_or_corrected(tmp_path):
    _write_enthalpy_file(tmp_path)
    with (tmp_path / "eme_bin.csv").open("a") as f:  # a row without a mole fraction is dropped, and counted
        f.write("999;doc9;CO;O;CO;O;c1;c2;i1;i2;CO__O;;298.15;101.3;0.1;0.001\n")
    r = CliRunner().invoke(app, ["data", "info", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["eme_bin"] == {"file": "eme_bin.csv", "rows_read": 91, "rows_kept": 90,
                              "rows_dropped": {"no Mole fraction": 1}, "rows_mirrored": 0, "errata": {}}
    assert "calisol23" not in out and "emv_bin" not in out


SPACE = {"salt": "[Li+].F[P-](F)(F)(F)(F)F", "solvents": ["CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"],
         "salt_fraction": 0.08}


@pytest.mark.parametrize("strategy", ["learning", "random"])
def test_campaign_simulate_runs_a_whole_campaign_against_the_labs_truth(tmp_path, strategy):
    from model.optimize.design import DesignSpec
    from model.predict import Predictor
    from robot.sim.truth import from_table

    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    lab = tmp_path / "lab.toml"
    lab.write_text(open("robot/labs/sim.toml").read() + '\n[truth]\ninstrument_bias = 0.9\nnoise = 0.0\n')
    r = CliRunner().invoke(app, ["campaign", "simulate", "--space", str(tmp_path / "space.json"), "--lab", str(lab),
                                 "--strategy", strategy, "--budget", "6", "--batch", "3", "--seed", "1", "--json",
                                 "--temperature-K", "298.15"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    *exps, last = rows
    assert [e["index"] for e in exps] == list(range(1, 7)) and [e["batch"] for e in exps] == [1, 1, 1, 2, 2, 2]
    truth = from_table(None)
    obj = DesignSpec.parse({"space": SPACE, "temperature_K": 298.15}).objective_for(
        Predictor.load("ionic_conductivity").ensemble)
    for e in exps:
        assert set(e) >= {"index", "batch", "source", "solvent_mass_fractions", "molality", "made", "temperature_K",
                          "predicted", "std", "measured", "truth", "score"}
        assert abs(sum(e["solvent_mass_fractions"].values()) - 1) < 1e-9 and abs(e["temperature_K"] - 298.15) < 0.2
        # the robot makes the recipe with the pumps' error (1 %), and the truth is that of what it made
        made = e["made"]
        assert made["molality"] != e["molality"]
        assert all(abs(made["solvent_mass_fractions"].get(k, 0) - v) < 0.05 for k, v in e["solvent_mass_fractions"].items())
        assert abs(made["molality"] / e["molality"] - 1) < 0.05
        expected = truth.kappa(made["solvent_mass_fractions"], SPACE["salt"], made["molality"], e["temperature_K"])
        assert e["truth"] == pytest.approx(expected) and e["measured"] == pytest.approx(0.9 * expected)
    assert any(e["made"]["solvent_mass_fractions"] != e["solvent_mass_fractions"] for e in exps)
    # the honest score: the truth (at the planned temperature) of the recipe whose measured reading was best so far
    for i, e in enumerate(exps):
        best = max(exps[: i + 1], key=lambda x: x["measured"])
        assert e["score"] == pytest.approx(truth.kappa(best["solvent_mass_fractions"], SPACE["salt"], best["molality"],
                                                       298.15))
    s = last["summary"]
    assert s["strategy"] == strategy and s["measured"] == 6 and s["score"] == exps[-1]["score"]
    assert s["true_optimum"] >= s["score"] * (1 - 1e-3) and s["true_optimum"] >= s["recommended_truth"] * (1 - 1e-3)
    assert s["recommended_truth"] == pytest.approx(truth.kappa(s["recommended"], SPACE["salt"], s["recommended_molality"],
                                                               298.15))
    if strategy == "learning":  # the second batch is predicted by the posterior: it knows the cell reads 10 % low
        first = np.mean([abs(e["predicted"] - e["measured"]) for e in exps[:3]])
        second = np.mean([abs(e["predicted"] - e["measured"]) for e in exps[3:]])
        assert second < 0.5 * first
    made = [obj.space.point_of(_mole_fractions(e["solvent_mass_fractions"], obj)) for e in exps]
    assert obj.space.is_feasible(np.array(made), tol=1e-6).all()


def _mole_fractions(mass, obj):
    from model.chem import species

    n = {k: v / species(k).molar_mass for k, v in mass.items()}
    return {k: v / sum(n.values()) * (1 - 2 * 0.08) for k, v in n.items()} | {"[Li+]": 0.08, "F[P-](F)(F)(F)(F)F": 0.08}


@pytest.mark.parametrize("args, message", [
    (["--strategy", "dragonfly"], "choose one of learning"),
    (["--space", "/nonexistent/space.json"], "not found"),
    (["--lab", "/nonexistent/lab.toml"], "not found"),
])
def test_campaign_simulate_refuses_bad_options_with_one_line(tmp_path, args, message):
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    base = ["campaign", "simulate", "--space", str(tmp_path / "space.json"), "--budget", "2"]
    r = CliRunner().invoke(app, base + args)
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


def test_everyday_errors_are_two_lines_and_exit_2_and_debug_shows_the_traceback(capsys):
    from sqlalchemy.exc import OperationalError

    from diffmix.cli import everyday_error, main
    from robot.client import UNREACHABLE, ServiceError

    with pytest.raises(SystemExit) as e:
        main(["db", "upgrade", "--url", "postgresql://postgres@127.0.0.1:1/nowhere"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 2, err
    assert err.startswith("error: database unreachable") and "port 1" in err and "Traceback" not in err
    with pytest.raises(OperationalError):
        main(["db", "upgrade", "--url", "postgresql://postgres@127.0.0.1:1/nowhere", "--debug"])
    down = everyday_error(ServiceError(UNREACHABLE, "service unreachable after 8 attempts", "http://lab:8000"))
    assert down is not None and down.startswith("service unreachable at http://lab:8000")
    assert "check the key and that its role" in (everyday_error(ServiceError(403, "role robot may not", "http://x")) or "")
    assert everyday_error(ZeroDivisionError()) is None  # a bug keeps its traceback


def test_a_refusal_is_one_line_without_the_debug_hint(capsys, monkeypatch):
    """The service refusing what was typed says all there is; only a failure of the machinery (a database or
    service down) adds the --debug hint."""
    import diffmix.cli as cli
    from robot.client import ServiceError

    def refuse(*_a, **_k):
        raise ServiceError(422, "body.budget: Input should be greater than 0", "http://lab:8000")

    monkeypatch.setattr(cli, "app", refuse)
    with pytest.raises(SystemExit) as e:
        cli.main(["campaign", "list"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.strip().splitlines() == [
        "error: the service at http://lab:8000 refused: body.budget: Input should be greater than 0"], err


def test_a_bad_setting_in_the_environment_is_one_line_naming_the_variable_and_nothing_starts(tmp_path, monkeypatch, capsys):
    from diffmix.cli import main

    db = tmp_path / "never.db"
    monkeypatch.setenv("DIFFMIX_DATABASE_URL", f"sqlite:///{db}")
    for variable, value, rule in [("DIFFMIX_DOMAIN_MIN_PAIR_ROWS", "0", "greater than or equal to 1"),
                                  ("DIFFMIX_DOMAIN_MIN_ROWS", "many", "valid integer")]:
        monkeypatch.setenv(variable, value)
        with pytest.raises(SystemExit) as e:
            main(["serve", "--port", "1"])
        err = capsys.readouterr().err
        # one line: a setting refused is a refusal of what was typed, with no --debug hint (issue 47, item 11)
        assert e.value.code == 2 and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"error: {variable}={value!r}: ") and rule in err and "Traceback" not in err
        monkeypatch.delenv(variable)
    assert not db.exists()


def test_campaign_commands_against_a_running_service(live, tmp_path):
    """create by names and °C, list, show, propose, pause, resume, cancel, results (table and CSV), --json."""
    from diffmix.cli import everyday_error
    from tests.robot.test_agent import run_with_known_cell

    env = {"DIFFMIX_SERVICE": live.url, "DIFFMIX_KEY": live.keys["operator"]}
    run = lambda *a: CliRunner().invoke(app, ["campaign", *a], env=env)
    r = run("create", "--name", "cli", "--salt", "LiPF6", "--solvents", "EC,DMC", "--lower", "0.2,0.2",
            "--upper", "0.8,0.8", "--salt-molality-range", "0.6", "1.4", "--temperature-C", "25", "--budget", "2")
    assert r.exit_code == 0, r.output
    cid = int(r.output.split()[1])
    c = live.call("GET", f"/v1/campaigns/{cid}").json()
    assert c["space"]["solvents"] == ["O=C1OCCO1", "COC(=O)OC"] and c["temperature_K"] == pytest.approx(298.15)
    assert c["space"]["bounds_basis"] == "mass" and c["space"]["salt_molality_range"] == [0.6, 1.4]
    r = run("propose", str(cid), "--n", "2")
    assert r.exit_code == 0 and r.output.count(" m LiPF6 in EC:DMC ") == 2, r.output
    run_with_known_cell(live, tmp_path, "cli-robot")
    r = run("list")
    assert r.exit_code == 0 and "completed" in r.output and "2/2" in r.output and "mS/cm" in r.output, r.output
    r = run("show", str(cid))
    assert r.exit_code == 0 and r.output.count("measured") >= 3 and "25.0 °C" in r.output, r.output
    # the evidence line (2 measurements: too few to weigh) and each experiment's source (a first batch of 2)
    assert "evidence: too few measurements (2) to weigh DiffMix against the lab" in r.output, r.output
    assert "exploit" in r.output and "space-filling" in r.output, r.output
    r = run("results", str(cid))
    assert r.exit_code == 0 and r.output.count("LiPF6 in EC:DMC") == 2, r.output
    out = tmp_path / "r.csv"
    assert run("results", str(cid), "--csv", str(out)).exit_code == 0
    head, smiles, *rows = out.read_text().splitlines()
    assert "EC mass fraction" in head and "O=C1OCCO1" in smiles and len(rows) == 2
    shown = json.loads(run("show", str(cid), "--json").output)
    assert shown["campaign"]["id"] == cid and shown["evidence"]["n"] == 2

    r = run("create", "--name", "second", "--salt", "LiPF6", "--solvents", "EC,DMC", "--salt-molality", "1",
            "--temperature-K", "303.15", "--budget", "4")
    cid2 = int(r.output.split()[1])
    assert "is paused" in run("pause", str(cid2)).output
    assert "is active" in run("resume", str(cid2)).output
    assert "is cancelled" in run("cancel", str(cid2)).output
    again = run("cancel", str(cid2))  # a cancelled campaign cannot be cancelled again: the service says why
    assert "refused: campaign" in (everyday_error(again.exception) or "") and "is cancelled" in str(again.exception)


def test_campaign_create_errors_say_what_to_write(live):
    from diffmix.cli import everyday_error

    env = {"DIFFMIX_SERVICE": live.url, "DIFFMIX_KEY": live.keys["operator"]}
    base = ["campaign", "create", "--name", "x", "--salt", "LiPF6", "--solvents", "EC,DMC"]
    r = CliRunner().invoke(app, [*base, "--temperature-C", "25"], env=env)
    assert r.exit_code == 2 and "give the salt content once" in r.output
    r = CliRunner().invoke(app, [*base, "--salt-molality", "1"], env=env)
    assert r.exit_code == 2 and "--temperature-C or --temperature-K" in r.output
    r = CliRunner().invoke(app, [*base[:-1], "EC,EMCC", "--salt-molality", "1", "--temperature-C", "25"], env=env)
    assert "did you mean" in (everyday_error(r.exception) or "") and "EMC" in str(r.exception)
    r = CliRunner().invoke(app, ["campaign", "list"], env={**env, "DIFFMIX_KEY": "dmx_wrong"})
    assert "key rejected" in (everyday_error(r.exception) or "")


def _commands(cmd, path=()):
    subs = getattr(cmd, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from _commands(sub, (*path, name))
    else:
        yield " ".join(path), cmd


def test_every_option_and_argument_of_every_command_is_described_and_choices_are_listed():
    import typer

    undocumented, unlisted = [], []
    for path, cmd in _commands(typer.main.get_command(app)):
        for p in cmd.params:
            if p.name != "help" and not getattr(p, "help", None):
                undocumented.append(f"{path} {p.opts[0] if p.opts else p.name}")
            # options that take one of a few words say which ones
            if p.param_type_name == "option" and p.opts[0] in ("--property", "--strategy", "--surrogate", "--split",
                                                                "--bounds-basis", "--status", "--on-error", "--model-kind"):
                if "|" not in (p.help or "") and "one of" not in (p.help or ""):
                    unlisted.append(f"{path} {p.opts[0]}")
    assert not undocumented, undocumented
    assert not unlisted, unlisted


def test_a_cross_validated_split_trains_one_member_per_fold_and_refuses_more_folds_than_groups(tmp_path):
    _write_enthalpy_file(tmp_path)  # three systems
    base = ["train", "--property", "excess_molar_enthalpy", "--model", "diffmix", "--order", "2", "--split",
            "components_folds", "--max-epochs", "2", "--hidden", "8", "--workers", "1", "--data-dir", str(tmp_path),
            "--no-progress"]
    r = CliRunner().invoke(app, [*base, "--ensemble", "4", "--out", str(tmp_path / "four")])
    assert r.exit_code == 2 and "4 folds need between 2 and 3" in r.output
    assert not (tmp_path / "four").exists()  # refused before any training
    r = CliRunner().invoke(app, [*base, "--ensemble", "3", "--out", str(tmp_path / "three")])
    assert r.exit_code == 0, r.output
    from model.data.loaders import load_table
    from model.evaluate import load_splits

    table, _ = load_table("excess_molar_enthalpy", tmp_path)
    systems = [set(np.asarray(table.groups["system"])[s.test]) for s in load_splits(tmp_path / "three", table)]
    assert sorted(len(s) for s in systems) == [1, 1, 1] and len(set.union(*systems)) == 3  # each system tested once


def test_a_service_url_without_a_scheme_is_taken_as_http():
    from diffmix.campaign_cli import _client

    assert str(_client("127.0.0.1:8791", "k").http.base_url) == "http://127.0.0.1:8791"
    assert str(_client("https://lab.example:8000/", "k").http.base_url) == "https://lab.example:8000"


def test_a_trailing_comma_in_the_solvents_is_refused_and_a_repeated_solvent_named():
    from model.errors import DiffMixInputError
    from model.optimize.space import CompositionSpace

    r = CliRunner().invoke(app, ["campaign", "create", "--name", "x", "--salt", "LiPF6", "--solvents", "EC,DMC,",
                                 "--salt-molality", "1", "--temperature-C", "25", "--budget", "2"],
                           env={"DIFFMIX_SERVICE": "http://127.0.0.1:9", "DIFFMIX_KEY": "k"})
    assert r.exit_code != 0 and "has an empty name (a comma too many?)" in r.output, r.output
    with pytest.raises(DiffMixInputError, match="solvent 'O=C\\(OC\\)OC' is listed twice \\(the same molecule as 'COC\\(=O\\)OC'\\)"):
        CompositionSpace("[Li+].F[P-](F)(F)(F)(F)F", ["O=C1OCCO1", "COC(=O)OC", "O=C(OC)OC"], (0.08, 0.08))
