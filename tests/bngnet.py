"""Independent test oracle: compare a generated reaction network with a BioNetGen ``.net`` file.

BioNetGen's own validation (``compare_species.pl`` / ``compare_rxn.pl``) checks that a network
has the same species and the same reactions as a reference ``.net`` file, regardless of order.
This module does the same for the networks produced by ``il2sbml``'s rule-expansion engine:

* :func:`parse_net` reads a ``.net`` file (parameters, functions, compartments, species,
  reactions, groups) and evaluates its parameter and rate expressions.
* :func:`canonical_species` turns a BNGL species string into a key that is invariant under
  graph isomorphism (molecule order, bond numbering, order of components), so species written
  by different BioNetGen versions, or by il2sbml, can be matched.
* :func:`compare` / :func:`assert_same_network` compare species, reactions (with their full
  rate constants, statistical factors included) and observables.
* :func:`network_from_netfile` builds a shuffled stand-in for an il2sbml network from a parsed
  ``.net`` file, which is how this oracle tests itself.

Why it is independent: il2sbml has its own species canonicaliser, and that canonicaliser is
exactly one of the things this oracle has to check.  So this module shares no code with the
``il2sbml`` package (it never imports it), uses only the Python standard library, and is
written from the BNGL/``.net`` format alone.  A bug in il2sbml's graph code therefore cannot be
mirrored here.

Canonical form, in brief: a species is a graph whose nodes are molecules (labelled by type and
compartment) and components (labelled by name and state), with bonds joining two components.
Because a component has at most one bond and components of a molecule are identified only by
name and state, that graph is isomorphic to another exactly when the following smaller
multigraph is: one node per molecule, labelled by (type, compartment, sorted list of its
unbound components), and one edge per bond, labelled at each end by the (name, state) of the
component there.  We canonicalise that multigraph exactly, by colour refinement plus
individualisation, taking the least certificate over the whole search tree (subtrees that an
automorphism already found maps onto an explored one are skipped, which keeps symmetric rings
and stars cheap).  The winning certificate is written back as a BNGL string, so keys are
readable, e.g. ``D(x!1,x!2).D(x!1,x!3).D(x!2,x!3)``.

Known limits: molecule-level states/bonds (``A~s(...)``), component compartments and ``%``
labels are ignored; Sat/MM/Hill rate laws and ``time()`` are not evaluated (a clear error is
raised).  BioNetGen prints statistical factors with ``%.8g``, so for models whose factors are
not short decimals (1/3, 1/volume, ...) compare with ``rel`` around 1e-7.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
import operator
import os
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = [
    "BNGL_MODELS",
    "Component",
    "Molecule",
    "Species",
    "NetFile",
    "NetSpecies",
    "NetReaction",
    "NetGroup",
    "suite_dir",
    "net_path",
    "parse_net",
    "parse_species",
    "format_species",
    "relabel_species",
    "canonical_species",
    "default_observable_values",
    "compare",
    "assert_same_network",
    "network_from_netfile",
]

# The ten BioNetGen validation models shipped in the suite (README section 3).
BNGL_MODELS = (
    "simple_system",
    "statfactor",
    "heise",
    "michment",
    "Haugh2b",
    "tlbr",
    "blbr",
    "toy-jim",
    "test_fixed",
    "univ_synth",
)


# --------------------------------------------------------------------------------------------
# Locating the reference suite
# --------------------------------------------------------------------------------------------


def suite_dir() -> Path:
    """Return the external test suite folder, or skip (fail under ``CI``) when it is absent.

    Looks at ``$IL2SBML_SUITE`` first, then ``../shared/suite`` relative to the repository root.
    """
    import pytest  # only needed when used from tests

    env = os.environ.get("IL2SBML_SUITE")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "suite"
    if path.is_dir():
        return path
    message = f"reference test suite not found at {path} (set IL2SBML_SUITE)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")  # pragma: no cover


def net_path(model: str) -> Path:
    """Path of the reference ``.net`` file of one BNGL validation model."""
    return suite_dir() / "bngl" / model / "expected" / f"{model}.net"


# --------------------------------------------------------------------------------------------
# BNGL species strings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    name: str
    state: str | None = None
    bond: int | None = None


@dataclass(frozen=True)
class Molecule:
    name: str
    components: tuple[Component, ...] = ()
    compartment: str | None = None  # explicit ``A()@PM`` suffix only


@dataclass(frozen=True)
class Species:
    molecules: tuple[Molecule, ...]
    compartment: str | None = None  # ``@EC::`` prefix
    fixed: bool = False  # ``$`` marker


_PREFIX_RE = re.compile(r"@(\w+)::?")
_MOLECULE_RE = re.compile(r"(\w+)(?:\((.*)\))?(?:@(\w+))?")
_COMPONENT_RE = re.compile(r"(\w+)((?:~\w+|!\d+|!\+|!\?|%\w+|@\w+)*)")
_COMPONENT_TOKEN_RE = re.compile(r"(~|!|%|@)(\w+|\+|\?)")


def _split_top_level(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_species(label: str) -> Species:
    """Parse a concrete BNGL species string such as ``@PM::$L(r!1)@EC.R(l!1,s~P)``."""
    text = label.strip()
    fixed = False
    compartment = None
    if text.startswith("$"):
        fixed, text = True, text[1:]
    match = _PREFIX_RE.match(text)
    if match:
        compartment, text = match.group(1), text[match.end():]
    if text.startswith("$"):
        fixed, text = True, text[1:]
    molecules = []
    for mol_text in _split_top_level(text, "."):
        match = _MOLECULE_RE.fullmatch(mol_text.strip())
        if not match:
            raise ValueError(f"cannot parse molecule {mol_text!r} in species {label!r}")
        name, comps_text, mol_compartment = match.groups()
        components = []
        for comp_text in (comps_text or "").split(","):
            comp_text = comp_text.strip()
            if not comp_text:
                continue
            cmatch = _COMPONENT_RE.fullmatch(comp_text)
            if not cmatch:
                raise ValueError(f"cannot parse component {comp_text!r} in species {label!r}")
            state = bond = None
            for kind, value in _COMPONENT_TOKEN_RE.findall(cmatch.group(2)):
                if kind == "~":
                    state = value
                elif kind == "!":
                    if not value.isdigit():
                        raise ValueError(f"wildcard bond in species {label!r}")
                    if bond is not None:
                        raise ValueError(f"component with two bonds in species {label!r}")
                    bond = int(value)
                # '%' labels and component compartments carry no species identity here
            components.append(Component(cmatch.group(1), state, bond))
        molecules.append(Molecule(name, tuple(components), mol_compartment))
    return Species(tuple(molecules), compartment, fixed)


def format_species(species: Species) -> str:
    """Write a :class:`Species` back as a BNGL string (components in the given order)."""
    out = ""
    if species.compartment:
        out += f"@{species.compartment}::"
    if species.fixed:
        out += "$"
    mols = []
    for mol in species.molecules:
        comps = []
        for c in mol.components:
            text = c.name
            if c.state is not None:
                text += f"~{c.state}"
            if c.bond is not None:
                text += f"!{c.bond}"
            comps.append(text)
        text = f"{mol.name}({','.join(comps)})"
        if mol.compartment:
            text += f"@{mol.compartment}"
        mols.append(text)
    return out + ".".join(mols)


def relabel_species(label: str, rng: random.Random) -> str:
    """Return an isomorphic spelling of ``label``: molecules and components shuffled, bonds
    renumbered with random distinct positive integers."""
    species = parse_species(label)
    bonds = sorted({c.bond for m in species.molecules for c in m.components if c.bond is not None})
    new_numbers = rng.sample(range(1, 10 * len(bonds) + 10), len(bonds))
    renumber = dict(zip(bonds, new_numbers))
    molecules = []
    for mol in species.molecules:
        comps = [dataclasses.replace(c, bond=renumber.get(c.bond)) for c in mol.components]
        rng.shuffle(comps)
        molecules.append(dataclasses.replace(mol, components=tuple(comps)))
    rng.shuffle(molecules)
    return format_species(dataclasses.replace(species, molecules=tuple(molecules)))


# ---- canonical form -------------------------------------------------------------------------
#
# Molecule-level multigraph (see the module docstring for why it is equivalent to the
# component-level graph):
#   labels[v] = (type, compartment, sorted unbound (name, state) pairs)
#   adj[v]    = list of (own end (name, state), partner end (name, state), partner molecule)
# A bond inside one molecule appears twice in adj[v], once from each end.

End = tuple[str, str]
Adjacency = list[list[tuple[End, End, int]]]


def _molecule_graph(species: Species) -> tuple[str, list[tuple], Adjacency]:
    compartment = species.compartment or ""
    if not compartment:
        explicit = {m.compartment for m in species.molecules}
        if len(explicit) == 1 and None not in explicit:
            compartment = explicit.pop()  # "A()@EC" is the same species as "@EC::A()"
    labels: list[tuple] = []
    adj: Adjacency = [[] for _ in species.molecules]
    bond_ends: dict[int, list[tuple[int, End]]] = defaultdict(list)
    for i, mol in enumerate(species.molecules):
        unbound = []
        for comp in mol.components:
            end = (comp.name, comp.state or "")
            if comp.bond is None:
                unbound.append(end)
            else:
                bond_ends[comp.bond].append((i, end))
        labels.append((mol.name, mol.compartment or compartment, tuple(sorted(unbound))))
    for bond, ends in bond_ends.items():
        if len(ends) != 2:
            raise ValueError(f"bond !{bond} has {len(ends)} ends in {format_species(species)!r}")
        (i, end_i), (j, end_j) = ends
        adj[i].append((end_i, end_j, j))
        adj[j].append((end_j, end_i, i))
    return compartment, labels, adj


def _rank(values: Sequence) -> list[int]:
    """Replace each value by the rank of its distinct value in sorted order."""
    order = {value: r for r, value in enumerate(sorted(set(values)))}
    return [order[value] for value in values]


class _Canonicaliser:
    """Exact canonical labelling of a small vertex- and edge-labelled multigraph."""

    def __init__(self, labels: list[tuple], adj: Adjacency):
        self.labels, self.adj, self.n = labels, adj, len(labels)
        self.best: tuple | None = None
        self.best_order: list[int] | None = None
        self.automorphisms: list[list[int]] = []

    def run(self) -> tuple:
        self._search(_rank(self.labels), ())
        assert self.best is not None
        return self.best

    def _refine(self, colours: list[int]) -> list[int]:
        """Colour refinement: split colour classes by the multiset of (bond labels, neighbour
        colour) until stable.  Signatures start with the old colour, so the ordering of the
        classes is refined, never reshuffled, and depends only on the graph."""
        while True:
            signatures = [
                (colours[v], tuple(sorted((own, other, colours[w]) for own, other, w in self.adj[v])))
                for v in range(self.n)
            ]
            refined = _rank(signatures)
            if len(set(refined)) == len(set(colours)):
                return refined
            colours = refined

    def _search(self, colours: list[int], prefix: tuple[int, ...]) -> None:
        colours = self._refine(colours)
        cells: dict[int, list[int]] = defaultdict(list)
        for v, c in enumerate(colours):
            cells[c].append(v)
        target = next((cells[c] for c in sorted(cells) if len(cells[c]) > 1), None)
        if target is None:
            self._leaf(sorted(range(self.n), key=colours.__getitem__))
            return
        explored: list[int] = []
        for v in target:
            if v in self._orbit(explored, prefix):
                continue  # an automorphism fixing the prefix maps this subtree onto an explored one
            explored.append(v)
            individualised = _rank([(c, 0 if u == v else 1) for u, c in enumerate(colours)])
            self._search(individualised, prefix + (v,))

    def _leaf(self, order: list[int]) -> None:
        position = {v: p for p, v in enumerate(order)}
        cert = tuple(
            (self.labels[v], tuple(sorted((own, other, position[w]) for own, other, w in self.adj[v])))
            for v in order
        )
        if self.best is None or cert < self.best:
            self.best, self.best_order = cert, order
        elif cert == self.best:
            # Same ordered graph from two orderings: order[p] -> best_order[p] is an automorphism.
            perm = [0] * self.n
            for p, v in enumerate(order):
                perm[v] = self.best_order[p]
            self.automorphisms.append(perm)

    def _orbit(self, seeds: list[int], prefix: tuple[int, ...]) -> set[int]:
        generators = [g for g in self.automorphisms if all(g[p] == p for p in prefix)]
        orbit, stack = set(seeds), list(seeds)
        while stack:
            x = stack.pop()
            for g in generators:
                if g[x] not in orbit:
                    orbit.add(g[x])
                    stack.append(g[x])
        return orbit


def _render_certificate(compartment: str, cert: tuple) -> str:
    """Write a canonical certificate as a BNGL string (a faithful, readable encoding)."""
    pending: dict[tuple, list[int]] = defaultdict(list)
    next_bond = 1
    molecules = []
    for p, ((name, mol_compartment, unbound), ends) in enumerate(cert):
        comps: list[tuple[str, str, int]] = [(cname, state, 0) for cname, state in unbound]
        for own, other, q in ends:
            waiting = pending[(q, p, other, own)]
            if waiting:
                bond = waiting.pop(0)
            else:
                bond, next_bond = next_bond, next_bond + 1
                pending[(p, q, own, other)].append(bond)
            comps.append((own[0], own[1], bond))
        texts = [
            cname + (f"~{state}" if state else "") + (f"!{bond}" if bond else "")
            for cname, state, bond in sorted(comps)
        ]
        text = f"{name}({','.join(texts)})"
        if mol_compartment != compartment:
            text += f"@{mol_compartment}"
        molecules.append(text)
    prefix = f"@{compartment}::" if compartment else ""
    return prefix + ".".join(molecules)


@functools.lru_cache(maxsize=None)
def canonical_species(label: str) -> str:
    """Isomorphism-invariant key of a BNGL species string (the ``$`` fixed marker is dropped).

    Two species strings get the same key exactly when they describe the same species graph.
    The key is itself a valid BNGL species string.
    """
    compartment, labels, adj = _molecule_graph(parse_species(label))
    if not labels:
        raise ValueError(f"empty species {label!r}")
    return _render_certificate(compartment, _Canonicaliser(labels, adj).run())


# --------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: lambda x: float(not x)}
_COMPARE = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_MATH: dict[str, Callable[..., float]] = {
    "exp": math.exp,
    "ln": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sqrt": math.sqrt,
    "abs": abs,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "asinh": math.asinh,
    "acosh": math.acosh,
    "atanh": math.atanh,
    "rint": lambda x: float(math.floor(x + 0.5)),  # BioNetGen's rint (Expression.pm): half up
    "min": min,
    "max": max,
}
_CONSTANTS = {"_pi": math.pi, "_e": math.e}


@functools.lru_cache(maxsize=None)
def _parse_expression(expr: str) -> ast.expr:
    text = expr.strip().replace("^", "**").replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"\bif\s*\(", "_if(", text)
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"unsupported expression {expr!r}") from exc


# --------------------------------------------------------------------------------------------
# .net files
# --------------------------------------------------------------------------------------------


@dataclass
class NetSpecies:
    index: int  # 0-based
    label: str
    amount: str
    fixed: bool


@dataclass
class NetReaction:
    index: int  # 0-based
    reactants: tuple[int, ...]  # 0-based species indices
    products: tuple[int, ...]
    rate: str  # rate expression as written
    rules: tuple[str, ...]  # source rule names (may be empty in old files)


@dataclass
class NetGroup:
    index: int
    name: str
    weights: tuple[tuple[int, float], ...]  # (0-based species index, weight)


@dataclass
class NetFile:
    path: Path
    parameters: dict[str, float] = field(default_factory=dict)
    parameter_exprs: dict[str, str] = field(default_factory=dict)
    functions: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    compartments: dict[str, tuple[int, float, str | None]] = field(default_factory=dict)
    species: list[NetSpecies] = field(default_factory=list)
    reactions: list[NetReaction] = field(default_factory=list)
    groups: list[NetGroup] = field(default_factory=list)
    has_groups: bool = False

    @property
    def name(self) -> str:
        return self.path.stem

    def evaluate(self, expr: str, observables: Mapping[str, float] | None = None) -> float:
        """Value of an expression over parameters, functions, observables and constants."""
        return float(self._eval(_parse_expression(expr), observables or {}, {}, 0, expr))

    def rate_value(self, index: int, observables: Mapping[str, float] | None = None) -> float:
        """Full rate constant of reaction ``index`` (0-based) as written in the file."""
        rate = self.reactions[index].rate
        if re.match(r"(Sat|MM|Hill)\s", rate):
            raise NotImplementedError(f"{self.name}: rate law {rate!r} is not a scalar rate constant")
        return self.evaluate(rate, observables)

    # -- evaluator ---------------------------------------------------------------------------

    def _lookup(self, name: str, observables, local, depth, expr) -> float:
        if name in local:
            return local[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in observables:
            return observables[name]
        if name in self.functions:
            return self._call_function(name, [], observables, depth, expr)
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        raise KeyError(f"{self.name}: unknown name {name!r} in expression {expr!r}")

    def _call_function(self, name, args, observables, depth, expr) -> float:
        if depth > 50:
            raise RecursionError(f"{self.name}: function {name!r} is recursive")
        params, body = self.functions[name]
        if len(params) != len(args):
            raise ValueError(f"{self.name}: {name} takes {len(params)} arguments, got {len(args)}")
        local = dict(zip(params, args))
        return self._eval(_parse_expression(body), observables, local, depth + 1, body)

    def _eval(self, node, observables, local, depth, expr) -> Any:
        def recurse(child):
            return self._eval(child, observables, local, depth, expr)

        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name):
            return self._lookup(node.id, observables, local, depth, expr)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](recurse(node.left), recurse(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](recurse(node.operand))
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            left = recurse(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                right = recurse(right_node)
                if not _COMPARE[type(op)](left, right):
                    return 0.0
                left = right
            return 1.0
        if isinstance(node, ast.BoolOp):
            values = [bool(recurse(v)) for v in node.values]
            return float(all(values) if isinstance(node.op, ast.And) else any(values))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            fname = node.func.id
            if fname == "_if" and len(node.args) == 3:
                return recurse(node.args[1]) if recurse(node.args[0]) else recurse(node.args[2])
            args = [recurse(a) for a in node.args]
            if fname in self.functions:
                return self._call_function(fname, args, observables, depth, expr)
            if fname in _MATH:
                return _MATH[fname](*args)
            if fname in observables and not args:
                return observables[fname]
            raise KeyError(f"{self.name}: unknown function {fname!r} in expression {expr!r}")
        raise ValueError(f"{self.name}: unsupported syntax {ast.dump(node)} in {expr!r}")


def _logical_lines(lines: Iterable[str]) -> Iterable[str]:
    """Join backslash-continued lines."""
    buffer = ""
    for raw in lines:
        line = raw.rstrip("\n").rstrip()
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        yield buffer + line
        buffer = ""
    if buffer:
        yield buffer


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _indices(field_text: str) -> tuple[int, ...]:
    if field_text == "0":
        return ()
    return tuple(int(i) - 1 for i in field_text.split(","))


def parse_net(path: str | os.PathLike) -> NetFile:
    """Parse a BioNetGen ``.net`` file.  Parameter expressions are evaluated in file order."""
    net = NetFile(Path(path))
    block: str | None = None
    with open(path, encoding="utf-8") as handle:
        for line in _logical_lines(handle):
            stripped = line.strip()
            if not stripped:
                continue
            words = stripped.split()
            if words[0] == "begin":
                block = " ".join(words[1:])
                if block == "groups":
                    net.has_groups = True
                continue
            if words[0] == "end":
                block = None
                continue
            if block == "parameters":
                fields = _strip_comment(stripped).split(None, 2)
                if len(fields) < 3:
                    continue
                _, name, expr = fields
                net.parameter_exprs[name] = expr
                net.parameters[name] = net.evaluate(expr)
            elif block == "functions":
                text = _strip_comment(stripped)
                match = re.fullmatch(r"(?:\d+\s+)?(\w+)\(([^)]*)\)\s*=?\s*(.+)", text)
                if not match:
                    raise ValueError(f"{path}: cannot parse function line {line!r}")
                name, params, body = match.groups()
                net.functions[name] = (tuple(p.strip() for p in params.split(",") if p.strip()), body)
            elif block == "compartments":
                fields = _strip_comment(stripped).split()
                if fields and fields[0].isdigit():
                    fields = fields[1:]
                if len(fields) < 3:
                    continue
                name, dim, size = fields[:3]
                parent = fields[3] if len(fields) > 3 else None
                net.compartments[name] = (int(dim), net.evaluate(size), parent)
            elif block == "species":
                fields = _strip_comment(stripped).split(None, 2)
                if len(fields) < 2:
                    continue
                label = fields[1]
                amount = fields[2].strip() if len(fields) > 2 else "0"
                net.species.append(
                    NetSpecies(len(net.species), label, amount, parse_species(label).fixed)
                )
            elif block == "reactions":
                body, _, comment = stripped.partition("#")
                fields = body.split(None, 3)
                if len(fields) < 4:
                    raise ValueError(f"{path}: cannot parse reaction line {line!r}")
                _, reactants, products, rate = fields
                rule_field = comment.split()[0] if comment.split() else ""
                rules = tuple(r for r in rule_field.split(",") if r)
                reaction = NetReaction(
                    len(net.reactions), _indices(reactants), _indices(products), rate.strip(), rules
                )
                net.reactions.append(reaction)
            elif block == "groups":
                fields = _strip_comment(stripped).split(None, 2)
                if len(fields) < 2:
                    continue
                weights = []
                if len(fields) == 3:
                    for item in fields[2].replace(" ", "").split(","):
                        weight, _, index = item.rpartition("*")
                        weights.append((int(index) - 1, float(weight) if weight else 1.0))
                net.groups.append(NetGroup(len(net.groups), fields[1], tuple(weights)))
            # other blocks (molecule types, observables, reaction rules, ...) are not needed
    return net


def default_observable_values(net: NetFile) -> dict[str, float]:
    """Distinct, arbitrary observable values, used to evaluate functional rate laws."""
    return {g.name: 1.7 + 0.37 * i for i, g in enumerate(net.groups)}


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def _side(labels: Sequence[str]) -> str:
    return " + ".join(labels) if labels else "0"


def _reaction_key_and_text(rxn: Any, keys: list[str], labels: list[str]) -> tuple[tuple, str]:
    key = (tuple(sorted(keys[r] for r in rxn.reactants)), tuple(sorted(keys[p] for p in rxn.products)))
    text = f"{_side([labels[r] for r in rxn.reactants])} -> {_side([labels[p] for p in rxn.products])}"
    return key, text


def _match_rates(ours: list, bng: list, rel: float) -> tuple[list, list]:
    """Match two lists of (rate, info) as multisets of rates within ``rel``; return leftovers."""
    ours, bng = sorted(ours, key=lambda x: x[0]), sorted(bng, key=lambda x: x[0])
    left_ours, left_bng = [], []
    i = j = 0
    while i < len(ours) and j < len(bng):
        a, b = ours[i][0], bng[j][0]
        if math.isclose(a, b, rel_tol=rel, abs_tol=0.0):
            i, j = i + 1, j + 1
        elif a < b:
            left_ours.append(ours[i])
            i += 1
        else:
            left_bng.append(bng[j])
            j += 1
    return left_ours + ours[i:], left_bng + bng[j:]


def compare(
    ours: Any,
    net: NetFile,
    *,
    observable_values: Mapping[str, float] | None = None,
    rel: float = 1e-12,
) -> list[str]:
    """Differences between network ``ours`` and the parsed ``.net`` file ``net`` (empty = same).

    ``ours`` needs ``.species`` (``.label``, ``.fixed``), ``.reactions`` (``.reactants``,
    ``.products``: 0-based species indices, ``.rule``), ``.rate_value(i, observables)`` and
    ``.observables`` (``.name``, ``.weights`` = ((species index, weight), ...)).
    """
    model = net.name
    values = dict(default_observable_values(net) if observable_values is None else observable_values)
    diffs: list[str] = []

    # -- species ----------------------------------------------------------------------------
    our_keys = [canonical_species(s.label) for s in ours.species]
    bng_keys = [canonical_species(s.label) for s in net.species]
    our_count, bng_count = Counter(our_keys), Counter(bng_keys)
    our_by_key = {k: s for k, s in zip(our_keys, ours.species)}
    bng_by_key = {k: s for k, s in zip(bng_keys, net.species)}
    for key, count in (bng_count - our_count).items():
        diffs.append(f"{model}: missing species {bng_by_key[key].label} (x{count} fewer than BNG)")
    for key, count in (our_count - bng_count).items():
        what = "duplicate" if key in bng_count else "extra"
        diffs.append(f"{model}: {what} species {our_by_key[key].label} (x{count} more than BNG)")
    for key in our_count.keys() & bng_count.keys():
        if bool(our_by_key[key].fixed) != bng_by_key[key].fixed:
            diffs.append(
                f"{model}: species {bng_by_key[key].label}: fixed ours {bool(our_by_key[key].fixed)}, "
                f"BNG {bng_by_key[key].fixed}"
            )

    # -- reactions ----------------------------------------------------------------------------
    # Group reactions by (sorted reactant keys, sorted product keys); within a group, compare
    # the rate constants as multisets.  Entries are (rate, description, where).
    our_groups: dict[tuple, list] = defaultdict(list)
    for i, rxn in enumerate(ours.reactions):
        key, text = _reaction_key_and_text(rxn, our_keys, [s.label for s in ours.species])
        try:
            rate = float(ours.rate_value(i, dict(values)))
        except Exception as exc:  # report, do not crash the whole comparison
            diffs.append(f"{model}: ours rxn {i} ({rxn.rule}) {text}: rate_value failed: {exc!r}")
            continue
        our_groups[key].append((rate, f"{rxn.rule}: {text}", f"ours rxn {i}"))
    bng_groups: dict[tuple, list] = defaultdict(list)
    for rxn in net.reactions:
        key, text = _reaction_key_and_text(rxn, bng_keys, [s.label for s in net.species])
        rule = ",".join(rxn.rules) or f"rxn {rxn.index + 1}"
        rate = net.rate_value(rxn.index, values)
        bng_groups[key].append((rate, f"{rule}: {text}", f"BNG rxn {rxn.index + 1}"))
    for key in sorted(our_groups.keys() | bng_groups.keys()):
        left_ours, left_bng = _match_rates(our_groups.get(key, []), bng_groups.get(key, []), rel)
        for (a, _, where_a), (b, desc_b, where_b) in zip(left_ours, left_bng):
            diffs.append(f"{model} {desc_b}: ours {a!r}, BNG {b!r} ({where_a}, {where_b})")
        n = min(len(left_ours), len(left_bng))
        for rate, desc, where in left_bng[n:]:
            diffs.append(f"{model}: missing reaction {desc} (BNG rate {rate!r}, {where})")
        for rate, desc, where in left_ours[n:]:
            what = "extra" if key not in bng_groups else "duplicate"
            diffs.append(f"{model}: {what} reaction {desc} (ours rate {rate!r}, {where})")

    # -- observables ----------------------------------------------------------------------------
    if net.has_groups:
        our_observables = {o.name: o for o in ours.observables}
        for group in net.groups:
            obs = our_observables.pop(group.name, None)
            if obs is None:
                diffs.append(f"{model}: missing observable {group.name}")
                continue
            bng_w: Counter = Counter()
            for index, weight in group.weights:
                bng_w[bng_keys[index]] += weight
            our_w: Counter = Counter()
            for index, weight in obs.weights:
                our_w[our_keys[index]] += weight
            for key in sorted(bng_w.keys() | our_w.keys()):
                a, b = our_w.get(key, 0.0), bng_w.get(key, 0.0)
                if not math.isclose(a, b, rel_tol=rel, abs_tol=0.0):
                    label = bng_by_key[key].label if key in bng_by_key else our_by_key[key].label
                    diffs.append(
                        f"{model}: observable {group.name}: weight of {label}: ours {a:g}, BNG {b:g}"
                    )
        for name in our_observables:
            diffs.append(f"{model}: extra observable {name}")
    return diffs


def assert_same_network(ours: Any, path: str | os.PathLike | NetFile, *, max_lines: int = 30, **kw) -> None:
    """Raise AssertionError listing the differences between ``ours`` and a ``.net`` file."""
    net = path if isinstance(path, NetFile) else parse_net(path)
    diffs = compare(ours, net, **kw)
    if not diffs:
        return
    header = (
        f"network differs from {net.path}: {len(diffs)} difference(s); "
        f"ours {len(ours.species)} species / {len(ours.reactions)} reactions, "
        f"BNG {len(net.species)} species / {len(net.reactions)} reactions"
    )
    shown = diffs[:max_lines]
    if len(diffs) > max_lines:
        shown.append(f"... and {len(diffs) - max_lines} more")
    raise AssertionError("\n  ".join([header, *shown]))


# --------------------------------------------------------------------------------------------
# A stand-in for an il2sbml network, built from a .net file (to test the oracle itself)
# --------------------------------------------------------------------------------------------


@dataclass
class FakeSpecies:
    label: str
    fixed: bool
    initial: float | None = None


@dataclass
class FakeReaction:
    reactants: tuple[int, ...]
    products: tuple[int, ...]
    rule: str
    rate: str  # expression in the NetFile's namespace
    factor: float = 1.0  # lets tests perturb one rate


@dataclass
class FakeObservable:
    name: str
    kind: str
    weights: tuple[tuple[int, float], ...]


@dataclass
class FakeNetwork:
    net: NetFile
    species: list[FakeSpecies]
    reactions: list[FakeReaction]
    observables: list[FakeObservable]

    def rate_value(self, i: int, observables: Mapping[str, float]) -> float:
        rxn = self.reactions[i]
        return rxn.factor * self.net.evaluate(rxn.rate, observables)


def network_from_netfile(net: NetFile, shuffle_seed: int | None = None) -> FakeNetwork:
    """An ``ours``-shaped network equal to ``net``; with a seed, species/reactions/observables
    are reordered, species strings respelled (:func:`relabel_species`) and reactant lists
    permuted, so only an isomorphism-aware comparison can find them equal."""
    rng = random.Random(shuffle_seed)
    shuffle = shuffle_seed is not None
    order = list(range(len(net.species)))
    if shuffle:
        rng.shuffle(order)
    new_index = {old: new for new, old in enumerate(order)}

    species = []
    for old in order:
        s = net.species[old]
        try:
            initial = net.evaluate(s.amount)
        except (KeyError, ValueError):
            initial = None
        label = relabel_species(s.label, rng) if shuffle else s.label
        species.append(FakeSpecies(label, s.fixed, initial))

    def remap(indices: tuple[int, ...]) -> tuple[int, ...]:
        mapped = [new_index[i] for i in indices]
        if shuffle:
            rng.shuffle(mapped)
        return tuple(mapped)

    reactions = [
        FakeReaction(remap(r.reactants), remap(r.products), ",".join(r.rules), r.rate) for r in net.reactions
    ]
    observables = [
        FakeObservable(g.name, "molecules", tuple((new_index[i], w) for i, w in g.weights))
        for g in net.groups
    ]
    if shuffle:
        rng.shuffle(reactions)
        rng.shuffle(observables)
    return FakeNetwork(net, species, reactions, observables)
