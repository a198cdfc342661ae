"""Chunked / distributed ensembles (il2sbml.simulate.ensemble): client memory, per-chunk overhead, scaling.

    python benchmarks/ensemble.py memory [--runs 1000000] [--t-end 0.05] [--workers 2]
    python benchmarks/ensemble.py trajectories [--runs 20000] [--chunk-size 500]
    python benchmarks/ensemble.py overhead [--runs 20000]
    python benchmarks/ensemble.py scaling [--runs 800] [--chunk-size 50] [--t-end 600]
    python benchmarks/ensemble.py all --json OUT.json

Model: the full IL-2 model (``model_src/il2.py``, Treg parameter set, ``--il2-pm`` (default 1
pM), initial amounts rounded; species and reaction counts are printed, the model is still being
edited), every species observed, 11 output times from 0 to ``--t-end`` s. The kernels' cost per
run grows with dose and simulated time (measured with the 159-species / 746-reaction version:
0.35 ms of CPU per run at 1 pM and 60 s, 27 ms at 600 s; 0.23 s at 10 pM and 600 s; 1.4 s at
100 pM and 600 s); the client's memory does not, it depends on the statistics' size (time
points x species) and the number of chunks in flight. So ``memory`` uses 60 s at 1 pM to
simulate 1,000,000 runs in minutes on two cores.

* ``memory``: peak resident memory (RSS, sampled every 50 ms, and ru_maxrss) of the client
  process -- the one that calls ``ensemble.run`` and holds the statistics; with ``--workers``
  the scheduler of the LocalCluster lives in it too, the workers are other processes -- for
  statistics only, at 10^4, 10^5 and 10^6 runs (``--runs`` is the largest).
* ``trajectories``: the same with ``--keep-trajectories`` into a Zarr store: client RSS and
  store size after each chunk (memory must stay flat while the store grows).
* ``overhead``: wall time of the same runs cut into chunks of several sizes, embedded and on
  two warm local workers, for a near-free model (simple_system, 0.001 s: ~6 events per run)
  and with a store; the slope against the number of chunks is the cost of one chunk.
* ``scaling``: one warm local worker vs two (a LocalCluster started and warmed up before the
  clock starts), same runs and chunks; ratio of wall times, and the workers' CPU seconds over
  the wall time (the parallelism the machine actually granted).

The machine is reported with the numbers (CPU count, load average before and after): on a
shared 2-core machine the 2-worker figure is bounded by what the other tenants leave.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from il2sbml.simulate import ensemble as E  # noqa: E402


def il2_arrays(il2_pm=1.0):
    from il2sbml.simulate.compile import compile_network
    from il2sbml.formats.load import load_model
    from il2sbml.generate.netgen import generate_network

    m = load_model(str(ROOT / "model_src" / "il2.py")).with_parameter_set("Treg")
    m.parameter_set("bench", {"IL2_pM": float(il2_pm)})
    return compile_network(generate_network(m.with_parameter_set("bench")), round_initial=True)


def simple_arrays():
    from il2sbml.simulate.compile import compile_network
    from il2sbml.formats.load import load_model
    from il2sbml.generate.netgen import generate_network

    return compile_network(generate_network(load_model(str(ROOT / "tests" / "models" / "simple_system.py"))))


class RSS:
    """Peak and trace of this process's resident memory (sampled in a thread)."""

    def __init__(self, every=0.05):
        import psutil

        self.proc = psutil.Process()
        self.every = every
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every)

    def now(self):
        return self.proc.memory_info().rss

    def __enter__(self):
        self.peak = self.now()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.now())


def mib(b):
    return round(b / 2 ** 20, 1)


def machine():
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "loadavg": list(os.getloadavg())}


def local_cluster(n):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR, memory_limit=0)
    return cluster, Client(cluster)


def descendants_cpu() -> float:
    """User + system CPU seconds of every process below this one (the local Dask workers)."""
    import psutil

    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            c = p.cpu_times()
            total += c.user + c.system
        except psutil.Error:
            pass
    return total


def warm(address, arrays, t):
    E.run(arrays, t, 8, 1, chunk_size=1, scheduler=address, progress=False)


def bench_memory(args):
    arrays = il2_arrays(args.il2_pm)
    t = np.linspace(0.0, args.t_end, 11)
    out = {"model": f"il2 Treg IL2_pM={args.il2_pm}", "species": arrays.n_species, "reactions": arrays.n_reactions,
           "points": len(t), "t_end": args.t_end,
           "workers": args.workers, "rows": []}
    sizes = [n for n in (10_000, 100_000, 1_000_000) if n < args.runs] + [args.runs]
    for n in sizes:
        chunk = args.chunk_size or E.default_chunk_size(n, args.workers or 1)
        with RSS() as rss:
            before = rss.now()
            t0 = time.perf_counter()
            res = E.run(arrays, t, n, 2024, chunk_size=chunk, workers=args.workers or None,
                        threads=None if args.workers else args.threads, progress=not args.quiet)
            wall = time.perf_counter() - t0
        row = {"runs": n, "chunk_size": res.chunk_size, "chunks": res.n_chunks, "wall_s": round(wall, 1),
               "runs_per_s": round(n / wall), "rss_before_mib": mib(before), "rss_peak_mib": mib(rss.peak),
               "ru_maxrss_mib": mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}
        out["rows"].append(row)
        print(json.dumps(row), flush=True)
    return out


def bench_trajectories(args):
    arrays = il2_arrays(args.il2_pm)
    t = np.linspace(0.0, args.t_end, 11)
    tmp = tempfile.mkdtemp(prefix="ens-bench-")
    store = os.path.join(tmp, "traj.zarr")
    trace = []
    rss_probe = RSS()

    def du(path):
        return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)

    def on_chunk(done, total, info):
        if info.get("chunk", 0) % max(1, args.trace_every) == 0 or done == total:
            trace.append({"runs": done, "rss_mib": mib(rss_probe.now()), "store_mib": mib(du(store))})

    try:
        with RSS() as rss:
            t0 = time.perf_counter()
            res = E.run(arrays, t, args.runs, 7, chunk_size=args.chunk_size, workers=args.workers or None,
                        store=store, keep_trajectories=True, progress=on_chunk)
            wall = time.perf_counter() - t0
        out = {"runs": args.runs, "chunk_size": res.chunk_size, "species": arrays.n_species, "points": len(t),
               "bytes_per_run_raw": len(t) * arrays.n_species * 8, "wall_s": round(wall, 1),
               "rss_peak_mib": mib(rss.peak), "store_mib": mib(du(store)), "trace": trace}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({k: v for k, v in out.items() if k != "trace"}), flush=True)
    for row in trace:
        print("  ", json.dumps(row))
    return out


def _fit(xs, ys):
    a = np.vstack([np.asarray(xs, float), np.ones(len(xs))]).T
    slope, icpt = np.linalg.lstsq(a, np.asarray(ys, float), rcond=None)[0]
    return float(slope), float(icpt)


def bench_overhead(args):
    out = {"runs": args.runs, "rows": []}
    simple = simple_arrays()
    il2 = il2_arrays()
    t_simple = np.linspace(0.0, 0.001, 11)
    t_il2 = np.linspace(0.0, 0.02, 11)
    sizes = [args.runs, args.runs // 10, args.runs // 100, args.runs // 1000]
    cluster, client = local_cluster(2)
    try:
        addr = cluster.scheduler_address
        warm(addr, simple, t_simple)
        warm(addr, il2, t_il2)
        for label, arrays, t, kw in (
                ("simple, embedded (1 thread)", simple, t_simple, {"threads": 1}),
                ("simple, embedded + store", simple, t_simple, {"threads": 1, "store": True}),
                ("simple, 2 warm local workers", simple, t_simple, {"scheduler": addr}),
                (f"il2 stats ({il2.n_species} sp x 11 t), embedded + store", il2, t_il2,
                 {"threads": 1, "store": True, "small": True}),
                (f"il2 stats ({il2.n_species} sp x 11 t), 2 workers + store", il2, t_il2,
                 {"scheduler": addr, "store": True, "small": True})):
            n = args.runs // 10 if kw.pop("small", False) else args.runs
            walls, chunks = [], []
            for c in sorted({max(1, s * n // args.runs) for s in sizes}, reverse=True):
                tmp = tempfile.mkdtemp(prefix="ens-oh-") if kw.get("store") else None
                kw2 = dict(kw)
                if kw2.pop("store", False):
                    kw2["store"] = os.path.join(tmp, "s.zarr")
                t0 = time.perf_counter()
                res = E.run(arrays, t, n, 5, chunk_size=c, progress=False, **kw2)
                walls.append(time.perf_counter() - t0)
                chunks.append(res.n_chunks)
                if tmp:
                    shutil.rmtree(tmp, ignore_errors=True)
            slope, icpt = _fit(chunks, walls)
            row = {"case": label, "runs": n, "chunks": chunks, "wall_s": [round(w, 3) for w in walls],
                   "per_chunk_ms": round(1e3 * slope, 2), "fixed_s": round(icpt, 3)}
            out["rows"].append(row)
            print(json.dumps(row), flush=True)
    finally:
        client.close()
        cluster.close()
    return out


def bench_scaling(args):
    arrays = il2_arrays(args.il2_pm)
    t = np.linspace(0.0, args.t_end, 11)
    out = {"model": f"il2 Treg IL2_pM={args.il2_pm}", "species": arrays.n_species,
           "reactions": arrays.n_reactions, "runs": args.runs, "t_end": args.t_end, "chunk_size": args.chunk_size,
           "machine_before": machine(), "rows": []}
    walls = {}
    for rep in range(args.repeats):
        for n_workers in (1, 2):
            cluster, client = local_cluster(n_workers)
            try:
                addr = cluster.scheduler_address
                warm(addr, arrays, t)
                load = os.getloadavg()[0]
                cpu0 = descendants_cpu()
                t0 = time.perf_counter()
                res = E.run(arrays, t, args.runs, 99, chunk_size=args.chunk_size, scheduler=addr, progress=False)
                wall = time.perf_counter() - t0
                cpu = descendants_cpu() - cpu0
            finally:
                client.close()
                cluster.close()
            walls.setdefault(n_workers, []).append(wall)
            row = {"workers": n_workers, "repeat": rep, "wall_s": round(wall, 2),
                   "runs_per_s": round(args.runs / wall, 1), "worker_cpu_s": round(cpu, 2),
                   "cpu_per_wall": round(cpu / wall, 2), "loadavg_1min_before": load,
                   "events": res.results[0].n_events}
            out["rows"].append(row)
            print(json.dumps(row), flush=True)
    best1, best2 = min(walls[1]), min(walls[2])
    out["speedup_best"] = round(best1 / best2, 2)
    out["machine_after"] = machine()
    # embedded on 2 Numba threads, the same runs, for reference
    t0 = time.perf_counter()
    E.run(arrays, t, args.runs, 99, chunk_size=args.chunk_size, threads=2, progress=False)
    out["embedded_2_threads_wall_s"] = round(time.perf_counter() - t0, 2)
    print(json.dumps({k: out[k] for k in ("speedup_best", "embedded_2_threads_wall_s")}), flush=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["memory", "trajectories", "overhead", "scaling", "all"])
    ap.add_argument("--runs", type=int)
    ap.add_argument("--t-end", type=float)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--il2-pm", type=float, default=1.0, help="IL-2 dose of the IL-2 model (pM)")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--chunk-size", type=int)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--trace-every", type=int, default=5)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    results = {"machine": machine()}
    todo = ["memory", "trajectories", "overhead", "scaling"] if args.what == "all" else [args.what]
    defaults = {"memory": (1_000_000, 60.0, None), "trajectories": (20_000, 60.0, 500),
                "overhead": (20_000, None, None), "scaling": (800, 600.0, 50)}
    for what in todo:
        sub = argparse.Namespace(**vars(args))
        runs, t_end, chunk = defaults[what]
        sub.runs = args.runs or runs
        sub.t_end = args.t_end or t_end
        sub.chunk_size = args.chunk_size or chunk
        print(f"== {what}", flush=True)
        results[what] = globals()["bench_" + what](sub)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
