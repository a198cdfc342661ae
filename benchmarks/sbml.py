"""Benchmark il2sbml's SBML export: ``write_sbml`` and ``validate_sbml`` time against network size.

Models: the IL-2 model (``model_src/il2.py``), the scaffold scaling series ``scaffold_n`` of
``benchmarks/netgen.py`` (imported from there: 3^n + n species, 4·n·3^(n-1) reactions;
n=3: 108 ... n=6: 5,832, n=7: 20,412) and ``scaffold_6x2``, two disjoint copies of
scaffold_6 in one model (1,470 species, 11,664 reactions), the point closest to the
10,000-reaction target.

Per model, one fresh subprocess (``--worker``) generates the network (not timed here, see
``netgen.py``) and then, R times each:

* ``write s``: median wall time of ``write_sbml(net)``;
* ``valid s``: median wall time of ``validate_sbml(text)`` on that text (parse + every
  libSBML consistency check, units included);
* ``w+v s``: the sum of the two medians (the issue's target: < 10 s at 10,000 reactions);
* ``MB``: size of the SBML text (UTF-8, 10^6 bytes); ``err``/``warn``: problems reported
  by ``validate_sbml`` (0/0 is a clean file).

Peers, on the same SBML text (written to a temporary file), each in its own subprocess:

* ``RR s``: median wall time of ``roadrunner.RoadRunner(text)`` (parse + LLVM compile;
  ``LOADSBMLOPTIONS_RECOMPILE`` on, so no load reuses an earlier compiled model);
* ``COPASI s``: median wall time of ``CDataModel.importSBML(path)`` on a fresh data model
  (COPASI changes the process locale, so it runs in its own process, last).

Each peer process first loads a tiny model (scaffold_1), untimed, so one-time set-up is
not charged to the first model.

Peer loads grow much faster than linearly (libRoadRunner needs about a minute at 6k
reactions, ten at 20k), so a peer load over 30 s is not repeated (marked ``¹``; the JSON
lists every load), and a peer whose first load runs over ``--peer-timeout``
(default 300 s) is shown as ``>T`` and skipped for the larger models. ``--no-peers`` skips
both.

``--order`` picks the order of the reactions in the file (``write_sbml``'s ``cover_first``):
``auto`` (the default: what ``write_sbml`` does), ``network`` or ``cover`` (reactions that
bring in a new species first); libSBML's unit check depends on it (species x reactions).

Usage::

    python benchmarks/sbml.py [--repeats R] [--quick] [--json OUT] [--no-peers]
                              [--peer-timeout S] [--models M,M,...] [--profile MODEL]
                              [--order auto|network|cover]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netgen  # noqa: E402  (the scaffold series lives there)

IL2_MODEL = os.path.join(ROOT, "model_src", "il2.py")
FULL = ["il2", "scaffold_3", "scaffold_4", "scaffold_5", "scaffold_6", "scaffold_6x2", "scaffold_7"]
QUICK = ["il2", "scaffold_3", "scaffold_4"]
TARGET_REACTIONS, TARGET_SECONDS = 10_000, 10.0
PEER_NO_REPEAT_S = 30.0   # a peer load longer than this is not repeated (median of 1)


# --------------------------------------------------------------------------- models

def scaffold_pair_model(n: int):
    """Two disjoint copies of netgen's scaffold_n (molecules S_a/P1_a.., S_b/P1_b..) in one model."""
    import re
    from il2sbml import Model
    params, types, seeds, rules = netgen._scaffold_spec(n)
    m = Model(f"scaffold_{n}x2")
    for name, value in params:
        m.parameter(name, value)
    for tag in ("a", "b"):
        ren = lambda s: re.sub(r"\b(S|P\d+)\(", rf"\1_{tag}(", s)  # noqa: E731
        for t in types:
            m.molecule_type(ren(t))
        for pattern, amount in seeds:
            m.seed(ren(pattern), amount)
        for name, text, rates in rules:
            m.rule(f"{name}_{tag}", ren(text), *rates)
    return m


def load(name: str):
    import il2sbml
    if name == "il2":
        return il2sbml.load_model(IL2_MODEL)
    if name.startswith("scaffold_") and name.endswith("x2"):
        return scaffold_pair_model(int(name[len("scaffold_"):-2]))
    if name.startswith("scaffold_"):
        return netgen.scaffold_model(int(name.split("_")[1]))
    raise SystemExit(f"unknown model {name!r}")


# --------------------------------------------------------------------------- workers

def _timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, times


ORDERS = {"auto": None, "network": False, "cover": True}


def worker_core(name: str, repeats: int, sbml_path: str, order: str = "auto") -> dict:
    import il2sbml
    from il2sbml.formats.sbml import validate_sbml, write_sbml
    net = il2sbml.generate_network(load(name))
    kw = {} if ORDERS[order] is None else {"cover_first": ORDERS[order]}
    text, wt = _timed(lambda: write_sbml(net, **kw), repeats)
    problems, vt = _timed(lambda: validate_sbml(text), repeats)
    with open(sbml_path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return {"species": len(net.species), "reactions": len(net.reactions),
            "write_s": statistics.median(wt), "write_all": wt,
            "validate_s": statistics.median(vt), "validate_all": vt,
            "mb": len(text.encode("utf-8")) / 1e6,
            "errors": sum(p.severity == "error" for p in problems),
            "warnings": sum(p.severity == "warning" for p in problems),
            "problems": [str(p) for p in problems[:5]]}


def _warmup_sbml() -> str:
    """A tiny SBML text (scaffold_1: 4 species, 4 reactions) to load once before timing."""
    import il2sbml
    from il2sbml.formats.sbml import write_sbml
    return write_sbml(il2sbml.generate_network(netgen.scaffold_model(1)))


def worker_rr(sbml_path: str, repeats: int) -> dict:
    import roadrunner
    # RoadRunner reuses the compiled model of an identical SBML text while an instance of it
    # is alive; force a full compile on every load and drop each instance before the next.
    roadrunner.Config.setValue(roadrunner.Config.LOADSBMLOPTIONS_RECOMPILE, True)
    roadrunner.RoadRunner(_warmup_sbml())          # one-time LLVM set-up, not timed
    with open(sbml_path, encoding="utf-8") as fh:
        text = fh.read()
    times, nreac = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        rr = roadrunner.RoadRunner(text)
        times.append(time.perf_counter() - t0)
        nreac = rr.model.getNumReactions()
        del rr
        if times[-1] > PEER_NO_REPEAT_S:
            break
    return {"seconds": statistics.median(times), "all": times, "reactions": nreac,
            "version": roadrunner.__version__}


def worker_copasi(sbml_path: str, repeats: int) -> dict:
    import COPASI
    warm = sbml_path + ".warmup.xml"
    with open(warm, "w", encoding="utf-8") as fh:
        fh.write(_warmup_sbml())
    dm = COPASI.CRootContainer.addDatamodel()
    dm.importSBML(warm)                             # one-time set-up, not timed
    COPASI.CRootContainer.removeDatamodel(dm)
    times, nreac = [], None
    for _ in range(repeats):
        dm = COPASI.CRootContainer.addDatamodel()
        t0 = time.perf_counter()
        ok = dm.importSBML(sbml_path)
        times.append(time.perf_counter() - t0)
        if not ok:
            raise RuntimeError("COPASI import failed: " + COPASI.CCopasiMessage.getAllMessageText())
        nreac = dm.getModel().getReactions().size()
        COPASI.CRootContainer.removeDatamodel(dm)
        if times[-1] > PEER_NO_REPEAT_S:
            break
    return {"seconds": statistics.median(times), "all": times, "reactions": nreac,
            "version": COPASI.CVersion.VERSION.getVersion()}


def worker_profile(name: str, order: str = "auto") -> None:
    """cProfile write_sbml and validate_sbml once, and time each consistency category alone."""
    import cProfile
    import pstats
    import libsbml
    import il2sbml
    from il2sbml.formats.sbml import validate_sbml, write_sbml
    t0 = time.perf_counter()
    net = il2sbml.generate_network(load(name))
    print(f"{name}: {len(net.species)} species, {len(net.reactions)} reactions "
          f"(generated in {time.perf_counter() - t0:.2f} s)", flush=True)
    kw = {} if ORDERS[order] is None else {"cover_first": ORDERS[order]}
    text = ""   # the written file, once write_sbml has run
    for label, fn in (("write_sbml", lambda: write_sbml(net, **kw)), ("validate_sbml", None)):
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        out = fn() if fn else validate_sbml(text)
        prof.disable()
        print(f"\n==== {label}: {time.perf_counter() - t0:.2f} s under cProfile", flush=True)
        if label == "write_sbml":
            text = out
        stats = pstats.Stats(prof, stream=sys.stdout).strip_dirs()
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(15)
    # validate_sbml is a few libSBML calls; split its C++ time by consistency category.
    cats = {"GENERAL": libsbml.LIBSBML_CAT_GENERAL_CONSISTENCY,
            "IDENTIFIER": libsbml.LIBSBML_CAT_IDENTIFIER_CONSISTENCY,
            "UNITS": libsbml.LIBSBML_CAT_UNITS_CONSISTENCY,
            "MATHML": libsbml.LIBSBML_CAT_MATHML_CONSISTENCY,
            "SBO": libsbml.LIBSBML_CAT_SBO_CONSISTENCY,
            "OVERDETERMINED": libsbml.LIBSBML_CAT_OVERDETERMINED_MODEL,
            "MODELING_PRACTICE": libsbml.LIBSBML_CAT_MODELING_PRACTICE}
    print("\n==== validate_sbml split (wall s, no profiler)")
    t0 = time.perf_counter()
    doc = libsbml.readSBMLFromString(text)
    print(f"  readSBMLFromString              {time.perf_counter() - t0:8.2f}")
    for cname, cat in cats.items():
        doc = libsbml.readSBMLFromString(text)
        for other in cats.values():
            doc.setConsistencyChecks(other, other == cat)
        t0 = time.perf_counter()
        doc.checkConsistency()
        print(f"  checkConsistency {cname:<17} {time.perf_counter() - t0:8.2f}", flush=True)


# --------------------------------------------------------------------------- driver

def _run_worker(args: list, timeout: float | None = None) -> dict | None:
    """Run this script as a worker subprocess; its last stdout line is JSON. None on timeout."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                           f"{(proc.stdout + proc.stderr)[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt_peer(peer, timed_out_at, repeats):
    if peer is None:
        return "-" if timed_out_at is None else f">{timed_out_at:.0f}"
    return f"{peer['seconds']:.2f}" + ("¹" if len(peer["all"]) < repeats else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats per model (default 3)")
    ap.add_argument("--quick", action="store_true", help="small subset (il2, scaffold_3..4)")
    ap.add_argument("--json", metavar="OUT", help="write the results as JSON to OUT")
    ap.add_argument("--no-peers", action="store_true", help="skip libRoadRunner and COPASI")
    ap.add_argument("--peer-timeout", type=float, default=300.0,
                    help="seconds allowed for one peer load; over it, the peer is shown as >T "
                         "and skipped for larger models (default 300)")
    ap.add_argument("--models", help="comma-separated model list (e.g. il2,scaffold_6x2)")
    ap.add_argument("--profile", metavar="MODEL",
                    help="cProfile write_sbml and validate_sbml on MODEL (e.g. scaffold_7) and exit")
    ap.add_argument("--order", choices=sorted(ORDERS), default="auto",
                    help="reaction order in the file: auto (write_sbml's default), network, or cover "
                         "(reactions bringing in a new species first)")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        kind, *rest = args.worker
        if kind == "core":
            out = worker_core(rest[0], args.repeats, rest[1], args.order)
        elif kind == "rr":
            out = worker_rr(rest[0], args.repeats)
        elif kind == "copasi":
            out = worker_copasi(rest[0], args.repeats)
        elif kind == "profile":
            worker_profile(rest[0], args.order)
            return 0
        else:
            raise SystemExit(f"unknown worker {kind!r}")
        print(json.dumps(out))
        return 0
    if args.profile:
        return subprocess.call([sys.executable, os.path.abspath(__file__), "--worker", "profile",
                                args.profile, "--order", args.order])

    models = args.models.split(",") if args.models else (QUICK if args.quick else FULL)
    print(f"repeats={args.repeats}; reaction order: {args.order}; write s / valid s: medians of write_sbml / validate_sbml; "
          f"w+v s: their sum;\nRR s: roadrunner.RoadRunner(text); COPASI s: importSBML(path); "
          f">T: peer over --peer-timeout, skipped for larger models; ¹: one load (over "
          f"{PEER_NO_REPEAT_S:.0f} s, not repeated)", flush=True)
    header = (f"{'model':<13} {'species':>7} {'reactions':>9} {'write s':>8} {'valid s':>8} "
              f"{'w+v s':>7} {'MB':>6} {'err':>4} {'warn':>4} {'RR s':>7} {'COPASI s':>8}")
    print(header)
    print("-" * len(header), flush=True)
    results, ok = [], True
    over = {"rr": None, "copasi": None}   # timeout seconds once a peer ran over
    with tempfile.TemporaryDirectory(prefix="sbmlbench_") as tmp:
        for name in models:
            path = os.path.join(tmp, f"{name}.xml")
            core = _run_worker(["core", name, path, "--repeats", str(args.repeats), "--order", args.order])
            row = {"model": name, **core, "write_validate_s": core["write_s"] + core["validate_s"]}
            for peer in ("rr", "copasi"):       # COPASI last, in its own process
                res = None
                if not args.no_peers and over[peer] is None:
                    res = _run_worker([peer, path, "--repeats", str(args.repeats)],
                                      args.peer_timeout + args.repeats * PEER_NO_REPEAT_S + 30)
                    if res is None:
                        over[peer] = args.peer_timeout
                row[peer] = res
                row[peer + "_over_s"] = over[peer] if res is None else None
            ok &= core["errors"] == 0
            results.append(row)
            print(f"{name:<13} {core['species']:>7} {core['reactions']:>9} {core['write_s']:>8.2f} "
                  f"{core['validate_s']:>8.2f} {row['write_validate_s']:>7.2f} {core['mb']:>6.2f} "
                  f"{core['errors']:>4} {core['warnings']:>4} "
                  f"{_fmt_peer(row['rr'], row['rr_over_s'], args.repeats):>7} "
                  f"{_fmt_peer(row['copasi'], row['copasi_over_s'], args.repeats):>8}", flush=True)
            for p in core["problems"]:
                print("    " + p)
    big = [r for r in results if r["reactions"] >= TARGET_REACTIONS]
    if big:
        r = min(big, key=lambda r: r["reactions"])
        met = r["write_validate_s"] < TARGET_SECONDS
        print(f"\ntarget (write+validate < {TARGET_SECONDS:.0f} s at >= {TARGET_REACTIONS:,} reactions): "
              f"{r['model']} ({r['reactions']:,} reactions) {r['write_validate_s']:.2f} s -> "
              f"{'met' if met else 'NOT met'}")
    if args.json:
        import platform
        meta = {"python": sys.version.split()[0], "nproc": os.cpu_count(), "repeats": args.repeats,
                "date": time.strftime("%Y-%m-%d"), "platform": platform.platform(),
                "peer_timeout_s": args.peer_timeout, "order": args.order}
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
