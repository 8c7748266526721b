"""The learning loop on a perturbed world of the simulated lab, in process (diffmix/simulate.py)."""

import json

import numpy as np
import pytest
import torch

from diffmix.simulate import run
from model.optimize.design import DesignSpec
from model.predict import Predictor
from robot.sim.truth import from_table

LIPF6 = "[Li+].F[P-](F)(F)(F)(F)F"
EC, PC, DMC, EMC, DEC = "O=C1OCCO1", "CC1COC(=O)O1", "COC(=O)OC", "CCOC(=O)OC", "CCOC(=O)OCC"
# a world of the loop benchmark (EC/DMC/EMC with the salt free, world 6) in which the posterior once predicted
# 10⁶ mS/cm: a correction learned where DiffMix is sure was multiplied by the ratio of the ensemble's spreads
# where its members disagree wildly (the spread is now the log-normal's, √ln(1 + r²))
WORLD = {"model": "builtin", "pairing_scale": 0.8334607080825553, "instrument_bias": 0.8655647648346527, "noise": 0.005,
         "viscosity_scale": {EC: 1.0157960028814634, PC: 1.2621217862466871, DMC: 1.2601856453682292,
                             EMC: 0.8713937318635303, DEC: 0.8796040155655396}}


def test_a_campaigns_predictions_stay_physical_and_their_std_means_something():
    torch.set_num_threads(1)
    spec = DesignSpec.parse({"space": {"salt": LIPF6, "solvents": [EC, DMC, EMC], "salt_fraction_range": [0.03, 0.12]},
                             "temperature_K": 298.15})
    obj = spec.objective_for(Predictor.load("ionic_conductivity").ensemble)
    rows = [r for r in run(spec, obj, from_table(WORLD), "learning", 24, 4, seed=0) if "summary" not in r]
    assert len(rows) == 24 and all("measured" in r for r in rows)
    best = 0.0
    for batch in range(1, 7):
        these = [r for r in rows if r["batch"] == batch]
        if batch > 1:  # predictions of the posterior: within a factor 2 of what the lab has measured so far
            assert max(r["predicted"] for r in these) < 2 * best, [round(r["predicted"], 1) for r in these]
        best = max(best, *(r["measured"] for r in these))
    # the posterior's ±2σ covers most of what the robot then measures
    later = [r for r in rows if r["batch"] > 1]
    inside = np.mean([abs(r["predicted"] - r["measured"]) <= 2 * r["std"] for r in later])
    assert inside >= 0.7, inside


def test_the_loop_benchmark_merges_stored_campaigns_only_on_the_same_worlds_and_arguments():
    from benchmarks.bench_loop import merge_problem

    args = {"worlds": 2, "seeds": 1, "budget": 8, "batch": 4}
    worlds = {"EC/DMC/EMC, salt free": [{"table": WORLD, "model_loss": 0.07}, {"table": {**WORLD, "noise": 0.01}}]}
    stored = json.loads(json.dumps({"args": args, "worlds": worlds}))
    assert merge_problem(stored, args, worlds) is None
    # the model's loss in a world is descriptive: the world is its table
    assert merge_problem(stored, args, {"EC/DMC/EMC, salt free": [{**w, "model_loss": 0.5} for w in
                                                                   worlds["EC/DMC/EMC, salt free"]]}) is None
    assert "--budget 8" in merge_problem(stored, {**args, "budget": 12}, worlds)
    other = {"EC/DMC/EMC, salt free": [{"table": {**WORLD, "instrument_bias": 1.1}}, worlds["EC/DMC/EMC, salt free"][1]]}
    assert "other worlds for EC/DMC/EMC, salt free" in merge_problem(stored, args, other)
    # a space the stored run did not hold merges nothing, so it cannot disagree
    assert merge_problem(stored, args, {**worlds, "five solvents, salt free": [{"table": WORLD}]}) is None


def test_the_loop_benchmark_reruns_on_stored_worlds_and_refuses_a_file_short_of_them():
    import pytest

    from benchmarks.bench_loop import merge_problem, stored_worlds

    space = "EC/DMC/EMC, salt free"
    other = {**WORLD, "noise": 0.01}
    stored = json.loads(json.dumps({"args": {"worlds": 2, "seeds": 1, "budget": 8, "batch": 4},
                                    "worlds": {space: [{"table": WORLD}, {"table": other}]}}))
    worlds = stored_worlds(stored, [space], 2)
    assert [w["table"] for w in worlds[space]] == [WORLD, other]
    assert merge_problem(stored, stored["args"], worlds) is None  # so its stored baselines join the tables
    assert [w["table"] for w in stored_worlds(stored, [space], 1)[space]] == [WORLD]
    with pytest.raises(ValueError, match="holds 2 worlds of 'EC/DMC/EMC, salt free', and 3 were asked for"):
        stored_worlds(stored, [space], 3)
    with pytest.raises(ValueError, match="holds 0 worlds of 'five solvents, salt free'"):
        stored_worlds(stored, ["five solvents, salt free"], 1)
    for not_results in ([1, 2], {"args": {}}, {"worlds": [WORLD]}):
        with pytest.raises(ValueError, match="not a results file of bench_loop"):
            stored_worlds(not_results, [space], 1)


# Two worlds of the loop benchmark's families (benchmarks/worlds/loop_worlds.json) in which DiffMix is confidently
# wrong, written out here so the test stands on its own. A narrow peak (σ 0.25 in mass fraction) on a flat floor half
# its height, near the PC:EC edge where DiffMix predicts close to its minimum:
BUMP = {"model": "builtin", "noise": 0.005,
        "feature": {"kind": "bump", "center": {PC: 0.4386, EC: 0.5580, DMC: 0.0034}, "molality": 1.0162,
                    "width": 0.2482, "peak_mS_cm": 12.1538, "floor_mS_cm": 6.0769}}
# the optimum moved to the EC:EMC edge at 1.55 mol/kg, where DiffMix predicts its 19th percentile with a small std
RELOCATED = {"model": "builtin", "pairing_scale": 0.7484, "instrument_bias": 1.0130, "noise": 0.005,
             "viscosity_scale": {EC: 1.4760, PC: 1.3886, DMC: 1.4498, EMC: 1.3939, DEC: 0.9905},
             "feature": {"kind": "relocate", "center": {EC: 0.1645, EMC: 0.8355}, "molality": 1.5507, "width": 0.2505,
                         "height": 0.5972}}


def _campaign(space, world, seed):
    from diffmix.simulate import true_optimum
    from model.optimize.ascent import ascend

    torch.set_num_threads(1)
    spec = DesignSpec.parse({"space": space, "temperature_K": 298.15})
    obj = spec.objective_for(Predictor.load("ionic_conductivity").ensemble)
    truth = from_table(world)
    z_best, best = true_optimum(obj.space, truth, 298.15, samples=1500)
    diffmix_pick = ascend(obj, obj.space.random_points(8, np.random.default_rng(0)), max_iter=200).best_point
    rows = list(run(spec, obj, truth, "learning", 24, 4, seed, best))
    return obj, truth, best, diffmix_pick, rows[:-1], rows[-1]["summary"]


@pytest.mark.parametrize("space, world, seeds", [
    ({"salt": LIPF6, "solvents": [PC, EC, DMC], "salt_fraction": 0.08}, BUMP, (0, 1)),
    ({"salt": LIPF6, "solvents": [EC, DMC, EMC], "salt_fraction_range": [0.03, 0.12]}, RELOCATED, (0,)),
], ids=["bump on a flat floor", "relocated to a binary edge at high salt"])
def test_a_prior_that_is_confidently_wrong_is_escaped_within_the_budget(space, world, seeds):
    """The two failures the outside evaluation found (issue 44): DiffMix's own optimum is far from the lab's, and
    DiffMix is sure of itself where the lab's optimum is. The campaign still finds it within 24 experiments, judged
    as a lab judges: by the truth at the recipe with the best measured reading."""
    from diffmix.simulate import truth_at

    for seed in seeds:
        obj, truth, best, diffmix_pick, rows, summary = _campaign(space, world, seed)
        assert truth_at(obj.space, truth, diffmix_pick, 298.15) < 0.85 * best  # the prior points elsewhere
        assert summary["score"] >= 0.95 * best, (seed, summary["score"], best)
        assert summary["recommended_truth"] >= 0.95 * best
        # and says that the measurements, not DiffMix, now lead
        assert summary["posterior"]["evidence"]["disagrees"], summary["posterior"]["evidence"]
        # every batch after the first keeps a point that DiffMix did not choose
        for b in range(2, 7):
            assert "prior-free" in [r["source"] for r in rows if r["batch"] == b]
