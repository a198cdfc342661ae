"""Benchmark il2sbml's network generator against BioNetGen's BNG2.pl on the same BNGL files.

Every model is a BNGL file, read by both tools:

* the ten BioNetGen validation models of the shared suite (``$IL2SBML_SUITE/bngl``, default
  ``../shared/suite/bngl`` beside the repository, as the tests find it), with the ``generate_network`` options they carry
  (``max_stoich`` for blbr, ``max_iter`` for tlbr);
* the models in ``benchmarks/models/``: ``egfr_signalling`` (EGF receptor, Grb2, Shc, Sos:
  356 species, 3,645 reactions) and ``egfr_plcg`` (the same with a PLCgamma docking site:
  4,858 species, 71,242 reactions);
* a scaling series written as ``.bngl`` files into a temporary folder: ``scaffold_n`` is
  a scaffold ``S(y1~U~P,...,yn~U~P)`` whose sites are phosphorylated and dephosphorylated
  independently, and n docking partners ``Pi(s)``, each binding ``yi`` while it is
  phosphorylated (3^n + n species, 4·n·3^(n-1) reactions); ``scaffold_n_m`` adds m sites
  ``z1..zm`` that are only phosphorylated and dephosphorylated (3^n·2^m + n species,
  3^(n-1)·2^m·(4n+3m) reactions). Default series: scaffold_2..8 plus scaffold_7_1 and
  scaffold_8_1, i.e. 24 to 153,090 reactions.

Per model, in fresh subprocesses:

* ``ours s``: median over the repeats of the wall time of ``read_bngl(path)`` +
  ``generate_network(model)`` (imports and interpreter start-up excluded); ``gen s``: the
  ``generate_network`` part alone. The safety limits (``max_species``, ``max_reactions``,
  ``timeout``) are lifted so that no model is refused for its size; they change nothing
  below them;
* ``peak MB``: ``tracemalloc`` peak of Python allocations during read + generation, in one
  extra subprocess (tracemalloc slows the call, so it is not timed);
* ``RSS MB``: peak resident set size (``ru_maxrss`` from ``wait4``) of the timing subprocess,
  the whole interpreter included (~20 MB before reading), max over the repeats;
* ``BNG2.pl s``: median wall time of the whole ``perl BNG2.pl`` process on a copy of the file
  that keeps the model and its ``generate_network`` action only (simulation, writer and
  ``setParameter`` actions stripped): start-up, parsing and writing the ``.net`` file
  included. ``BNG gen s``: the ``CPU TIME: generate_network`` BNG2.pl reports for the action
  itself. ``BNG MB``: peak RSS of the BNG2.pl process. A run longer than ``--bng-timeout``
  seconds is killed and recorded as ``>T``; a run longer than 60 s is not repeated;
* ``ratio`` = ``BNG2.pl s`` / ``ours s`` (how many times faster il2sbml is).

RSS is read through a small launcher process: Linux carries the forking process's RSS
high-water mark over fork+exec, so the launcher's ~7 MB is a floor under both RSS columns.

Species and reaction counts are checked against the ``.net`` file BNG2.pl writes; a
mismatch is flagged in the table and makes the exit status 1.

Usage::

    python benchmarks/netgen.py [--repeats R] [--quick] [--json OUT] [--no-bng]
                                [--bng-timeout S] [--max-n N] [--models A,B,...]
                                [--profile MODEL]
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
OWN_MODELS = os.path.join(ROOT, "benchmarks", "models")
# the shared reference suite, as the tests find it: $IL2SBML_SUITE, else ../shared/suite
SUITE_BNGL = os.path.join(os.environ.get("IL2SBML_SUITE") or os.path.join(os.path.dirname(ROOT), "shared", "suite"),
                          "bngl")
# the ten validation models, smallest network first
SUITE_MODELS = ("simple_system", "michment", "heise", "univ_synth", "statfactor", "test_fixed",
                "Haugh2b", "tlbr", "blbr", "toy-jim")
BNG_REPEAT_LIMIT = 60.0    # seconds: a BNG2.pl run longer than this is not repeated


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

def _scaffold_spec(n: int, m: int = 0):
    """Parameters, molecule types, seeds and rules of ``scaffold_n`` (``scaffold_n_m``)."""
    ys = [f"y{i}" for i in range(1, n + 1)]
    zs = [f"z{j}" for j in range(1, m + 1)]
    sites = ",".join(f"{s}~U~P" for s in ys + zs)
    seed = "S(" + ",".join(f"{s}~U" for s in ys + zs) + ")"
    params = [("kp", 1.0), ("kd", 1.0), ("kon", 1.0), ("koff", 1.0), ("S0", 100), ("P0", 100)]
    types = [f"S({sites})"] + [f"P{i}(s)" for i in range(1, n + 1)]
    seeds = [(seed, "S0")] + [(f"P{i}(s)", "P0") for i in range(1, n + 1)]
    rules = []
    for i in range(1, n + 1):
        rules += [(f"phos{i}", f"S(y{i}~U) -> S(y{i}~P)", ("kp",)),
                  (f"dephos{i}", f"S(y{i}~P) -> S(y{i}~U)", ("kd",)),
                  (f"bind{i}", f"S(y{i}~P) + P{i}(s) <-> S(y{i}~P!1).P{i}(s!1)", ("kon", "koff"))]
    for j in range(1, m + 1):
        rules += [(f"zphos{j}", f"S(z{j}~U) -> S(z{j}~P)", ("kp",)),
                  (f"zdephos{j}", f"S(z{j}~P) -> S(z{j}~U)", ("kd",))]
    return params, types, seeds, rules


def scaffold_size(n: int, m: int = 0) -> tuple[int, int]:
    """(species, reactions) of ``scaffold_n_m``."""
    return 3 ** n * 2 ** m + n, 3 ** (n - 1) * 2 ** m * (4 * n + 3 * m)


def scaffold_model(n: int, m: int = 0):
    """The scaling-series model as an il2sbml DSL model (used by benchmarks/sbml.py)."""
    from il2sbml import Model
    params, types, seeds, rules = _scaffold_spec(n, m)
    model = Model(f"scaffold_{n}" + (f"_{m}" if m else ""))
    for name, value in params:
        model.parameter(name, value)
    for t in types:
        model.molecule_type(t)
    for pattern, amount in seeds:
        model.seed(pattern, amount)
    for name, text, rates in rules:
        model.rule(name, text, *rates)
    return model


def scaffold_bngl(n: int, m: int = 0) -> str:
    """The scaling-series model as BNGL, with its generate_network action."""
    params, types, seeds, rules = _scaffold_spec(n, m)
    species, reactions = scaffold_size(n, m)
    out = [f"# scaffold_{n}" + (f"_{m}" if m else "") + f" (benchmarks/netgen.py): {n} docking sites"
           + (f" and {m} phosphorylation-only sites" if m else "")
           + f"; {species} species, {reactions} reactions",
           "begin model", "begin parameters"]
    out += [f"  {k} {v}" for k, v in params]
    out += ["end parameters", "begin molecule types"] + [f"  {t}" for t in types]
    out += ["end molecule types", "begin seed species"] + [f"  {p} {a}" for p, a in seeds]
    out += ["end seed species", "begin reaction rules"]
    out += [f"  {name}: {text} {','.join(rates)}" for name, text, rates in rules]
    out += ["end reaction rules", "end model", "generate_network({overwrite=>1})", ""]
    return "\n".join(out)


def _scaffold_nm(name: str):
    m = re.fullmatch(r"scaffold_(\d+)(?:_(\d+))?", name)
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


def series(max_n: int) -> list[str]:
    names = []
    for n in range(2, max_n + 1):
        names.append(f"scaffold_{n}")
        if n >= 7:
            names.append(f"scaffold_{n}_1")
    return names


def own_models() -> list[str]:
    """``benchmarks/models/*.bngl``, the smaller EGFR model first, then any others by name."""
    names = sorted(f[:-5] for f in os.listdir(OWN_MODELS) if f.endswith(".bngl"))
    first = [n for n in ("egfr_signalling", "egfr_plcg") if n in names]
    return first + [n for n in names if n not in first]


def model_path(name: str, tmp: str) -> str | None:
    """The BNGL file of a model (scaffold files are written into ``tmp``)."""
    nm = _scaffold_nm(name)
    if nm:
        path = os.path.join(tmp, f"{name}.bngl")
        if not os.path.exists(path):
            with open(path, "w") as fh:
                fh.write(scaffold_bngl(*nm))
        return path
    if name in SUITE_MODELS:
        path = os.path.join(SUITE_BNGL, name, f"{name}.bngl")
    else:
        path = os.path.join(OWN_MODELS, f"{name}.bngl")
    return path if os.path.exists(path) else None


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


# --------------------------------------------------------------------------- measurement

NO_LIMITS = {"max_species": 10 ** 9, "max_reactions": 10 ** 9, "timeout": 1e9}


def worker(path: str, mode: str) -> None:
    """Read and generate one model in this (fresh) process and print a JSON line."""
    import resource
    import il2sbml
    from il2sbml.formats.bngl import read_bngl
    result = {"path": path, "rss_before_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if mode == "trace":
        import tracemalloc
        tracemalloc.start()
        net = il2sbml.generate_network(read_bngl(path), **NO_LIMITS)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["tracemalloc_peak_mb"] = peak / 2**20
    elif mode == "profile":
        import cProfile
        import pstats
        prof = cProfile.Profile()
        prof.enable()
        net = il2sbml.generate_network(read_bngl(path), **NO_LIMITS)
        prof.disable()
        stats = pstats.Stats(prof, stream=sys.stderr).strip_dirs()
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(15)
    else:
        t0 = time.perf_counter()
        model = read_bngl(path)
        t1 = time.perf_counter()
        net = il2sbml.generate_network(model, **NO_LIMITS)
        t2 = time.perf_counter()
        result["seconds"] = t2 - t0
        result["gen_seconds"] = t2 - t1
    result["species"] = len(net.species)
    result["reactions"] = len(net.reactions)
    print(json.dumps(result))


# A lean launcher process forks and execs the command and reports the child's ru_maxrss.
# Linux carries the RSS high-water mark of the forking process over fork+exec, so forking
# directly from this (larger) driver would put a floor under every measurement; through
# the launcher the floor is the launcher's own ~7 MB. It kills the child after a timeout.
_LAUNCHER = """import os, signal, sys
limit = float(sys.argv[1])
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.execvp(sys.argv[2], sys.argv[2:])
def stop(*_):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    sys.stderr.write("\\nTIMED_OUT\\n")
signal.signal(signal.SIGALRM, stop)
if limit > 0:
    signal.setitimer(signal.ITIMER_REAL, limit)
_, status, usage = os.wait4(pid, 0)
signal.setitimer(signal.ITIMER_REAL, 0)
sys.stderr.write("\\nMAXRSS_KB %d\\n" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_child(cmd, cwd=None, timeout=0.0):
    """Run a subprocess; return (stdout, wall seconds, peak RSS MB), or None on timeout."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-S", "-I", "-c", _LAUNCHER, str(timeout), *cmd], cwd=cwd,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if "TIMED_OUT" in proc.stderr:
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                           f"{(proc.stdout + proc.stderr)[-3000:]}")
    maxrss_kb = int(re.findall(r"MAXRSS_KB (\d+)", proc.stderr)[-1])
    return proc.stdout, wall, maxrss_kb / 1024  # Linux: ru_maxrss in KiB


def _worker_cmd(path, mode):
    return [sys.executable, os.path.abspath(__file__), "--worker", path, "--mode", mode]


def measure_ours(path: str, repeats: int, trace: bool = True) -> dict:
    times, gen, rss = [], [], []
    for _ in range(repeats):
        out, _, maxrss = _run_child(_worker_cmd(path, "time"))
        r = json.loads(out.strip().splitlines()[-1])
        times.append(r["seconds"])
        gen.append(r["gen_seconds"])
        rss.append(maxrss)
    peak = None
    if trace:
        out, _, _ = _run_child(_worker_cmd(path, "trace"))
        peak = json.loads(out.strip().splitlines()[-1])["tracemalloc_peak_mb"]
    return {"species": r["species"], "reactions": r["reactions"], "seconds": statistics.median(times),
            "seconds_all": times, "gen_seconds": statistics.median(gen), "gen_seconds_all": gen,
            "tracemalloc_peak_mb": peak, "rss_mb": max(rss), "rss_baseline_mb": r["rss_before_mb"]}


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


def measure_bng(path: str, repeats: int, bng2: str, timeout: float) -> dict | None:
    if not shutil.which("perl"):
        return None
    name = os.path.splitext(os.path.basename(path))[0]
    with open(path) as fh:
        text = strip_actions(fh.read())
    times, gen, rss, counts = [], [], [], None
    with tempfile.TemporaryDirectory(prefix="bngbench_") as tmp:
        copy = os.path.join(tmp, f"{name}.bngl")
        with open(copy, "w") as fh:
            fh.write(text)
        for _ in range(repeats):
            res = _run_child(["perl", bng2, "--outdir", tmp, copy], cwd=tmp, timeout=timeout)
            if res is None:
                return {"timed_out": True, "timeout": timeout, "species": None, "reactions": None,
                        "seconds": None, "gen_cpu_seconds": None, "rss_mb": None,
                        "seconds_all": times}
            out, wall, maxrss = res
            times.append(wall)
            rss.append(maxrss)
            m = re.search(r"CPU TIME: generate_network\s+([\d.eE+-]+)", out)
            gen.append(float(m.group(1)) if m else float("nan"))
            counts = _net_counts(os.path.join(tmp, f"{name}.net"))
            if wall > BNG_REPEAT_LIMIT:
                break
    return {"timed_out": False, "species": counts[0], "reactions": counts[1],
            "seconds": statistics.median(times), "seconds_all": times,
            "gen_cpu_seconds": statistics.median(gen), "rss_mb": max(rss)}


# --------------------------------------------------------------------------- driver

def model_list(quick: bool, max_n: int) -> list[str]:
    if quick:
        return ["blbr", "toy-jim", "scaffold_3", "scaffold_4"]
    return list(SUITE_MODELS) + own_models() + series(max_n)


def _fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, help="timing repeats per model (default 3; 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="small subset, for smoke tests (a few seconds)")
    ap.add_argument("--json", metavar="OUT", help="write the results as JSON to OUT")
    ap.add_argument("--no-bng", action="store_true", help="skip the BNG2.pl reference runs")
    ap.add_argument("--bng-timeout", type=float, default=600.0, metavar="S",
                    help="kill a BNG2.pl run after S seconds and record '>S' (default 600)")
    ap.add_argument("--max-n", type=int, default=8,
                    help="largest scaffold n in the series (default 8: up to scaffold_8_1, 153,090 reactions)")
    ap.add_argument("--models", metavar="A,B,...",
                    help="run these models only (suite names, own models, scaffold_N or scaffold_N_M)")
    ap.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run (peak MB)")
    ap.add_argument("--profile", metavar="MODEL",
                    help="cProfile one read + generation of MODEL (e.g. egfr_signalling) and exit")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="time", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        worker(args.worker, args.mode)
        return 0
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="netgen_series_") as tmp:
        if args.profile:
            path = model_path(args.profile, tmp)
            if path is None:
                ap.error(f"unknown model {args.profile!r}")
            return subprocess.call(_worker_cmd(path, "profile"))
        return _run(args, tmp)


def _run(args, tmp) -> int:
    bng2 = None if args.no_bng else _bng2_path()
    if not args.no_bng and bng2 is None:
        print("note: BNG2.pl not found (set BNG2=/path/to/BNG2.pl); BNG columns left empty",
              file=sys.stderr)
    names = args.models.split(",") if args.models else model_list(args.quick, args.max_n)
    header = (f"{'model':<16} {'species':>7} {'reactions':>9} {'ours s':>8} {'gen s':>8} {'peak MB':>8} "
              f"{'RSS MB':>7} {'BNG2.pl s':>9} {'BNG gen s':>9} {'BNG MB':>7} {'ratio':>6}  counts")
    print(f"repeats={args.repeats}; ours s: median wall time of read_bngl + generate_network, gen s: "
          f"generate_network alone;\npeak MB: tracemalloc peak; RSS MB / BNG MB: ru_maxrss of the "
          f"worker / BNG2.pl process; ratio = BNG2.pl s / ours s", flush=True)
    print(header)
    print("-" * len(header), flush=True)
    t_start = time.perf_counter()
    results, ok = [], True
    for name in names:
        path = model_path(name, tmp)
        if path is None:
            print(f"{name:<16} (BNGL file not found: skipped)", flush=True)
            continue
        ours = measure_ours(path, args.repeats, trace=not args.no_trace)
        bng = measure_bng(path, args.repeats, bng2, args.bng_timeout) if bng2 else None
        row = {"model": name, "file": path if not _scaffold_nm(name) else os.path.basename(path),
               **ours, "bng": bng}
        if bng and not bng["timed_out"]:
            row["ratio"] = bng["seconds"] / ours["seconds"]
            row["counts_match"] = (ours["species"], ours["reactions"]) == (bng["species"], bng["reactions"])
            ok &= row["counts_match"]
            check = "= BNG" if row["counts_match"] else f"MISMATCH (BNG {bng['species']}/{bng['reactions']})"
            bng_s = f"{bng['seconds']:9.3f}"
        elif bng:
            row["ratio_min"] = bng["timeout"] / ours["seconds"]
            check = "BNG timed out"
            bng_s = f">{bng['timeout']:.0f}"
        else:
            check, bng_s = "-", "-"
        ratio = (f"{row['ratio']:6.1f}" if "ratio" in row
                 else f">{row['ratio_min']:.0f}" if "ratio_min" in row else "-")
        results.append(row)
        print(f"{name:<16} {ours['species']:>7} {ours['reactions']:>9} {ours['seconds']:>8.3f} "
              f"{ours['gen_seconds']:>8.3f} {_fmt(ours['tracemalloc_peak_mb'], '8.1f'):>8} "
              f"{ours['rss_mb']:>7.1f} {bng_s:>9} "
              f"{_fmt(bng and bng['gen_cpu_seconds'], '9.2f'):>9} {_fmt(bng and bng['rss_mb'], '7.1f'):>7} "
              f"{ratio:>6}  {check}", flush=True)
    print(f"total {time.perf_counter() - t_start:.0f} s", flush=True)
    if args.json:
        meta = {"python": sys.version.split()[0], "nproc": os.cpu_count(), "repeats": args.repeats,
                "date": time.strftime("%Y-%m-%d"), "bng2": bng2, "bng_timeout": args.bng_timeout,
                "command": " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])}
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
