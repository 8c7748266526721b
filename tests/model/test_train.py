"""Ensemble training: members in parallel processes give exactly what training them one after another gives."""

import dataclasses

import numpy as np
import pytest
import torch

from model.properties import get_property
from model.train import TrainConfig, available_cores, train_ensemble
from tests.helpers import synthetic_conductivity_table, synthetic_excess_table

QUICK = TrainConfig(max_epochs=4, patience=4, batch_size=64, hidden=16)


def test_parallel_members_match_sequential_members_bit_for_bit():
    table = synthetic_excess_table(200)
    prop = get_property("excess_molar_enthalpy")
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, available_cores() // 2))  # the thread count each of two workers gets
    try:
        seq, seq_splits = train_ensemble(table, prop, "diffmix", "random", 3, 7, QUICK, progress=False, workers=1)
    finally:
        torch.set_num_threads(before)
    par, par_splits = train_ensemble(table, prop, "diffmix", "random", 3, 7, QUICK, progress=False, workers=2)
    assert par.info["workers"] == 2 and seq.info["workers"] == 1
    # what the weights depend on besides code, data and seed is recorded with the run
    env = par.info["environment"]
    assert env["packages"]["torch"] == torch.__version__
    assert env["packages"]["numpy"] == np.__version__ and env["packages"]["rdkit"]
    assert env["threads_per_member"] == max(1, available_cores() // 2)
    assert seq.info["environment"]["threads_per_member"] == max(1, available_cores() // 2)  # the count set above
    # members come back in seed order, not completion order, each with its own split
    for a, b in zip(seq_splits, par_splits):
        assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    assert not np.array_equal(par_splits[0].test, par_splits[1].test)
    for a, b in zip(seq.members, par.members):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert [m["epochs"] for m in seq.info["member_info"]] == [m["epochs"] for m in par.info["member_info"]]


def test_a_failing_member_fails_the_whole_run_loudly():
    table = synthetic_excess_table(50)
    with pytest.raises(ValueError, match="no_such_model"):
        train_ensemble(table, get_property("excess_molar_enthalpy"), "no_such_model", "random", 2, 0, QUICK,
                       progress=False, workers=2)
    with pytest.raises(ValueError, match="at least 1"):
        train_ensemble(table, get_property("excess_molar_enthalpy"), "diffmix", "random", 2, 0, QUICK,
                       progress=False, workers=0)


def test_the_run_records_the_conductivity_fit_offset_and_a_bad_one_fails_before_training():
    table = synthetic_conductivity_table(80)
    prop = get_property("ionic_conductivity")
    ens, _ = train_ensemble(table, prop, "diffmix", "random", 1, 0, QUICK, progress=False)
    assert ens.info["train_config"]["log_offset"] == prop.log_offset == 1.0
    ens, _ = train_ensemble(table, prop, "gnn_only", "random", 1, 0, TrainConfig(max_epochs=1, hidden=16, log_offset=0.0),
                            progress=False)
    assert ens.info["train_config"]["log_offset"] == 0.0
    with pytest.raises(ValueError, match="log_offset must be a finite number"):
        train_ensemble(table, prop, "diffmix", "random", 2, 0, TrainConfig(log_offset=float("nan")), progress=False,
                       workers=2)


def test_the_run_records_the_huber_beta_of_its_property_or_its_own():
    prop = get_property("excess_molar_enthalpy")
    table = synthetic_excess_table(80)
    ens, _ = train_ensemble(table, prop, "diffmix", "random", 1, 0, QUICK, progress=False)
    assert ens.info["train_config"]["huber_beta"] == prop.huber_beta == 0.005
    ens, _ = train_ensemble(synthetic_conductivity_table(80), get_property("ionic_conductivity"), "gnn_only", "random",
                            1, 0, QUICK, progress=False)
    assert ens.info["train_config"]["huber_beta"] == 0.05
    ens, _ = train_ensemble(table, prop, "gnn_only", "random", 1, 0, dataclasses.replace(QUICK, huber_beta=0.0),
                            progress=False)
    assert ens.info["train_config"]["huber_beta"] == 0.0
    with pytest.raises(ValueError, match="huber_beta must be a finite number"):
        train_ensemble(table, prop, "diffmix", "random", 2, 0, TrainConfig(huber_beta=float("inf")), progress=False,
                       workers=2)


def test_head_weight_decay_reaches_the_mixture_head_and_leaves_the_encoder_alone():
    from model.nn.models import build
    from model.train import parameter_groups

    model = build("diffmix", "vft", log_scale=True, hidden=16)
    encoder = {id(p) for p in model.encoder.parameters()}
    groups = parameter_groups(model, TrainConfig(weight_decay=1e-6, head_weight_decay=1e-3))
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())  # every weight once, none twice
    by_decay = {g["weight_decay"]: {id(p) for p in g["params"]} for g in groups}
    assert by_decay[1e-6] == encoder
    assert by_decay[1e-3] and not by_decay[1e-3] & encoder
    # unset, the head has the encoder's decay (the optimiser of every run before the option)
    assert {g["weight_decay"] for g in parameter_groups(model, TrainConfig(weight_decay=1e-5))} == {1e-5}
    # or on named parts of it only; a name the model does not have is refused, naming the ones it has
    coeff = {id(p) for p in model.coeff.parameters()}
    groups = parameter_groups(model, TrainConfig(weight_decay=1e-6, head_weight_decay=1e-3, head_decay_modules="coeff"))
    assert {g["weight_decay"]: {id(p) for p in g["params"]} for g in groups}[1e-3] == coeff
    with pytest.raises(ValueError, match="head modules are .*coeff"):
        parameter_groups(model, TrainConfig(head_weight_decay=1e-3, head_decay_modules="coef"))
    with pytest.raises(ValueError, match="head modules"):
        parameter_groups(model, TrainConfig(head_weight_decay=1e-3, head_decay_modules="encoder"))
    # a model without a learned encoder is all head
    fp = build("fingerprint", "vft", log_scale=True, max_components=3)
    assert [g["weight_decay"] for g in parameter_groups(fp, TrainConfig(head_weight_decay=1e-3))] == [1e-3]


def test_a_weight_average_is_what_the_member_keeps():
    from model.splits import make_split
    from model.train import fit_member, fit_members

    table = synthetic_excess_table(120)
    prop = get_property("excess_molar_enthalpy")
    split = make_split(table, "random", 0)
    plain = fit_member(table, split, prop, "diffmix", QUICK, 0, progress=False)[0].state_dict()
    # an average that forgets at once is the weights themselves; a slow one is not
    instant = fit_member(table, split, prop, "diffmix", dataclasses.replace(QUICK, weight_ema=1e-9), 0,
                         progress=False)[0].state_dict()
    slow, _, info = fit_member(table, split, prop, "diffmix", dataclasses.replace(QUICK, weight_ema=0.9), 0,
                               progress=False)
    assert all(torch.allclose(plain[k], instant[k], atol=1e-5) for k in plain)
    assert any(not torch.allclose(plain[k], slow.state_dict()[k], atol=1e-5) for k in plain)
    assert info["epochs"] == QUICK.max_epochs and np.isfinite(info["best_val_mae"])
    with pytest.raises(ValueError, match="weight_ema must lie strictly between 0 and 1"):
        fit_members(table, prop, "diffmix", dataclasses.replace(QUICK, weight_ema=1.0), [split], [0], progress=False)


def test_checking_a_config_leaves_the_callers_random_state_alone():
    from model.train import resolve_config

    table = synthetic_excess_table(60)
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    cfg = resolve_config(table, get_property("excess_molar_enthalpy"), "diffmix", TrainConfig(hidden=8))
    assert torch.equal(torch.rand(4), expected)
    assert cfg.huber_beta == get_property("excess_molar_enthalpy").huber_beta  # the property's default, filled in
