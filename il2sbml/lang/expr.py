"""Arithmetic expressions for parameters, rate laws and functions.

Expressions are written as in BNGL (``kcat/(Km + Sa0)``, ``2*k^2``, ``if(x>1, a, b)``) and
parsed with Python's :mod:`ast` into a whitelisted tree: numbers, names, ``+ - * / ^ **``,
comparisons, ``&&``/``||``/``not``, and a fixed set of functions (:data:`FUNCTIONS`: every
function BioNetGen knows except ``mratio`` and ``TFUN``, plus ``log``, ``pow``, ``floor`` and
``ceil``). Nothing is ever passed to :func:`eval`.

The text is read with Python's precedence (``a^b^c`` is ``a^(b^c)``); BNGL's own grammar,
which differs, is read by :mod:`il2sbml.formats.bngl` into a tree first. The only constants
are ``_pi`` and ``_e`` (BioNetGen's ``_pi()`` and ``_e()``): every other name is a name, so a
BNGL parameter called ``pi``, ``e`` or ``NA`` is an ordinary parameter. Names that are Python
keywords (``lambda``, ``in``, ``None`` ...) are ordinary names too, except ``and``, ``or`` and
``not``, which are operators here.

A rule's rate may also be one of the rate laws :data:`RATE_LAWS` as its whole expression,
``MM(kcat, Km)`` or ``Sat(kcat, Km, ...)`` (see :func:`rate_law`); they are not functions and
cannot be evaluated as numbers.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from dataclasses import dataclass, field

FUNCTIONS = {
    "exp": math.exp, "log": math.log, "ln": math.log, "log10": math.log10,
    "log2": math.log2, "sqrt": math.sqrt, "abs": abs, "min": min, "max": max,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "pow": pow,
    "floor": math.floor, "ceil": math.ceil,
    "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh,
    "asinh": math.asinh, "acosh": math.acosh, "atanh": math.atanh,
    "rint": lambda x: float(math.floor(x + 0.5)),       # BioNetGen's rint: round half up
    "sum": lambda *a: sum(a), "avg": lambda *a: sum(a) / len(a),
    "_if": lambda c, a, b: a if c else b,
}
ARITY = {"min": (1, None), "max": (1, None), "sum": (1, None), "avg": (1, None), "_if": (3, 3),
         "pow": (2, 2)}
"""Number of arguments (least, most; None: any) of the functions that do not take exactly one."""
CONSTANTS = {"_pi": math.pi, "_e": math.e}
RATE_LAWS = {"MM": (2, 2), "Sat": (2, None)}
"""Rate laws a rule's rate may be (the whole expression): name -> (least, most) arguments."""
_KEYWORDS = sorted(set(keyword.kwlist) - {"and", "or", "not"})
_KEYWORD_RE = re.compile(r"\b(" + "|".join(_KEYWORDS) + r")\b")
_KEYWORD_TAG = "__kw_"

_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
           ast.Pow: lambda a, b: a ** b}
_CMPOPS = {ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
           ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
           ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b}


class ExprError(ValueError):
    """An expression cannot be parsed or evaluated; the message says which part."""


def _prepare(text: str) -> str:
    text = text.replace("^", "**")
    text = re.sub(r"\bif\s*\(", "_if(", text)
    text = text.replace("&&", " and ").replace("||", " or ")
    return _KEYWORD_RE.sub(lambda m: _KEYWORD_TAG + m.group(1), text)


def _restore_keywords(tree) -> None:
    """Names that are Python keywords were parsed under a tag (see :func:`_prepare`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id.startswith(_KEYWORD_TAG):
            node.id = node.id[len(_KEYWORD_TAG):]


@dataclass(frozen=True)
class Expr:
    """A parsed expression. ``names`` are the free identifiers; ``calls`` the called functions."""

    text: str
    tree: ast.AST = field(repr=False, compare=False, hash=False)
    names: frozenset[str] = field(compare=False, hash=False)
    calls: frozenset[str] = field(compare=False, hash=False)

    @classmethod
    def parse(cls, value) -> "Expr":
        if isinstance(value, Expr):
            return value
        if isinstance(value, bool):
            raise ExprError(f"a boolean ({value!r}) is not a number or expression")
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise ExprError(f"{value!r} is not a finite number")
            text = repr(float(value)) if isinstance(value, float) else str(value)
        elif isinstance(value, str):
            text = value.strip()
            if not text:
                raise ExprError("empty expression")
        else:
            raise ExprError(f"expected a number or an expression string, got {type(value).__name__}")
        try:
            tree = ast.parse(_prepare(text), mode="eval").body
        except SyntaxError as exc:
            raise ExprError(f"cannot parse expression {text!r}: {exc.msg}") from None
        _restore_keywords(tree)
        return cls.from_tree(tree, text)

    @classmethod
    def from_tree(cls, tree, text: str | None = None) -> "Expr":
        """An expression from a tree of the allowed nodes (checked); ``text`` defaults to the
        tree in Python syntax, which :meth:`parse` reads back to the same tree."""
        if text is None:
            text = ast.unparse(tree)
        names: set[str] = set()
        calls: set[str] = set()
        _check(tree, text, names, calls)
        return cls(text, tree, frozenset(names), frozenset(calls))

    def is_number(self) -> bool:
        return isinstance(self.tree, ast.Constant) or (
            isinstance(self.tree, ast.UnaryOp) and isinstance(self.tree.operand, ast.Constant))

    def evaluate(self, env: dict, functions: dict | None = None) -> float:
        """Evaluate with ``env`` (name -> float) and user ``functions`` (name -> callable)."""
        return float(_eval(self.tree, env, functions or {}, self.text))

    def __str__(self) -> str:
        return self.text


def _check(node, text, names, calls):
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
            raise ExprError(f"in {text!r}: only numbers are allowed, not {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id not in CONSTANTS:
            names.add(node.id)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        _check(node.left, text, names, calls)
        _check(node.right, text, names, calls)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        _check(node.operand, text, names, calls)
    elif isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
        _check(node.left, text, names, calls)
        for c in node.comparators:
            _check(c, text, names, calls)
    elif isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, text, names, calls)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        calls.add(node.func.id)
        for a in node.args:
            _check(a, text, names, calls)
    else:
        raise ExprError(f"in {text!r}: {ast.unparse(node)!r} is not an allowed expression")


def _eval(node, env, functions, text):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ExprError(f"in {text!r}: unknown name {node.id!r}")
    if isinstance(node, ast.BinOp):
        a = _eval(node.left, env, functions, text)
        b = _eval(node.right, env, functions, text)
        try:
            return _BINOPS[type(node.op)](a, b)
        except ZeroDivisionError:
            raise ExprError(f"in {text!r}: division by zero") from None
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env, functions, text)
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.Not):
            return not v
        return v
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env, functions, text)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env, functions, text)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        vals = [_eval(v, env, functions, text) for v in node.values]
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.Call):
        name = node.func.id
        args = [_eval(a, env, functions, text) for a in node.args]
        if name in functions:
            return functions[name](*args)
        if name in FUNCTIONS:
            return FUNCTIONS[name](*args)
        raise ExprError(f"in {text!r}: unknown function {name!r}")
    raise ExprError(f"in {text!r}: cannot evaluate {ast.unparse(node)!r}")


def rate_law(expr: Expr):
    """``(name, (Expr, ...))`` when ``expr`` is a rate law (``MM(kcat, Km)``, ``Sat(k, K1, ...)``),
    else ``None``."""
    tree = expr.tree
    if isinstance(tree, ast.Call) and tree.func.id in RATE_LAWS:
        return tree.func.id, tuple(Expr.from_tree(a) for a in tree.args)
    return None


def substitute_calls(expr: Expr) -> str:
    """The expression text with BNGL spellings normalised (``^`` -> ``**``)."""
    return ast.unparse(expr.tree)
