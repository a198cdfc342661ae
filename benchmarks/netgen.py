"""Benchmark il2sbml's native network generator, with BioNetGen's BNG2.pl as a reference.

Models: ``blbr`` and ``toy_jim`` (the DSL files in ``tests/models/``) and a scaling series
``scaffold_n``: a scaffold ``S(y1~U~P,...,yn~U~P)`` whose n sites are phosphorylated and
dephosphorylated independently, and n docking partners ``Pi(s)``, each binding site ``yi``
only while it is phosphorylated. Each site has 3 states (U, P, P bound to Pi), so the network
has 3^n + n species and 4·n·3^(n-1) reactions (n=2: 24 ... n=6: 5,832, n=7: 20,412).

Per model, every repeat runs in a fresh subprocess (``--worker``) so that memory starts clean:

* ``median s``: median over the repeats of the wall time of the ``generate_network`` call
  alone (model construction, imports and interpreter start-up excluded);
* ``peak MB``: ``tracemalloc`` peak of Python allocations during ``generate_network``,
  measured in one extra subprocess (tracemalloc slows the call, so it is not timed);
* ``RSS MB``: peak resident set size (``ru_maxrss`` from ``wait4``) of the timing
  subprocess, i.e. the whole interpreter including imports, ~20 MB before generation
  (max over the repeats);
* ``BNG2.pl s``: median wall time of ``perl BNG2.pl`` on the same model with only its
  ``generate_network`` action (simulation and writer actions stripped), start-up, parsing
  and writing the ``.net`` file included; ``BNG gen s``: the ``CPU TIME: generate_network``
  BNG2.pl reports for the action itself; ``BNG MB``: peak RSS of the BNG2.pl process;
  ``ratio`` = ``median s`` / ``BNG2.pl s``.

RSS is read through a small launcher process: Linux carries the forking process's RSS
high-water mark over fork+exec, so the launcher's ~7 MB is a floor under both RSS columns.

Species and reaction counts are checked against the ``.net`` file BNG2.pl writes; a
mismatch is flagged in the table and makes the exit status 1.

Usage::

    python benchmarks/netgen.py [--repeats R] [--quick] [--json OUT] [--no-bng]
                                [--max-n N] [--profile MODEL]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DSL_MODELS = {"blbr": "tests/models/blbr.py", "toy_jim": "tests/models/toy_jim.py"}
BNGL_FILES = {"blbr": "blbr/blbr.bngl", "toy_jim": "toy-jim/toy-jim.bngl"}
SUITE_BNGL = os.environ.get("IL2SBML_SUITE_BNGL", "/work/shared/suite/bngl")


def _bng2_path() -> str | None:
    if os.environ.get("BNG2"):
        return os.environ["BNG2"]
    import importlib.util
    spec = importlib.util.find_spec("bionetgen")  # the pip package ships BNG2.pl
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "bng-linux", "BNG2.pl")
    return path if os.path.exists(path) else None


# --------------------------------------------------------------------------- models

def _scaffold_spec(n: int):
    sites = ",".join(f"y{i}~U~P" for i in range(1, n + 1))
    seed = "S(" + ",".join(f"y{i}~U" for i in range(1, n + 1)) + ")"
    params = [("kp", 1.0), ("kd", 1.0), ("kon", 1.0), ("koff", 1.0), ("S0", 100), ("P0", 100)]
    types = [f"S({sites})"] + [f"P{i}(s)" for i in range(1, n + 1)]
    seeds = [(seed, "S0")] + [(f"P{i}(s)", "P0") for i in range(1, n + 1)]
    rules = []
    for i in range(1, n + 1):
        rules += [(f"phos{i}", f"S(y{i}~U) -> S(y{i}~P)", ("kp",)),
                  (f"dephos{i}", f"S(y{i}~P) -> S(y{i}~U)", ("kd",)),
                  (f"bind{i}", f"S(y{i}~P) + P{i}(s) <-> S(y{i}~P!1).P{i}(s!1)", ("kon", "koff"))]
    return params, types, seeds, rules


def scaffold_model(n: int):
    """The scaling-series model as an il2sbml DSL model."""
    from il2sbml import Model
    params, types, seeds, rules = _scaffold_spec(n)
    m = Model(f"scaffold_{n}")
    for name, value in params:
        m.parameter(name, value)
    for t in types:
        m.molecule_type(t)
    for pattern, amount in seeds:
        m.seed(pattern, amount)
    for name, text, rates in rules:
        m.rule(name, text, *rates)
    return m


def scaffold_bngl(n: int) -> str:
    """The same scaling-series model as BNGL, with a generate_network action only."""
    params, types, seeds, rules = _scaffold_spec(n)
    out = ["begin model", "begin parameters"]
    out += [f"  {k} {v}" for k, v in params]
    out += ["end parameters", "begin molecule types"] + [f"  {t}" for t in types]
    out += ["end molecule types", "begin seed species"] + [f"  {p} {a}" for p, a in seeds]
    out += ["end seed species", "begin reaction rules"]
    out += [f"  {name}: {text} {','.join(rates)}" for name, text, rates in rules]
    out += ["end reaction rules", "end model", "generate_network({overwrite=>1})", ""]
    return "\n".join(out)


def load(name: str):
    import il2sbml
    if name.startswith("scaffold_"):
        return scaffold_model(int(name.split("_")[1]))
    return il2sbml.load_model(os.path.join(ROOT, DSL_MODELS[name]))


_KEEP_ACTIONS = ("generate_network", "setOption", "version", "setModelName")


def strip_actions(text: str) -> str:
    """Keep the model blocks, ``setOption``/``version`` and the ``generate_network`` action only.

    Actions outside ``begin``/``end`` blocks may span several lines; a statement runs until
    its parentheses balance. ``overwrite=>1`` is added to ``generate_network`` when absent.
    """
    out, depth, stmt, parens = [], 0, [], 0
    for line in text.splitlines():
        code = line.split("#", 1)[0].strip()
        if stmt:
            stmt.append(line)
            parens += code.count("(") - code.count(")")
            if parens <= 0:
                if stmt[0].strip().startswith(_KEEP_ACTIONS):
                    out.extend(stmt)
                stmt = []
            continue
        if re.match(r"begin\b", code):
            depth += 1
            out.append(line)
        elif re.match(r"end\b", code):
            depth -= 1
            out.append(line)
        elif depth == 0 and re.match(r"[A-Za-z_]\w*\s*\(", code):
            parens = code.count("(") - code.count(")")
            if parens > 0:
                stmt = [line]
            elif code.startswith(_KEEP_ACTIONS):
                out.append(line)
        else:
            out.append(line)
    text = "\n".join(out) + "\n"
    if "generate_network" not in text:
        text += "generate_network({overwrite=>1})\n"
    elif "overwrite" not in text:
        text = re.sub(r"generate_network\(\s*\{", "generate_network({overwrite=>1,", text)
        text = re.sub(r"generate_network\(\s*\)", "generate_network({overwrite=>1})", text)
    return text


def bngl_text(name: str) -> str | None:
    if name.startswith("scaffold_"):
        return scaffold_bngl(int(name.split("_")[1]))
    path = os.path.join(SUITE_BNGL, BNGL_FILES[name])
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        return strip_actions(fh.read())


# --------------------------------------------------------------------------- measurement

def worker(name: str, mode: str) -> None:
    """Run one generation in this (fresh) process and print a JSON line."""
    import resource
    import il2sbml
    model = load(name)
    result = {"model": name,
              "rss_before_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if mode == "trace":
        import tracemalloc
        tracemalloc.start()
        net = il2sbml.generate_network(model)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["tracemalloc_peak_mb"] = peak / 2**20
    elif mode == "profile":
        import cProfile
        import pstats
        prof = cProfile.Profile()
        prof.enable()
        net = il2sbml.generate_network(model)
        prof.disable()
        stats = pstats.Stats(prof, stream=sys.stderr).strip_dirs()
        stats.sort_stats("cumulative").print_stats(20)
        stats.sort_stats("tottime").print_stats(12)
    else:
        t0 = time.perf_counter()
        net = il2sbml.generate_network(model)
        result["seconds"] = time.perf_counter() - t0
    result["species"] = len(net.species)
    result["reactions"] = len(net.reactions)
    print(json.dumps(result))


# A lean launcher process forks and execs the command and reports the child's ru_maxrss.
# Linux carries the RSS high-water mark of the forking process over fork+exec, so forking
# directly from this (larger) driver would put a floor under every measurement; through
# the launcher the floor is the launcher's own ~7 MB.
_LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write("\\nMAXRSS_KB %d\\n" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_child(cmd, cwd=None):
    """Run a subprocess; return (stdout, wall seconds, peak RSS MB of that child)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-S", "-I", "-c", _LAUNCHER, *cmd], cwd=cwd,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                           f"{(proc.stdout + proc.stderr)[-3000:]}")
    maxrss_kb = int(re.findall(r"MAXRSS_KB (\d+)", proc.stderr)[-1])
    return proc.stdout, wall, maxrss_kb / 1024  # Linux: ru_maxrss in KiB


def _worker_cmd(name, mode):
    return [sys.executable, os.path.abspath(__file__), "--worker", name, "--mode", mode]


def measure_ours(name: str, repeats: int) -> dict:
    times, rss, counts = [], [], None
    for _ in range(repeats):
        out, _, maxrss = _run_child(_worker_cmd(name, "time"))
        r = json.loads(out.strip().splitlines()[-1])
        times.append(r["seconds"])
        rss.append(maxrss)
        base = r["rss_before_mb"]
        counts = (r["species"], r["reactions"])
    out, _, _ = _run_child(_worker_cmd(name, "trace"))
    trace = json.loads(out.strip().splitlines()[-1])
    return {"species": counts[0], "reactions": counts[1], "seconds": statistics.median(times),
            "seconds_all": times, "tracemalloc_peak_mb": trace["tracemalloc_peak_mb"],
            "rss_mb": max(rss), "rss_baseline_mb": base}


def _net_counts(path: str) -> tuple[int, int]:
    counts, block = {"species": 0, "reactions": 0}, None
    with open(path) as fh:
        for line in fh:
            s = line.split("#", 1)[0].strip()
            if s.startswith("begin "):
                block = s.split()[1]
            elif s.startswith("end "):
                block = None
            elif s and block in counts:
                counts[block] += 1
    return counts["species"], counts["reactions"]


def measure_bng(name: str, repeats: int, bng2: str) -> dict | None:
    text = bngl_text(name)
    if text is None or not shutil.which("perl"):
        return None
    times, gen, rss, counts = [], [], [], None
    with tempfile.TemporaryDirectory(prefix="bngbench_") as tmp:
        path = os.path.join(tmp, f"{name}.bngl")
        with open(path, "w") as fh:
            fh.write(text)
        for _ in range(repeats):
            out, wall, maxrss = _run_child(["perl", bng2, "--outdir", tmp, path], cwd=tmp)
            times.append(wall)
            rss.append(maxrss)
            m = re.search(r"CPU TIME: generate_network\s+([\d.eE+-]+)", out)
            gen.append(float(m.group(1)) if m else float("nan"))
            counts = _net_counts(os.path.join(tmp, f"{name}.net"))
    return {"species": counts[0], "reactions": counts[1], "seconds": statistics.median(times),
            "seconds_all": times, "gen_cpu_seconds": statistics.median(gen), "rss_mb": max(rss)}


# --------------------------------------------------------------------------- driver

def model_list(quick: bool, max_n: int) -> list[str]:
    if quick:
        return ["blbr", "toy_jim", "scaffold_2", "scaffold_3"]
    return ["blbr", "toy_jim"] + [f"scaffold_{n}" for n in range(2, max_n + 1)]


def _fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats per model (default 3)")
    ap.add_argument("--quick", action="store_true", help="small subset, for smoke tests")
    ap.add_argument("--json", metavar="OUT", help="write the results as JSON to OUT")
    ap.add_argument("--no-bng", action="store_true", help="skip the BNG2.pl reference runs")
    ap.add_argument("--max-n", type=int, default=7, help="largest scaffold size (default 7)")
    ap.add_argument("--profile", metavar="MODEL",
                    help="cProfile one generation of MODEL (e.g. scaffold_7) and exit")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="time", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        worker(args.worker, args.mode)
        return 0
    if args.profile:
        return subprocess.call(_worker_cmd(args.profile, "profile"))

    bng2 = None if args.no_bng else _bng2_path()
    if not args.no_bng and bng2 is None:
        print("note: BNG2.pl not found (set BNG2=/path/to/BNG2.pl); BNG columns left empty",
              file=sys.stderr)
    header = (f"{'model':<12} {'species':>7} {'reactions':>9} {'median s':>9} {'peak MB':>8} "
              f"{'RSS MB':>7} {'BNG2.pl s':>9} {'BNG gen s':>9} {'BNG MB':>7} {'ratio':>6}  counts")
    print(f"repeats={args.repeats}; median s: median wall time of the generate_network call; "
          f"peak MB: its tracemalloc peak;\nRSS MB / BNG MB: ru_maxrss of the whole worker / "
          f"BNG2.pl process; ratio = median s / BNG2.pl s", flush=True)
    print(header)
    print("-" * len(header), flush=True)
    results, ok = [], True
    for name in model_list(args.quick, args.max_n):
        ours = measure_ours(name, args.repeats)
        bng = measure_bng(name, args.repeats, bng2) if bng2 else None
        row = {"model": name, **ours, "bng": bng}
        if bng:
            row["ratio"] = ours["seconds"] / bng["seconds"]
            row["counts_match"] = (ours["species"], ours["reactions"]) == (bng["species"], bng["reactions"])
            ok &= row["counts_match"]
            check = "= BNG" if row["counts_match"] else f"MISMATCH (BNG {bng['species']}/{bng['reactions']})"
        else:
            check = "-"
        results.append(row)
        print(f"{name:<12} {ours['species']:>7} {ours['reactions']:>9} {ours['seconds']:>9.3f} "
              f"{ours['tracemalloc_peak_mb']:>8.1f} {ours['rss_mb']:>7.1f} "
              f"{_fmt(bng and bng['seconds'], '9.3f'):>9} {_fmt(bng and bng['gen_cpu_seconds'], '9.2f'):>9} "
              f"{_fmt(bng and bng['rss_mb'], '7.1f'):>7} "
              f"{_fmt(row.get('ratio'), '6.3f'):>6}  {check}", flush=True)
    if args.json:
        meta = {"python": sys.version.split()[0], "nproc": os.cpu_count(), "repeats": args.repeats,
                "date": time.strftime("%Y-%m-%d"), "bng2": bng2}
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
