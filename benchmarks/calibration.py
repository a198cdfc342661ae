"""Objective and gradient of the IL-2 calibration problem: AMICI against libRoadRunner.

    python benchmarks/calibration.py [--petab build/petab] [--repeats 5] [--json out.json]

Times, in one process on the same PEtab problem (``build/petab``) at its nominal point (the
fit), the engines a user of pyPESTO would choose between:

* AMICI (pyPESTO's PEtab importer): objective; objective and gradient by adjoint and by forward
  sensitivities, at il2sbml.analysis.calibrate's tolerances (1e-6) and at AMICI's defaults (1e-8/1e-16);
* libRoadRunner (pyPESTO's RoadRunner objective): objective; its gradient by central finite
  differences costs 2 x (parameters) objectives (it has no sensitivities), reported as such.

Reports medians over the repeats and the ratio of each to AMICI's adjoint gradient. The model
compiles first (AMICI ~35 s, libRoadRunner ~45 s), not timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from il2sbml.analysis import calibrate as cal  # noqa: E402


def _median(f, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--petab", default="build/petab")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    import amici.sim.sundials as asu
    from pypesto.objective.roadrunner import PetabImporterRR

    with tempfile.TemporaryDirectory() as work:
        problem, pp = cal.load(args.petab, work)
        x = pp.get_reduced_vector(np.asarray(problem.x_nominal_scaled))
        n = len(x)
        solver = cal._amici_objective(pp.objective).amici_solver
        rows = {}
        rows["AMICI objective"] = _median(lambda: pp.objective(x, sensi_orders=(0,)), args.repeats)
        rows["AMICI objective + gradient, adjoint"] = _median(lambda: pp.objective(x, sensi_orders=(0, 1)), args.repeats)
        solver.set_sensitivity_method(asu.SensitivityMethod.forward)
        rows["AMICI objective + gradient, forward"] = _median(lambda: pp.objective(x, sensi_orders=(0, 1)),
                                                              max(1, args.repeats // 2))
        solver.set_sensitivity_method(asu.SensitivityMethod.adjoint)
        for suffix in ("", "_b", "_quadratures"):
            getattr(solver, "set_relative_tolerance" + suffix)(1e-8)
            getattr(solver, "set_absolute_tolerance" + suffix)(1e-16)
        rows["AMICI objective + gradient, adjoint, default tolerances"] = _median(
            lambda: pp.objective(x, sensi_orders=(0, 1)), max(1, args.repeats // 2))
        rr = PetabImporterRR(problem, validate_petab=False).create_problem()
        xr = rr.get_reduced_vector(np.asarray(problem.x_nominal_scaled))
        rows["libRoadRunner objective"] = _median(lambda: rr.objective(xr), args.repeats)
        rows[f"libRoadRunner gradient by central differences (2 x {n} objectives)"] = \
            2 * n * rows["libRoadRunner objective"]
    ref = rows["AMICI objective + gradient, adjoint"]
    print(f"{'evaluation':70s} {'median s':>9s} {'/ adjoint':>9s}")
    for k, v in rows.items():
        print(f"{k:70s} {v:9.3f} {v / ref:9.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"parameters": n, "seconds": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
