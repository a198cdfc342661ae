"""Molecular graphs: patterns and species, their BNGL syntax, canonical labels and embeddings.

A *graph* is a list of molecules; each molecule has a type, an optional compartment and an
ordered list of components (sites); a component has a name, an internal state and a bond.
Species are complete graphs (every site of every molecule present, states set, bonds
explicit). Patterns may leave sites out and put constraints on bonds:

========  =====================  ==========================================
syntax    ``Comp.bond`` value    meaning
========  =====================  ==========================================
``b``     ``None``               site is free
``b!1``   ``1`` (an int label)   bonded to the other site labelled ``!1``
``b!+``   ``BOUND``              bonded to something
``b!?``   ``ANY``                bonded or not
(absent)  --                     no constraint
========  =====================  ==========================================

Canonical labels (:func:`canonical_label`) are computed by colour refinement followed by
individualisation with a lexicographically-least leaf (the scheme of nauty/bliss, written
here for the small graphs of signalling complexes); components that are indistinguishable
free twins on one molecule are branched on once. The label is a BNGL string, so equal labels
mean isomorphic species and the label is readable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import permutations, product

from .errors import PatternSyntaxError

BOUND = "+"
ANY = "?"


@dataclass
class Comp:
    name: str
    state: str | None = None
    bond: object = None          # None (free) | int label | BOUND | ANY
    label: str | None = None     # %label (state inheritance / explicit mapping)


@dataclass
class Mol:
    type: str
    comps: list[Comp] = field(default_factory=list)
    compartment: str | None = None
    label: str | None = None


@dataclass
class Graph:
    """A pattern or species graph. ``compartment`` is the species-level ``@C::`` location."""

    mols: list[Mol]
    compartment: str | None = None
    fixed: bool = False

    def bonds(self) -> dict:
        """Bond label -> list of (mol index, comp index) ends."""
        ends: dict = {}
        for mi, m in enumerate(self.mols):
            for ci, c in enumerate(m.comps):
                if isinstance(c.bond, int):
                    ends.setdefault(c.bond, []).append((mi, ci))
        return ends

    def __str__(self) -> str:
        return to_bngl(self)


# --------------------------------------------------------------------------------------
# BNGL pattern syntax
# --------------------------------------------------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_MOL_HEAD = re.compile(rf"\s*({_NAME})")
_MOL_MARK = re.compile(r"([~%!@])(\w+|\+|\?)")
_COMP_HEAD = re.compile(rf"({_NAME})")


def parse_graph(text: str, *, declaration: bool = False) -> Graph:
    """Parse one BNGL complex pattern, e.g. ``R(l!1,r~P).L(r!1)``, ``@EC::A()``, ``$B()``.

    The grammar is BNG2.pl's (``Perl2/SpeciesGraph.pm``, ``Molecule.pm`` and ``Component.pm``,
    ``readString``): a molecule is a name followed, in any order, by its sites in ``( )``, a
    ``%label`` and an ``@compartment``; a site is a name followed, in any order, by ``~state``
    (``~?``: any state), ``!bond`` (a label of letters or digits, ``!+`` bound, ``!?`` bound or
    not) and ``%label``; empty sites (``A(a,,b)``) are skipped, as BNG2.pl skips them. What
    BNG2.pl accepts and il2sbml does not model is refused by name: a site with two bonds
    (``b!1!2``), a site's own compartment (``b@PM``), a molecule's own state or bond
    (``A~P``, ``A!+``) and ``{...}`` attributes.

    With ``declaration=True`` a component may list several states (``b~0~1``); they are
    returned joined by ``~`` in ``Comp.state``.
    """
    src = text
    text = text.strip()
    if not text:
        raise PatternSyntaxError("empty pattern", hint="write a molecule such as 'A()'")
    fixed = False
    if text.startswith("$"):
        fixed, text = True, text[1:].strip()
    compartment = None
    m = re.match(rf"^@({_NAME})\s*::?\s*", text)
    if m:
        compartment, text = m.group(1), text[m.end():]
    # species compartment as a suffix on a single-molecule pattern is a molecule compartment;
    # BNGL also allows "A().B()@C" meaning the species compartment: handled in the molecules.
    if "{" in text:
        raise PatternSyntaxError(f"the {{...}} attributes in {src.strip()!r} are not supported",
                                 hint="il2sbml reads patterns without MatchOnce/Context attributes")
    mols = []
    bond_ids: dict = {}
    for part in _split_top(text, "."):
        mols.append(_parse_mol(part, src, declaration, bond_ids))
    g = Graph(mols, compartment, fixed)
    if not declaration:
        for bond, ends in g.bonds().items():
            if len(ends) != 2:
                where = ", ".join(f"{g.mols[a].type}({g.mols[a].comps[b].name})" for a, b in ends)
                label = next((k for k, v in bond_ids.items() if v == bond), bond)
                raise PatternSyntaxError(
                    f"bond !{label} in {src.strip()!r} has {len(ends)} end(s) ({where}); a bond needs exactly two",
                    hint="give the bond label to exactly two sites, or use !+ for 'bound to something'")
    return g


def _parse_mol(part: str, src: str, declaration: bool, bond_ids: dict) -> Mol:
    head = _MOL_HEAD.match(part)
    if not head:
        raise PatternSyntaxError(f"cannot read molecule {part.strip()!r} in pattern {src.strip()!r}",
                                 hint="molecules look like Name(site~state!bond,...)")
    mol = Mol(head.group(1))
    i, n = head.end(), len(part.rstrip())
    seen_sites = False
    while i < n:
        ch = part[i]
        if ch == "(":
            if seen_sites:
                raise PatternSyntaxError(f"molecule {part.strip()!r} lists its sites twice in {src.strip()!r}")
            close = part.find(")", i)
            if close < 0:
                raise PatternSyntaxError(f"unclosed '(' in molecule {part.strip()!r} of {src.strip()!r}")
            seen_sites = True
            for cpart in part[i + 1:close].split(","):
                if cpart.strip():   # BNG2.pl skips empty sites, as in A(a,,b)
                    mol.comps.append(_parse_comp(cpart.strip(), src, declaration, bond_ids))
            i = close + 1
            continue
        mk = _MOL_MARK.match(part, i)
        if not mk:
            raise PatternSyntaxError(f"cannot read molecule {part.strip()!r} in pattern {src.strip()!r}",
                                     hint="molecules look like Name(site~state!bond,...)")
        kind, val = mk.groups()
        if kind == "@":
            if mol.compartment is not None:
                raise PatternSyntaxError(f"molecule {part.strip()!r} has two compartments in {src.strip()!r}")
            mol.compartment = val
        elif kind == "%":
            if mol.label is not None:
                raise PatternSyntaxError(f"molecule {part.strip()!r} has two labels in {src.strip()!r}")
            mol.label = val
        else:
            what = "state" if kind == "~" else "bond"
            raise PatternSyntaxError(f"a molecule's own {what} ({mol.type}{kind}{val} in {src.strip()!r}) is not "
                                     "supported", hint="put states and bonds on the molecule's sites")
        i = mk.end()
    return mol


def _parse_comp(text: str, src: str, declaration: bool, bond_ids: dict | None = None) -> Comp:
    m = _COMP_HEAD.match(text)
    if not m:
        raise PatternSyntaxError(f"cannot read site {text!r} in {src.strip()!r}",
                                 hint="sites look like name~state!bond (a name starts with a letter or '_')")
    comp = Comp(m.group(1))
    states = []
    bonds = []
    i = m.end()
    while i < len(text):
        mk = _MOL_MARK.match(text, i)
        if not mk:
            bad = text[i:]
            raise PatternSyntaxError(f"cannot read {bad!r} in site {text!r} of {src.strip()!r}",
                                     hint="sites look like name~state!bond; bonds are !1, !a, !+ or !?")
        kind, val = mk.groups()
        i = mk.end()
        if kind == "~":
            if val == "+":
                raise PatternSyntaxError(f"bad state '+' in site {text!r} of {src.strip()!r}")
            if val == "?" and declaration:
                raise PatternSyntaxError(f"a declaration lists states, not '~?' (site {text!r} of {src.strip()!r})")
            if states and not declaration:
                raise PatternSyntaxError(f"site {text!r} in {src.strip()!r} has several states")
            states.append(val)
        elif kind == "!":
            bonds.append(val)
        elif kind == "%":
            if comp.label is not None:
                raise PatternSyntaxError(f"site {text!r} in {src.strip()!r} has two labels")
            comp.label = val
        else:
            raise PatternSyntaxError(f"the compartment of a site ({text!r} in {src.strip()!r}) is not supported",
                                     hint="give the molecule its compartment: A(b)@PM")
    if len(bonds) > 1:
        if any(b in "+?" for b in bonds):
            raise PatternSyntaxError(f"site {text!r} in {src.strip()!r} mixes a bond wildcard with other bonds",
                                     hint="a site is !+, !?, or bonded by labels")
        raise PatternSyntaxError(f"a site with {len(bonds)} bonds ({text!r} in {src.strip()!r}) is not supported "
                                 "(BioNetGen accepts it; il2sbml's sites bind once)",
                                 hint="give the molecule one site per bond")
    if bonds:
        val = bonds[0]
        if val == "+":
            comp.bond = BOUND
        elif val == "?":
            comp.bond = ANY
        else:
            ids = bond_ids if bond_ids is not None else {}
            if val not in ids:
                ids[val] = len(ids) + 1
            comp.bond = ids[val]
    if states:
        if states == ["?"]:
            comp.state = None   # ~? : any state, as no state is
        else:
            comp.state = "~".join(states)
    return comp


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def to_bngl(g: Graph, *, fixed_marker: bool = True) -> str:
    """Write a graph as a BNGL string (bond labels renumbered in order of appearance), with
    ``%`` labels, molecule compartments and, for a fixed species, ``$`` after the location."""
    renum: dict = {}
    out = []
    for m in g.mols:
        cs = []
        for c in m.comps:
            s = c.name
            if c.state is not None:
                s += "~" + c.state
            if c.bond == BOUND:
                s += "!+"
            elif c.bond == ANY:
                s += "!?"
            elif isinstance(c.bond, int):
                s += "!" + str(renum.setdefault(c.bond, len(renum) + 1))
            if c.label:
                s += "%" + c.label
            cs.append(s)
        text = m.type + (f"%{m.label}" if m.label else "") + f"({','.join(cs)})"
        if m.compartment and m.compartment != g.compartment:
            text += "@" + m.compartment
        out.append(text)
    prefix = f"@{g.compartment}::" if g.compartment else ""
    return prefix + ("$" if fixed_marker and g.fixed else "") + ".".join(out)


# --------------------------------------------------------------------------------------
# Species: compact form used by the generator
# --------------------------------------------------------------------------------------

class Species:
    """An immutable complete graph in array form, with its canonical BNGL label.

    ``mtype[m]``, ``mcomp[m]`` (molecule compartment), ``cname[m][c]``, ``cstate[m][c]``,
    ``partner[m][c]`` ((m2, c2) or None).
    """

    __slots__ = ("mtype", "mcomp", "cname", "cstate", "partner", "compartment", "label",
                 "index", "by_type", "key", "_info", "_features")

    def __init__(self, mtype, mcomp, cname, cstate, partner, compartment):
        self.mtype = mtype
        self.mcomp = mcomp
        self.cname = cname
        self.cstate = cstate
        self.partner = partner
        self.compartment = compartment
        self.label = ""
        self.index = -1
        self.key = None          # tree_key, when the generator computed one
        self._info = None
        self._features = None
        by_type: dict = {}
        for i, t in enumerate(mtype):
            by_type.setdefault(t, []).append(i)
        self.by_type = by_type

    def __len__(self) -> int:
        return len(self.mtype)

    def stoich(self, mol_type: str) -> int:
        return len(self.by_type.get(mol_type, ()))

    def features(self) -> frozenset:
        """What patterns can ask of this species: ``(type,)``, ``(type, site, state)`` and
        ``(type, site, "!+" | "!-")`` (bound or free). See :attr:`CompiledPattern.required`."""
        if self._features is None:
            out = set()
            for m, t in enumerate(self.mtype):
                out.add((t,))
                for name, state, p in zip(self.cname[m], self.cstate[m], self.partner[m]):
                    if state is not None:
                        out.add((t, name, state))
                    out.add((t, name, "!-" if p is None else "!+"))
            self._features = frozenset(out)
        return self._features

    def mol_info(self) -> list:
        """Per molecule :func:`mol_info` (computed once, on first use)."""
        if self._info is None:
            self._info = [mol_info(self.mtype[m], self.mcomp[m], self.cname[m],
                                   self.cstate[m], self.partner[m]) for m in range(len(self.mtype))]
        return self._info


def species_from_graph(g: Graph, comp_order: dict) -> Species:
    """A canonicalised :class:`Species` from a complete graph (e.g. a parsed seed)."""
    ends = g.bonds()
    mtype = [m.type for m in g.mols]
    mcomp = [m.compartment or g.compartment for m in g.mols]
    cname = [[c.name for c in m.comps] for m in g.mols]
    cstate = [[c.state for c in m.comps] for m in g.mols]
    partner = [[None] * len(m.comps) for m in g.mols]
    for (a, b) in ends.values():
        partner[a[0]][a[1]] = b
        partner[b[0]][b[1]] = a
    return canonicalise(mtype, mcomp, cname, cstate, partner, g.compartment, comp_order)


def canonicalise(mtype, mcomp, cname, cstate, partner, compartment, comp_order) -> Species:
    """Reorder molecules and sites canonically and return the :class:`Species` with its label."""
    order, corder = _canonical_order(mtype, mcomp, cname, cstate, partner, comp_order)
    newpos = {old: new for new, old in enumerate(order)}
    cpos = []
    for m in range(len(mtype)):
        cpos.append({old: new for new, old in enumerate(corder[m])})
    n_mtype = [mtype[o] for o in order]
    n_mcomp = [mcomp[o] for o in order]
    n_cname = [[cname[o][c] for c in corder[o]] for o in order]
    n_cstate = [[cstate[o][c] for c in corder[o]] for o in order]
    n_partner = []
    for o in order:
        row = []
        for c in corder[o]:
            p = partner[o][c]
            row.append(None if p is None else (newpos[p[0]], cpos[p[0]][p[1]]))
        n_partner.append(row)
    sp = Species(n_mtype, n_mcomp, n_cname, n_cstate, n_partner, compartment)
    sp.label = _label(sp)
    return sp


def mol_info(mtype, mcomp, names, states, row) -> tuple:
    """``(head, site keys, bonded sites)`` of one molecule, the pieces of :func:`tree_key`.

    ``head`` is ``Type@compartment(sorted free sites)``, a site key is ``name`` or
    ``name~state``, ``bonded sites`` lists the indices of the bonded sites.
    """
    keys = [n if st is None else n + "~" + st for n, st in zip(names, states)]
    free = sorted([k for k, p in zip(keys, row) if p is None])
    bonded = [c for c, p in enumerate(row) if p is not None]
    return f"{mtype}@{mcomp or ''}({','.join(free)})", keys, bonded


def tree_key(nodes, mtype, mcomp, cname, cstate, partner, compartment) -> str | None:
    """A complete isomorphism invariant of a tree-shaped complex, or None if it has a cycle.

    ``nodes`` lists the molecules of one connected complex in arrays indexed like the other
    arguments (``partner`` entries refer to the same indices); a molecule compartment of
    ``None`` stands for ``compartment``. A complex whose bonds form a tree (no ring, no two
    bonds between one pair of molecules, no bond within a molecule) is encoded by the AHU
    scheme for labelled trees: rooted at its centre (or central bond), each molecule is
    written as its type, compartment and sorted free sites (:func:`mol_info`), followed by
    the sorted codes of its bonds to child subtrees, each bond naming its site at both
    ends. The grammar is unambiguous (names are identifiers, the delimiters are not), so
    equal keys mean isomorphic complexes, and sorting makes the key independent of
    molecule and site order.

    The key is *not* the canonical label (:func:`canonicalise` stays the one source of
    labels, so species names and order never depend on it); the network generator uses it
    to recognise a product it has met before without the canonical search.
    """
    info = {m: mol_info(mtype[m], mcomp[m] or compartment, cname[m], cstate[m], partner[m]) for m in nodes}
    return tree_key_from(nodes, info, partner, compartment)


def tree_key_from(nodes, info, partner, compartment) -> str | None:
    """:func:`tree_key` from per-molecule :func:`mol_info` (``info[m]``), which callers may cache.

    ``nodes`` must be connected: then the complex is a tree exactly when it has
    ``len(nodes) - 1`` bonds (a ring, a double bond between two molecules or a bond within
    a molecule each need one more).
    """
    prefix = f"@{compartment}::" if compartment else ""
    n = len(nodes)
    if n == 1:
        head, _, bonded = info[nodes[0]]
        return None if bonded else prefix + head + "[]"
    nbr = {}
    nbond = 0
    for m in nodes:
        row = partner[m]
        qs = [row[c][0] for c in info[m][2]]
        nbr[m] = qs
        nbond += len(qs)
    if nbond != 2 * (n - 1):
        return None
    # the centre: peel leaves until one or two molecules remain
    degree = {m: len(qs) for m, qs in nbr.items()}
    layer = [m for m, d in degree.items() if d == 1]
    left = n
    while left > 2:
        left -= len(layer)
        nxt = []
        for m in layer:
            for q in nbr[m]:
                d = degree[q] - 1
                degree[q] = d
                if d == 1:
                    nxt.append(q)
        layer = nxt
    if len(layer) == 2:  # a central bond: code both halves, each with its end of that bond
        a, b = layer
        row = partner[a]
        c = next(c for c in info[a][2] if row[c][0] == b)
        halves = sorted([info[a][1][c] + ">" + _tree_code(a, b, nbr, info, partner),
                         info[b][1][row[c][1]] + ">" + _tree_code(b, a, nbr, info, partner)])
        return prefix + "<" + halves[0] + "=" + halves[1] + ">"
    if len(layer) != 1:
        return None  # not connected: no key
    return prefix + _tree_code(layer[0], None, nbr, info, partner)


def _tree_code(root, parent, nbr, info, partner) -> str:
    """AHU code of the subtree at ``root`` seen from ``parent`` (iterative, children first)."""
    order = [root]
    up = {root: parent}
    for m in order:
        p = up[m]
        for q in nbr[m]:
            if q != p:
                up[q] = m
                order.append(q)
    code = {}
    for m in reversed(order):
        head, keys, bonded = info[m]
        p = up[m]
        row = partner[m]
        kids = [keys[c] + ">" + info[row[c][0]][1][row[c][1]] + ":" + code[row[c][0]]
                for c in bonded if row[c][0] != p]
        if not kids:
            code[m] = head + "[]"
        elif len(kids) == 1:
            code[m] = head + "[" + kids[0] + "]"
        else:
            kids.sort()
            code[m] = head + "[" + ";".join(kids) + "]"
    return code[root]


def _label(sp: Species) -> str:
    bond_no: dict = {}
    out = []
    for m in range(len(sp.mtype)):
        cs = []
        for c in range(len(sp.cname[m])):
            s = sp.cname[m][c]
            if sp.cstate[m][c] is not None:
                s += "~" + sp.cstate[m][c]
            p = sp.partner[m][c]
            if p is not None:
                key = (min((m, c), p), max((m, c), p))
                s += "!" + str(bond_no.setdefault(key, len(bond_no) + 1))
            cs.append(s)
        text = f"{sp.mtype[m]}({','.join(cs)})"
        if sp.mcomp[m] is not None and sp.mcomp[m] != sp.compartment:
            text += "@" + sp.mcomp[m]
        out.append(text)
    prefix = f"@{sp.compartment}::" if sp.compartment else ""
    return prefix + ".".join(out)


def _canonical_order(mtype, mcomp, cname, cstate, partner, comp_order):
    """Canonical molecule order and, per molecule, canonical site order.

    The species is seen as a multigraph on molecules: a molecule is labelled by its type,
    compartment and the multiset of its free sites (name, state); a bond is an edge labelled
    by the site (declared position, name, state) at each end. Because a site has at most one
    bond and same-named sites of a molecule are interchangeable, two species are isomorphic
    exactly when these multigraphs are. The multigraph is canonised by colour refinement and
    individualisation with automorphism pruning; sites are then ordered by declared position,
    state and bond partner (see :func:`_site_order`).
    """
    nm = len(mtype)
    skey = []
    labels = []
    adj = []
    for m in range(nm):
        order = comp_order.get(mtype[m], {})
        keys = [(order.get(cname[m][c], 0), cname[m][c], cstate[m][c] or "") for c in range(len(cname[m]))]
        skey.append(keys)
        free = tuple(sorted(keys[c] for c in range(len(keys)) if partner[m][c] is None))
        labels.append((mtype[m], mcomp[m] or "", free))
    for m in range(nm):
        adj.append([(skey[m][c], skey[p[0]][p[1]], p[0]) for c, p in enumerate(partner[m]) if p is not None])
    if nm == 1:
        mol_order = [0]
    elif len(set(labels)) == nm:
        # every molecule already has its own label: the order is the sorted labels (no search)
        mol_order = sorted(range(nm), key=labels.__getitem__)
    else:
        mol_order = _Canon(_rank(labels), adj).run()
    return mol_order, _site_order(mol_order, skey, partner)


def _site_order(mol_order, skey, partner):
    """Order each molecule's sites: declared position and state, then bonds, numbered as rendered."""
    pos = {m: i for i, m in enumerate(mol_order)}
    bond_no: dict = {}
    corder = [None] * len(mol_order)
    for m in mol_order:
        def key(c, m=m):
            p = partner[m][c]
            if p is None:
                return skey[m][c] + (0, 0, ())
            number = bond_no.get((p[0], p[1]))
            if number is not None:
                return skey[m][c] + (1, number, ())
            return skey[m][c] + (2, pos[p[0]], skey[p[0]][p[1]])
        order = sorted(range(len(skey[m])), key=key)
        for c in order:
            p = partner[m][c]
            if p is not None and (m, c) not in bond_no:
                n = len(bond_no) // 2 + 1
                bond_no[(m, c)] = n
                bond_no[(p[0], p[1])] = n
        corder[m] = order
    return corder


class _Canon:
    """Individualisation-refinement search for the least certificate, with orbit pruning."""

    def __init__(self, base, adj):
        self.base = base
        self.adj = adj
        self.best_cert = None
        self.best_order = None
        self.autos: list = []

    def refine(self, col):
        adj = self.adj
        ncol = len(set(col))
        while True:
            sigs = [(col[v], tuple(sorted((a, b, col[u]) for a, b, u in adj[v]))) for v in range(len(col))]
            new = _rank(sigs)
            nnew = len(set(new))
            if nnew == ncol:
                return new
            col, ncol = new, nnew

    def run(self):
        self.search(self.refine(self.base), [])
        return self.best_order

    def search(self, col, prefix):
        n = len(col)
        counts: dict = {}
        for c in col:
            counts[c] = counts.get(c, 0) + 1
        if len(counts) == n:
            order = sorted(range(n), key=col.__getitem__)
            cert = tuple((self.base[v], tuple(sorted((a, b, col[u]) for a, b, u in self.adj[v]))) for v in order)
            if self.best_cert is None or cert < self.best_cert:
                self.best_cert, self.best_order = cert, order
            elif cert == self.best_cert:
                auto = [0] * n
                for a, b in zip(self.best_order, order):
                    auto[a] = b
                self.autos.append(auto)
            return
        target = min(c for c, k in counts.items() if k > 1)
        members = [v for v in range(n) if col[v] == target]
        explored = []
        for v in members:
            if explored and self._same_orbit(v, explored, prefix):
                continue
            explored.append(v)
            new = [2 * c + 1 for c in col]
            new[v] = 2 * target
            self.search(self.refine(_rank(new)), prefix + [v])

    def _same_orbit(self, v, explored, prefix):
        gens = [g for g in self.autos if all(g[p] == p for p in prefix)]
        if not gens:
            return False
        parent = list(range(len(self.base)))

        def find(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for g in gens:
            for a, b in enumerate(g):
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[ra] = rb
        rv = find(v)
        return any(find(u) == rv for u in explored)


def _rank(keys) -> list[int]:
    distinct = sorted(set(keys))
    index = {k: i for i, k in enumerate(distinct)}
    return [index[k] for k in keys]


# --------------------------------------------------------------------------------------
# Embeddings of a pattern into a species
# --------------------------------------------------------------------------------------

class CompiledPattern:
    """A pattern prepared for matching: per molecule ``(type, compartment, sites)`` where each
    site is ``(name, state, bond)`` with bond ``None``/``BOUND``/``ANY``/``(pm, pc)``."""

    __slots__ = ("graph", "mols", "order", "bond_pairs", "compartment", "required")

    def __init__(self, g: Graph):
        self.graph = g
        self.compartment = g.compartment
        ends = g.bonds()
        partner = {}
        self.bond_pairs = []
        for a, b in ends.values():
            partner[a], partner[b] = b, a
            self.bond_pairs.append((a, b))
        self.mols = []
        for mi, m in enumerate(g.mols):
            sites = []
            for ci, c in enumerate(m.comps):
                bond = partner.get((mi, ci)) if isinstance(c.bond, int) else c.bond
                sites.append((c.name, c.state, bond))
            self.mols.append((m.type, m.compartment, sites))
        # features (Species.features) that any species this pattern embeds into must have:
        # a cheap subset test rejects most species before the search
        required = set()
        for t, _, sites in self.mols:
            required.add((t,))
            for name, state, bond in sites:
                if state is not None:
                    required.add((t, name, state))
                if bond is None:
                    required.add((t, name, "!-"))
                elif bond is not ANY:
                    required.add((t, name, "!+"))
        self.required = frozenset(required)
        # traversal order: breadth first along bonds from each unvisited molecule
        order, seen = [], set()
        for root in range(len(g.mols)):
            if root in seen:
                continue
            seen.add(root)
            queue = [(root, None)]
            while queue:
                pm, via = queue.pop(0)
                order.append((pm, via))
                for pc, (_, _, bond) in enumerate(self.mols[pm][2]):
                    if isinstance(bond, tuple) and bond[0] not in seen:
                        seen.add(bond[0])
                        queue.append((bond[0], (pm, pc, bond[1])))
        self.order = order


def embeddings(pat: CompiledPattern, sp: Species) -> list:
    """All embeddings of ``pat`` into ``sp`` as ``(molmap, compmap)`` tuples.

    ``molmap[pm]`` is the species molecule of pattern molecule ``pm``; ``compmap[pm][pc]`` the
    species site of pattern site ``pc``. Distinct site assignments on the same molecules are
    distinct embeddings (``R(r)`` embeds twice into ``R(r,r)``), as in BioNetGen.
    """
    if pat.compartment is not None and sp.compartment != pat.compartment:
        return []
    if not pat.required <= sp.features():
        return []
    n = len(pat.mols)
    molmap = [-1] * n
    cmap: list = [None] * n
    used: set = set()
    out: list = []
    order = pat.order
    pmols = pat.mols

    def sites(pm, sm, forced):
        # Candidate species sites per pattern site, then the injective choices in
        # lexicographic order (the order of a depth-first search over the pattern sites).
        names = sp.cname[sm]
        states = sp.cstate[sm]
        partners = sp.partner[sm]
        everywhere = range(len(names))
        cands = []
        single = True
        for i, (name, state, bond) in enumerate(pmols[pm][2]):
            lst = [sc for sc in ((forced[1],) if forced is not None and forced[0] == i else everywhere)
                   if names[sc] == name and (state is None or states[sc] == state)
                   and (bond is ANY or (partners[sc] is None) == (bond is None))]
            if not lst:
                return ()
            if len(lst) > 1:
                single = False
            cands.append(lst)
        if single:
            t = tuple([c[0] for c in cands])
            return (t,) if len(set(t)) == len(t) else ()
        return [t for t in product(*cands) if len(set(t)) == len(t)]

    def place(k):
        if k == n:
            for (a, b) in pat.bond_pairs:
                if sp.partner[molmap[a[0]]][cmap[a[0]][a[1]]] != (molmap[b[0]], cmap[b[0]][b[1]]):
                    return
            out.append((tuple(molmap), tuple(cmap)))
            return
        pm, via = order[k]
        ptype, pcomp, _ = pmols[pm]
        forced = None
        if via is None:
            cands = sp.by_type.get(ptype, ())
        else:
            parent_pm, parent_pc, own_pc = via
            p = sp.partner[molmap[parent_pm]][cmap[parent_pm][parent_pc]]
            if p is None or sp.mtype[p[0]] != ptype:
                return
            cands = (p[0],)
            forced = (own_pc, p[1])
        for sm in cands:
            if sm in used:
                continue
            if pcomp is not None and sp.mcomp[sm] != pcomp:
                continue
            used.add(sm)
            molmap[pm] = sm
            for assign in sites(pm, sm, forced):
                cmap[pm] = assign
                place(k + 1)
            cmap[pm] = None
            molmap[pm] = -1
            used.discard(sm)

    place(0)
    return out


def pattern_isomorphisms(p: CompiledPattern, q: CompiledPattern) -> list:
    """Exact isomorphisms between two patterns (same constraints, not just compatible ones).

    Returned as ``(molmap, compmap)`` from ``p`` to ``q``. Used for rule symmetry factors.
    """
    if len(p.mols) != len(q.mols) or p.compartment != q.compartment:
        return []
    n = len(p.mols)
    out = []
    molmap = [-1] * n
    cmap: list = [None] * n
    used: set = set()

    def site_perms(pm, qm):
        ps, qs = p.mols[pm][2], q.mols[qm][2]
        if len(ps) != len(qs):
            return
        for perm in permutations(range(len(qs))):
            ok = True
            for i, j in enumerate(perm):
                a, b = ps[i], qs[j]
                if a[0] != b[0] or a[1] != b[1]:
                    ok = False
                    break
                ka = "b" if isinstance(a[2], tuple) else a[2]
                kb = "b" if isinstance(b[2], tuple) else b[2]
                if ka != kb:
                    ok = False
                    break
            if ok:
                yield perm

    def place(k):
        if k == n:
            for (a, b) in p.bond_pairs:
                qa = (molmap[a[0]], cmap[a[0]][a[1]])
                qb = (molmap[b[0]], cmap[b[0]][b[1]])
                if q.mols[qa[0]][2][qa[1]][2] != qb:
                    return
            out.append((tuple(molmap), tuple(cmap)))
            return
        pm = k
        for qm in range(n):
            if qm in used or q.mols[qm][0] != p.mols[pm][0] or q.mols[qm][1] != p.mols[pm][1]:
                continue
            used.add(qm)
            molmap[pm] = qm
            for perm in site_perms(pm, qm):
                cmap[pm] = perm
                place(k + 1)
            molmap[pm] = -1
            cmap[pm] = None
            used.discard(qm)

    place(0)
    return out
