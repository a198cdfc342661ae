"""What a simulation command runs on and writes: model file -> network, species picked by id,
output time grid, CSV text. Shared by the CLI and the ensemble runner.

Takes a model path (DSL ``.py``, ``.bngl`` or SBML) and the command's options; gives a frozen
:class:`~il2sbml.generate.network.Network`, species indices and ids, a time grid, CSV text.
"""

from __future__ import annotations

from ..formats.load import load_model
from ..generate.netgen import generate_network
from ..lang.errors import Il2sbmlError


def limits(args) -> dict:
    """The network-generation limits of the CLI options (``--max-iter`` ...), as keyword arguments."""
    return {"max_iter": args.max_iter, "max_agg": args.max_agg, "max_species": args.max_species,
            "max_reactions": args.max_reactions, "timeout": args.timeout}


def load_network(path: str, args):
    """A network from a DSL/BNGL model (generated; ``--cell-type`` picks a parameter set) or an
    SBML file (read)."""
    if path.endswith(".xml") or path.endswith(".sbml"):
        if getattr(args, "cell_type", None):
            raise Il2sbmlError(f"{path}: --cell-type applies to model files (.py, .bngl); an SBML file "
                               "is one cell type already (build/il2_<CellType>.xml)")
        from ..formats.sbmlread import read_sbml
        return read_sbml(path)
    model = load_model(path)
    if getattr(args, "cell_type", None):
        model = model.with_parameter_set(args.cell_type)
    return generate_network(model, **limits(args))


def species_ids(net):
    """Column ids: SBML ids for networks read from SBML, else s1, s2, ... as in our SBML."""
    return [s.sbml_id or f"s{s.index + 1}" for s in net.species]


def pick_species(net, wanted: str | None):
    """Indices and ids of the species named in ``wanted`` (comma-separated ids; all if empty)."""
    ids = species_ids(net)
    if not wanted:
        return list(range(len(ids))), ids
    picked = []
    for name in wanted.split(","):
        name = name.strip()
        if name not in ids:
            raise Il2sbmlError(f"--species: no species {name!r}; ids are {', '.join(ids[:12])}"
                               + (" ..." if len(ids) > 12 else ""))
        picked.append(ids.index(name))
    return picked, [ids[i] for i in picked]


def pick_observables(net, wanted: str):
    """``(species, weights, names)`` for the observables named in ``wanted`` (comma-separated):
    the species they read (indices), int64 weights[n_obs, len(species)] and the names. Weights are
    whole numbers (pattern matches per species), so an observable of counts is a count."""
    import numpy as np

    by_name = {o.name: o for o in net.observables}
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    if not names:
        raise Il2sbmlError("--observables: give one or more observable names")
    for name in names:
        if name not in by_name:
            raise Il2sbmlError(f"--observables: no observable {name!r}; the model has "
                               + (", ".join(o.name for o in net.observables[:12]) or "none")
                               + (" ..." if len(net.observables) > 12 else ""))
    species = sorted({i for name in names for i, _ in by_name[name].weights})
    col = {i: c for c, i in enumerate(species)}
    W = np.zeros((len(names), len(species)), np.int64)
    for r, name in enumerate(names):
        for i, w in by_name[name].weights:
            if w != int(w) or w < 0:
                raise Il2sbmlError(f"--observables: {name} weighs species {i + 1} by {w}; only whole, non-negative "
                                   "weights give counts")
            W[r, col[i]] += int(w)
    return species, W, names


def time_grid(args):
    """``--points`` output times from 0 to ``--t-end`` inclusive (model time units)."""
    import numpy as np

    if not args.t_end > 0 or args.points < 2:
        raise Il2sbmlError("--t-end must be > 0 and --points >= 2 (P times from 0 to T inclusive)")
    return np.linspace(0.0, args.t_end, args.points)


def csv_table(rows, header) -> str:
    """CSV text: a header line, then one line per row (floats written exactly, with ``repr``)."""
    lines = [",".join(header)]
    lines += [",".join(repr(float(v)) if isinstance(v, float) else str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"
