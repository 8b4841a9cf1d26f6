r"""Measures: the objects functionals are functionals *of*.

A :class:`Measure` is a probability measure :math:`\mu` over named parameter
variables :math:`\xi = (\xi_1,\dots,\xi_d)`; it is what first variations and
Lions derivatives differentiate with respect to.  Its density (with respect to
Lebesgue measure, where it has one) is the SymPy undefined function
``mu.density``, so local functionals such as the entropy
:math:`\int m\log m\,d\xi` can be written and differentiated.

A :class:`Data` measure is a fixed measure (the data distribution, a quadrature
rule on a domain :math:`D`).  It is integrated against, never differentiated.

Both are SymPy atoms, so they can sit inside expressions (as arguments of the
integral atoms of :mod:`mfderive.derive.atoms`) and compare by value: two measures
are equal when they have the same kind, name and variables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

import sympy as sp

from ..errors import (
    InvalidExpressionError,
    InvalidOptionError,
    InvalidPointError,
    InvalidVariablesError,
    MeasureNameClashError,
    NotAMeasureError,
    NotSympyError,
    UnsafeInputError,
)
from .atoms import BoundIntegral
from .domains import Euclidean, as_domain

__all__ = [
    "Measure", "SignedMeasure", "Data", "as_point", "as_sympy", "check_measure", "check_differentiable_measure",
    "check_names", "MAX_DEPTH",
]

#: The deepest expression tree the calculus accepts.  SymPy's own traversals recurse, so
#: a deeper tree would end in a RecursionError somewhere inside SymPy; functionals met in
#: practice are a few dozen levels deep.
MAX_DEPTH = 100

_NOT_FINITE = (sp.S.NaN, sp.S.ComplexInfinity, sp.S.Infinity, sp.S.NegativeInfinity)


def _unordered(obj) -> bool:
    """Sets and mappings iterate in hash order: never a sequence of coordinates."""
    return isinstance(obj, (Set, Mapping))

# Which measures a symbol was introduced by (as a variable or a point).  Used to
# reject ``integral(expr, mu, over=(x,))`` when ``x`` is a variable of the data
# measure: an integration variable must belong to the measure or be unowned.
_OWNERS: dict[sp.Symbol, set[tuple]] = {}


def _own(symbol: sp.Symbol, owner: "_MeasureBase") -> None:
    _OWNERS.setdefault(symbol, set()).add(owner._key)


def owners_of(symbol: sp.Symbol) -> set[tuple]:
    """The (kind, name, variables) keys of the measures that introduced ``symbol``."""
    return _OWNERS.get(symbol, set())


def _as_variables(variables, what: str) -> tuple[sp.Symbol, ...]:
    if isinstance(variables, sp.Symbol):
        variables = (variables,)
    if isinstance(variables, (str, bytes)) or not isinstance(variables, Iterable) or _unordered(variables):
        raise InvalidVariablesError(
            f"{what} must be a SymPy Symbol or an ordered tuple of Symbols, got {variables!r}"
        )
    variables = tuple(variables)
    if not variables:
        raise InvalidVariablesError(f"{what} must contain at least one Symbol")
    for v in variables:
        if not isinstance(v, sp.Symbol):
            raise InvalidVariablesError(
                f"{what} must be SymPy Symbols; {v!r} is a {type(v).__name__}"
            )
    if len(set(variables)) != len(variables):
        raise InvalidVariablesError(f"{what} repeat a symbol: {variables}")
    return variables


class _MeasureBase(sp.Atom):
    """Common structure of :class:`Measure` and :class:`Data` (a named SymPy atom)."""

    _kind = "measure"
    is_commutative = True

    def __new__(cls, name: str, variables):
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidVariablesError(
                f"a {cls.__name__} name must be an identifier string, got {name!r}"
            )
        variables = _as_variables(variables, f"the variables of {cls.__name__} {name!r}")
        obj = super().__new__(cls)
        obj._name = name
        obj._variables = variables
        obj._key = (cls._kind, name, variables)  # same name, other variables: another measure
        for v in variables:
            _own(v, obj)
        return obj

    def __getnewargs__(self):
        return (self._name, self._variables)

    def _hashable_content(self):
        return (self._kind, self._name, self._variables)

    @property
    def name(self) -> str:
        """The measure's name (also the name of its density function)."""
        return self._name

    @property
    def variables(self) -> tuple[sp.Symbol, ...]:
        """The variables the measure lives on, in order."""
        return self._variables

    @property
    def dim(self) -> int:
        """The number of variables."""
        return len(self._variables)

    def point(self, name: str) -> tuple[sp.Symbol, ...]:
        """A tuple of fresh symbols, one per variable, named after ``name``.

        For a one-variable measure the point is ``(Symbol(name),)``; otherwise the
        symbols are ``name_<variable>`` (``y_w, y_a, y_b`` for variables ``w, a, b``).
        Each symbol carries the assumptions of its variable.  Calling ``point``
        twice with the same name returns equal symbols.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidPointError(f"a point name must be an identifier string, got {name!r}")
        if self.dim == 1:
            names = [name]
        else:
            names = [f"{name}_{v.name}" for v in self._variables]
        pt = tuple(
            sp.Symbol(n, **v.assumptions0) for n, v in zip(names, self._variables)
        )
        for s in pt:
            _own(s, self)
        return pt

    # printing -------------------------------------------------------------
    def _latex(self, printer):
        return printer._print(sp.Symbol(self._name))

    def _sympystr(self, printer):
        return self._name

    def __repr__(self):
        return f"{type(self).__name__}({self._name!r}, {self._variables})"


class Measure(_MeasureBase):
    r"""A probability measure :math:`\mu` over ``variables``; the thing we differentiate.

    >>> import sympy as sp, mfderive as mf
    >>> w, a = sp.symbols("w a")
    >>> mu = mf.Measure("mu", (w, a))
    >>> mu.point("y")
    (y_w, y_a)

    ``mu.density`` is the undefined SymPy function :math:`m`: ``mu.density(w, a)``
    is the density at :math:`(w, a)`, used by local functionals
    (:func:`mfderive.local`, :func:`mfderive.entropy`).

    ``signed=True`` declares a finite **signed** measure instead (any sign, any total
    mass): the result is a :class:`SignedMeasure`, not a probability ``Measure``.

    ``domain=`` puts the measure on a product with sphere factors
    (:mod:`mfderive.derive.domains`), each factor on a consecutive block of the variables;
    its Lions derivative is then the Riemannian gradient:

    >>> from mfderive.derive.domains import Sphere, Reals
    >>> t1, t2, r = sp.symbols("t1 t2 r", real=True)
    >>> Measure("mu_dom", (t1, t2, r), domain=Sphere(2) * Reals(1)).domain
    Sphere(2) * Reals(1)
    """

    _kind = "measure"
    #: False for a probability measure (weights >= 0 of sum one); see :class:`SignedMeasure`
    signed = False

    #: the domain when it is not R^d (see :attr:`domain`)
    _domain = None

    def __new__(cls, name: str, variables, signed: bool = False, domain=None):
        if not isinstance(signed, bool):
            raise InvalidOptionError(f"signed= must be True or False, got {signed!r}")
        dom = None
        if domain is not None:
            dom = as_domain(domain, _as_variables(variables, f"the variables of Measure {name!r}"),
                            f"the Measure {name!r}")
            dom = None if dom.is_euclidean else dom
        if signed:
            if dom is not None:
                raise InvalidOptionError(
                    f"a signed measure on the domain {dom!r} is not supported; use a probability "
                    "Measure on it (the S^(d-1) x R parameterisation carries the sign in r)"
                )
            return SignedMeasure(name, variables)
        obj = super().__new__(cls, name, variables)
        obj._domain = dom
        return obj

    def __getnewargs__(self):
        return (self._name, self._variables, False, self._domain)

    def _hashable_content(self):
        # a measure on another domain is another measure; R^d keeps the old content
        base = super()._hashable_content()
        return base if self._domain is None else (*base, self._domain)

    @property
    def domain(self):
        r"""Where the measure lives (:mod:`mfderive.derive.domains`): :math:`\mathbb R^d`
        (``Euclidean()``, the default) or a product with sphere factors, given as
        ``domain=``, e.g. ``Measure("mu", (t1, t2, r), domain=Sphere(2) * Reals(1))``
        for :math:`S^1\times\mathbb R`."""
        return Euclidean() if self._domain is None else self._domain

    @property
    def density(self) -> sp.FunctionClass:
        """The density of the measure, a positive undefined SymPy function named like it."""
        return sp.Function(self._name, positive=True)


class Data(_MeasureBase):
    r"""A fixed measure :math:`\nu` (data distribution, quadrature rule): integrated
    against, never differentiated.  Its total mass need not be one (a quadrature
    rule on :math:`D=[-1,1]` has mass 2).

    >>> import sympy as sp, mfderive as mf
    >>> x = sp.Symbol("x"); nu = mf.Data("nu", (x,))
    >>> mf.evaluate(mf.integral(x**2, nu), {nu: ([-1, 1], [1, 1])})
    2
    """

    _kind = "data"


class SignedMeasure(_MeasureBase):
    r"""A finite signed measure :math:`\mu = \sum_i \alpha_i\delta_{w_i}`, :math:`\alpha_i\in\mathbb R`,
    over ``variables``: differentiated like a :class:`Measure`, but neither non-negative nor
    of mass one (``mf.Measure(name, variables, signed=True)`` builds one).

    The calculus is then that of the linear space of signed measures: the first variation
    :math:`\frac{\delta F}{\delta\mu}(\mu, y) = \frac{d}{d\varepsilon}F(\mu + \varepsilon
    \delta_y)|_{\varepsilon=0}` has no additive constant to fix, and an integrand free of the
    variables is *not* replaced by itself (:math:`\int c\,d\mu = c\,\mu(\Theta)`).  It is
    the measure of a ReLU network :math:`f(x) = \int \max(0, w\cdot x)\,\mu(dw)` in the
    signed parameterisation (Chizat & Bach 2018); :func:`mfderive.evaluate`,
    :func:`mfderive.compile` and :func:`mfderive.particle_flow` take signed weights for it.
    Its density (``mu.density``) is a real, not a positive, function; the entropy and other
    terms defined for probability measures only are refused where they meet one.

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); nu = mf.Measure("nu_signed", (w,), signed=True)
    >>> type(nu).__name__, nu.signed
    ('SignedMeasure', True)
    >>> mf.evaluate(mf.integral(w**2, nu) + mf.integral(1, nu), {nu: ([1, 2], [3, -1])})
    1
    """

    _kind = "signed"
    signed = True

    @property
    def density(self) -> sp.FunctionClass:
        """The (signed) density of the measure, a real undefined SymPy function named like it."""
        return sp.Function(self._name, real=True)


def check_measure(measure, what: str = "measure") -> _MeasureBase:
    """Return ``measure`` if it is a Measure or Data, else raise NotAMeasureError."""
    if not isinstance(measure, _MeasureBase):
        raise NotAMeasureError(
            f"{what} must be an mfderive Measure or Data, got {type(measure).__name__} {measure!r}"
        )
    return measure


def check_differentiable_measure(measure, what: str = "measure") -> Measure:
    """Return ``measure`` if it is a (differentiable) Measure, else raise NotAMeasureError."""
    check_measure(measure, what)
    if isinstance(measure, Data):
        raise NotAMeasureError(
            f"{measure.name!r} is a fixed Data measure and is never differentiated; "
            "declare it with mf.Measure to differentiate with respect to it"
        )
    return measure


def as_point(at, measure: _MeasureBase, what: str = "point") -> tuple[sp.Expr, ...]:
    """Validate a point of ``measure``: a tuple of SymPy expressions, one per variable.

    A bare expression is accepted for a one-variable measure.
    """
    if isinstance(at, (sp.Basic, int, float)) and not isinstance(at, sp.Tuple):
        at = (at,)
    if isinstance(at, (str, bytes)) or not isinstance(at, Iterable) or _unordered(at):
        raise InvalidPointError(
            f"{what} must be an ordered tuple of {measure.dim} SymPy expressions "
            f"(one per variable {measure.variables} of {measure.name!r}), got {at!r}"
            + (" (a set or dict has no order)" if _unordered(at) else "")
        )
    at = tuple(at)
    if len(at) != measure.dim:
        raise InvalidPointError(
            f"{what} has {len(at)} coordinate(s) but {measure.name!r} has {measure.dim} "
            f"variable(s) {measure.variables}"
        )
    out = []
    for c in at:
        if isinstance(c, bool) or not isinstance(c, (sp.Basic, int, float)):
            raise InvalidPointError(f"{what} coordinate {c!r} is not a SymPy expression")
        c = sp.sympify(c, strict=True)
        if not isinstance(c, sp.Expr) or isinstance(c, _MeasureBase):
            raise InvalidPointError(f"{what} coordinate {c!r} is not a SymPy expression")
        if c.has(*_NOT_FINITE) or (c.is_number and c.is_extended_real is False):
            raise InvalidPointError(
                f"{what} coordinate {c} is not a finite real number; the variables of "
                f"{measure.name!r} are real"
            )
        out.append(c)
    return tuple(out)


def as_sympy(expr, what: str = "expression") -> sp.Expr:
    """Sympify numbers; reject anything that is not already a SymPy expression.

    Strings are refused (:class:`UnsafeInputError`): parsing one runs ``eval``.  NaN and
    infinities, a measure used as a number, and trees deeper than :data:`MAX_DEPTH`
    raise :class:`InvalidExpressionError`.
    """
    if isinstance(expr, (str, bytes)):
        raise UnsafeInputError(
            f"{what} is the string {expr!r}, not a SymPy expression; mfderive never parses strings (that runs eval). "
            "Build it from SymPy symbols, e.g. sp.Symbol('x')**2"
        )
    if isinstance(expr, bool):
        raise NotSympyError(f"{what} must be a SymPy expression, got the bool {expr!r}")
    if isinstance(expr, (int, float)):
        return sp.sympify(expr, strict=True)
    if isinstance(expr, _MeasureBase):
        raise NotSympyError(
            f"{what} is the measure {expr.name!r} itself; integrate against it with mf.integral"
        )
    if not isinstance(expr, sp.Expr):
        raise NotSympyError(
            f"{what} must be a SymPy expression, got {type(expr).__name__} {expr!r}"
        )
    check_expression(expr, what)
    return expr


def depth(expr) -> int:
    """The height of the expression tree (1 for an atom), computed without recursion."""
    best, stack = 0, [(expr, 1)]
    while stack:
        e, d = stack.pop()
        best = max(best, d)
        stack.extend((a, d + 1) for a in e.args)
    return best


def check_expression(expr, what: str = "expression") -> sp.Expr:
    """Raise :class:`InvalidExpressionError` for NaN/infinite constants, a measure outside
    the measure slot of an integral, or a tree deeper than :data:`MAX_DEPTH`."""
    h = depth(expr)
    if h > MAX_DEPTH:
        raise InvalidExpressionError(
            f"{what} is nested {h} levels deep (the limit is {MAX_DEPTH}); SymPy cannot "
            "differentiate or print trees that deep reliably"
        )
    if expr.has(*_NOT_FINITE):
        bad = [c for c in _NOT_FINITE if expr.has(c)][0]
        raise InvalidExpressionError(f"{what} contains {bad}: {sp.sstr(expr)[:200]}")
    stray = _stray_measures(expr)
    if stray:
        m = stray[0]
        raise InvalidExpressionError(
            f"{what} uses the measure {m.name!r} as a number ({sp.sstr(expr)[:200]}); a "
            f"measure only appears as what an integral integrates against: mf.integral(g, {m.name})"
        )
    return expr


def _stray_measures(expr) -> list:
    """Measures that occur other than as the measure of an integral atom."""
    out, stack = [], [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, _MeasureBase):
            out.append(e)
        elif isinstance(e, BoundIntegral):
            stack.append(e.integrand)
        else:
            stack.extend(e.args)
    return out


def measures_in(expr) -> set:
    """Every Measure/Data that some integral of ``expr`` integrates against."""
    return set(expr.atoms(_MeasureBase))


def check_names(exprs, measures=()) -> None:
    """Raise :class:`MeasureNameClashError` when two different :class:`Measure` objects
    with one name occur in ``exprs`` or ``measures``.

    The density of a measure is the SymPy function named like it, so two measures
    named alike would share a density and the calculus could not tell them apart.
    (A :class:`Data` measure has no density: it may share a name with a Measure.)
    """
    found = set(measures)
    for e in exprs:
        if isinstance(e, sp.Basic):
            found |= measures_in(e)
    by_name: dict[str, set] = {}
    for m in found:
        if isinstance(m, (Measure, SignedMeasure)):
            by_name.setdefault(m.name, set()).add(m)
    for name, ms in by_name.items():
        if len(ms) > 1:
            listed = " and ".join(sorted(repr(m) for m in ms))
            raise MeasureNameClashError(
                f"two different measures are both named {name!r}: {listed}; give each "
                "measure its own name"
            )
