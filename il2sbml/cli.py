"""Command-line interface. Thin: it parses arguments and calls the public functions.

    il2sbml network MODEL [--json] [--net] [--max-iter N] [--max-agg N] [--timeout S]
    il2sbml build MODEL [-o OUT_DIR | -o OUT.xml] [--level-version 3.2|3.1]
                  [--cell-type A,B | --coculture A=0.05,B=0.95]
                  [--format sbml|antimony|omex [--t-end T --points P]] [--ligand NAME [--valency 1]]
    il2sbml validate FILE.xml
    il2sbml petab MODEL --data TRAINING.csv [-o build/petab] [--priors data/priors]
    il2sbml validate-model [--out build/validation]
    il2sbml calibrate [--petab build/petab] [--out build/calibration] [--quick] [--starts N] [--seed S]
                      [--write-fit model_src/il2_fit.json]
    il2sbml report [--out build/report] [--quick]
    il2sbml validate-variants [MODEL] [--out build/variants] [--bivalent]
    il2sbml selectivity [MODEL] --ligand NAME [--ligand ...] [--time 30min] [--map N] [--out build/selectivity]
    il2sbml dose-response --cell-type Treg --readout pSTAT5 --time 30m --out DIR [--doses 0.1,1,10]
    il2sbml simulate MODEL [--cell-type C] --method ssa --seed S --t-end T --points P --out traj.csv
    il2sbml ensemble MODEL --runs N --t-end T --points P --seed S [--stats-csv OUT.csv] [--store OUT.zarr]
                     [--species A,B] [--method auto|direct|tree|tau] [--threads K] [--chunk-size C]
                     [--workers K | --scheduler tcp://HOST:PORT | --scheduler-file FILE]
                     [--resume] [--keep-trajectories] [--sweep IL2_pM=0.1,1,10] [--quiet]
"""

from __future__ import annotations

import argparse
import sys

from .formats.files import atomic_write
from .formats.load import load_model
from .generate.netgen import generate_network
from .lang.errors import Il2sbmlError
from .simulate import select


def _add_limits(p):
    p.add_argument("--max-iter", type=int, help="truncate after N rule-application rounds")
    p.add_argument("--max-agg", type=int, help="drop complexes of more than N molecules")
    p.add_argument("--max-species", type=int, help="fail beyond N species")
    p.add_argument("--max-reactions", type=int, help="fail beyond N reactions")
    p.add_argument("--timeout", type=float, help="fail after S seconds")


def cmd_network(args) -> int:
    import json

    model = load_model(args.model)
    net = generate_network(model, **select.limits(args))
    if args.net:
        sys.stdout.write(net.to_net())
        return 0
    data = json.loads(net.to_json(full=args.full))
    actions = getattr(model, "bngl_actions", None)
    if actions is not None:
        # BNGL actions other than generate_network are read and listed, not executed
        data["actions"] = [{"line": line, "name": name, "args": argtext}
                           for line, name, argtext in actions if name != "generate_network"]
    print(json.dumps(data, indent=2))
    return 0


def cmd_build(args) -> int:
    from .analysis.build import build

    level_version = tuple(int(x) for x in args.level_version.split("."))
    cell_types = args.cell_type.split(",") if args.cell_type else None
    written = build(args.model, args.output, cell_types=cell_types, coculture=args.coculture, fmt=args.format,
                    level_version=level_version, t_end=args.t_end, points=args.points, limits=select.limits(args),
                    options={"ligand": args.ligand, "valency": args.valency},
                    progress=lambda line: print(f"{args.model}: {line}", flush=True))
    print(f"wrote {len(written)} file(s): {', '.join(written)}")
    return 0


def cmd_report(args) -> int:
    from .analysis.report import run_report

    index = run_report(args.model, args.out, args.build_dir, quick=args.quick, ssa_runs=args.ssa_runs,
                       progress=lambda line: print(line, flush=True))
    print(f"open {index}")
    return 0


def cmd_dose_response(args) -> int:
    from .analysis.report import dose_response_command

    doses = [float(x) for x in args.doses.split(",")] if args.doses else None
    csv_path, png_path = dose_response_command(args.model, args.cell_type, args.readout.split(","),
                                               args.time, args.out, doses,
                                               progress=lambda line: print(line, flush=True))
    print(f"wrote {csv_path}, {png_path}")
    return 0


def cmd_petab(args) -> int:
    from .formats.petab_problem import write_problem

    for path in write_problem(args.model, args.data, args.output, prior_dir=args.priors):
        print(path)
    return 0


def cmd_calibrate(args) -> int:
    from dataclasses import replace

    from .analysis.calibrate import FULL, QUICK, calibrate, fit_from_run

    if args.write_fit:
        record = fit_from_run(args.out, args.petab, args.write_fit)
        print(f"wrote {args.write_fit}: {len(record['parameters'])} parameters, objective {record['objective']} "
              f"({record['label']}); now rebuild what reads it: il2sbml petab model_src/il2.py --data "
              f"data/training/farhat2021_pSTAT5_IL2.csv -o build/petab and il2sbml build model_src/il2.py")
        return 0
    settings = QUICK if args.quick else FULL
    if args.starts:
        settings = replace(settings, starts=args.starts)
    if args.max_iter:
        settings = replace(settings, max_iter=args.max_iter)
    if args.samples is not None:
        settings = replace(settings, samples=args.samples)
    if args.refine_iter is not None:
        settings = replace(settings, refine_iter=args.refine_iter)
    if args.profiles:
        settings = replace(settings, profiles=True)
    calibrate(args.petab, args.out, settings=settings, seed=args.seed, threads=args.threads, work_dir=args.work_dir,
              progress=lambda line: print(line, file=sys.stderr, flush=True))
    return 0


def cmd_selectivity(args) -> int:
    from .analysis.selectivity import selectivity_command
    from .simulate.ode import parse_duration

    try:
        time_s = parse_duration(args.time)
    except ValueError as exc:
        raise Il2sbmlError(f"--time: {exc}") from None
    selectivity_command(args.model, args.ligand or ["WT"], valency=args.valency, time_s=time_s,
                        out=args.out, map_points=args.map, processes=args.processes)
    print(f"wrote {args.out}/selectivity.csv" + (f", {args.out}/design_map.csv and .png" if args.map else ""))
    return 0


def cmd_validate_variants(args) -> int:
    if args.bivalent:
        from .analysis.bivalent_check import validate_bivalent

        validate_bivalent(args.out, args.model)
        print(f"wrote {args.out}/time_labels.csv, {args.out}/bivalent_ratios.csv and {args.out}/bivalent_curves.png")
        return 0
    from .analysis.variant_check import validate_variants

    validate_variants(args.out, args.model, args.data)
    print(f"wrote {args.out}/variant_ratios.csv and {args.out}/variant_curves.png")
    return 0


def cmd_validate_model(args) -> int:
    from .analysis.heldout import validate_model

    rows = validate_model(args.out, args.model, progress=lambda line: print(line, file=sys.stderr, flush=True))
    for r in rows:
        fold = "no fit" if r.fold_error is None else f"{r.fold_error:.2g}x"
        meas = "no fit" if r.measured_ec50_pM is None else f"{r.measured_ec50_pM:.3g} pM"
        pred = "no fit" if r.predicted_ec50_pM is None else f"{r.predicted_ec50_pM:.3g} pM"
        print(f"{r.dataset} {r.label}: measured {meas}, predicted {pred}, fold {fold}")
    print(f"{args.out}/heldout_ec50.csv, training_and_4h.png, heldout_shapes.png")
    return 0


def cmd_validate(args) -> int:
    from .formats.sbml import validate_sbml

    try:
        with open(args.file, "rb") as fh:
            text = fh.read().decode("utf-8", errors="replace")
    except OSError as exc:
        raise Il2sbmlError(f"{args.file}: cannot read: {exc.strerror}") from None
    problems = validate_sbml(text)
    for p in problems:
        print(f"{args.file}: {p}")
    n_err = sum(p.severity == "error" for p in problems)
    print(f"{args.file}: {n_err} error(s), {len(problems) - n_err} warning(s)")
    return 1 if n_err else 0


def cmd_simulate(args) -> int:
    import kernels

    from .simulate.compile import compile_network

    net = select.load_network(args.model, args)
    arrays = compile_network(net, round_initial=args.round_initial)
    t = select.time_grid(args)
    idx, ids = select.pick_species(net, args.species)
    method = "auto" if args.method == "ssa" else args.method
    traj = kernels.simulate(arrays, t, args.seed, method, species=idx)
    atomic_write(args.out, select.csv_table([[float(ti)] + [int(v) for v in row] for ti, row in zip(t, traj)], ["time"] + ids))
    print(f"{args.model}: one {method} trajectory, seed {args.seed}, {len(t)} points -> {args.out}")
    return 0


def cmd_ensemble(args) -> int:
    from .simulate.ensemble import ensemble_command

    return ensemble_command(args)


def cmd_populations(args) -> int:
    from .analysis.populations import populations_command

    return populations_command(args)


def cmd_noise(args) -> int:
    from .analysis.populations import noise_command

    return noise_command(args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="il2sbml", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("network", help="generate the reaction network and print a summary")
    p.add_argument("model", help="model file (.py DSL or .bngl)")
    p.add_argument("--json", action="store_true", help="print JSON (the default)")
    p.add_argument("--full", action="store_true", help="include species, reactions and observables in the JSON")
    p.add_argument("--net", action="store_true", help="print the network in BioNetGen .net layout")
    _add_limits(p)
    p.set_defaults(func=cmd_network)
    b = sub.add_parser("build", help="generate the network, write validated SBML and network files")
    b.add_argument("model", help="model file (.py DSL or .bngl)")
    b.add_argument("-o", "--output", default="build",
                   help="output folder (default: build) or a file (.xml, .ant or .omex) for that output alone")
    b.add_argument("--level-version", default="3.2", choices=["3.2", "3.1"], help="SBML level.version")
    b.add_argument("--format", default="sbml", choices=["sbml", "antimony", "omex"],
                   help="sbml (default), antimony (for Tellurium) or omex (COMBINE archive: SBML + SED-ML)")
    b.add_argument("--cell-type", help="build only these parameter sets (comma-separated; default: every one, "
                   "one file each, e.g. build/il2_Treg.xml)")
    b.add_argument("--coculture", metavar="SET=FRACTION,...",
                   help="one model of several populations sharing the medium, e.g. Treg=0.05,CD4_memory=0.95")
    b.add_argument("--ligand", help="an engineered IL-2 by name (model_src/variants.py; e.g. R38Q_N_term; "
                   "default: wild-type IL-2): for model files whose build_model() takes it")
    b.add_argument("--valency", type=int, help="IL-2 moieties per ligand molecule (1 or 2)")
    b.add_argument("--t-end", type=float, help="omex: end time of the SED-ML time course (s)")
    b.add_argument("--points", type=int, default=101, help="omex: output points, 0..t-end inclusive")
    _add_limits(b)
    b.set_defaults(func=cmd_build)
    for name, helptext in (("simulate", "one stochastic trajectory (Gillespie SSA) to a CSV"),
                           ("ensemble", "an SSA ensemble's mean and sd (SBML Test Suite layout) to a CSV"),
                           ("noise", "a population's variance split into extrinsic (cell-to-cell parameters) and "
                                     "intrinsic (reaction noise) parts: the same cells by SSA and by ODE")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("model", help="model file (.py DSL, .bngl or SBML .xml)")
        q.add_argument("--seed", type=int, required=True, help="fixes every trajectory")
        q.add_argument("--t-end", type=float, required=True, help="end time (s)")
        q.add_argument("--points", type=int, required=True, help="P output times from 0 to T inclusive")
        q.add_argument("--species", help="comma-separated species ids (default: all)")
        q.add_argument("--cell-type", help="parameter set of a model file (e.g. Treg for model_src/il2.py)")
        q.add_argument("--round-initial", action="store_true",
                       help="round initial amounts to whole molecules (else non-integers are refused)")
        _add_limits(q)
        if name == "simulate":
            q.add_argument("--method", default="ssa", choices=["ssa", "direct", "tree"])
            q.add_argument("--out", required=True, help="trajectory CSV")
            q.set_defaults(func=cmd_simulate)
        else:
            q.add_argument("--runs", type=int, required=True)
            q.add_argument("--method", default="auto", choices=["auto", "direct", "tree", "tau", "ode"],
                           help="exact (auto, direct, tree) or approximate tau-leaping (tau); with --population, "
                                "ode: one deterministic libRoadRunner ODE per cell (the same cells)")
            q.add_argument("--threads", type=int, help="Numba threads (results do not depend on it)")
            q.add_argument("--stats-csv", help="mean and sd CSV (SBML Test Suite layout); with --sweep, one "
                           "per point")
            from .simulate.ensemble import add_ensemble_arguments
            add_ensemble_arguments(q)
            if name == "noise":
                q.add_argument("--out", required=True, help="decomposition CSV (one row per point, time and output)")
                q.set_defaults(func=cmd_noise)
            else:
                q.add_argument("--interpolate", type=int, metavar="N", default=0,
                               help="with --method ode: each cell's outputs from a grid of N exact ODEs per varied "
                                    "parameter (at most 4; quintic spline over their logs), checked against the "
                                    "exact ODE of ~120 cells and refused above --interpolate-tol")
                q.add_argument("--interpolate-tol", type=float, metavar="F",
                               help="the largest error of a checked cell accepted, as a fraction of the output's "
                                    "largest checked value (default 1e-3)")
                q.set_defaults(func=cmd_ensemble)
    pp = sub.add_parser("populations", help="deterministic populations of Treg, CD4 helper, CD8 and NK cells (receptor "
                        "numbers varying as measured) against the held-out single-cell pSTAT5 moments")
    pp.add_argument("--model", default="model_src/il2.py", help="the IL-2 model file (default: model_src/il2.py)")
    pp.add_argument("--out", default="build/populations", help="output folder (default: build/populations)")
    pp.add_argument("--cells", type=int, default=1000, help="cells per cell type and dose (default: 1000)")
    pp.add_argument("--seed", type=int, default=1, help="fixes the cells (default: 1)")
    pp.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    pp.add_argument("--coculture", metavar="SET=FRACTION,...",
                    help="instead: an ensemble of co-cultures of these cell types, each population split into "
                         "--classes cell classes whose receptor numbers every culture draws anew")
    pp.add_argument("--populations", default="data/populations",
                    help="folder of <cell type>.csv receptor spreads (default: data/populations)")
    pp.add_argument("--readout", default="pSTAT5", help="co-culture: the observable per cell (default pSTAT5)")
    pp.add_argument("--classes", type=int, default=4, help="cell classes per population of a co-culture (default 4)")
    pp.add_argument("--cultures", type=int, default=50, help="co-cultures in the ensemble (default 50)")
    pp.add_argument("--doses", help="co-culture IL-2 doses in pM, comma-separated (default 1,10,100,1000)")
    pp.add_argument("--quiet", action="store_true")
    pp.set_defaults(func=cmd_populations)
    r = sub.add_parser("report", help="the IL-2 model's main job: build every cell type, run binding assays, "
                       "dose-responses, time courses, co-culture and an SSA ensemble; write an HTML report")
    r.add_argument("--model", default="model_src/il2.py", help="the IL-2 model file (default: model_src/il2.py)")
    r.add_argument("--out", default="build/report", help="report folder (default: build/report)")
    r.add_argument("--build-dir", default="build", help="where the SBML of each cell type goes (default: build)")
    r.add_argument("--quick", action="store_true", help="a smoke run: three cell types, few doses, 50 SSA runs")
    r.add_argument("--ssa-runs", type=int, default=1000, help="SSA ensemble size (default: 1000)")
    r.set_defaults(func=cmd_report)
    d = sub.add_parser("dose-response", help="a readout at a fixed time across IL-2 doses for one cell type: "
                       "CSV, PNG and Hill fit (EC50)")
    d.add_argument("--model", default="model_src/il2.py", help="model file (default: model_src/il2.py)")
    d.add_argument("--cell-type", required=True, help="parameter set, e.g. Treg")
    d.add_argument("--readout", required=True, help="observable(s), comma-separated, e.g. pSTAT5,pAkt")
    d.add_argument("--time", required=True, help="time after adding IL-2: 30m, 90s, 2h or seconds")
    d.add_argument("--doses", help="IL-2 doses in pM, comma-separated (default: 25 from 0.01 to 1e5)")
    d.add_argument("--out", required=True, help="output folder")
    d.set_defaults(func=cmd_dose_response)
    pe = sub.add_parser("petab", help="the PEtab v1 problem of the model against measured pSTAT5 (training "
                        "rows only): SBML, conditions, measurements, observables, parameters")
    pe.add_argument("model", help="model file (model_src/il2.py)")
    pe.add_argument("--data", required=True, help="tidy training table (data/training/farhat2021_pSTAT5_IL2.csv)")
    pe.add_argument("-o", "--output", default="build/petab", help="output folder (default: build/petab)")
    pe.add_argument("--priors", default="data/priors", help="receptor quantitations for the priors "
                    "(default: data/priors)")
    pe.set_defaults(func=cmd_petab)
    c = sub.add_parser("calibrate", help="fit the PEtab problem with pyPESTO (multistart Fides on AMICI forward "
                       "sensitivities and Fisher information, then profile likelihoods); resumes an interrupted run; "
                       "--quick: a smoke run")
    c.add_argument("--petab", default="build/petab", help="the PEtab problem (default: build/petab)")
    c.add_argument("--out", default="build/calibration", help="output folder (default: build/calibration)")
    c.add_argument("--work-dir", default="build/amici", help="where AMICI compiles the model (default: build/amici)")
    c.add_argument("--quick", action="store_true", help="2 starts of 3 iterations, the best continued for 2 "
                   "more, no profiles, no sampling (CI smoke run)")
    c.add_argument("--starts", type=int, help="number of starts (full run: 50)")
    c.add_argument("--max-iter", type=int, help="iterations per start (full run: 150)")
    c.add_argument("--refine-iter", type=int, help="the best starts (full run: 2, one per thread) are continued "
                   "for up to N more iterations before the profiles (full run: 600; 0: not continued)")
    c.add_argument("--samples", type=int, help="posterior samples per chain, two chains from the best fit, "
                   "stored every 2000 so an interrupted run continues (default 0: none)")
    c.add_argument("--profiles", action="store_true", help="profile likelihoods of every parameter (the full run's, "
                   "hours, stored per parameter; with --quick: profiles as well)")
    c.add_argument("--seed", type=int, default=1, help="seeds the start points (default: 1)")
    c.add_argument("--threads", type=int, default=2, help="starts run in parallel threads (default: 2)")
    c.add_argument("--write-fit", metavar="PATH", help="instead of running: write the finished run's best fit and its "
                   "95 %% intervals (profiles; else a posterior that mixed; else Wald) from --out's summary.json to "
                   "PATH for the model (model_src/il2_fit.json)")
    c.set_defaults(func=cmd_calibrate)
    sv = sub.add_parser("selectivity", help="EC50, maximum and Treg selectivity of IL-2 variants per cell type "
                        "(pSTAT5 at 30 min); --map N: the design map over the two affinities")
    sv.add_argument("model", nargs="?", default="model_src/il2.py", help="model file (default: model_src/il2.py)")
    sv.add_argument("--ligand", action="append", help="a variant of model_src/variants.py (repeat; default: WT)")
    sv.add_argument("--valency", type=int, default=1,
                    help="IL-2 moieties per ligand: 1, or 2 (bivalent Fc fusion, pair approximation)")
    sv.add_argument("--time", default="30min", help="readout time (default: 30min; e.g. 1h, 3600s)")
    sv.add_argument("--out", default="build/selectivity", help="output folder (default: build/selectivity)")
    sv.add_argument("--map", type=int, metavar="N", help="also the N x N design map of affinity folds 0.01-1000")
    sv.add_argument("--processes", type=int, default=2, help="processes for the map (default: 2)")
    sv.set_defaults(func=cmd_selectivity)
    vv = sub.add_parser("validate-variants", help="engineered IL-2 against held-out pSTAT5: EC50 ratios to the "
                        "wild-type fusion on the same plate, predicted and measured, with fold errors")
    vv.add_argument("model", nargs="?", default="model_src/il2.py", help="model file (default: model_src/il2.py)")
    vv.add_argument("--data", default="data/heldout/variants/MonomericMutSingleCellData.csv",
                    help="held-out mutein pSTAT5 (default: the monomeric fusions' file)")
    vv.add_argument("--out", default="build/variants", help="output folder (default: build/variants)")
    vv.add_argument("--bivalent", action="store_true",
                    help="instead: the bivalent fusions' plates of 2019-04-19 and 05-02 (time labels checked against "
                         "the vendor's file) and the valency test of 2019-11-08")
    vv.set_defaults(func=cmd_validate_variants)
    vm = sub.add_parser("validate-model", help="the calibrated model against the held-out data sets (a)-(d): "
                        "EC50 table with fold errors and figures")
    vm.add_argument("--model", default="model_src/il2.py", help="model file (default: model_src/il2.py)")
    vm.add_argument("--out", default="build/validation", help="output folder (default: build/validation)")
    vm.set_defaults(func=cmd_validate_model)
    v = sub.add_parser("validate", help="run every libSBML consistency check (units included) on an SBML file")
    v.add_argument("file")
    v.set_defaults(func=cmd_validate)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Il2sbmlError as exc:
        print(f"il2sbml: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
