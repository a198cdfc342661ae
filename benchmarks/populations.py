"""Populations of Tregs: what a deterministic (ODE per cell) and a stochastic (SSA) population
cost, against the peer a user would otherwise script (libRoadRunner per cell, its CVODE and its
``gillespie``), on the same cells (receptor numbers from data/populations/Treg.csv).

    python benchmarks/populations.py [--ode-cells 200] [--ssa-cells 20] [--workers 2] [--json OUT]
        [--interpolate N [--interpolated-cells 100000] [--only-interpolated]]

Reports (medians of the per-chunk rates where it applies):

* ODE population: seconds per cell and dose (pSTAT5 at 30 min and 1 h) with ``il2sbml ensemble
  --method ode`` on ``--workers`` processes, and the projection to 100,000 cells x 12 doses;
* with ``--interpolate N``: 100,000 Tregs x 12 doses interpolated on N exact ODEs per receptor
  (wall time, and the error each dose's run measured against the exact ODE of its checked cells);
* libRoadRunner's CVODE on one process, the same cells, set by hand (the peer): seconds per cell;
* SSA population: 30 min at 3 doses (1, 10, 100 pM): seconds per cell and events per second with
  ``il2sbml ensemble`` (threads = workers), and libRoadRunner's ``gillespie`` on a few of the same
  cells (seconds per cell; its events are not reported by libRoadRunner).

Units: seconds of wall time; events per second of wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from il2sbml.formats.load import load_model  # noqa: E402
from il2sbml.formats.sbml import write_sbml  # noqa: E402
from il2sbml.generate.netgen import generate_network  # noqa: E402
from il2sbml.simulate import ensemble as E  # noqa: E402
from il2sbml.simulate import select  # noqa: E402
from il2sbml.simulate.compile import compile_network  # noqa: E402
from il2sbml.simulate.population import sampler  # noqa: E402

POP = str(ROOT / "data" / "populations" / "Treg.csv")


def _nets(doses):
    base = load_model(str(ROOT / "model_src" / "il2.py")).with_parameter_set("Treg")
    nets = []
    for d in doses:
        base.parameter_set("_dose", {"IL2_pM": float(d)})
        nets.append(generate_network(base.with_parameter_set("_dose")))
        base.parameter_sets.pop("_dose")
    return nets


def _models(nets):
    """One SSA payload per dose network: its kernel arrays and the Treg population."""
    return {net.parameters["IL2_pM"]: E.payload(compile_network(net, round_initial=True),
                                                population=sampler(net, POP)) for net in nets}


def bench_ode(n_cells, workers, seed=1):
    """``il2sbml populations``' engine: one compiled model per cell type, the dose set per cell."""
    from il2sbml.analysis.populations import predict_populations

    doses = (1.0, 100.0)
    t0 = time.perf_counter()
    runs = predict_populations(str(ROOT / "model_src" / "il2.py"), cell_types=("Treg",), doses_pM=doses,
                               n_cells=n_cells, seed=seed, workers=workers)
    wall = time.perf_counter() - t0
    per = wall / (n_cells * len(doses))
    # the peer: libRoadRunner's CVODE, the same cells, one process, set by hand
    from il2sbml.simulate.ode import Simulator

    net = generate_network(load_model(str(ROOT / "model_src" / "il2.py")).with_parameter_set("Treg"))
    sim = Simulator(write_sbml(net), rtol=E.ODE_RTOL)
    cells = sampler(net, POP)
    v = cells.draw(seed, 0, min(n_cells, 50))
    t1 = time.perf_counter()
    for row in v:
        sim.at_times([0.0, 1800.0, 3600.0], ["pSTAT5"], IL2_pM=1.0,
                     **dict(zip(cells.population.names, map(float, row))))
    peer = (time.perf_counter() - t1) / len(v)
    run = runs["Treg"]
    return {"cells": n_cells, "doses": len(doses), "workers": workers, "wall_s": wall,
            "s_per_cell_dose_including_start_up": per, "projected_100k_x_12_s": per * 100_000 * 12,
            "peer_libroadrunner_cvode_s_per_cell_one_process": peer,
            "mean_pSTAT5_1h_molecules": [float(r.mean[2, 0]) / 100 for r in run.results]}


def bench_ode_interpolated(n_cells, workers, nodes, seed=1, tol=None):
    """The issue's size: ``n_cells`` Tregs x 12 doses (0.32 pM-100 nM), pSTAT5 at 30 min and 1 h,
    with ``interpolate=nodes``: wall time, and per dose the grid's exact ODEs and the error the run
    measured on its checked cells (exact ODE of ~100 evenly spaced cells and the extreme ones)."""
    from il2sbml.analysis.populations import predict_populations

    t0 = time.perf_counter()
    try:
        run = predict_populations(str(ROOT / "model_src" / "il2.py"), cell_types=("Treg",), n_cells=n_cells,
                                  seed=seed, workers=workers, interpolate=nodes, interpolate_tol=tol)["Treg"]
    except E.EnsembleError as exc:     # the run's own check refused the grid: say so, with the time it took
        return {"cells": n_cells, "workers": workers, "nodes_per_receptor": nodes, "refused": str(exc),
                "wall_s_until_refused": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    checks = run.interpolation
    return {"cells": n_cells, "doses": len(run.results), "workers": workers, "nodes_per_receptor": nodes,
            "tolerance": tol,
            "grid_odes_per_dose": checks[0]["nodes"], "wall_s": wall,
            "checked_cells_per_dose": checks[0]["checked_cells"],
            "max_rel_error": max(c["max_rel_error"] for c in checks),
            "max_abs_error_molecules": max(c["max_abs_error"] for c in checks),
            "per_dose_max_rel_error": [c["max_rel_error"] for c in checks],
            "mean_pSTAT5_1h_molecules": [float(r.mean[2, 0]) / 100 for r in run.results]}


def bench_ssa(n_cells, threads, seed=1, peer_cells=3):
    doses = (1.0, 10.0, 100.0)
    nets = _nets(doses)
    models = _models(nets)
    sp, W, names = select.pick_observables(nets[0], "pSTAT5")
    t = np.array([0.0, 900.0, 1800.0])
    t0 = time.perf_counter()
    run = E.run(lambda v: models[v["IL2_pM"]], t, n_cells, seed, species=sp, species_ids=names, observables=W,
                sweep=E.parse_sweep(["IL2_pM=" + ",".join(map(str, doses))]), threads=threads, progress=False)
    wall = time.perf_counter() - t0
    events = sum(r.n_events for r in run.results)
    out = {"cells": n_cells, "doses": len(doses), "threads": threads, "wall_s": wall,
           "s_per_cell": wall / (n_cells * len(doses)), "events": events, "events_per_s": events / wall}
    # the peer: libRoadRunner's gillespie on the same cells (receptor numbers set by hand), one process
    import roadrunner

    rr = roadrunner.RoadRunner(write_sbml(nets[1]))
    rr.setIntegrator("gillespie")
    rr.integrator.variable_step_size = False
    rr.integrator.seed = seed
    rr.timeCourseSelections = ["time", "pSTAT5"]
    cells = sampler(nets[1], POP)
    v = cells.draw(seed, 0, peer_cells)
    t1 = time.perf_counter()
    for row in v:
        rr.resetAll()
        for name, val in zip(cells.population.names, row):
            rr.model[f"init({name})"] = float(round(val))
        rr.reset(int(roadrunner.SelectionRecord.ALL) & ~int(roadrunner.SelectionRecord.SBML_INITIALIZE))
        rr.simulate(0.0, 1800.0, 3)
    out["peer_libroadrunner_gillespie_s_per_cell_10pM"] = (time.perf_counter() - t1) / peer_cells
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ode-cells", type=int, default=200)
    ap.add_argument("--ssa-cells", type=int, default=20)
    ap.add_argument("--peer-cells", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--interpolate", type=int, default=0, metavar="N",
                    help="also the interpolated population (N nodes per receptor) of --interpolated-cells x 12 doses")
    ap.add_argument("--interpolated-cells", type=int, default=100_000)
    ap.add_argument("--interpolate-tol", type=float, help="the run's check tolerance (default: ensemble's, 1e-3)")
    ap.add_argument("--only-interpolated", action="store_true", help="skip the exact ODE and SSA parts")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    res = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"}
    if not a.only_interpolated:
        res["ode"] = bench_ode(a.ode_cells, a.workers)
        res["ssa"] = bench_ssa(a.ssa_cells, a.workers, peer_cells=a.peer_cells)
    if a.interpolate:
        res["ode_interpolated"] = bench_ode_interpolated(a.interpolated_cells, a.workers, a.interpolate,
                                                         tol=a.interpolate_tol)
    print(json.dumps(res, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
