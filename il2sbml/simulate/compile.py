"""The bridge from a frozen :class:`~il2sbml.generate.network.Network` to the Numba kernels' arrays.

This is the only place where ``il2sbml`` meets ``kernels``: the kernels take NumPy arrays
and never import ``il2sbml``.

Networks generated from rules (DSL or BNGL) are mass action on amounts: reaction *j* has the
deterministic rate constant ``c_j = Network.rate_value(j)`` (statistical factor, unit and
volume factors included) and the SSA propensity ``c_j * prod(falling factorials)``, e.g.
``c * x*(x-1)`` for ``A + A`` whose 0.5 symmetry factor is already in ``c`` -- the kernels'
convention exactly.

Networks read from SBML use the SBML stochastic semantics (the kinetic law evaluated on
amounts is the propensity): first-order-per-species mass action becomes a rate constant;
every other law becomes a branch of one generated Numba ``law(j, x, p)`` compiled through
``kernels.compile_law`` and cached on disk (``$IL2SBML_CACHE`` or ``~/.cache/il2sbml/laws``);
laws that read ``time`` are flagged for the kernels' exact integral method; species defined
by assignment rules are recorded from their rule; events become kernel events (``time >= T``,
``species <op> threshold``, or any condition of counts and parameters; assignments of
constants or of any expression, to species or parameters). What stays refused is refused by
name: triggers that mix time into a condition, assignments to compartments, reactions that
change a rule-defined species (and, in the reader, algebraic and rate rules, delays,
priorities and fast reactions).
"""

from __future__ import annotations

import math

import numpy as np

from ..generate.network import Network
from ..lang.errors import NotSupportedError
from ..lang.expr import Expr


def _whole_counts(names, amounts, round_initial: bool) -> list[int]:
    """Initial counts as whole molecules; refuses negative, infinite or (unless rounding) fractional ones."""
    x0 = []
    for name, amount in zip(names, amounts):
        if not math.isfinite(amount) or amount < 0:
            raise NotSupportedError(f"species {name!r} starts at {amount!r} molecules; counts must be "
                                    "finite and non-negative")
        if not round_initial and abs(amount - round(amount)) > 1e-9 * max(1.0, abs(amount)):
            raise NotSupportedError(f"species {name!r} starts at {amount!r} molecules, not a whole number; "
                                    "the SSA counts molecules (round it in the model, or compile with round_initial=True)")
        x0.append(int(round(amount)))
    return x0


def compile_network(net: Network, *, round_initial: bool = False, cache_dir=None):
    """Kernel arrays (``kernels.NetworkArrays``) for ``net``; refuses what it cannot run exactly.

    Initial amounts must be whole numbers of molecules; ``round_initial=True`` rounds amounts
    derived from concentrations (e.g. 10 pM in 1 nL is 6022.14 molecules) to the nearest one.

    Networks generated from rules: mass-action reactions become rate constants; reactions
    with a functional rate (a function of observables, parameters and ``time()``) or an
    ``MM()``/``Sat()`` rate law become branches of the same generated law as SBML's general
    kinetic laws (:class:`_LawWriter`), with BioNetGen's stochastic semantics (its
    ``run_network``, ``rxn_rate`` with ``discrete`` set): the propensity of a functional rate
    is ``stat_factor * f * prod(falling factorials of the reactant counts)``; ``MM(kcat, Km)``
    is ``kcat * Et * S / (Km + S)`` with S the free-substrate root on counts; ``Sat(kcat, K1,
    ...)`` is ``kcat * prod_i (x_i - n_i) / (K_i + x_i) * prod_rest (x_i - n_i)``, ``n_i`` the
    copies of the same species before position i (all times the unit and volume factors,
    which are 1 in a dimension-free BNGL model).
    """
    import kernels

    if net.sbml is not None:
        return compile_sbml_network(net, round_initial=round_initial, cache_dir=cache_dir)
    x0 = _whole_counts([s.label for s in net.species], net.initial_amounts(), round_initial)
    writer = _LawWriter(net)
    env = dict(net.parameters)
    env.update(net.compartment_sizes)
    law_flags, law_species, time_reactions = [], [], []
    for j, r in enumerate(net.reactions):
        law = r.rate_law
        if not r.functional and law is None:
            law_flags.append(False)
            law_species.append([])
            continue
        writer.start()
        factor = r.stat_factor * r.unit_factor * r.volume_factor.evaluate(env)
        if law is None:
            body = f"{factor!r} * ({writer.py(r.rate.tree)})" + "".join(
                f" * {term}" for term in _falling_factorials(r.reactants, writer))
            writer.branch(j, body)
        elif law[0] == "MM":
            kcat, km = (writer.py(a.tree) for a in law[1])
            s_i, e_i = r.reactants[0], r.reactants[1:]
            writer.read.update(r.reactants)
            et = " + ".join(f"float(x[{i}])" for i in e_i)
            writer.statements(j, [f"St = float(x[{s_i}])", f"Et = {et}", f"Km = {km}",
                                  "b = St - Km - Et", "S = 0.5 * (b + math.sqrt(b * b + 4.0 * St * Km))"],
                              f"{factor!r} * ({kcat}) * Et * S / (Km + S)")
        else:
            k = [writer.py(a.tree) for a in law[1]]
            terms, prev, n = [], None, 0
            for pos, i in enumerate(r.reactants):
                n = n + 1 if i == prev else 0
                prev = i
                xi = f"float(x[{i}])"
                num = f"({xi} - {float(n)!r})" if n else xi
                terms.append(f"{num} / (({k[pos + 1]}) + {xi})" if pos + 1 < len(k) else num)
            writer.read.update(r.reactants)
            writer.branch(j, f"{factor!r} * ({k[0]})" + "".join(f" * {t}" for t in terms))
        law_flags.append(True)
        law_species.append(sorted(writer.read))
        if writer.reads_time:
            time_reactions.append(j)
    plain = [j for j, is_law in enumerate(law_flags) if not is_law]
    rates = np.zeros(len(net.reactions))
    rates[plain] = net.rate_values(plain)
    compiled = writer.compile(cache_dir)
    fixed = [s.index for s in net.species if s.fixed]
    return kernels.network_from_reactions(
        np.array(x0, dtype=np.int64), [list(r.reactants) for r in net.reactions],
        [list(r.products) for r in net.reactions], rates, fixed_species=fixed,
        law=compiled, law_reactions=law_flags if compiled is not None else None,
        law_species=law_species if compiled is not None else None,
        params=writer.params() if compiled is not None else None, time_reactions=time_reactions)


def _falling_factorials(reactants, writer) -> list[str]:
    """``x``, ``x * (x - 1)``, ... per distinct reactant species (the SSA's mass-action counts)."""
    out = []
    for i in sorted(set(reactants)):
        writer.read.add(i)
        xi = f"float(x[{i}])"
        out.extend(xi if m == 0 else f"({xi} - {float(m)!r})" for m in range(reactants.count(i)))
    return out


# ----------------------------------------------------------------------------- SBML networks

_OPS = {"Gt": ">", "GtE": ">=", "Lt": "<", "LtE": "<=", "Eq": "==", "NotEq": "!="}
_MATH = {"exp": "math.exp", "ln": "math.log", "log": "math.log", "log10": "math.log10", "sqrt": "math.sqrt",
         "abs": "abs", "floor": "math.floor", "ceil": "math.ceil", "sin": "math.sin", "cos": "math.cos",
         "tan": "math.tan", "min": "min", "max": "max", "pow": "math.pow", "log2": "math.log2",
         "asin": "math.asin", "acos": "math.acos", "atan": "math.atan", "sinh": "math.sinh",
         "cosh": "math.cosh", "tanh": "math.tanh", "asinh": "math.asinh", "acosh": "math.acosh",
         "atanh": "math.atanh"}


class _LawWriter:
    """Expressions of a network (kinetic laws, rules, event values and triggers) as branches of
    one Numba ``law(j, t, x, p)`` source.

    Symbols: a species is its amount ``x[i]`` (divided by its compartment's size where the SBML
    symbol means a concentration); a species or parameter defined by an assignment rule is its
    rule, inlined; ``time`` is ``t``; other parameters and compartment sizes are ``p[k]``.
    While translating one expression, :attr:`read` collects the species it reads (for the
    dependency graph), :attr:`names` the parameters, and :attr:`reads_time` whether it reads
    the time."""

    def __init__(self, net: Network):
        self.net = net
        self.species = {s.sbml_id: s for s in net.species}
        self.values = dict(net.parameters)
        self.values.update(net.compartment_sizes)
        extras = net.sbml
        self.rules = dict(extras.assignment_rules) if extras is not None else {}
        # networks generated from rules: observables (weighted sums of counts) and global functions
        self.observables = {o.name: o.weights for o in net.observables} if extras is None else {}
        self.functions = {f.name: f.expr for f in net.functions} if extras is None else {}
        if extras is None:
            self.species = {}
        self.index = {name: k for k, name in enumerate(self.values)}
        self.read: set = set()
        self.names: set = set()
        self.reads_time = False
        self.branches: list[str] = []
        self.next_index = len(net.reactions)

    def params(self) -> np.ndarray:
        return np.array([float(v) for v in self.values.values()], dtype=np.float64)

    def start(self) -> None:
        self.read, self.names, self.reads_time = set(), set(), False

    def branch(self, j: int, body: str) -> None:
        self.branches.append(f"    if j == {j}:\n        return {body}")

    def statements(self, j: int, lines: list, body: str) -> None:
        self.branches.append(f"    if j == {j}:\n" + "".join(f"        {line}\n" for line in lines)
                             + f"        return {body}")

    def extra(self, body: str) -> int:
        """A law value at a new index (>= the number of reactions): rules, events, triggers."""
        j = self.next_index
        self.next_index += 1
        self.branch(j, body)
        return j

    def py(self, node) -> str:
        import ast

        if isinstance(node, ast.Constant):
            return repr(float(node.value)) if not isinstance(node.value, bool) else repr(node.value)
        if isinstance(node, ast.Name):
            name = node.id
            if name in self.rules:
                return f"({self.py(self.rules[name].tree)})"
            if name in self.observables:
                terms = []
                for i, w in self.observables[name]:
                    self.read.add(i)
                    terms.append(f"float(x[{i}])" if w == 1 else f"{float(w)!r} * float(x[{i}])")
                return "(" + (" + ".join(terms) if terms else "0.0") + ")"
            if name in self.species:
                s = self.species[name]
                self.read.add(s.index)
                amount = f"float(x[{s.index}])"
                return amount if s.amount_in_law else f"({amount} / p[{self.index[s.compartment]}])"
            if name in self.index:
                self.names.add(name)
                return f"p[{self.index[name]}]"
            if name == "time":
                self.reads_time = True
                return "t"
            if name in ("_pi", "pi"):
                return repr(math.pi)
            if name == "_e":
                return repr(math.e)
            raise NotSupportedError(f"an expression reads {name!r}, an unknown symbol; the SSA kernels "
                                    "need expressions of counts, constants and time")
        if isinstance(node, ast.BinOp):
            op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}[type(node.op)]
            return f"({self.py(node.left)} {op} {self.py(node.right)})"
        if isinstance(node, ast.UnaryOp):
            inner = self.py(node.operand)
            return f"(-{inner})" if isinstance(node.op, ast.USub) else (
                f"(not {inner})" if isinstance(node.op, ast.Not) else inner)
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for op, right in zip(node.ops, node.comparators):
                parts.append(f"({self.py(left)} {_OPS[type(op).__name__]} {self.py(right)})")
                left = right
            return "(" + " and ".join(parts) + ")"
        if isinstance(node, ast.BoolOp):
            op = " and " if isinstance(node.op, ast.And) else " or "
            return "(" + op.join(self.py(v) for v in node.values) + ")"
        if isinstance(node, ast.Call) and node.func.id == "_if":
            c, a, b = (self.py(arg) for arg in node.args)
            return f"({a} if {c} else {b})"
        if isinstance(node, ast.Call) and node.func.id in self.functions and not node.args:
            return f"({self.py(self.functions[node.func.id].tree)})"
        if isinstance(node, ast.Call) and node.func.id == "rint":      # BioNetGen's: half up
            return f"math.floor({self.py(node.args[0])} + 0.5)"
        if isinstance(node, ast.Call) and node.func.id in ("sum", "avg"):
            total = "(" + " + ".join(self.py(a) for a in node.args) + ")"
            return total if node.func.id == "sum" else f"({total} / {float(len(node.args))!r})"
        if isinstance(node, ast.Call) and node.func.id in _MATH:
            return f"{_MATH[node.func.id]}({', '.join(self.py(arg) for arg in node.args)})"
        raise NotSupportedError(f"cannot compile {ast.unparse(node)!r} for the SSA kernels")

    def number(self, node) -> str:
        """An expression whose value is a number (a boolean condition becomes 1.0 or 0.0)."""
        return f"(1.0 * ({self.py(node)}))"

    def compile(self, cache_dir=None):
        import kernels

        if not self.branches:
            return None
        source = "def law(j, t, x, p):\n" + "\n".join(self.branches) + "\n    return 0.0\n"
        return kernels.compile_law(source, cache_dir or law_cache_dir())


def law_cache_dir() -> str:
    """Where generated laws and their machine code are cached: ``$IL2SBML_CACHE`` or
    ``~/.cache/il2sbml/laws``."""
    import os

    return os.environ.get("IL2SBML_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "il2sbml", "laws")


def _initial_counts(net: Network) -> list[float]:
    """Initial amounts of an SBML network: concentrations times volumes, then initial assignments."""
    env = dict(net.parameters)
    env.update(net.compartment_sizes)
    amounts = []
    for s in net.species:
        v = 0.0 if s.initial is None else s.initial.evaluate(env)
        if s.concentration:
            v *= net.compartment_sizes[s.compartment]
        amounts.append(v)
    by_id = {s.sbml_id: s for s in net.species}
    for symbol, expr in net.sbml.initial_assignments:
        if symbol not in by_id:
            raise NotSupportedError(f"initial assignment to {symbol!r}: only species initial assignments are "
                                    "compiled for the SSA kernels so far")
        env_s = dict(env)
        env_s.update({q.sbml_id: a for q, a in zip(net.species, amounts)})
        amounts[by_id[symbol].index] = expr.evaluate(env_s)
    return amounts


def _event_assigned_parameters(net: Network) -> set:
    return {var for ev in net.sbml.events for var, _ in ev.assignments
            if var in net.parameters}


def _events(net: Network, writer: _LawWriter):
    """Kernel event specs: ``time >= T`` triggers and ``species <op> constant`` ones as such, any
    other condition of counts and parameters as a law trigger; assignments of whole constants
    to species as constants, every other value (and every parameter) through the law."""
    import ast

    import kernels

    specs = []
    ids = {s.sbml_id: s.index for s in net.species}
    assigned = _event_assigned_parameters(net)
    for ev in net.sbml.events:
        # SBML persistence and useValuesFromTriggerTime only matter with a delay, which the
        # reader refuses: without one an event executes when its trigger becomes true
        t = ev.trigger.tree
        assigns = []
        for var, expr in ev.assignments:
            if var in writer.rules:
                raise NotSupportedError(f"event {ev.id} assigns {var!r}, which an assignment rule defines")
            if var in ids:
                writer.start()
                body = writer.py(expr.tree)
                constant = not writer.read and not writer.names and not writer.reads_time
                if constant:
                    v = expr.evaluate(dict(writer.values))
                    if float(v).is_integer() and v >= 0:
                        assigns.append((ids[var], "=", int(v)))
                        continue
                    raise NotSupportedError(f"event {ev.id} sets {var} to {v!r}, not a whole number of molecules")
                assigns.append((ids[var], "=law", writer.extra(body)))
            elif var in writer.index and var not in net.compartment_sizes:
                writer.start()
                assigns.append((writer.index[var], "param=law", writer.extra(writer.number(expr.tree))))
            else:
                raise NotSupportedError(f"event {ev.id} assigns {var!r}, not a species or a parameter "
                                        "(compartment sizes stay constant in the SSA)")
        simple = (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.left, ast.Name))
        writer.start()
        if simple:
            writer.py(t.comparators[0])
        constant_rhs = simple and not writer.read and not writer.reads_time and not (writer.names & assigned)
        name = t.left.id if simple else None
        if constant_rhs and name == "time":
            op = _OPS[type(t.ops[0]).__name__]
            if op not in (">=", ">"):
                raise NotSupportedError(f"event {ev.id}: a trigger on time must be 'time >= T' "
                                        f"(found {ev.trigger.text!r})")
            threshold = Expr.parse(ast.unparse(t.comparators[0])).evaluate(dict(writer.values))
            specs.append(kernels.time_event(threshold, assigns, ev.initial_value))
            continue
        if constant_rhs and name in ids and name not in writer.rules:
            threshold = Expr.parse(ast.unparse(t.comparators[0])).evaluate(dict(writer.values))
            specs.append(kernels.species_event(ids[name], _OPS[type(t.ops[0]).__name__], threshold,
                                               assigns, ev.initial_value))
            continue
        writer.start()
        body = writer.number(t)
        if writer.reads_time:
            raise NotSupportedError(f"event {ev.id}: trigger {ev.trigger.text!r} reads time in a condition "
                                    "other than 'time >= T'; the exact SSA would need the crossing time of "
                                    "a condition of time and counts")
        specs.append(kernels.law_event(writer.extra(body), assigns, ev.initial_value))
    return specs


def compile_sbml_network(net: Network, *, round_initial: bool = False, cache_dir=None):
    """Kernel arrays for a network read from SBML: the kinetic law evaluated on amounts is the
    propensity (SBML's stochastic semantics); laws other than first-order-per-species mass
    action become one generated Numba law, compiled once and cached on disk.

    Also compiled: kinetic laws that read ``time`` (integrated exactly by the kernels),
    species defined by assignment rules (their rule gives their value at every output; a law
    that reads one reads its rule), and events with any assignment values and any trigger of
    counts and parameters (parameters set by events make every law that reads them general).
    """
    import kernels

    writer = _LawWriter(net)
    amounts = _initial_counts(net)
    rule_ids = [s for s in net.species if s.sbml_id in writer.rules]
    for s in rule_ids:
        amounts[s.index] = 0.0   # never read: the rule gives the value whenever it is recorded
    x0 = _whole_counts([s.sbml_id for s in net.species], amounts, round_initial)
    assigned = _event_assigned_parameters(net) if net.sbml.events else set()
    rule_species = {s.index for s in rule_ids}
    rates = np.zeros(len(net.reactions))
    law_flags, law_species, time_reactions = [], [], []
    for j, r in enumerate(net.reactions):
        writer.start()
        body = writer.py(r.law.tree)
        plain = (r.mass_action and all(r.reactants.count(i) == 1 for i in set(r.reactants))
                 and not writer.reads_time and not (writer.names & assigned)
                 and not (set(r.reactants) & rule_species))
        if plain:
            law_flags.append(False)
            law_species.append([])
            continue
        if set(r.products) & rule_species or set(r.reactants) & rule_species and not all(
                net.species[i].fixed for i in set(r.reactants) & rule_species):
            raise NotSupportedError(f"reaction {r.sbml_id} changes a species that an assignment rule defines")
        writer.branch(j, body)
        law_flags.append(True)
        law_species.append(sorted(writer.read))
        if writer.reads_time:
            time_reactions.append(j)
    plain = [j for j, is_law in enumerate(law_flags) if not is_law]
    rates[plain] = net.rate_values(plain)
    rule_law = []
    for s in rule_ids:
        writer.start()
        rule_law.append(writer.extra(writer.number(writer.rules[s.sbml_id].tree)))
    events = _events(net, writer) if net.sbml.events else None
    law = writer.compile(cache_dir)
    fixed = [s.index for s in net.species if s.fixed]
    return kernels.network_from_reactions(
        np.array(x0, dtype=np.int64), [list(r.reactants) for r in net.reactions],
        [list(r.products) for r in net.reactions], rates, fixed_species=fixed,
        law=law, law_reactions=law_flags if any(law_flags) else None,
        law_species=law_species if any(law_flags) else None,
        params=writer.params() if law is not None else None,
        events=kernels.make_event_arrays(len(net.species), events) if events else None,
        time_reactions=time_reactions, rule_species=[s.index for s in rule_ids], rule_law=rule_law)
