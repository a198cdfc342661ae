"""The bivalent Fc fusion: its networks, what they cost, and the pair approximation checked
against the full network.

    python benchmarks/bivalent.py [--cells Treg,NK] [--doses 10,300,10000] [--full-check] [--json OUT]
    python benchmarks/bivalent.py --jit [--repeats 3]

The full network of the bivalent fusion (``_build(2, bivalent="full")``, 7,785 species) is
beyond libRoadRunner (it crashes or compiles for > 12 minutes), so the reference here is the
full network's mass-action ODE integrated by SciPy's BDF with a sparse Jacobian and a sparse
LU (SuperLU, minimum-degree ordering of A + A^T): the network's own rate constants, no
approximation. It runs on the exact downstream cut (``downstream=False``: the PI3K, Akt and
Ras/ERK rules, which nothing upstream of pSTAT5 reads, left out: 5,483 species);
``--full-check`` also integrates the uncut network at the first cell and dose, to show the
cut is exact. The pair approximation (``_build(2)``, what ``--valency 2`` builds) runs on
libRoadRunner through ``il2sbml.simulate.ode.Simulator``.

Reports pSTAT5 (molecules per cell) at 30 min and 1 h per cell type and dose (pM of fusion),
the relative difference pair / full - 1, and the times (seconds of wall time): network
generation, SBML writing, libRoadRunner loading and one time course.

``--jit``: libRoadRunner's two LLVM back ends (MCJIT, its default in 2.10, and LLJIT, what
``il2sbml.simulate.ode.Simulator`` uses) on the IL-2 model and the pair approximation, each load
in a fresh process (libRoadRunner caches compiled models within one): median load time, median
time of a 1-h pSTAT5 time course (rtol 1e-8), and whether the trajectories are bitwise equal.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.integrate import BDF
from scipy.sparse.linalg import splu

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from il2sbml.formats.sbml import write_sbml  # noqa: E402
from il2sbml.generate.netgen import generate_network  # noqa: E402
from il2sbml.simulate.ode import Simulator  # noqa: E402

TIMES_S = (1800.0, 3600.0)


def il2_module():
    spec = importlib.util.spec_from_file_location("il2_model_bench", ROOT / "model_src" / "il2.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class MassActionODE:
    """dx/dt = S v(x), v_j = k_j prod x_reactants (molecules per cell, seconds), with its
    sparse Jacobian, for a network whose reactions all have rate constants."""

    def __init__(self, net, dose_pM: float):
        params = dict(net.parameters)
        params["IL2_pM"] = dose_pM
        net.parameters = params        # a copy per dose; the generated network is otherwise unchanged
        self.k = np.array(net.rate_values())
        self.x0 = np.array(net.initial_amounts())
        n, m = len(net.species), len(net.reactions)
        width = max(len(r.reactants) for r in net.reactions)
        self.idx = np.full((m, width), n, dtype=np.int64)     # padding reads x[n] = 1
        rows, cols, vals = [], [], []
        for j, r in enumerate(net.reactions):
            self.idx[j, :len(r.reactants)] = r.reactants
            change: dict[int, int] = {}
            for i in r.reactants:
                change[i] = change.get(i, 0) - 1
            for i in r.products:
                change[i] = change.get(i, 0) + 1
            for i, v in change.items():
                if v:
                    rows.append(i)
                    cols.append(j)
                    vals.append(v)
        self.S = sp.csr_matrix((vals, (rows, cols)), shape=(n, m))
        slots = [(np.nonzero(self.idx[:, s] < n)[0], s) for s in range(width)]
        self.jr = np.concatenate([j for j, _ in slots])
        self.jc = np.concatenate([self.idx[j, s] for j, s in slots])
        self.slot = np.concatenate([np.full(len(j), s) for j, s in slots])
        self.n, self.m, self.width = n, m, width

    def rhs(self, t, x):
        return self.S @ (self.k * np.prod(np.append(x, 1.0)[self.idx], axis=1))

    def jac(self, t, x):
        xs = np.append(x, 1.0)[self.idx]
        data = np.empty(len(self.jr))
        for s in range(self.width):
            other = np.prod(np.delete(xs, s, axis=1), axis=1) * self.k
            sel = self.slot == s
            data[sel] = other[self.jr[sel]]
        d = sp.csr_matrix((data, (self.jr, self.jc)), shape=(self.m, self.n))   # repeated entries add up
        return (self.S @ d).tocsc()

    def solve(self, times, rtol=1e-8, atol=1e-6):
        solver = BDF(self.rhs, 0.0, self.x0, times[-1], jac=self.jac, rtol=rtol, atol=atol)

        def lu(a):      # SuperLU with a minimum-degree ordering of A + A^T: ~3x less fill than COLAMD here
            solver.nlu += 1
            return splu(a, permc_spec="MMD_AT_PLUS_A")
        solver.lu = lu
        out, k = [], 0
        while k < len(times):
            if solver.t >= times[k]:
                out.append(solver.dense_output()(times[k]) if solver.t > times[k] else solver.y.copy())
                k += 1
                continue
            msg = solver.step()
            if solver.status == "failed":
                raise RuntimeError(f"BDF failed: {msg}")
        return np.array(out)


def observable(net, name, states):
    ob = next(o for o in net.observables if o.name == name)
    return [float(sum(w * y[i] for i, w in ob.weights)) for y in states]


_JIT_CHILD = r"""
import json, sys, time, statistics
import roadrunner as rr
backend, path = sys.argv[1], sys.argv[2]
rr.Config.setValue(rr.Config.LLVM_BACKEND, rr.Config.LLJIT if backend == "LLJIT" else rr.Config.MCJIT)
text = open(path).read()
t = time.perf_counter(); r = rr.RoadRunner(text); load = time.perf_counter() - t
r.integrator.relative_tolerance = 1e-8
runs = []
for _ in range(5):
    r.resetAll(); t = time.perf_counter(); res = r.simulate(0, 3600, 3, ["time", "pSTAT5"])
    runs.append(time.perf_counter() - t)
print(json.dumps({"load_s": load, "sim_s": statistics.median(runs), "pSTAT5": [float(v) for v in res[:, 1]]}))
"""


def jit_benchmark(repeats: int) -> dict:
    import statistics
    import subprocess
    import tempfile

    il2 = il2_module()
    models = {"IL-2 model (Treg)": il2._build(1).with_parameter_set("Treg"),
              "bivalent pair, downstream=False (Treg)": il2._build(2, downstream=False).with_parameter_set("Treg")}
    out: dict = {}
    print("| model | reactions | back end | load s (median) | 1-h time course s (median) | same pSTAT5 bits |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, model in models.items():
            net = generate_network(model)
            path = Path(tmp) / "m.xml"
            path.write_text(write_sbml(net))
            res = {}
            for backend in ("MCJIT", "LLJIT"):
                runs = [json.loads(subprocess.run([sys.executable, "-c", _JIT_CHILD, backend, str(path)],
                                                  capture_output=True, text=True, check=True).stdout)
                        for _ in range(repeats)]
                res[backend] = {"load_s": statistics.median(r["load_s"] for r in runs),
                                "sim_s": statistics.median(r["sim_s"] for r in runs), "pSTAT5": runs[0]["pSTAT5"]}
            same = res["MCJIT"]["pSTAT5"] == res["LLJIT"]["pSTAT5"]
            for backend, r in res.items():
                print(f"| {label} | {len(net.reactions):,} | {backend} | {r['load_s']:.2f} | {r['sim_s']:.3f} | "
                      f"{'yes' if same else 'no'} |", flush=True)
            out[label] = res
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", default="Treg,NK")
    ap.add_argument("--doses", default="10,300,10000", help="pM of fusion molecules")
    ap.add_argument("--full-check", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--jit", action="store_true", help="only the MCJIT / LLJIT comparison")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    if args.jit:
        report = jit_benchmark(args.repeats)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1))
        return 0
    cells = args.cells.split(",")
    doses = [float(d) for d in args.doses.split(",")]
    il2 = il2_module()
    report: dict = {"times_s": TIMES_S, "rows": [], "timing": {}}

    t = time.perf_counter()
    pair_model = il2._build(2, downstream=False)
    pair_net = generate_network(pair_model.with_parameter_set(cells[0]))
    report["timing"]["pair_generate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    sbml = write_sbml(pair_net)
    report["timing"]["pair_write_s"] = time.perf_counter() - t
    t = time.perf_counter()
    sim = Simulator(sbml)
    report["timing"]["pair_load_s"] = time.perf_counter() - t
    report["pair_network"] = [len(pair_net.species), len(pair_net.reactions)]
    cut_model = il2._build(2, bivalent="full", downstream=False)
    print(f"pair approximation: {len(pair_net.species)} species, {len(pair_net.reactions)} reactions; "
          f"generated {report['timing']['pair_generate_s']:.1f} s, written {report['timing']['pair_write_s']:.1f} s, "
          f"libRoadRunner load {report['timing']['pair_load_s']:.1f} s", flush=True)
    print("| cell | dose (pM) | pSTAT5 30 min full | pair | pair/full - 1 | pSTAT5 1 h full | pair | pair/full - 1 | "
          "full BDF s | pair s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for cell in cells:
        t = time.perf_counter()
        cut_net = generate_network(cut_model.with_parameter_set(cell))
        report["timing"].setdefault("full_cut_generate_s", time.perf_counter() - t)
        report["full_cut_network"] = [len(cut_net.species), len(cut_net.reactions)]
        values = pair_model.parameter_sets[cell].as_dict()
        for dose in doses:
            t = time.perf_counter()
            states = MassActionODE(cut_net, dose).solve(TIMES_S)
            t_full = time.perf_counter() - t
            full = observable(cut_net, "pSTAT5", states)
            t = time.perf_counter()
            res = sim.time_course(TIMES_S[-1], 3, ["pSTAT5"], IL2_pM=dose, **values)   # 0, 30 min, 1 h
            t_pair = time.perf_counter() - t
            pair = [float(v) for v in res["pSTAT5"][1:]]
            rel = [p / f - 1 for p, f in zip(pair, full)]
            report["rows"].append({"cell": cell, "dose_pM": dose, "full": full, "pair": pair, "rel": rel,
                                   "full_s": t_full, "pair_s": t_pair})
            print(f"| {cell} | {dose:g} | {full[0]:,.0f} | {pair[0]:,.0f} | {rel[0]:+.2%} | {full[1]:,.0f} | "
                  f"{pair[1]:,.0f} | {rel[1]:+.2%} | {t_full:.0f} | {t_pair:.2f} |", flush=True)
    if args.full_check:
        cell, dose = cells[0], doses[0]
        t = time.perf_counter()
        full_net = generate_network(il2._build(2, bivalent="full").with_parameter_set(cell))
        t_gen = time.perf_counter() - t
        t = time.perf_counter()
        states = MassActionODE(full_net, dose).solve(TIMES_S)
        t_full = time.perf_counter() - t
        uncut = observable(full_net, "pSTAT5", states)
        cut = next(r["full"] for r in report["rows"] if r["cell"] == cell and r["dose_pM"] == dose)
        report["uncut"] = {"cell": cell, "dose_pM": dose, "network": [len(full_net.species), len(full_net.reactions)],
                           "pSTAT5": uncut, "cut": cut, "generate_s": t_gen, "bdf_s": t_full}
        print(f"uncut full network ({len(full_net.species)} species, {len(full_net.reactions)} reactions; generated "
              f"{t_gen:.0f} s, BDF {t_full:.0f} s), {cell} at {dose:g} pM: pSTAT5 {uncut[0]:,.2f} / {uncut[1]:,.2f}; "
              f"cut {cut[0]:,.2f} / {cut[1]:,.2f}; largest relative difference "
              f"{max(abs(a / b - 1) for a, b in zip(uncut, cut)):.1e}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
