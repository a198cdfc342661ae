"""BNGL's expression grammar, read as BNG2.pl reads it, into an :class:`~il2sbml.lang.expr.Expr`.

The reference is BNG2.pl's own parser, ``Perl2/Expression.pm`` (``readString``, ``getNumber``,
``arrayToExpression`` and the ``%functions`` table) of the ``bionetgen`` package; il2sbml reads
the same language and says so where it refuses something:

* **Numbers** (``getNumber``): ``12``, ``1.5``, ``5.`` , ``.5``, ``3e-4``, ``3E+4``; a sign
  written against the digits belongs to the number (``-2^2`` is ``(-2)^2 = 4``). BNG2.pl also
  takes the Fortran exponents ``d``, ``f`` and ``g`` (``1d3``) but then evaluates ``1d3`` as
  ``1`` (Perl ignores the ``d3``): refused, with the ``e`` spelling as the fix.
* **Operators**, from the tightest (``arrayToExpression``): ``^`` and ``**``; ``*`` ``/``;
  ``+`` ``-``; ``<`` ``>`` ``<=`` ``>=`` ``==`` ``!=`` ``~=`` (``~=`` is ``!=``); ``&&`` ``||``.
  Every level groups **left to right**, ``^`` included: ``a^b^c`` is ``(a^b)^c``, ``a||b&&c``
  is ``(a||b)&&c``, ``a<b<c`` is ``(a<b)<c`` (1 or 0 compared with ``c``).
* **Unary** ``-``, ``+``, ``!`` and ``~`` (not) apply to the one operand that follows them (a
  name, a call or a parenthesised group), before any binary operator: ``-a^2`` is
  ``(-a)^2``, ``!a + 1`` is ``(!a) + 1``, ``2 - a^2`` is ``2 - (a^2)``. (A sign before a bare
  number is the number's sign; ``!0`` is not a number but a name ``0`` in BNG2.pl, refused.)
* **Names** are ``\\w+``. A parameter or observable is a name; a global function is called
  with or without ``()``; an observable may be written ``Obs()``. ``f(x)`` (local functions)
  and ``Obs(x)`` are refused by name.
* **Built-in functions** (``%functions``): ``_pi()``, ``_e()``, ``time()``, ``exp``, ``ln``,
  ``log10``, ``log2``, ``abs``, ``rint`` (``floor(x + 0.5)``), ``sqrt``, ``sin``, ``cos``,
  ``tan``, ``asin``, ``acos``, ``atan``, ``sinh``, ``cosh``, ``tanh``, ``asinh``, ``acosh``,
  ``atanh``, ``if(c, a, b)``, ``min``, ``max``, ``sum``, ``avg`` (any number of arguments),
  ``mratio`` and ``TFUN``. ``mratio`` (a continued fraction) and ``TFUN`` (a table read by
  NFsim) have no exact SBML form and are refused by name. BioNetGen has no ``log``, ``pow``,
  ``floor`` or ``ceil``: like BNG2.pl, il2sbml refuses them in BNGL (saying what to write).
  A built-in written without ``()`` (``_pi``, ``time``) is, for BNG2.pl, an undefined
  parameter: refused.
* **Whitespace** may stand between any two tokens, as in BNG2.pl (``k1 * 2``, ``exp (x)``,
  ``- a``), but not inside a number (``- 2`` is a unary minus on ``2``... which BNG2.pl reads
  as a name: refused as such).

:func:`parse_bngl_expr` reads a prefix of a string (as ``readString`` does) and returns where it
stopped, so that the compartments block can read ``name dim size-expression parent``.
"""

from __future__ import annotations

import ast
import re

from ..lang.expr import Expr, ExprError

__all__ = ["BUILTINS", "BNGLExprError", "bngl_expression", "parse_bngl_expr"]


class BNGLExprError(ValueError):
    """An expression BNG2.pl would not read (or would read wrongly); the message says which part."""

    def __init__(self, message: str, hint: str | None = None, *, refused: bool = False):
        self.message = message
        self.hint = hint
        self.refused = refused      # BNG2.pl reads it, il2sbml does not support it
        super().__init__(message)


# name -> (il2sbml function or constant, least, most arguments; None: any)
BUILTINS = {
    "_pi": ("_pi", 0, 0), "_e": ("_e", 0, 0), "time": ("time", 0, 0),
    "exp": ("exp", 1, 1), "ln": ("ln", 1, 1), "log10": ("log10", 1, 1), "log2": ("log2", 1, 1),
    "abs": ("abs", 1, 1), "rint": ("rint", 1, 1), "sqrt": ("sqrt", 1, 1),
    "cos": ("cos", 1, 1), "sin": ("sin", 1, 1), "tan": ("tan", 1, 1),
    "asin": ("asin", 1, 1), "acos": ("acos", 1, 1), "atan": ("atan", 1, 1),
    "sinh": ("sinh", 1, 1), "cosh": ("cosh", 1, 1), "tanh": ("tanh", 1, 1),
    "asinh": ("asinh", 1, 1), "acosh": ("acosh", 1, 1), "atanh": ("atanh", 1, 1),
    "if": ("_if", 3, 3), "min": ("min", 1, None), "max": ("max", 1, None),
    "sum": ("sum", 1, None), "avg": ("avg", 1, None),
    "mratio": (None, 3, 3), "TFUN": (None, 2, 2),
}
_REFUSED = {
    "mratio": "Kummer's function ratio, a continued fraction, has no exact SBML form",
    "TFUN": "a table NFsim reads from a file has no SBML form",
}
_NOT_BNG = {  # functions il2sbml's DSL has but BioNetGen does not
    "log": "BioNetGen has no log(); write ln(x) or log10(x)",
    "pow": "BioNetGen has no pow(); write a^b",
    "floor": "BioNetGen has no floor(); write rint(x - 0.5)",
    "ceil": "BioNetGen has no ceil(); write -rint(-x - 0.5)",
}

_BINARY = re.compile(r"\s*(\*\*|[+\-*/^]|>=|<=|[<>]|==|!=|~=|&&|\|\|)")
_NUMBER = re.compile(r"([+-]?)(\d+\.?\d*|\.\d+)")
_EXPONENT = re.compile(r"([DEFGdefg])([+-]?\d+)")
_CALL = re.compile(r"([+\-!~])?\s*(\w+)\s*\(")
_NAME = re.compile(r"([+\-!~])?\s*(\w+)")
_GROUP = re.compile(r"([+\-!~])?\s*\(")
_LEVELS = (("**", "^"), ("*", "/"), ("+", "-"), ("<", ">", "<=", ">=", "==", "!=", "~="), ("&&", "||"))
_BINOP = {"**": ast.Pow, "^": ast.Pow, "*": ast.Mult, "/": ast.Div, "+": ast.Add, "-": ast.Sub}
_CMP = {"<": ast.Lt, ">": ast.Gt, "<=": ast.LtE, ">=": ast.GtE, "==": ast.Eq, "!=": ast.NotEq, "~=": ast.NotEq}
_UNARY = {"-": ast.USub, "+": ast.UAdd, "!": ast.Not, "~": ast.Not}


class _Op:
    __slots__ = ("op",)

    def __init__(self, op):
        self.op = op


def parse_bngl_expr(text: str, pos: int = 0, *, functions=(), observables=(), allow_time: bool = False,
                    end: str = "") -> tuple[ast.AST, int]:
    """Read one BNGL expression from ``text[pos:]``; return (tree, position after it).

    ``functions`` and ``observables`` are the model's global function and observable names
    (calls ``f()`` / bare ``f`` and ``Obs()`` resolve to them). The expression stops where an
    operator is expected and none follows, or at a character of ``end`` (as BNG2.pl's
    ``readString``); callers decide whether what follows is allowed.
    """
    p = _Parser(text, set(functions), set(observables), allow_time)
    tree, i = p.expression(pos, end, 0)
    if tree is None:
        raise BNGLExprError("empty expression" if not text[pos:].strip() else
                            f"expected a number, name or '(' at {text[pos:].strip()[:30]!r}")
    return tree, i


class _Parser:
    def __init__(self, text, functions, observables, allow_time):
        self.text = text
        self.functions = functions
        self.observables = observables
        self.allow_time = allow_time

    def fail(self, i, msg, hint=None, *, refused=False):
        raise BNGLExprError(f"{msg} (at {self.text[i:].strip()[:30]!r} in {self.text.strip()!r})"
                            if self.text[i:].strip() else f"{msg} (in {self.text.strip()!r})", hint,
                            refused=refused)

    def expression(self, i, end, depth):
        if depth > 200:
            self.fail(i, "expression nested too deeply")
        text = self.text
        items = []
        expect_op = False
        while i < len(text):
            if expect_op:
                m = _BINARY.match(text, i)
                if m:
                    items.append(_Op(m.group(1)))
                    i = m.end()
                    expect_op = False
                    continue
                break  # an operator was expected: the expression ends here
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            if end and text[i] in end:
                break
            node, i = self.operand(i, end, depth)
            items.append(node)
            expect_op = True
        if items and isinstance(items[-1], _Op):
            self.fail(i, f"'{items[-1].op}' has no right-hand side")
        return (self.combine(items) if items else None), i

    def operand(self, i, end, depth):
        text = self.text
        m = _NUMBER.match(text, i)
        if m:
            j = m.end()
            e = _EXPONENT.match(text, j)
            if e and e.group(1) in "DFGdfg":
                num = text[i:e.end()]
                self.fail(i, f"the number {num!r} has a Fortran-style exponent '{e.group(1)}', which "
                          f"BNG2.pl evaluates as {m.group(0)} (Perl ignores it)",
                          hint=f"write {m.group(0)}e{e.group(2)}")
            if e:
                j = e.end()
            if not (j < len(text) and (text[j].isalnum() or text[j] == "_")):
                body = text[i + len(m.group(1)):j]
                value = _number(body)
                node = ast.Constant(value)
                if m.group(1) == "-":
                    node = ast.UnaryOp(ast.USub(), node)
                return node, j
            # digits followed by letters: BNG2.pl would read a name such as '2x'; refused below
        m = _CALL.match(text, i)
        if m:
            return self.call(m, end, depth)
        m = _NAME.match(text, i)
        if m:
            name = m.group(2)
            if name[0].isdigit():
                self.fail(i, f"{name!r} is neither a number nor a name (names start with a letter or '_')")
            return self.unary(m.group(1), self.name(name, i)), m.end()
        m = _GROUP.match(text, i)
        if m:
            inner, j = self.expression(m.end(), ")", depth + 1)
            while j < len(text) and text[j].isspace():
                j += 1
            if inner is None:
                self.fail(m.end(), "empty parentheses")
            if j >= len(text) or text[j] != ")":
                self.fail(j, "missing ')'")
            return self.unary(m.group(1), inner), j + 1
        self.fail(i, "expected a number, name or '('")

    def unary(self, op, node):
        return node if not op else ast.UnaryOp(_UNARY[op](), node)

    def name(self, name, i):
        if name in self.functions:
            return ast.Call(ast.Name(name, ast.Load()), [], [])
        if name in BUILTINS and name not in self.observables:
            # BNG2.pl: a parameter may not take a built-in's name, so this is an undefined parameter
            self.fail(i, f"{name!r} is a BioNetGen built-in function, not a name", hint=f"write {name}(...)"
                      if BUILTINS[name][1] else f"write {name}()")
        return ast.Name(name, ast.Load())

    def call(self, m, end, depth):
        text = self.text
        name = m.group(2)
        if name in _REFUSED:
            self.fail(m.start(), f"{name}() is not supported: {_REFUSED[name]}", refused=True)
        i = m.end()
        args = []
        while True:
            arg, i = self.expression(i, ",)", depth + 1)
            while i < len(text) and text[i].isspace():
                i += 1
            if arg is not None:
                args.append(arg)
            if i >= len(text):
                self.fail(m.start(), f"missing ')' after the arguments of {name}(")
            if text[i] == ")":
                i += 1
                break
            if text[i] == ",":
                if arg is None:
                    self.fail(i, f"an empty argument in {name}(...)")
                i += 1
                continue
            self.fail(i, f"expected ',' or ')' in {name}(...)")
        where = m.start()
        if name in BUILTINS:
            target, least, most = BUILTINS[name]
            if target is None:
                self.fail(where, f"{name}() is not supported: {_REFUSED[name]}", refused=True)
            if len(args) < least or (most is not None and len(args) > most):
                want = (f"{least}" if least == most else f"at least {least}")
                self.fail(where, f"{name}() takes {want} argument{'s' if least != 1 or most != 1 else ''}, "
                          f"not {len(args)}")
            if target == "time" and not self.allow_time:
                self.fail(where, "time() outside a global function is not supported",
                          hint="use time() in a global function and call that function", refused=True)
            if least == most == 0:
                node = ast.Name(target, ast.Load())
            else:
                node = ast.Call(ast.Name(target, ast.Load()), args, [])
        elif name in self.observables:
            if args:
                self.fail(where, f"observable {name}({', '.join(ast.unparse(a) for a in args)}) with an argument "
                          "(a local function) is not supported", hint="only global functions are supported",
                          refused=True)
            node = ast.Name(name, ast.Load())
        elif name in self.functions:
            if args:
                self.fail(where, f"the local function call {name}(...) is not supported",
                          hint="only global functions without arguments are supported", refused=True)
            node = ast.Call(ast.Name(name, ast.Load()), [], [])
        elif name in _NOT_BNG:
            self.fail(where, f"{name}() is not a BioNetGen function", hint=_NOT_BNG[name])
        elif name in ("MM", "Sat", "Hill", "Arrhenius", "FunctionProduct"):
            self.fail(where, f"the {name}() rate law inside an expression",
                      hint=f"a rate law is a rule's whole rate, {name}(...) alone")
        else:
            self.fail(where, f"{name}() is not a BioNetGen built-in function, an observable or a global function")
        return self.unary(m.group(1), node), i

    def combine(self, items):
        """BNG2.pl's ``arrayToExpression``: operator levels from the tightest; left to right."""
        for level in _LEVELS:
            out = [items[0]]
            k = 1
            while k < len(items):
                op, right = items[k], items[k + 1]
                if op.op in level:
                    out[-1] = _binary(op.op, out[-1], right)
                else:
                    out.extend((op, right))
                k += 2
            items = out
        return items[0]


def _binary(op, left, right):
    if op in _BINOP:
        return ast.BinOp(left, _BINOP[op](), right)
    if op in _CMP:
        return ast.Compare(left, [_CMP[op]()], [right])
    return ast.BoolOp(ast.And() if op == "&&" else ast.Or(), [left, right])


def _number(body: str):
    if re.fullmatch(r"\d+", body):
        return int(body)
    return float(body)


def _legacy_text(text: str, functions, observables) -> str:
    """The BNGL text in the DSL's spelling, where it is a plain respelling."""
    out = re.sub(r"\b(_pi|_e|time)\s*\(\s*\)", r"\1", text.strip())
    out = out.replace("~=", "!=")

    def call(m):
        name, rest = m.group(1), m.group(2)
        if name in functions and not rest.startswith("("):
            return f"{name}(){rest}"
        return m.group(0)

    out = re.sub(r"\b([A-Za-z_]\w*)(\s*\(?)", call, out)
    if observables and "(" in out:
        out = re.sub(r"\b(\w+)\s*\(\s*\)", lambda m: m.group(1) if m.group(1) in observables else m.group(0), out)
    return out


def bngl_expression(text: str, *, functions=(), observables=(), allow_time: bool = False) -> Expr:
    """A whole BNGL expression as an :class:`Expr` whose tree is BNG2.pl's reading of it.

    The text is kept as written (in the DSL's spelling: ``_pi`` for ``_pi()``, ``f()`` for a
    bare function name) when the DSL reads it to the same tree, and is otherwise the tree in
    Python syntax (``(a ** b) ** c`` for ``a^b^c``), so the two readings can never differ.
    """
    tree, i = parse_bngl_expr(text, functions=functions, observables=observables, allow_time=allow_time)
    if text[i:].strip():
        rest = text[i:].strip()
        raise BNGLExprError(f"unexpected {rest[:30]!r} after the expression {text[:i].strip()!r}",
                            hint="an operator is missing, or this is not one expression")
    legacy = _legacy_text(text, set(functions), set(observables))
    try:
        same = ast.dump(Expr.parse(legacy).tree) == ast.dump(tree)
    except ExprError:   # the DSL cannot read this spelling: use the tree's own text
        same = False
    return Expr.from_tree(tree, legacy if same else None)
