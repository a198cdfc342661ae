"""Error types: every problem names where it came from and what to do.

A :class:`ModelError` carries an *origin* (``file:line`` of the DSL call or BNGL line that
declared the offending component), the *component* (``rule 'R1'``, ``parameter 'kon'``, ...)
and a *hint* saying how to fix it. The CLI prints ``str(error)`` and exits non-zero.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # il2sbml/, not il2sbml/lang/


@dataclass(frozen=True)
class Origin:
    """Where a model component was declared: a file and a 1-based line number."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def caller_origin() -> Origin | None:
    """The first stack frame outside the il2sbml package: the user's model file and line."""
    frame = sys._getframe(1)
    while frame is not None:
        fname = os.path.abspath(frame.f_code.co_filename)
        if not fname.startswith(_PKG_DIR + os.sep):
            return Origin(_display_path(fname), frame.f_lineno)
        frame = frame.f_back
    return None


def _display_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # different drive (Windows)
        return path
    return rel if not rel.startswith("..") else path


class Il2sbmlError(Exception):
    """Base class of every error il2sbml raises on purpose."""


class ModelError(Il2sbmlError):
    """A model is wrong: the message names the file, line, component and the fix."""

    def __init__(self, message: str, *, origin: Origin | None = None,
                 component: str | None = None, hint: str | None = None):
        self.message = message
        self.origin = origin
        self.component = component
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.origin is not None:
            parts.append(f"{self.origin}: ")
        if self.component:
            parts.append(f"{self.component}: ")
        parts.append(self.message)
        if self.hint:
            parts.append(f" ({self.hint})")
        return "".join(parts)


class PatternSyntaxError(ModelError):
    """A BNGL-style pattern or rule string cannot be parsed."""


class UnitError(ModelError):
    """A unit string is unknown, or a quantity has the wrong dimension."""


class NetworkLimitError(Il2sbmlError):
    """Network generation hit a limit (species, reactions, aggregate size, time)."""

    def __init__(self, message: str, *, rule: str | None = None):
        self.rule = rule
        super().__init__(message)


class NotSupportedError(Il2sbmlError):
    """A construct that il2sbml refuses by name rather than silently mis-handling."""
