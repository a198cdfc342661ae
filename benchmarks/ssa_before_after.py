"""Mass-action event rates of the SSA kernels at two commits, measured in the same run.

    python benchmarks/ssa_before_after.py --base 73e7bda              # base commit vs the work tree
    python benchmarks/ssa_before_after.py --base 73e7bda --rounds 7 --sizes 50,200,1000

The base commit's ``kernels/`` is exported (``git archive``) into a temporary folder; the
work tree's ``kernels/`` is the other side. For each network (``random_network`` of
benchmarks/ssa_kernels.py: mass-conserving binding networks, mass action only) and each exact
method, every round runs one fresh subprocess per side, in alternating order (so both see the
same machine load), each measuring events per CPU second of one Numba thread
(``time.thread_time``) over one ensemble after a warm-up; the table gives the median over
rounds per side and the ratio of medians (work tree / base). Numba's caches are per side
(each tree's own ``__pycache__``), warmed before the first round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import importlib.util, json, sys, time
import numpy as np
sys.path.insert(0, {root!r})
from kernels import run_ensemble
spec = importlib.util.spec_from_file_location("ssa_kernels", {bench!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
net = mod.random_network({size}, seed=0)
t = np.array([0.0, {t_end!r}])
run_ensemble(net, t, 1, 1, {method!r}, n_threads=1)
t0 = time.thread_time()
res = run_ensemble(net, t, 2, 7, {method!r}, n_threads=1)
print(json.dumps(res.n_events / (time.thread_time() - t0)))
"""


def rate(root: Path, size: int, method: str, t_end: float) -> float:
    code = CHILD.format(root=str(root), bench=str(ROOT / "benchmarks" / "ssa_kernels.py"), size=size,
                        method=method, t_end=t_end)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def t_end_for(size: int, target: float = 1.5e6) -> float:
    """Simulated time giving about ``target`` events per run (measured on the work tree)."""
    code = CHILD.format(root=str(ROOT), bench=str(ROOT / "benchmarks" / "ssa_kernels.py"), size=size,
                        method="direct", t_end=0.01).replace("res.n_events / (time.thread_time() - t0)",
                                                              "res.n_events / 2")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return 0.01 * target / max(float(out.stdout.strip().splitlines()[-1]), 1.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="git revision to compare with (its kernels/)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", default="50,200,1000")
    ap.add_argument("--json", default=None, help="also write the raw rates here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base], capture_output=True,
                         text=True, check=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="il2sbml-base-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "kernels"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        sides = {"base": Path(tmp), "work": ROOT}
        raw: dict = {}
        for size in sizes:
            t_end = t_end_for(size)
            for method in ("direct", "tree"):
                for side in sides.values():   # warm each side's Numba cache
                    rate(side, size, method, t_end / 20)
                key = f"{size}/{method}"
                raw[key] = {"base": [], "work": []}
                for r in range(args.rounds):
                    order = ("base", "work") if r % 2 == 0 else ("work", "base")
                    for name in order:
                        raw[key][name].append(rate(sides[name], size, method, t_end))
                b, w = statistics.median(raw[key]["base"]), statistics.median(raw[key]["work"])
                print(f"| {size} | {method} | {b / 1e6:.2f} | {w / 1e6:.2f} | {w / b:.3f} |", flush=True)
    print(f"(base {rev}, work tree at {head}; {args.rounds} rounds; M events per CPU second, one thread)")
    if args.json:
        Path(args.json).write_text(json.dumps({"base": rev, "head": head, "rates": raw}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
