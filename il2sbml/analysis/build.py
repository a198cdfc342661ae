"""Build: model file -> validated SBML (or Antimony / COMBINE archive) files, atomically.

A model with parameter sets (the IL-2 model's cell types) builds one file per set,
``<model>_<set>.xml`` (``build/il2_Treg.xml`` ...); ``cell_types`` picks some; ``coculture``
builds one model of several populations sharing the medium. Every file is generated and
validated before any is written, and each is written to a temporary file then renamed, so a
failure leaves the output folder as it was.
"""

from __future__ import annotations

import os

from ..formats.files import atomic_write_bytes
from ..formats.load import load_model
from ..generate.netgen import generate_network
from ..lang.dsl import Model
from ..lang.errors import Il2sbmlError

EXTENSIONS = {"sbml": ".xml", "antimony": ".ant", "omex": ".omex"}


def variants(model: Model, cell_types: list[str] | None = None, coculture: str | dict | None = None) -> list[Model]:
    """The models a build writes: the co-culture, the chosen or all parameter sets, or the model."""
    if coculture:
        from .coculture import coculture as make
        from .coculture import parse_fractions
        return [make(model, parse_fractions(coculture) if isinstance(coculture, str) else coculture)]
    if cell_types:
        return [model.with_parameter_set(name) for name in cell_types]
    if model.parameter_sets:
        return [model.with_parameter_set(name) for name in model.parameter_sets]
    return [model]


def build(model_path: str, output: str = "build", *, cell_types: list[str] | None = None,
          coculture: str | dict | None = None, fmt: str = "sbml", level_version=(3, 2),
          t_end: float | None = None, points: int = 101, limits: dict | None = None,
          options: dict | None = None, progress=None) -> list[str]:
    """Build ``model_path`` into ``output`` (a folder, or one file with the format's extension).

    ``options`` go to the model file's ``build_model`` (the IL-2 model's ``ligand`` and ``valency``).

    Returns the paths written. ``progress`` (a callable taking a line) reports each model.
    """
    from ..formats.sbml import SBMLError, validate_sbml, write_sbml

    if fmt not in EXTENSIONS:
        raise Il2sbmlError(f"unknown format {fmt!r}; choose sbml, antimony or omex")
    if fmt == "omex" and (t_end is None or t_end <= 0 or points < 2):
        raise Il2sbmlError("--format omex needs --t-end T > 0 (seconds) and --points P >= 2 "
                           "for the SED-ML time course")
    ext = EXTENSIONS[fmt]
    models = variants(load_model(model_path, **(options or {})), cell_types, coculture)
    single = output.endswith(ext)
    if single and len(models) > 1:
        raise Il2sbmlError(f"{model_path} builds {len(models)} models ({', '.join(m.name for m in models)}); "
                           f"-o {output} names one file: pick one with --cell-type, or give a folder")
    level, version = level_version
    pending: list[tuple[str, bytes]] = []
    for model in models:
        net = generate_network(model, **(limits or {}))
        text = write_sbml(net, level=level, version=version)
        problems = validate_sbml(text)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise SBMLError(f"{model_path}: the SBML written for model {model.name!r} fails validation "
                            f"({len(errors)} error(s): {errors[0]}); nothing was written")
        if fmt == "sbml":
            data = text.encode("utf-8")
        elif fmt == "antimony":
            from ..formats.export import to_antimony
            data = to_antimony(text).encode("utf-8")
        else:
            from ..formats.export import to_omex
            data = to_omex(text, t_end=t_end, points=points, model_name=model.name)
        main = output if single else os.path.join(output, model.name + ext)
        pending.append((main, data))
        if not single:
            stem = os.path.join(output, model.name)
            pending.append((stem + ".net", net.to_net().encode("utf-8")))
            pending.append((stem + ".network.json", (net.to_json(full=True) + "\n").encode("utf-8")))
        if progress:
            s = net.summary()
            progress(f"{model.name}: {s['species']} species, {s['reactions']} reactions, "
                     f"{s['observables']} observables; SBML valid ({len(problems)} warning(s))")
    for path, data in pending:
        atomic_write_bytes(path, data)
    return [p for p, _ in pending]
