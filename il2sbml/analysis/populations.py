"""Intrinsic and extrinsic noise of a population (issue 15): how much of the cell-to-cell
variance of a readout comes from the cells' different parameters, how much from reaction noise.

The same cells (one seed) are simulated twice: stochastically (SSA, ``il2sbml ensemble``) and
deterministically (one ODE per cell, ``--method ode``). By the law of total variance,

    Var(X) = Var_cells(E[X | cell]) + E_cells(Var(X | cell))
           =        extrinsic       +        intrinsic,

and the deterministic population's variance is the extrinsic part when each cell's ODE solution
is its conditional mean (exact for first-order networks, a large-number approximation otherwise:
the IL-2 readouts are thousands of molecules). So intrinsic = Var_SSA - Var_ODE.

Confidence interval (95 %): each sample variance's standard error from its own fourth moment,
``se(s^2)^2 = (m4 - s^4 (n - 3) / (n - 1)) / n`` (m4 from the exact excess kurtosis of the
streamed statistics), combined as if the two runs were independent. They share their cells, which
correlates the two variances positively, so this interval is conservative (too wide, not too
narrow). The ODE population's counts are rounded to whole molecules (variance error < 1/12 + the
cross term, negligible against thousands of molecules; stated in the output).
"""

from __future__ import annotations

import copy
import math
import sys

from ..lang.errors import Il2sbmlError

__all__ = ["variance_se", "noise_decomposition", "noise_command", "NOISE_HEADER"]

NOISE_HEADER = ["point", "time", "output", "n", "mean_ssa", "mean_ode", "var_total", "var_extrinsic",
                "var_intrinsic", "var_intrinsic_low", "var_intrinsic_high", "intrinsic_fraction",
                "intrinsic_fraction_low", "intrinsic_fraction_high"]


def variance_se(n: int, sd: float, excess_kurtosis: float) -> float:
    """Standard error of the sample variance s^2 (n - 1 denominator) from s and the population
    excess kurtosis g2 of the same sample."""
    if n < 4 or not math.isfinite(excess_kurtosis):
        return 0.0 if sd == 0.0 else math.nan
    s2 = sd * sd
    m2 = s2 * (n - 1) / n
    m4 = (excess_kurtosis + 3.0) * m2 * m2
    return math.sqrt(max(m4 - s2 * s2 * (n - 3) / (n - 1), 0.0) / n)


def noise_decomposition(ssa, ode, ids) -> list[list]:
    """Rows of :data:`NOISE_HEADER` for two :class:`~il2sbml.simulate.ensemble.EnsembleRun` of the
    same population (same seed, cells, times and outputs): SSA and ``method="ode"``."""
    if ssa.distributions is None or ode.distributions is None:
        raise Il2sbmlError("the noise decomposition needs two population runs (--population)")
    if len(ssa.results) != len(ode.results) or ssa.n_runs != ode.n_runs:
        raise Il2sbmlError("the SSA and ODE runs differ in their points or cells")
    rows = []
    for p, (rs, ro, ds, do) in enumerate(zip(ssa.results, ode.results, ssa.distributions, ode.distributions)):
        label = ssa.sweep.label(p) if ssa.sweep is not None else ""
        for k, tk in enumerate(rs.t):
            for j, out in enumerate(ids):
                n = rs.n_runs
                sd_s, sd_o = float(rs.sd[k, j]), float(ro.sd[k, j])
                vt, ve = sd_s * sd_s, sd_o * sd_o
                vi = vt - ve
                se = math.hypot(variance_se(n, sd_s, float(ds["kurtosis"][k, j])),
                                variance_se(n, sd_o, float(do["kurtosis"][k, j])))
                lo, hi = vi - 1.96 * se, vi + 1.96 * se
                frac = vi / vt if vt > 0 else math.nan
                flo = lo / vt if vt > 0 else math.nan
                fhi = hi / vt if vt > 0 else math.nan
                rows.append([label, float(tk), out, n, float(rs.mean[k, j]), float(ro.mean[k, j]), vt, ve, vi,
                             lo, hi, frac, flo, fhi])
    return rows


def noise_command(args) -> int:
    """``il2sbml noise``: the same cells by SSA and by ODE, and the decomposition as CSV."""
    from ..formats.files import atomic_write
    from ..simulate import select
    from ..simulate.ensemble import command_run

    if not getattr(args, "population", None):
        raise Il2sbmlError("il2sbml noise needs --population FILE.csv (the cells whose variation is extrinsic)")
    if args.method == "ode":
        raise Il2sbmlError("--method picks the stochastic simulation (auto, direct, tree); the ODE run is added")
    a = copy.copy(args)
    a.store = a.distribution_csv = None
    a.resume = a.keep_trajectories = False
    ssa, ids, _sweep, _t = command_run(a)
    b = copy.copy(a)
    b.method = "ode"
    ode, _ids, _sweep, _t = command_run(b)
    rows = noise_decomposition(ssa, ode, ids)
    atomic_write(args.out, select.csv_table(rows, NOISE_HEADER))
    print(f"{args.model}: {args.runs} cells x {len(ssa.results)} point(s), SSA ({ssa.results[0].method}) and ODE, "
          f"seed {args.seed} -> {args.out}")
    if not getattr(args, "quiet", False):
        print(ssa.summary(), file=sys.stderr)
        print(ode.summary(), file=sys.stderr)
    return 0
