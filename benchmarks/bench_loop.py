"""The closed loop on simulated worlds: what each strategy finds within the budget, family by family.

    .venv/bin/python -m benchmarks.bench_loop [--families perturbed,relocated,bump,noisy] [--worlds 10] [--seeds 3]
        [--budget 24] [--batch 4] [--workers 2] [--strategies learning,botorch,random] [--spaces 0,1,2] [--tag NAME]
        [--merge results/OTHER.json] [--worlds-file worlds/loop_worlds.json] [--finetune-pull P]

The worlds are frozen by family in benchmarks/worlds/loop_worlds.json (benchmarks/loop_worlds.py says how each
family is built): ``perturbed`` (the builtin physics perturbed, optimum away from the shipped model's),
``relocated`` (the optimum moved to where DiffMix is low and sure), ``bump`` (a narrow peak where DiffMix predicts
its minimum, on a flat floor) and ``noisy`` (3 % noise, 5 % of readings at 0.7×). Spaces: LiPF6 in PC:EC:DMC at
x(Li⁺) = 0.08; EC/DMC/EMC with the salt free (x(Li⁺) 0.03–0.12); EC/PC/DMC/EMC/DEC with the salt free. Every campaign
runs in process (diffmix/simulate.py: the service's loop, dispensing error, the world as the instrument) and is
scored honestly: by the truth at the recipe with the best *measured* reading, and by the truth at the final
posterior's recommendation. Writes benchmarks/results/loop[_TAG].json and benchmarks/plots/loop[_TAG].png
(loop_best_so_far.png without a tag), and prints the tables of RESULTS.md. ``--merge`` adds the campaigns of an
earlier run (same worlds, same arguments) for the strategies this run did not run, so one strategy can be measured
again beside stored baselines.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

LIPF6 = "[Li+].F[P-](F)(F)(F)(F)F"
EC, PC, DMC, EMC, DEC = "O=C1OCCO1", "CC1COC(=O)O1", "COC(=O)OC", "CCOC(=O)OC", "CCOC(=O)OCC"
SPACES = {
    "PC:EC:DMC, x(Li+) 0.08": {"salt": LIPF6, "solvents": [PC, EC, DMC], "salt_fraction": 0.08},
    "EC/DMC/EMC, salt free": {"salt": LIPF6, "solvents": [EC, DMC, EMC], "salt_fraction_range": [0.03, 0.12]},
    "five solvents, salt free": {"salt": LIPF6, "solvents": [EC, PC, DMC, EMC, DEC],
                                 "salt_fraction_range": [0.03, 0.12]},
}
STRATEGIES = ("learning", "learning/finetune", "gradient", "botorch", "random")  # strategy[/surrogate]
FAMILIES = ("perturbed", "relocated", "bump", "noisy")
T_K = 298.15
OUT = Path(__file__).resolve().parent


def world_table(rng: np.random.Generator) -> dict:
    return {"model": "builtin", "pairing_scale": float(rng.uniform(0.7, 1.4)),
            "viscosity_scale": {s: float(rng.uniform(0.7, 1.5)) for s in (EC, PC, DMC, EMC, DEC)},
            "instrument_bias": float(rng.uniform(0.85, 1.15)), "noise": 0.005}


def _objective(space: dict):
    from model.optimize.design import DesignSpec
    from model.predict import Predictor

    spec = DesignSpec.parse({"space": space, "temperature_K": T_K})
    return spec, spec.objective_for(Predictor.load("ionic_conductivity").ensemble)


def model_optimum(obj) -> np.ndarray:
    from model.optimize.ascent import ascend

    res = ascend(obj, obj.space.random_points(8, np.random.default_rng(0)), max_iter=200)
    return res.best_point


def choose_worlds(space_name: str, k: int, seed: int) -> list[dict]:
    """k perturbed worlds whose optimum differs from the shipped model's on this space."""
    from diffmix.simulate import true_optimum, truth_at
    from robot.sim.truth import from_table

    _, obj = _objective(SPACES[space_name])
    z_model = model_optimum(obj)
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < k:
        table = world_table(rng)
        truth = from_table(table)
        z_world, best = true_optimum(obj.space, truth, T_K, samples=1500)
        loss = 1 - truth_at(obj.space, truth, z_model, T_K) / best
        shift = float(np.max(np.abs(z_world[:-1] - z_model[:-1])))
        if loss >= 0.05 or shift >= 0.1:
            out.append({"table": table, "optimum": best, "z_optimum": z_world.tolist(), "model_loss": loss,
                        "shift": shift})
    return out


def read_results(path: str, option: str) -> dict:
    """An earlier run's results JSON, or an exit naming the option and what is wrong with the file."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise SystemExit(f"{option}: cannot read {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise SystemExit(f"{option}: {path} is not JSON ({e.msg}, line {e.lineno}); give a "
                         "benchmarks/results/loop*.json") from e


def stored_worlds(stored: dict, spaces: list[str], k: int) -> dict[str, list[dict]]:
    """The first k worlds of each space from a worlds file's family ({"worlds": {space: [world, …]}}); refused if it
    has fewer or lacks a space."""
    if not (isinstance(stored, dict) and isinstance(stored.get("worlds"), dict)):
        raise ValueError("it is not a results file of bench_loop (no 'worlds' by space)")
    out = {}
    for s in spaces:
        have = stored["worlds"].get(s, [])
        if len(have) < k:
            raise ValueError(f"it holds {len(have)} worlds of {s!r}, and {k} were asked for")
        out[s] = have[:k]
    return out


def merge_problem(earlier: dict, args: dict, worlds: dict) -> str | None:
    """Why an earlier run's campaigns cannot join this run's tables (None: they can). Its arguments must match, and
    so must its worlds (one family's, by space)."""
    for key in ("worlds", "seeds", "budget", "batch"):
        if earlier["args"][key] != args[key]:
            return f"was run with --{key} {earlier['args'][key]}, this run with {args[key]}"
    differ = [s for s in worlds if s in earlier["worlds"]
              and [w["table"] for w in earlier["worlds"][s]] != [w["table"] for w in json.loads(json.dumps(worlds[s]))]]
    if differ:
        return (f"ran on other worlds for {', '.join(differ)} (chosen against another shipped model); "
                "run every strategy again instead")
    return None


def merge_problems(earlier: dict, args: dict, worlds: dict[str, dict]) -> str | None:
    """``merge_problem`` for every family this run holds."""
    for family, by_space in worlds.items():
        problem = merge_problem({"args": earlier["args"], "worlds": earlier["worlds"].get(family, {})}, args, by_space)
        if problem:
            return f"({family} worlds) {problem}"
    return None


def _set_finetune_pull(pull: float | None) -> None:
    """Per worker process: the fine-tuned posterior's pull toward the pretrained weights (None: model.finetune's)."""
    if pull is not None:
        import model.finetune

        model.finetune.PENALTY = pull


_OPEN_LOOP: dict[tuple, dict] = {}  # per worker process: the batches of gradient and random, which no world changes


def campaign(job: tuple) -> dict:
    """One campaign: (family, space name, world index, world, strategy, seed, budget, batch) → its honest score curve
    (the truth at the recipe with the best measured reading, after each experiment) and its recommendation's truth."""
    import torch

    torch.set_num_threads(1)
    from diffmix.simulate import run
    from robot.sim.truth import from_table

    family, space_name, w, world, strategy, seed, budget, batch = job
    spec, obj = _objective(SPACES[space_name])
    t0 = time.perf_counter()
    curve, times, held_out, sources = [], [], [], []
    last = time.perf_counter()
    name, _, surrogate = strategy.partition("/")
    open_loop = _OPEN_LOOP.setdefault((space_name, strategy, seed, budget, batch), {})
    summary: dict = {}
    for row in run(spec, obj, from_table(world["table"]), name, budget, batch, seed, world["optimum"],
                   surrogate=surrogate or "gp", open_loop=open_loop):
        if "summary" in row:
            summary = row["summary"]
            continue
        curve.append(row["score"])
        sources.append(row["source"])
        if "measured" in row:  # each proposal is a held-out point for the model that proposed it
            held_out.append((row["batch"], row["predicted"], row["std"], row["measured"]))
        if row["index"] % batch == 1 or batch == 1:
            times.append(time.perf_counter() - last)
        last = time.perf_counter()
    evidence = (summary.get("posterior") or {}).get("evidence") or {}
    return {"family": family, "space": space_name, "world": w, "strategy": strategy, "seed": seed,
            "optimum": world["optimum"], "curve": curve, "recommended": summary.get("recommended_truth"),
            "prior_weight": evidence.get("prior_weight"), "sources": sources,
            "seconds": time.perf_counter() - t0, "batch_seconds": times, "held_out": held_out}


def reach(curve: list, optimum: float, within: float) -> int | None:
    for i, v in enumerate(curve):
        if v is not None and v >= optimum * (1 - within):
            return i + 1
    return None


def _q(rs: list[dict], within: float, p: float, budget: int) -> str:
    """The p-th percentile of experiments needed to come within `within` of the optimum (never: > budget)."""
    n = [reach(r["curve"], r["optimum"], within) or budget + 1 for r in rs]
    v = float(np.percentile(n, p, method="higher"))
    return f"> {budget}" if v > budget else f"{v:.0f}"


def score(r: dict, k: int | None = None) -> float:
    """The honest score after k experiments (all: None), % of the optimum (0 before anything was measured)."""
    vals = [v for v in (r["curve"] if k is None else r["curve"][:k]) if v is not None]
    return 100.0 * vals[-1] / r["optimum"] if vals else 0.0


def summarise(results: list[dict], budget: int) -> str:
    """One table per family: the honest score after the budget (median and 10th percentile, % of the optimum),
    experiments to 2 % (median / p90), and the truth at the final posterior's recommendation."""
    out = []
    for family in FAMILIES:
        fam = [r for r in results if r.get("family", "perturbed") == family]
        if not fam:
            continue
        out += [f"**{family}**", "",
                f"| space | strategy | runs | score @{budget} median | p10 | score @12 median | to 2 % (median / p90) | "
                f"recommended @{budget} median |", "|---|---|---|---|---|---|---|---|"]
        for space in SPACES:
            for strategy in STRATEGIES:
                rs = [r for r in fam if r["space"] == space and r["strategy"] == strategy]
                if not rs:
                    continue
                final = [score(r) for r in rs]
                rec = [100 * r["recommended"] / r["optimum"] for r in rs if r.get("recommended") is not None]
                out.append(f"| {space} | {strategy} | {len(rs)} | {np.median(final):.1f} % | "
                           f"{np.percentile(final, 10):.1f} % | {np.median([score(r, 12) for r in rs]):.1f} % | "
                           f"{_q(rs, 0.02, 50, budget)} / {_q(rs, 0.02, 90, budget)} | "
                           + (f"{np.median(rec):.1f} % |" if rec else "– |"))
        out.append("")
    return "\n".join(out)


def coverage_table(results: list[dict]) -> str:
    """±2σ coverage and MAE of the proposing model on the next batch's measurements, per family: batch 1 is DiffMix
    alone (the calibrated ensemble), later batches the posterior (learning) or the ensemble (gradient)."""
    lines = ["| family | strategy | model | points | ±2σ coverage | MAE (mS/cm) |", "|---|---|---|---|---|---|"]
    for family in FAMILIES:
        for strategy in ("learning", "learning/finetune", "gradient"):
            rows = [h for r in results if r["strategy"] == strategy and r.get("family", "perturbed") == family
                    for h in r.get("held_out", [])]
            for label, pick in (("DiffMix (batch 1)", lambda b: b == 1),
                                ("posterior (batches ≥ 2)" if strategy.startswith("learning") else "DiffMix (batches ≥ 2)",
                                 lambda b: b >= 2)):
                sel = [(p, s, m) for b, p, s, m in rows if pick(b)]
                if not sel:
                    continue
                a = np.array(sel)
                cover = float(np.mean(np.abs(a[:, 0] - a[:, 2]) <= 2 * a[:, 1]))
                lines.append(f"| {family} | {strategy} | {label} | {len(a)} | {100 * cover:.1f} % | "
                             f"{np.mean(np.abs(a[:, 0] - a[:, 2])):.3f} |")
    return "\n".join(lines)


def evidence_table(results: list[dict]) -> str:
    """Where the learning campaigns ended: DiffMix's weight in the campaign posterior after the last batch (median,
    and the share of campaigns where the lab's evidence overruled it), per family."""
    lines = ["| family | campaigns | DiffMix's final weight (median) | overruled (weight < 0.5) |", "|---|---|---|---|"]
    for family in FAMILIES:
        w = [r["prior_weight"] for r in results if r["strategy"] == "learning" and r.get("family") == family
             and r.get("prior_weight") is not None]
        if w:
            lines.append(f"| {family} | {len(w)} | {np.median(w):.2f} | {100 * np.mean(np.array(w) < 0.5):.0f} % |")
    return "\n".join(lines)


def plot(results: list[dict], budget: int, path: Path) -> None:
    """Best-so-far (honest score, % of the optimum; median and interquartile range) against experiments, one row of
    panels per family and one column per space."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = [f for f in FAMILIES if any(r.get("family", "perturbed") == f for r in results)]
    fig, axes = plt.subplots(len(families), len(SPACES), figsize=(5 * len(SPACES), 3.6 * len(families)),
                             sharey=True, squeeze=False)
    for row, family in enumerate(families):
        for ax, space in zip(axes[row], SPACES):
            for strategy in STRATEGIES:
                rs = [r for r in results if r["space"] == space and r["strategy"] == strategy
                      and r.get("family", "perturbed") == family]
                if not rs:
                    continue
                curves = np.array([[score(r, k) for k in range(1, len(r["curve"]) + 1)] for r in rs])
                x = np.arange(1, curves.shape[1] + 1)
                ax.plot(x, np.median(curves, 0), label=strategy)
                ax.fill_between(x, np.percentile(curves, 25, 0), np.percentile(curves, 75, 0), alpha=0.2)
            ax.axhline(98, color="grey", lw=0.8, ls="--")
            ax.set_ylim(0, 102)
            ax.set_title(f"{family}: {space}", fontsize=9)
            ax.set_xlabel("experiments")
        axes[row][0].set_ylabel("truth at the best reading, % of optimum")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def time_update(n: int = 48, batch: int = 4, repeats: int = 3) -> str:
    """Wall time to refit the posterior on n measurements and propose a batch, on the five-solvent space."""
    from diffmix.simulate import Lab
    from model.optimize.loop import next_batch, posterior_for
    from model.optimize.posterior import Observation
    from robot.sim.truth import from_table

    _, obj = _objective(SPACES["five solvents, salt free"])
    lab = Lab(from_table(world_table(np.random.default_rng(3))), np.random.default_rng(4))
    z = obj.space.random_points(n, np.random.default_rng(5))
    obs = []
    for p in z:
        measured, _, t = lab.measure(obj.space, p, T_K)
        obs.append(Observation(p, t, measured))
    fits, props = [], []
    hyper = posterior_for(obj, obs[:-1]).hyper
    for r in range(repeats):
        t0 = time.perf_counter()
        post = posterior_for(obj, obs, start=hyper)
        t1 = time.perf_counter()
        next_batch(obj, post, "learning", batch, seed=r)
        t2 = time.perf_counter()
        fits.append(t1 - t0)
        props.append(t2 - t1)
    return (f"after {n} measurements (five solvents, salt free): refit {np.median(fits):.2f} s + propose {batch} "
            f"{np.median(props):.2f} s = {np.median(fits) + np.median(props):.2f} s (median of {repeats})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--worlds", type=int, default=10, help="worlds per family and space (from the worlds file)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=24)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--strategies", default="learning,botorch,random")
    ap.add_argument("--spaces", default=",".join(str(i) for i in range(len(SPACES))))
    ap.add_argument("--timing-only", action="store_true", help="only time an update and a proposal at 48 measurements")
    ap.add_argument("--tag", default="", help="suffix of the result and plot files")
    ap.add_argument("--merge", default="", help="an earlier run's results JSON whose other strategies join the tables")
    ap.add_argument("--finetune-pull", type=float, default=None,
                    help="learning/finetune: the pull toward the pretrained weights (default: model.finetune.PENALTY)")
    ap.add_argument("--worlds-file", default="", help="the frozen worlds (default: benchmarks/worlds/loop_worlds.json)")
    args = ap.parse_args()
    if args.finetune_pull is not None:
        from model.errors import DiffMixInputError
        from model.finetune import check_pull

        try:
            check_pull(args.finetune_pull)
        except DiffMixInputError as e:
            ap.error(f"--finetune-pull: {e}")
    families = args.families.split(",")
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        ap.error(f"--families: unknown {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    if args.timing_only:
        print(time_update())
        return
    from tqdm import tqdm

    from benchmarks.loop_worlds import OUT as WORLDS_FILE

    spaces = [list(SPACES)[int(i)] for i in args.spaces.split(",")]
    t0 = time.perf_counter()
    path = args.worlds_file or str(WORLDS_FILE)
    frozen = read_results(path, "--worlds-file").get("worlds", {})
    try:
        worlds = {f: stored_worlds({"worlds": frozen.get(f, {})}, spaces, args.worlds) for f in families}
    except ValueError as e:
        raise SystemExit(f"--worlds-file: {path}: {e} (python -m benchmarks.loop_worlds writes more)") from e
    earlier = None
    if args.merge:  # refused before any campaign runs
        earlier = read_results(args.merge, "--merge")
        problem = merge_problems(earlier, vars(args), worlds)
        if problem:
            raise SystemExit(f"--merge: {args.merge} {problem}")
    jobs = [(f, s, w, world, strategy, seed, args.budget, args.batch) for f in families for s in spaces
            for w, world in enumerate(worlds[f][s]) for seed in range(args.seeds) for strategy in args.strategies.split(",")]
    results = []
    with ProcessPoolExecutor(args.workers, initializer=_set_finetune_pull, initargs=(args.finetune_pull,)) as pool:
        for r in tqdm(pool.map(campaign, jobs), total=len(jobs), desc="campaigns"):
            results.append(r)
    ran = set(args.strategies.split(","))
    if earlier is not None:
        results += [r for r in earlier["results"] if r["strategy"] not in ran and r["space"] in spaces
                    and r.get("family", "perturbed") in families]
    report(results, args, worlds)
    print(f"{len(jobs)} campaigns in {time.perf_counter() - t0:.0f} s with {args.workers} workers")


def report(results: list[dict], args: argparse.Namespace, worlds: dict) -> None:
    """Write the results file and the plot, and print the tables."""
    suffix = f"_{args.tag}" if args.tag else ""
    (OUT / "results").mkdir(exist_ok=True)
    (OUT / "results" / f"loop{suffix}.json").write_text(json.dumps({"args": vars(args), "worlds": worlds,
                                                                    "results": results}))
    plot(results, args.budget, OUT / "plots" / (f"loop{suffix}.png" if suffix else "loop_best_so_far.png"))
    print(summarise(results, args.budget))
    print(coverage_table(results))
    print()
    print(evidence_table(results))
    for strategy in sorted({r["strategy"] for r in results}):
        secs = [t for r in results if r["strategy"] == strategy for t in r["batch_seconds"][1:]]
        if secs:
            print(f"{strategy}: update + propose a batch of {args.batch}: median {np.median(secs):.2f} s, "
                  f"max {np.max(secs):.2f} s (one worker thread)")


if __name__ == "__main__":
    main()
