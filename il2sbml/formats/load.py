"""Model files in: a DSL ``.py`` file or a BioNetGen ``.bngl`` file, as a :class:`~il2sbml.lang.dsl.Model`.

Takes a path; gives a Model (its ``source`` set to the path), or an
:class:`~il2sbml.lang.errors.Il2sbmlError` naming the file and what to do.
"""

from __future__ import annotations

import importlib.util
import os

from ..lang.dsl import Model
from ..lang.errors import Il2sbmlError


def load_model(path: str) -> Model:
    """Load a model file: a DSL ``.py`` file exposing ``model`` or ``build_model()``."""
    if not os.path.exists(path):
        raise Il2sbmlError(f"{path}: no such model file")
    if path.endswith(".bngl"):
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
    model = getattr(module, "model", None)
    if model is None and hasattr(module, "build_model"):
        model = module.build_model()
    if not isinstance(model, Model):
        raise Il2sbmlError(f"{path}: defines no Model; assign it to a variable named 'model' "
                           "or define build_model()")
    model.source = path
    return model
