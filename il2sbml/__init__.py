"""il2sbml: rule-based models of IL-2 signalling, a native network generator, SBML and simulation.

Public entry points::

    from il2sbml import Model, load_model, generate_network
"""

from .formats.load import load_model
from .generate.netgen import generate_network
from .generate.network import Network
from .lang.dsl import Model
from .lang.errors import (
           Il2sbmlError,
           ModelError,
           NetworkLimitError,
           NotSupportedError,
           UnitError,
)

__all__ = ["Model", "load_model", "generate_network", "Network", "Il2sbmlError", "ModelError",
           "NetworkLimitError", "NotSupportedError", "UnitError"]
__version__ = "0.1.0"
