"""Calibration with pyPESTO on AMICI (il2sbml.analysis.calibrate): gradients, engines, the quick run.

The AMICI model is compiled once for this module (about a minute) into a temporary folder.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from il2sbml.analysis import calibrate as cal
from il2sbml.cli import main

PETAB = "build/petab"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    work = tmp_path_factory.mktemp("amici")
    problem, pp = cal.load(PETAB, str(work))
    return problem, pp, work


def _nominal(problem, pp):
    return pp.get_reduced_vector(np.asarray(problem.x_nominal_scaled))


def test_forward_and_adjoint_gradients_match_central_differences(loaded):
    """Every component of AMICI's gradient (forward sensitivities, what the calibration uses, and
    adjoint) against central differences of the objective
    (step 1e-3 on the log10 scale) at a point 0.2 decades off the fit, where the gradient is large
    (at the optimum it is below the differences' noise); tolerance 2 % of the component, 0.5 % of
    the largest, or 1 (the objective's integration error, ~1e-6 of 2,400, over the 2e-3 step)."""
    problem, pp, _ = loaded
    x = _nominal(problem, pp) + 0.2 * (-1.0) ** np.arange(len(pp.x_free_indices))
    f0, g = pp.objective(x, sensi_orders=(0, 1))
    assert np.isfinite(f0)
    eps = 1e-3
    fd = np.empty_like(g)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = eps
        fd[i] = (pp.objective(x + e) - pp.objective(x - e)) / (2 * eps)
    tol = np.maximum(np.maximum(0.02 * np.abs(fd), 0.005 * np.abs(fd).max()), 1.0)
    assert np.abs(fd).max() > 100 * tol.min()
    bad = [(pp.x_names[pp.x_free_indices[i]], g[i], fd[i]) for i in range(len(x)) if abs(g[i] - fd[i]) > tol[i]]
    assert not bad, bad
    import amici.sim.sundials as asu

    solver = cal._amici_objective(pp.objective).amici_solver
    solver.set_sensitivity_method(asu.SensitivityMethod.adjoint)
    try:
        _, g_adjoint = pp.objective(x, sensi_orders=(0, 1))
    finally:
        solver.set_sensitivity_method(asu.SensitivityMethod.forward)
    assert np.all(np.abs(g_adjoint - fd) <= tol), [(i, g_adjoint[i], fd[i]) for i in range(len(x))
                                                   if abs(g_adjoint[i] - fd[i]) > tol[i]]
    # and the check can fail: a gradient with one component flipped is caught
    g2 = g.copy()
    k = int(np.argmax(np.abs(fd)))
    g2[k] = -g2[k]
    assert abs(g2[k] - fd[k]) > tol[k]


def test_two_engines_give_the_same_petab_objective(loaded):
    """The same PEtab problem at the parameter table's values (the model's values, so the best
    fit once calibrated), simulated by AMICI and by libRoadRunner (pyPESTO's RoadRunner
    objective): PEtab's own negative log-likelihood of the two simulation tables agrees to 1e-3."""
    from pypesto.objective.roadrunner import PetabImporterRR
    from pypesto.objective.roadrunner.utils import simulation_to_measurement_df

    problem, pp, _ = loaded
    x = _nominal(problem, pp)
    named = {n: v for n, v in zip(problem.parameter_df.index, problem.x_nominal)}
    f_amici = cal.petab_objective(problem, cal.simulation_df(problem, pp, x), named)
    rr = PetabImporterRR(problem, validate_petab=False).create_problem()
    from pypesto.C import ROADRUNNER_SIMULATION

    rr_objective = cal._amici_objective(rr.objective)     # the likelihood part, without the priors
    out = rr_objective(rr.get_reduced_vector(np.asarray(problem.x_nominal_scaled)), return_dict=True)
    sims = simulation_to_measurement_df(out[ROADRUNNER_SIMULATION], problem.measurement_df)
    f_rr = cal.petab_objective(problem, sims.rename(columns={"measurement": "simulation"}), named)
    assert abs(f_amici - f_rr) <= 1e-3 * abs(f_rr), (f_amici, f_rr)
    # and AMICI's own objective (what the optimiser sees, priors aside) is PEtab's
    assert abs(_amici_only(pp, x) - f_amici) <= 1e-6 * abs(f_amici)


def _amici_only(pp, x):
    return float(cal._amici_objective(pp.objective)(x))


def test_quick_calibration_runs_writes_its_files_and_resumes(loaded, tmp_path, capsys):
    """The quick run (two starts, two short sampling chains in their own processes); run again, it
    reuses every stored start and chain; a stored start of another problem is run afresh."""
    _, pp, work = loaded
    out = tmp_path / "cal"
    args = ["calibrate", "--quick", "--samples", "30", "--petab", PETAB, "--out", str(out), "--work-dir", str(work),
            "--threads", "2"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["settings"]["starts"] == 2 and len(summary["starts"]) == 2
    assert (out / "waterfall.png").stat().st_size > 1000
    assert (out / "best_parameters.tsv").read_text(encoding="utf-8").startswith("parameterId\tvalue\n")
    for start in summary["starts"]:
        assert np.isfinite(start["fval"]) and start["n_grad"] >= 1
    assert summary["timing"]["objective_and_gradient_s"] > 0
    # the start points are pyPESTO's, fixed by the seed alone
    stored = [json.loads((out / "starts" / f"start_{i:03d}.json").read_text(encoding="utf-8")) for i in range(2)]
    assert np.array_equal(cal.start_points(pp, 2, 1), [s["x0"] for s in stored])
    # the best start continued (QUICK: 2 more iterations), stored, and the better of the two is the fit
    (ref,) = summary["refine"]
    best_start = min(summary["starts"], key=lambda r: r["fval"])
    assert ref["from_start"] == int(best_start["id"]) and ref["fval_start"] == best_start["fval"]
    assert ref["fval"] <= ref["fval_start"] and 1 <= ref["n_grad"] <= 3
    stored_ref = json.loads((out / "refine" / f"refinement_of_start_{int(best_start['id']):03d}.json")
                            .read_text(encoding="utf-8"))
    assert stored_ref["x0"] == stored[int(best_start["id"])]["x"] and stored_ref["max_iter"] == 2
    assert summary["best"]["fval"] == min(ref["fval"], best_start["fval"])
    assert summary["best"]["source"] == (f"start {best_start['id']} refined" if ref["fval"] < best_start["fval"]
                                         else f"start {best_start['id']}")
    chains = json.loads((out / "samples" / "chains.json").read_text(encoding="utf-8"))
    best_x = stored_ref["x"] if ref["fval"] < best_start["fval"] else stored[int(best_start["id"])]["x"]
    assert chains["x0"] == pytest.approx(best_x, abs=1e-9)   # the sampling starts at the fit
    assert chains["sampler"] == cal.SAMPLER                 # a change of sampler runs the chains afresh
    # sampling: two chains of 30 from the best point, an interval per parameter
    post = summary["posterior"]
    assert [c["samples"] for c in post["chains"]] == [31, 31]
    rows = (out / "posterior.tsv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + len(pp.x_free_indices)
    assert not any(r["determined"] for r in post["parameters"].values())   # 30 samples never pass Geweke
    assert post["mixed"] is False and post["min_ess"] == cal.MIN_ESS
    # the run's parameter table: a row per estimated parameter, its sampled ranges not called intervals
    table = (out / "parameters.md").read_text(encoding="utf-8").splitlines()
    assert "| sampled 95 % range (chains not mixed: not an interval) |" in table[0]
    assert [r.split(" | ")[0] for r in table[2:-2]] == [f"| `{n}`" for n in summary["best"]["parameters"]]
    n_wald = sum(r["determined"] for r in summary["fisher"]["parameters"].values())
    assert table[-1] == (f"{n_wald} of {len(rows) - 1} determined, by the Wald intervals at the fit (the "
                         f"posterior sampling did not mix)")
    assert sum("| **yes** |" in r for r in table) == n_wald and "| determined (Wald) |" in table[0]
    # the Fisher analysis at the fit: a Wald interval around each value, clipped to the bounds
    wald = summary["fisher"]
    assert set(wald["parameters"]) == set(summary["best"]["parameters"]) and len(wald["eigenvalues"]) == len(rows) - 1
    assert min(wald["eigenvalues"]) > -1e-6 * max(wald["eigenvalues"])                  # PSD: FIM plus priors
    for name, r in wald["parameters"].items():
        assert r["lower_scaled"] <= r["value_scaled"] <= r["upper_scaled"] and r["sd_scaled"] >= 0
        assert r["value_scaled"] == pytest.approx(np.log10(summary["best"]["parameters"][name]), abs=1e-9)
        assert not (r["determined"] and r["at_bound"])
    _write_fit_from_the_run(out, summary, tmp_path, capsys)
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "2 of 2 starts already in" in err and "1 of 1 refinements already in" in err and "sampling" not in err
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["best"] == summary["best"]
    _profiles_of_the_run(out, args, summary, best_x, pp, capsys)
    stored[1]["problem"] = "another"
    (out / "starts" / "start_001.json").write_text(json.dumps(stored[1]))
    assert main(args) == 0
    assert "1 of 2 starts already in" in capsys.readouterr().err


def _profiles_of_the_run(out, args, summary, best_x, pp, capsys):
    """``--profiles`` on the quick run, with a stored profile per parameter (a parabola of known
    width around the fit, as profile_parameters stores them; computing them is tested on a
    problem with a known answer): every one is reused, and summary, profiles.tsv, profiles.png,
    parameters.md and the fit file take the profiles' intervals."""
    store = out / "profiles"
    store.mkdir()
    key, f0 = summary["problem"]["hash"], summary["best"]["fval"]
    setting = {"fatol": cal.PROFILE_FATOL, "maxiter": cal.PROFILE_MAXITER, "options": cal.PROFILE_OPTIONS}
    names = [pp.x_names[i] for i in pp.x_free_indices]
    for j, name in enumerate(names):
        xs = best_x[j] + np.linspace(-1.0, 1.0, 21)
        xs = xs[(xs >= pp.lb[j]) & (xs <= pp.ub[j])]
        width = 0.1 if j % 2 == 0 else 100.0       # even: closed at -+0.196; odd: flat to the box's walk
        rec = {"problem": key, "x_best": [float(v) for v in best_x], "f_best": f0, "settings": setting, "name": name,
               "x": xs.tolist(), "fval": (f0 + (xs - best_x[j]) ** 2 / (2 * width ** 2)).tolist(),
               "x_path": np.tile(np.asarray(best_x)[:, None], len(xs)).tolist(), "n_fval": 3, "n_grad": 3,
               "time_s": 1.0}
        (store / f"profile_{name}.json").write_text(json.dumps(rec), encoding="utf-8")
    assert main(args + ["--profiles"]) == 0
    assert f"profiles: {len(names)} of {len(names)} already in {store}, reused" in capsys.readouterr().err
    prof = json.loads((out / "summary.json").read_text(encoding="utf-8"))["profiles"]
    assert prof["n_grad"] == 3 * len(names) and prof["settings"] == setting
    for j, name in enumerate(names):
        row = prof["parameters"][name]
        assert row["value_scaled"] == best_x[j]
        if j % 2 == 0 and pp.lb[j] < best_x[j] - 0.2 and best_x[j] + 0.2 < pp.ub[j]:
            assert row["identifiable"] and row["upper_scaled"] - row["lower_scaled"] == pytest.approx(0.392, abs=0.01)
        elif j % 2:
            assert not row["identifiable"] and not row["determined"]
    tsv = (out / "profiles.tsv").read_text(encoding="utf-8").splitlines()
    assert tsv[0] == "parameterId\tlower_95_scaled\tupper_95_scaled\tidentifiable\tdetermined" and len(tsv) == 45
    assert (out / "profiles.png").stat().st_size > 10_000
    assert "| profile 95 % |" in (out / "parameters.md").read_text(encoding="utf-8").splitlines()[0]
    rec = cal.fit_from_run(str(out), PETAB, str(out / "fit.json"))
    assert rec["ci_method"].startswith("profile likelihood 95 % interval")
    capsys.readouterr()


def _write_fit_from_the_run(out, summary, tmp_path, capsys):
    """``calibrate --write-fit``: the best start's values, in the parameters' linear units, for
    exactly the parameters the model's fit file has, and the posterior's 95 % intervals only from
    chains that mixed (Geweke passed, effective sample size >= MIN_ESS; the quick run's 30 samples
    do not: no interval, and the file says why); refused without a summary, without sampling, or
    for another PEtab problem."""
    import shutil

    fit = tmp_path / "fit.json"
    assert main(["calibrate", "--write-fit", str(fit), "--out", str(out), "--petab", PETAB]) == 0
    assert "now rebuild what reads it" in capsys.readouterr().out
    rec = json.loads(fit.read_text(encoding="utf-8"))
    with open("model_src/il2_fit.json", encoding="utf-8") as fh:
        assert set(rec["parameters"]) == set(json.load(fh)["parameters"]) == set(summary["best"]["parameters"])
    assert rec["objective"] == pytest.approx(summary["best"]["fval"], abs=1e-4)
    assert rec["ci_method"].startswith("Wald 95 % interval from the Fisher information at the fit")
    assert "2 chains of 30) did not mix (Geweke NOT passed by every chain" in rec["ci_method"]
    assert f"best: {summary['best']['source']}" in rec["label"] and "up to 2 more iterations" in rec["label"]
    with open(f"{PETAB}/parameters.tsv", newline="", encoding="utf-8") as fh:
        scales = {r["parameterId"]: r["parameterScale"] for r in csv.DictReader(fh, delimiter="\t")}
    assert set(scales.values()) >= {"log10"}
    for name, p in rec["parameters"].items():
        assert p["value"] == pytest.approx(summary["best"]["parameters"][name], rel=1e-5)
        w = summary["fisher"]["parameters"][name]
        if w["at_bound"]:
            assert p["ci95"] is None
        else:
            assert p["ci95"] == pytest.approx([10 ** w["lower_scaled"], 10 ** w["upper_scaled"]], rel=1e-3)
            assert p["ci95"][0] <= p["value"] * (1 + 1e-5) and p["value"] <= p["ci95"][1] * (1 + 1e-5)
    other = tmp_path / "other"
    other.mkdir()
    # chains that mixed: each parameter's interval is the posterior's, in linear units
    mix = tmp_path / "mixed"
    mix.mkdir()
    good = json.loads(json.dumps(summary))
    for c in good["posterior"]["chains"]:
        c.update(geweke_converged=True, effective_sample_size=float(cal.MIN_ESS))
    (mix / "summary.json").write_text(json.dumps(good), encoding="utf-8")
    rec = cal.fit_from_run(str(mix), PETAB, str(mix / "fit.json"))
    assert rec["ci_method"].startswith("posterior 95 % credible interval")
    assert f"sample sizes {cal.MIN_ESS:g}, {cal.MIN_ESS:g}" in rec["ci_method"]
    for name, p in rec["parameters"].items():
        row = summary["posterior"]["parameters"][name]
        lo, hi = (10 ** row[k] if scales[name] == "log10" else row[k] for k in ("lower_scaled", "upper_scaled"))
        assert p["ci95"] == pytest.approx([lo, hi], rel=1e-3) and p["ci95"][0] <= p["ci95"][1]
    header = cal.parameter_table(good, PETAB).splitlines()[0]
    assert "| posterior 95 % |" in header and "not an interval" not in header and "| determined (posterior) |" in header
    good["posterior"]["chains"][1]["effective_sample_size"] = cal.MIN_ESS - 1.0     # one chain short: none
    (mix / "summary.json").write_text(json.dumps(good), encoding="utf-8")
    rec = cal.fit_from_run(str(mix), PETAB, str(mix / "fit.json"))
    assert rec["ci_method"].startswith("Wald") and "Geweke passed; effective sample sizes" in rec["ci_method"]
    # profiles (the full run's) come first: each parameter's interval is its profile's, in linear units
    prof = json.loads(json.dumps(good))
    prof["profiles"] = {"method": "pyPESTO profiles", "parameters": {
        n: {"lower_scaled": w["value_scaled"] - 0.3, "upper_scaled": w["value_scaled"] + 0.2,
            "identifiable": i % 2 == 0, "lower_closed": True, "upper_closed": i % 2 == 0, "determined": i % 2 == 0}
        for i, (n, w) in enumerate(summary["fisher"]["parameters"].items())}}
    (mix / "summary.json").write_text(json.dumps(prof), encoding="utf-8")
    rec = cal.fit_from_run(str(mix), PETAB, str(mix / "fit.json"))
    n = len(rec["parameters"])
    assert rec["ci_method"].startswith("profile likelihood 95 % interval (pyPESTO profiles)")
    assert f"{(n + 1) // 2} of {n} closed on both sides" in rec["ci_method"]
    for name, p in rec["parameters"].items():
        row = prof["profiles"]["parameters"][name]
        lo, hi = (10 ** row[k] if scales[name] == "log10" else row[k] for k in ("lower_scaled", "upper_scaled"))
        assert p["ci95"] == pytest.approx([lo, hi], rel=1e-3)
    table = cal.parameter_table(prof, PETAB).splitlines()
    assert ("| best fit | profile 95 % | sampled 95 % range (chains not mixed: not an interval) | Wald 95 % (local) "
            "| determined (profile) |") in table[0]
    assert sum("| **yes** |" in r for r in table) == (n + 1) // 2 and sum("(bound) | " in r for r in table) >= n // 2
    assert table[-1] == f"{(n + 1) // 2} of {n} determined, by the profile likelihoods' 95 % intervals"
    del good["fisher"]                                               # neither mixed chains nor a Fisher analysis
    (mix / "summary.json").write_text(json.dumps(good), encoding="utf-8")
    rec = cal.fit_from_run(str(mix), PETAB, str(mix / "fit.json"))
    assert rec["ci_method"].startswith("none: the posterior sampling")
    assert all(p["ci95"] is None for p in rec["parameters"].values())
    with pytest.raises(cal.CalibrationError, match="summary.json not found: run il2sbml calibrate"):
        cal.fit_from_run(str(other), PETAB, str(other / "fit.json"))
    bare = {k: v for k, v in summary.items() if k not in ("posterior", "fisher")}
    (other / "summary.json").write_text(json.dumps(bare), encoding="utf-8")
    with pytest.raises(cal.CalibrationError, match="the run has no profiles, no posterior sampling and no Fisher"):
        cal.fit_from_run(str(other), PETAB, str(other / "fit.json"))
    shutil.copy(out / "summary.json", other / "summary.json")
    moved = json.loads((other / "summary.json").read_text(encoding="utf-8"))
    moved["problem"]["hash"] = "000000000000"
    (other / "summary.json").write_text(json.dumps(moved), encoding="utf-8")
    with pytest.raises(cal.CalibrationError, match="the run fitted PEtab problem 000000000000"):
        cal.fit_from_run(str(other), PETAB, str(other / "fit.json"))
    assert not (other / "fit.json").exists()


def test_a_second_run_on_the_same_folder_is_refused(tmp_path, capsys):
    """Two runs on one --out would append to the same stored starts and chains: the second is
    refused by name (exit 2) and writes nothing; the hold ends with its process."""
    out = tmp_path / "cal"
    code = ("import sys, time\nfrom il2sbml.analysis.calibrate import exclusive\n"
            "with exclusive(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(300)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["calibrate", "--quick", "--petab", PETAB, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"{out}: another il2sbml calibrate (pid {holder.pid} on " in err and "give this run another --out" in err
        assert os.listdir(out) == [".lock"]
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    with cal.exclusive(str(out)):
        assert (out / ".lock").read_text(encoding="utf-8").startswith(f"pid {os.getpid()} on ")


def test_missing_problem_is_refused_by_name(tmp_path):
    with pytest.raises(cal.CalibrationError, match="problem.yaml not found: write the problem first"):
        cal.load(str(tmp_path / "none"), str(tmp_path))


def _quadratic():
    """-log L = (x0 - 1)^2 / (2 * 0.1^2) on [-2, 3]^2, x1 free of the data: the 95 % profile interval
    of x0 is 1 -+ 1.96 * 0.1, x1 is not identifiable."""
    import pypesto

    def f(x):
        return (x[0] - 1.0) ** 2 / (2 * 0.1 ** 2)

    def g(x):
        return np.array([(x[0] - 1.0) / 0.1 ** 2, 0.0])

    def h(x):
        return np.diag([1 / 0.1 ** 2, 0.0])

    return pypesto.Problem(pypesto.Objective(fun=f, grad=g, hess=h), lb=[-2.0, -2.0], ub=[3.0, 3.0], x_names=["a", "b"])


def test_profiles_on_a_problem_with_a_known_answer_are_stored_and_reused(tmp_path):
    """profile_parameters (pyPESTO's profiles with the full run's Fides settings, two threads) on
    the quadratic: the interval of a is 1 -+ 0.196, b's is the box, open on both sides; each
    profile is stored and reused by a second run, and computed afresh for another problem."""
    problem, store, said = _quadratic(), tmp_path / "profiles", []
    records = cal.profile_parameters(problem, [1.0, 0.5], 0.0, str(store), "key", 2, said.append)
    a, b = (cal.profile_interval(records[n], -2.0, 3.0) for n in "ab")
    assert a["lower_scaled"] == pytest.approx(1 - 1.96 * 0.1, abs=2e-3)
    assert a["upper_scaled"] == pytest.approx(1 + 1.96 * 0.1, abs=2e-3)
    assert a["identifiable"] and a["lower_closed"] and a["upper_closed"] and not a["below_fit"]
    assert not b["identifiable"] and not b["lower_closed"] and not b["upper_closed"] and b["at_lb"] and b["at_ub"]
    assert (b["lower_scaled"], b["upper_scaled"]) == (-2.0, 3.0)
    assert sorted(os.listdir(store)) == ["profile_a.json", "profile_b.json"]
    assert records["a"]["x"] == sorted(records["a"]["x"]) and len(records["a"]["x_path"]) == 2
    assert said[0].endswith("0 of 2 already in " + str(store) + ", reused") and len(said) == 3
    said.clear()
    assert cal.profile_parameters(problem, [1.0, 0.5], 0.0, str(store), "key", 2, said.append) == records
    assert said == [f"calibrate: profiles: 2 of 2 already in {store}, reused"]
    cal.profile_parameters(problem, [1.0, 0.5], 0.0, str(store), "another", 1, said.append)
    assert said[1].endswith("0 of 2 already in " + str(store) + ", reused")
    cal._profile_figure(records, problem, str(tmp_path / "profiles.png"))
    assert (tmp_path / "profiles.png").stat().st_size > 1000


@pytest.mark.parametrize("fail_at, halves", [(25, {"down": False}), (60, {"down": True, "up": False})])
def test_an_interrupted_profile_resumes_where_its_walk_stopped(tmp_path, fail_at, halves):
    """A run stopped in the middle of a profile (the objective fails from its 25th call on, in the
    descending half of a; or from its 60th, in the ascending half, the descending one complete)
    leaves each half begun in a checkpoint; the next run takes a complete half as it is, continues
    the other from its last point, does not recompute what is stored, and stores the profile an
    uninterrupted run stores (same points, values and counts), then removes the checkpoints."""
    import pypesto

    calls = {"n": 0, "fail_at": 0}

    def f(x):
        calls["n"] += 1
        if calls["n"] >= calls["fail_at"] > 0:      # from then on (Fides absorbs a failed trial step)
            raise RuntimeError("stopped")
        return (x[0] - 1.0) ** 2 / (2 * 0.1 ** 2)

    base = _quadratic().objective
    problem = pypesto.Problem(pypesto.Objective(fun=f, grad=base.grad, hess=base.hess), lb=[-2.0, -2.0],
                              ub=[3.0, 3.0], x_names=["a", "b"])
    whole = cal.profile_parameters(problem, [1.0, 0.5], 0.0, str(tmp_path / "whole"), "key", 1, lambda m: None)
    uninterrupted, calls["n"], calls["fail_at"] = calls["n"], 0, fail_at
    store = tmp_path / "store"
    with pytest.raises(RuntimeError, match="stopped"):
        cal.profile_parameters(problem, [1.0, 0.5], 0.0, str(store), "key", 1, lambda m: None)
    assert sorted(os.listdir(store)) == sorted(f"partial_a_{h}.json" for h in halves)
    for h, complete in halves.items():
        half = json.loads((store / f"partial_a_{h}.json").read_text(encoding="utf-8"))
        assert half["complete"] == complete and half["stamp"]["name"] == "a" and len(half["fval_path"]) >= 3
        assert (half["x_path"][0][-1] < 1.0) == (h == "down") and half["x_path"][0][0] == 1.0   # walked from the fit
    calls["fail_at"], before = 0, calls["n"]
    resumed = cal.profile_parameters(problem, [1.0, 0.5], 0.0, str(store), "key", 1, lambda m: None)
    assert sorted(os.listdir(store)) == ["profile_a.json", "profile_b.json"]
    for name in "ab":
        for field in ("x", "fval", "x_path", "n_fval", "n_grad"):
            assert resumed[name][field] == whole[name][field], (name, field)
    assert calls["n"] - before < uninterrupted - 10      # the stored points were not redone


def test_a_profile_interval_is_interpolated_at_the_threshold():
    """The ends lie where the profile crosses 1.92 (linear between the points around it); a
    profile that dips below the fit says so."""
    t = cal.PROFILE_THRESHOLD
    rec = {"x": [0.0, 1.0, 2.0, 3.0, 4.0], "fval": [10 + 2 * t, 10 + t / 2, 10.0, 10 + t / 2, 10 + 2 * t],
           "f_best": 10.0}
    row = cal.profile_interval(rec, -5.0, 5.0)
    assert row["lower_scaled"] == pytest.approx(1 - 1 / 3) and row["upper_scaled"] == pytest.approx(3 + 1 / 3)
    assert row["identifiable"] and not row["below_fit"] and not row["at_lb"]
    rec["fval"][3] = 9.9
    row = cal.profile_interval(rec, -5.0, 5.0)
    assert row["below_fit"] and row["identifiable"]
    # a point above the threshold between two below it (an early-stopped re-optimisation) is not an end
    rec = {"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "fval": [10 + t / 2, 10 + 2 * t, 10 + t / 2, 10.0, 10 + t / 2,
                                                         10 + 3 * t], "f_best": 10.0}
    row = cal.profile_interval(rec, 0.0, 6.0)
    assert row["lower_scaled"] == 0.0 and not row["lower_closed"] and row["at_lb"] and not row["identifiable"]
    assert row["upper_scaled"] == pytest.approx(4.2) and row["upper_closed"]


def test_missing_calibration_stack_is_refused_by_name(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "fides", None)      # as if not installed
    with pytest.raises(cal.CalibrationError, match=r"needs pyPESTO, PEtab, AMICI and Fides \(fides is missing\): "
                                                   r"pip install -e '\.\[calibrate\]'"):
        cal.load(PETAB, "unused")


def test_reflect_folds_every_point_into_the_box():
    lb, ub = np.array([0.0, -2.0]), np.array([3.0, 2.0])
    inside = np.array([1.2, -1.9])
    assert np.array_equal(cal.reflect(inside, lb, ub), inside)
    assert cal.reflect(np.array([3.5, -2.5]), lb, ub) == pytest.approx([2.5, -1.5])
    assert cal.reflect(np.array([-0.4, 2.25]), lb, ub) == pytest.approx([0.4, 1.75])
    assert cal.reflect(np.array([7.0, 7.0]), lb, ub) == pytest.approx([1.0, -1.0])     # two faces, then back
    rng = np.random.default_rng(0)
    y = rng.normal(0.0, 20.0, size=(10_000, 2))
    folded = np.array([cal.reflect(v, lb, ub) for v in y])
    assert np.all((folded >= lb) & (folded <= ub))


def test_laplace_covariance_gives_a_flat_direction_the_box_variance():
    """Hessian diag(1, 0): the first parameter's variance is 1 / (1 + 12 / 3^2), the second's (no
    information) that of a uniform distribution over its bounds, 4^2 / 12."""
    cov = cal.laplace_covariance(np.diag([1.0, 0.0]), [0.0, -2.0], [3.0, 2.0])
    assert np.diag(cov) == pytest.approx([1 / (1 + 12 / 9), 16 / 12])
    assert cov[0, 1] == 0.0


def _truncated_and_flat():
    """A two-parameter posterior shaped like the fit's, and its Laplace covariance at (0, 0)."""
    import pypesto

    problem = pypesto.Problem(pypesto.Objective(fun=lambda x: 0.5 * x[0] ** 2), lb=[0.0, -2.0], ub=[3.0, 2.0],
                              x_names=["a", "b"])
    return problem, cal.laplace_covariance(np.diag([1.0, 0.0]), problem.lb, problem.ub)


def test_sampler_draws_a_known_posterior_with_a_mode_at_a_bound():
    """The calibration's sampler (pyPESTO's adaptive Metropolis from the Laplace covariance,
    reflecting bounds) on a two-parameter posterior with a known answer, shaped like the fit's: a
    standard normal truncated to [0, 3] (its mode on the lower bound, as 8 of the IL-2 fit's
    parameters) and a parameter the data leave flat on [-2, 2]. The draws' means and variances are
    the distributions' (truncated normal: mean 0.7912, variance 0.3474; uniform: 0, 4/3), no draw
    leaves the box, and a seed fixes the chain."""
    import pypesto.sample as sample

    problem, cov0 = _truncated_and_flat()

    def chain(n):
        np.random.seed(3)
        return sample.sample(problem, n_samples=n, sampler=cal._sampler(cov0),
                             x0=np.array([0.0, 0.0])).sample_result.trace_x[0]

    x = chain(40_000)[2_000:]
    assert np.all((x >= problem.lb) & (x <= problem.ub))
    assert x[:, 0].mean() == pytest.approx(0.7912, abs=0.04)
    assert x[:, 0].var() == pytest.approx(0.3474, abs=0.04)
    assert x[:, 1].mean() == pytest.approx(0.0, abs=0.1)
    assert x[:, 1].var() == pytest.approx(4 / 3, abs=0.12)
    assert np.array_equal(chain(300), chain(300))


def test_an_interrupted_chain_continues_sample_for_sample(tmp_path, monkeypatch):
    """A chain stored in segments (here of 100) and stopped at 300 continues, in a fresh sampler,
    to exactly the chain run to 500 at once (trace, and so every later proposal); a longer
    target extends it, another seed gives another chain."""
    problem, cov0 = _truncated_and_flat()
    monkeypatch.setattr(cal, "SEGMENT", 100)
    x0 = np.array([0.5, 0.0])
    whole, part, other = (str(tmp_path / f"{n}.npz") for n in ("whole", "part", "other"))
    said = []
    cal.run_chain(problem, x0, cov0, 500, 7, whole, progress=said.append)
    assert len(said) == 5 and said[-1].endswith("500 of 500 samples")
    cal.run_chain(problem, x0, cov0, 300, 7, part)
    assert len(np.load(part)["neglogpost"]) == 301
    cal.run_chain(problem, x0, cov0, 500, 7, part)
    a, b = np.load(whole), np.load(part)
    assert np.array_equal(a["x"], b["x"]) and np.array_equal(a["neglogpost"], b["neglogpost"])
    assert np.array_equal(a["cov"], b["cov"]) and float(a["cov_scale"]) == float(b["cov_scale"])
    assert len(np.unique(a["x"][:, 0])) > 50                                  # it moved
    cal.run_chain(problem, x0, cov0, 500, 8, other)
    assert not np.array_equal(np.load(other)["x"], a["x"])


def test_the_published_parameter_table_matches_the_fit_file():
    """docs/calibration.md's table of the published fit (parameter_table's output) has a row for
    exactly the fit file's parameters, with its value and, in the column of the method the fit
    file's intervals come from (profile likelihood, posterior or Wald), the same interval (none
    for a Wald interval at a bound)."""
    import re

    number = re.compile(r"[0-9][0-9,]*(?:\.[0-9]+)?(?:e[+-][0-9]+)?")     # positive: a '-' only in exponents

    def values(cell):      # the numbers of a cell, without its remarks in brackets ("(bound)", "(clipped: ...)")
        return [float(v.replace(",", "")) for v in number.findall(re.sub(r" \([^)]*\)", "", cell))]

    with open("model_src/il2_fit.json", encoding="utf-8") as fh:
        fit = json.load(fh)
    with open("docs/calibration.md", encoding="utf-8") as fh:
        lines = [line.strip("| \n").split(" | ") for line in fh if line.startswith("| ")]
    heads = next(cells for cells in lines if cells[:2] == ["parameter", "unit"])
    rows = {cells[0][1:-1]: cells for cells in lines if cells[0].startswith("`") and len(cells) == len(heads)}
    assert set(rows) == set(fit["parameters"])
    method = next(m for m in ("profile", "posterior", "Wald") if fit["ci_method"].startswith(m))
    column = next(i for i, h in enumerate(heads) if h.startswith(method))
    for name, p in fit["parameters"].items():
        cells = rows[name]
        assert values(cells[heads.index("best fit")]) == pytest.approx([p["value"]], rel=5e-3)
        if p["ci95"] is None:
            assert method == "Wald" and cells[column] == "at a bound"
        else:
            assert values(cells[column]) == pytest.approx(p["ci95"], rel=5e-3)
