"""Dose-response and time-course plots: matplotlib on its Agg canvas (no screen, no pyplot
global state), written atomically and byte-for-byte reproducibly (no dates or versions in
the metadata, a fixed SVG hash salt).

``*_figure`` functions build and return a :class:`matplotlib.figure.Figure` (for notebooks and
tests); ``plot_*`` functions build it and write it to ``path`` (format from the suffix:
``.png``, ``.svg``, ``.pdf``, ...).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# metadata entries that would otherwise carry a version or a date, per format
_NO_STAMPS = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
              "pdf": {"CreationDate": None, "Creator": None, "Producer": None}}


def figure_grid(nrows: int = 1, ncols: int = 1, size=(6.0, 4.2)):
    """A figure (no pyplot state) and its ``nrows`` x ``ncols`` axes, flattened; size in inches."""
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False).ravel()


def _new_figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _series(x: np.ndarray, curves: dict, what: str) -> dict[str, np.ndarray]:
    if not curves:
        raise ValueError(f"{what}: no curves to plot")
    out = {}
    for label, values in curves.items():
        values = np.asarray(values, dtype=float).ravel()
        if values.size != x.size:
            raise ValueError(f"{what}: curve {label!r} has {values.size} values for {x.size} x values")
        out[str(label)] = values
    return out


def dose_response_figure(doses, curves: dict, *, dose_label: str = "IL-2 (pM)",
                         response_label: str = "response (molecules per cell)",
                         title: str | None = None, fits: dict | None = None) -> Figure:
    """Responses against dose on a log-scaled dose axis. ``curves``: label -> responses (one per
    dose). ``fits``: label -> :class:`il2sbml.simulate.ode.HillFit`, drawn as a line in the colour of
    that label's data (then shown as points only) with a diamond at the EC50, whose unit is
    read from the parentheses of ``dose_label``. Doses must be > 0 (log axis)."""
    x = np.asarray(doses, dtype=float).ravel()
    if x.size == 0 or not np.all(x > 0):
        raise ValueError("dose_response_figure: doses must be > 0 on a log-scaled axis")
    series = _series(x, curves, "dose_response_figure")
    fits = fits or {}
    unknown = set(fits) - set(series)
    if unknown:
        raise ValueError(f"dose_response_figure: fits for unknown curves {sorted(unknown)}")
    unit = re.search(r"\(([^()]*)\)\s*$", dose_label)
    fig, ax = _new_figure()
    smooth = np.logspace(np.log10(x.min()), np.log10(x.max()), 200)
    for label, y in series.items():
        fit = fits.get(label)
        (line,) = ax.plot(x, y, "o-" if fit is None else "o", label=label)
        if fit is not None:
            ax.plot(smooth, fit(smooth), "-", color=line.get_color())
            ax.plot([fit.ec50], [(fit.bottom + fit.top) / 2], "D", color=line.get_color(),
                    label=f"{label}: EC50 {fit.ec50:.3g}{' ' + unit.group(1) if unit else ''}, "
                          f"n {fit.hill:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel(dose_label)
    ax.set_ylabel(response_label)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return fig


def time_course_figure(time_s, curves: dict, *, ylabel: str, title: str | None = None,
                       log_y: bool = False) -> Figure:
    """Curves against time; ``time_s`` in seconds, shown in minutes. ``curves``: label ->
    values (one per time). With ``log_y``, values <= 0 are not drawn."""
    t = np.asarray(time_s, dtype=float).ravel()
    series = _series(t, curves, "time_course_figure")
    fig, ax = _new_figure()
    for label, y in series.items():
        ax.plot(t / 60.0, y, label=label)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("time (min)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return fig


def save_figure(fig: Figure, path) -> Path:
    """Write ``fig`` to ``path`` atomically: to a hidden temporary file in the same folder,
    then ``os.replace``, so a reader never sees a half-written file."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in fig.canvas.get_supported_filetypes():
        raise ValueError(f"{path}: unknown figure format {fmt!r}; use one of "
                         f"{', '.join(sorted(fig.canvas.get_supported_filetypes()))}")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh, rc_context({"svg.hashsalt": "il2sbml"}):
            fig.savefig(fh, format=fmt, metadata=_NO_STAMPS.get(fmt))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def plot_dose_response(path, doses, curves: dict, *, dose_label: str = "IL-2 (pM)",
                       response_label: str = "response (molecules per cell)",
                       title: str | None = None, fits: dict | None = None) -> Path:
    """:func:`dose_response_figure` written to ``path``; returns the path."""
    fig = dose_response_figure(doses, curves, dose_label=dose_label,
                               response_label=response_label, title=title, fits=fits)
    return save_figure(fig, path)


def plot_time_course(path, time_s, curves: dict, *, ylabel: str, title: str | None = None,
                     log_y: bool = False) -> Path:
    """:func:`time_course_figure` written to ``path``; returns the path."""
    return save_figure(time_course_figure(time_s, curves, ylabel=ylabel, title=title, log_y=log_y), path)
