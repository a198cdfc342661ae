"""Model files in: a DSL ``.py`` file or a BioNetGen ``.bngl`` file, as a :class:`~il2sbml.lang.dsl.Model`.

Takes a path; gives a Model (its ``source`` set to the path), or an
:class:`~il2sbml.lang.errors.Il2sbmlError` naming the file and what to do.
"""

from __future__ import annotations

import importlib.util
import inspect
import os

from ..lang.dsl import Model
from ..lang.errors import Il2sbmlError


def load_model(path: str, **options) -> Model:
    """Load a model file: a DSL ``.py`` file exposing ``model`` or ``build_model()``, or BNGL.

    ``options`` (e.g. ``ligand="R38Q_N_term", valency=1`` for the IL-2 model) are passed to the
    file's ``build_model(**options)``; a file without ``build_model``, a BNGL file, or a
    ``build_model`` that does not take them is an error naming the file and the options.
    """
    if not os.path.exists(path):
        raise Il2sbmlError(f"{path}: no such model file")
    given = {k: v for k, v in options.items() if v is not None}
    if path.endswith(".bngl"):
        if given:
            raise Il2sbmlError(f"{path}: a BNGL file takes no build options ({', '.join(sorted(given))}); "
                               "they are for DSL model files that define build_model()")
        from .bngl import read_bngl  # here: a DSL model never needs the BNGL reader
        return read_bngl(path)
    if not path.endswith(".py"):
        raise Il2sbmlError(f"{path}: unknown model format; expected a .py DSL file or a .bngl file")
    spec = importlib.util.spec_from_file_location(f"_il2sbml_model_{abs(hash(os.path.abspath(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Il2sbmlError:
        raise
    except SyntaxError as exc:
        raise Il2sbmlError(f"{path}:{exc.lineno}: Python syntax error: {exc.msg}") from None
    if given:
        build_model = getattr(module, "build_model", None)
        if build_model is None:
            raise Il2sbmlError(f"{path}: options {', '.join(f'--{k}' for k in sorted(given))} need a "
                               "build_model(...) in the model file that takes them; this file has none")
        try:
            inspect.signature(build_model).bind(**given)
        except TypeError:
            raise Il2sbmlError(f"{path}: build_model{inspect.signature(build_model)} does not take "
                               f"{', '.join(sorted(given))}") from None
        model = build_model(**given)
    else:
        model = getattr(module, "model", None)
        if model is None and hasattr(module, "build_model"):
            model = module.build_model()
    if not isinstance(model, Model):
        raise Il2sbmlError(f"{path}: defines no Model; assign it to a variable named 'model' "
                           "or define build_model()")
    model.source = path
    return model
