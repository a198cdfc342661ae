"""Event rates of the SSA kernels on random mass-action networks (kernels only, no il2sbml).

    python benchmarks/ssa_kernels.py                 # event rates + crossover table
    python benchmarks/ssa_kernels.py --startup       # JIT cold vs cached start-up (subprocesses)
    python benchmarks/ssa_kernels.py --quick         # fewer sizes, shorter runs
    python benchmarks/ssa_kernels.py --threads       # also 1 vs 2 threads (wall time)

Networks (``random_network``) are random receptor-assembly-like systems that conserve mass, so
they stay bounded and reach a stationary regime: species are monomers (size 1) or dimers (size
2); reactions are reversible pairs drawn at random from monomer isomerisation ``A <-> B`` and
binding ``A + B <-> C`` (C a dimer; A = B gives a homodimer ``2A <-> C``). Every monomer
starts at 500 copies. M reactions over about M/3 species gives ~3 reactions per species and
~10-15 propensity updates per event, like the 17-species / 50-reaction receptor network of
the issue. Rate constants are log-uniform, scaled so the system does ~10^5-10^6 events per
unit time.

Rates are events per second of the calling thread's CPU time (``time.thread_time``; with
``n_threads=1`` the work runs on that thread; on a shared machine CPU time is fairer than wall
time, and unlike process time it ignores OpenMP pool threads spinning) on ONE Numba thread,
after a warm-up call, best of ``--repeats``, direct and tree interleaved (in alternating
order) so that both see the same machine load. ``--threads`` adds the wall time of one ensemble on 1 and on 2 threads. The crossover used by ``method="auto"``
(``kernels.ensemble.AUTO_TREE_MIN_REACTIONS``) comes from the table this prints.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels import network_from_reactions, run_ensemble  # noqa: E402


def random_network(n_reactions: int, seed: int = 0, n_species: int | None = None):
    """A random mass-conserving network with ``n_reactions`` reactions (even: reversible pairs)."""
    rng = np.random.default_rng(seed)
    if n_species is None:
        n_species = max(4, round(n_reactions / 3))
    n_mono = max(3, int(round(n_species * 0.45)))
    n_dimer = max(1, n_species - n_mono)
    n_species = n_mono + n_dimer
    n_pairs = n_mono * (n_mono - 1) // 2 + n_mono * (n_mono + 1) // 2 * n_dimer
    if 2 * n_pairs < n_reactions:
        raise ValueError(f"{n_species} species allow at most {2 * n_pairs} reactions")
    mono = list(range(n_mono))
    dimers = list(range(n_mono, n_species))
    reactants, products, rates = [], [], []
    seen = set()
    while len(reactants) < n_reactions:
        if rng.random() < 0.3:
            a, b = rng.choice(mono, 2, replace=False)
            key = ("iso", min(a, b), max(a, b))
            fwd, rev = ([int(a)], [int(b)]), ([int(b)], [int(a)])
            kf, kr = 10 ** rng.uniform(-1, 0.5), 10 ** rng.uniform(-1, 0.5)
        else:
            a, b = rng.choice(mono, 2, replace=True)
            c = int(rng.choice(dimers))
            key = ("bind", min(a, b), max(a, b), c)
            fwd, rev = ([int(a), int(b)], [c]), ([c], [int(a), int(b)])
            kf, kr = 10 ** rng.uniform(-4, -2.5), 10 ** rng.uniform(-1, 0.5)
            if a == b:
                kf *= 0.5
        if key in seen:
            continue
        seen.add(key)
        for (r, p), k in ((fwd, kf), (rev, kr)):
            if len(reactants) < n_reactions:
                reactants.append(r)
                products.append(p)
                rates.append(k)
    x0 = np.zeros(n_species, np.int64)
    x0[:n_mono] = 500
    return network_from_reactions(x0, reactants, products, np.array(rates))


def event_rates(net, methods, t_end, n_runs=2, repeats=3, seed=1):
    """{method: events per CPU second on one thread}, best of ``repeats``, interleaved."""
    t = np.array([0.0, t_end])
    for m in methods:
        run_ensemble(net, t, 1, seed, m, n_threads=1)  # warm-up / JIT
    best = dict.fromkeys(methods, 0.0)
    for r in range(repeats):
        for m in (methods if r % 2 == 0 else methods[::-1]):  # alternate: no order bias
            t0 = time.thread_time()
            res = run_ensemble(net, t, n_runs, seed + r, m, n_threads=1)
            dt = time.thread_time() - t0
            best[m] = max(best[m], res.n_events / dt)
    return best


def thread_scaling(net, t_end, n_runs=16, repeats=3):
    """Wall seconds of one ensemble with 1 and with 2 Numba threads (best of ``repeats``).

    The two are interleaved, in alternating order, with the same seed in each repeat (the
    same trajectories), so that both see the same machine load."""
    t = np.array([0.0, t_end])
    run_ensemble(net, t, 2, 1, "direct", n_threads=2)
    out = {1: math.inf, 2: math.inf}
    for r in range(repeats):
        for nt in ((1, 2) if r % 2 == 0 else (2, 1)):
            t0 = time.perf_counter()
            run_ensemble(net, t, n_runs, 5 + r, "direct", n_threads=nt)
            out[nt] = min(out[nt], time.perf_counter() - t0)
    return out


def calibrate(net, target_events=1_000_000):
    """t_end giving about ``target_events`` events per run."""
    res = run_ensemble(net, np.array([0.0, 0.01]), 1, 123, "tree", n_threads=1)
    rate = max(res.n_events, 1) / 0.01
    return target_events / rate


def startup(method="direct"):
    """Wall time of a fresh process's first ensemble, with the on-disk cache cold and warm."""
    code = (
        "import time; t0 = time.perf_counter()\n"
        "import numpy as np\n"
        "from kernels import network_from_reactions, run_ensemble\n"
        "net = network_from_reactions([100], [[0], [0]], [[0, 0], []], [0.1, 0.11])\n"
        f"run_ensemble(net, np.arange(51.0), 10, 1, {method!r})\n"
        "print(time.perf_counter() - t0)\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    cache = root / "build" / "numba-startup-cache"
    env["NUMBA_CACHE_DIR"] = str(cache)
    out = {}
    for label in ("cold", "cached", "cached-again"):
        if label == "cold":
            subprocess.run(["rm", "-rf", str(cache)], check=True)
        r = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True,
                           text=True, check=True)
        out[label] = float(r.stdout.strip().splitlines()[-1])
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--startup", action="store_true", help="only measure JIT start-up")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", type=str, default=None, help="comma-separated reaction counts")
    ap.add_argument("--threads", action="store_true", help="also time 1 vs 2 threads")
    ap.add_argument("--json", type=str, default=None)
    args = ap.parse_args(argv)
    if args.startup:
        for m in ("direct", "tau"):
            print(m, json.dumps(startup(m)))
        return
    if args.sizes:
        sizes = [int(v) for v in args.sizes.split(",")]
    elif args.quick:
        sizes = [20, 50, 100, 1000]
    else:
        sizes = [10, 20, 32, 50, 64, 80, 100, 128, 200, 500, 1000, 2000, 5000, 20000]
    target = 100_000 if args.quick else 300_000
    rows = []
    print(f"{'M':>6} {'N':>5} {'deps/ev':>7} {'direct ev/s':>12} {'tree ev/s':>12} "
          f"{'tree/direct':>11}")
    for m in sizes:
        net = random_network(m, seed=m)
        t_end = calibrate(net, target)
        deps = np.diff(net.dep_ptr).mean()
        r = event_rates(net, ("direct", "tree"), t_end, repeats=args.repeats)
        rows.append({"reactions": m, "species": net.n_species, "deps": float(deps), **r})
        print(f"{m:6d} {net.n_species:5d} {deps:7.1f} {r['direct']:12.3e} {r['tree']:12.3e} "
              f"{r['tree'] / r['direct']:11.2f}", flush=True)
    if args.threads:
        net = random_network(50, seed=50)
        w = thread_scaling(net, calibrate(net, target))
        print(f"ensemble of 16 runs, 50 reactions: 1 thread {w[1]:.3f} s, 2 threads "
              f"{w[2]:.3f} s, speed-up {w[1] / w[2]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
