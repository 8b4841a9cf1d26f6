r"""Gradient flows of a function on :math:`\mathbb{R}^d`: :math:`\dot x = -\nabla F(x)`.

The finite-dimensional model every flow on measures generalises (Hu, Ren, Šiška &
Szpruch 2021, §2; Ambrosio, Gigli & Savaré 2008, ch. 1): for :math:`F:\mathbb{R}^d\to\mathbb{R}`,

.. math::
    \dot x_t = -\nabla F(x_t),\qquad
    \frac{d}{dt}F(x_t) = \nabla F(x_t)\cdot\dot x_t = -|\nabla F(x_t)|^2 ,

and, under a Polyak–Łojasiewicz inequality :math:`\frac12|\nabla F|^2 \ge \mu(F - F^*)`,
:math:`F(x_t) - F^* \le e^{-2\mu t}(F(x_0) - F^*)` (Polyak 1963; Karimi, Nutini & Schmidt
2016).  :class:`EuclideanFlow` derives the gradient, the Hessian, the ODE, the dissipation
identity (by the chain rule along the flow, not typed) and, where SymPy can decide it,
the PL / strong-convexity constant.  Its discretisations (explicit gradient descent,
the proximal step = implicit Euler, and the exact flow) are in
:mod:`mfderive.simulate.euclidean`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from ..derive.measures import as_sympy, measures_in
from ..errors import InvalidExpressionError, InvalidVariablesError
from .base import TIME

__all__ = ["EuclideanFlow", "EuclideanDissipation", "PLReport"]


def _symbols(symbols, what: str, allow_empty: bool) -> tuple[sp.Symbol, ...]:
    """An ordered tuple of distinct real SymPy Symbols (a single Symbol is a 1-tuple)."""
    if isinstance(symbols, sp.Symbol):
        symbols = (symbols,)
    if isinstance(symbols, (str, bytes)) or not isinstance(symbols, (tuple, list)):
        raise InvalidVariablesError(
            f"{what} must be a SymPy Symbol or an ordered tuple/list of Symbols, got {symbols!r}"
            + ("; mfderive never parses strings" if isinstance(symbols, (str, bytes)) else "")
        )
    symbols = tuple(symbols)
    if not symbols and not allow_empty:
        raise InvalidVariablesError(f"{what} must contain at least one Symbol")
    for s in symbols:
        if not isinstance(s, sp.Symbol):
            raise InvalidVariablesError(f"{what} must be SymPy Symbols; {s!r} is a {type(s).__name__}")
        if s.is_real is not True:
            raise InvalidVariablesError(
                f"{what} must be real symbols: declare sp.Symbol({s.name!r}, real=True) "
                f"({s.name} has no real=True assumption)"
            )
    if len(set(symbols)) != len(symbols):
        raise InvalidVariablesError(f"{what} repeat a symbol: {symbols}")
    return symbols


@dataclass(frozen=True)
class EuclideanDissipation:
    r"""The dissipation identity of :math:`\dot x = -\nabla F(x)`, derived.

    ``derived`` is :math:`\frac{d}{dt}F(x(t))` computed by SymPy's chain rule along the
    curve :math:`x(t)` with :math:`\dot x` replaced by the flow's velocity, ``claimed`` is
    :math:`-|\nabla F|^2`, ``residual`` their difference after simplification and
    ``proved`` whether it is identically zero."""

    derived: sp.Expr
    claimed: sp.Expr
    residual: sp.Expr
    proved: bool

    def verify(self) -> "EuclideanDissipation":
        """``self`` (a proof object, truthy when the residual is identically zero)."""
        return self

    def __bool__(self) -> bool:
        return self.proved


@dataclass(frozen=True)
class PLReport:
    r"""What SymPy could decide about :math:`\frac12|\nabla F|^2 \ge \mu\,(F - F^*)`.

    ``decided``: whether the report is a decision; ``pl``: the inequality holds (True),
    fails (False: :math:`F` unbounded below), or is undecided (None); ``mu``: the PL
    constant (largest one for a quadratic); ``strongly_convex``: :math:`\nabla^2F \succeq
    \mu I` with :math:`\mu > 0`; ``minimum``: :math:`F^*` when found; ``rate``: the
    exponential rate :math:`2\mu` of :math:`F(x_t) - F^*`; ``reason``: in words."""

    decided: bool
    pl: bool | None
    mu: sp.Expr | None
    strongly_convex: bool | None
    minimum: sp.Expr | None
    reason: str

    @property
    def rate(self) -> sp.Expr | None:
        return None if self.mu is None else 2 * self.mu


class EuclideanFlow:
    r"""The gradient flow :math:`\dot x = -\nabla F(x)` of a function on :math:`\mathbb{R}^d`.

    .. math::
        \dot x = -\nabla F(x),\qquad \frac{d}{dt}F(x_t) = -|\nabla F(x_t)|^2 ;

    the proximal step :math:`x_{n+1} = \arg\min_x F(x) + \frac{1}{2\tau}|x - x_n|^2` is its
    implicit Euler scheme, :math:`x_{n+1} + \tau\nabla F(x_{n+1}) = x_n` (Hu, Ren, Šiška &
    Szpruch 2021, §2; Ambrosio, Gigli & Savaré 2008, ch. 2).

    Parameters
    ----------
    F : a real SymPy expression in ``variables`` (and ``parameters``); no measures, no
        undefined functions
    variables : a real Symbol or an ordered tuple of distinct real Symbols, the coordinates
        of :math:`x`
    parameters : Symbols that may appear in ``F`` besides the variables (given numbers by
        the simulators' ``values=``)

    Raises :class:`~mfderive.UnsafeInputError` for a string, :class:`~mfderive.NotSympyError`
    for another non-SymPy ``F``, :class:`~mfderive.InvalidVariablesError` for variables
    that are not distinct real Symbols, :class:`~mfderive.InvalidExpressionError` for an
    ``F`` that is not real or has a symbol that is neither a variable nor a parameter.

    Examples
    --------
    >>> import sympy as sp
    >>> x1, x2 = sp.symbols("x1 x2", real=True)
    >>> flow = EuclideanFlow(x1**2 + 2 * x2**2 + x1 * x2, (x1, x2))
    >>> flow.gradient.T
    Matrix([[2*x1 + x2, x1 + 4*x2]])
    >>> flow.ode()[0]
    Eq(Derivative(x1(t), t), -2*x1(t) - x2(t))
    >>> bool(flow.dissipation_identity())
    True
    >>> flow.pl().mu
    3 - sqrt(2)
    """

    name = "Euclidean gradient flow"

    def __init__(self, F, variables, parameters=()):
        F = as_sympy(F, "the function F")
        self.variables = _symbols(variables, "the variables of F", allow_empty=False)
        self.parameters = _symbols(parameters, "the parameters of F", allow_empty=True)
        both = set(self.variables) & set(self.parameters)
        if both:
            raise InvalidVariablesError(
                f"{', '.join(sorted(s.name for s in both))} is both a variable and a parameter"
            )
        if measures_in(F):
            raise InvalidExpressionError(
                f"F = {sp.sstr(F)[:200]} integrates against a measure; EuclideanFlow is for "
                "functions on R^d (use mf.WassersteinFlow for functionals of measures)"
            )
        undef = F.atoms(AppliedUndef)
        if undef or F.has(sp.Derivative, sp.Integral, sp.Subs):
            what = ", ".join(sorted(map(str, undef))) if undef else "an unevaluated derivative or integral"
            raise InvalidExpressionError(
                f"F contains {what}; write F as an explicit expression in its variables"
            )
        stray = F.free_symbols - set(self.variables) - set(self.parameters)
        if stray:
            names = ", ".join(sorted(s.name for s in stray))
            raise InvalidExpressionError(
                f"F contains the symbol(s) {names}, which are neither variables {self.variables} "
                f"nor declared parameters; pass parameters=({names},) or substitute a number"
            )
        if F.is_extended_real is False or F.has(sp.I):
            raise InvalidExpressionError(f"F = {sp.sstr(F)[:200]} is not real on R^d")
        self.F = F
        self.energy = F
        x = self.variables
        self.gradient = sp.Matrix([sp.diff(F, xi) for xi in x])
        self.hessian = sp.hessian(F, x)
        self.velocity = -self.gradient

    @property
    def dim(self) -> int:
        """:math:`d`, the number of variables."""
        return len(self.variables)

    # -- the ODE and its identity -----------------------------------------------------------
    def _curve(self):
        """The variables as functions of time ``x_i(t)`` (``{x_i: x_i(t)}``)."""
        return {xi: sp.Function(xi.name, real=True)(TIME) for xi in self.variables}

    def ode(self) -> list[sp.Eq]:
        r"""``[Eq(d x_i/dt, -∂_i F(x(t)))]``, one per variable."""
        c = self._curve()
        return [sp.Eq(sp.Derivative(c[xi], TIME), v.xreplace(c)) for xi, v in zip(self.variables, self.velocity)]

    def dissipation_identity(self) -> EuclideanDissipation:
        r""":math:`\frac{d}{dt}F(x_t) = -|\nabla F(x_t)|^2`, derived: SymPy differentiates
        :math:`F(x(t))` in :math:`t` (chain rule), the flow's ODE replaces each
        :math:`\dot x_i`, and the residual against :math:`-|\nabla F|^2` is simplified
        (Hu, Ren, Šiška & Szpruch 2021, §2).

        >>> import sympy as sp
        >>> u = sp.Symbol("u", real=True)
        >>> d = EuclideanFlow(sp.cos(u) + u**4, u).dissipation_identity()
        >>> d.derived
        4*u**3*(-4*u**3 + sin(u)) - (-4*u**3 + sin(u))*sin(u)
        >>> sp.factor(d.derived), d.proved
        (-(4*u**3 - sin(u))**2, True)
        """
        c = self._curve()
        inverse = {v: k for k, v in c.items()}
        dFdt = sp.diff(self.F.xreplace(c), TIME)
        rhs = {sp.Derivative(c[xi], TIME): v.xreplace(c) for xi, v in zip(self.variables, self.velocity)}
        derived = dFdt.xreplace(rhs).xreplace(inverse)
        if derived.has(sp.Derivative):  # pragma: no cover - the chain rule left a derivative
            raise InvalidExpressionError(f"the chain rule left an unevaluated derivative: {derived}")
        claimed = -sum((g**2 for g in self.gradient), sp.S.Zero)
        residual = sp.simplify(sp.expand(derived - claimed))
        return EuclideanDissipation(derived, claimed, residual, residual == 0)

    # -- PL / strong convexity ---------------------------------------------------------------
    def is_quadratic(self) -> bool:
        """Whether :math:`F` is a polynomial of degree ≤ 2 in the variables (constant Hessian)."""
        return all(not h.has(*self.variables) for h in self.hessian)

    def pl(self) -> PLReport:
        r"""The Polyak–Łojasiewicz constant where SymPy can decide it.

        * **Quadratic** :math:`F = \frac12 x^\top A x + b^\top x + c`: with
          :math:`\lambda_{\min}` the smallest eigenvalue of :math:`A = \nabla^2F`, :math:`F` is
          :math:`\lambda_{\min}`-strongly convex and PL with :math:`\mu = \lambda_{\min}`
          when :math:`\lambda_{\min} > 0` (the largest PL constant: along the eigenvector
          equality holds); when :math:`A \succeq 0` is singular, PL holds with the smallest
          positive eigenvalue iff :math:`b \in \operatorname{range}A` (otherwise, like for a
          negative eigenvalue, :math:`F` is unbounded below and no PL inequality holds).
        * **One variable**: :math:`\mu = \min F''` when SymPy finds that minimum and it is
          positive (strong convexity implies PL with the same constant).
        * Otherwise undecided (``decided=False``): PL may hold without convexity, e.g.
          :math:`x^2 + 3\sin^2x` (Karimi, Nutini & Schmidt 2016), but SymPy cannot decide it.

        >>> import sympy as sp
        >>> u = sp.Symbol("u", real=True)
        >>> EuclideanFlow(3 * u**2 + u, u).pl().mu
        6
        >>> EuclideanFlow(u**2 + 3 * sp.sin(u)**2, u).pl().decided
        False
        """
        x = self.variables
        if self.is_quadratic():
            return self._pl_quadratic()
        if self.dim == 1 and sp.count_ops(self.hessian[0, 0]) <= 60:  # SymPy's minimum can be slow
            h = self.hessian[0, 0]
            try:
                low = sp.calculus.util.minimum(h, x[0], sp.S.Reals)
            except (NotImplementedError, ValueError, TypeError):  # SymPy gave up
                low = None
            if low is not None and low.is_finite and (low.is_positive is True):
                return PLReport(True, True, low, True, None,
                                f"F'' >= {low} > 0 on R: strongly convex, hence PL with mu = {low}")
            if low is not None and low.is_finite and low.is_positive is False:
                return PLReport(False, None, None, False, None,
                                f"min F'' = {low} <= 0: not strongly convex; whether a PL "
                                "inequality holds is not decided")
        return PLReport(False, None, None, None, None,
                        "F is not quadratic and SymPy cannot decide a PL inequality for it")

    def _pl_quadratic(self) -> PLReport:
        x = self.variables
        A = self.hessian
        zero = dict.fromkeys(x, 0)
        b = self.gradient.xreplace(zero)  # grad F(0) = b
        if A.free_symbols:  # parameters: SymPy's closed-form eigenvalues, signs by assumptions
            eig = list(A.eigenvals(multiple=True))
        else:  # a symmetric rational matrix: the exact real roots of its characteristic
            # polynomial (radicals, or CRootOf whose signs SymPy decides exactly)
            eig = A.charpoly().real_roots()
            if len(eig) != A.rows:  # pragma: no cover - a symmetric matrix has real eigenvalues
                return PLReport(False, None, None, None, None, "the Hessian's eigenvalues were not all found real")
        undecided = [e for e in eig if not (e.is_positive or e.is_zero or e.is_negative)]
        if undecided:
            return PLReport(False, None, None, None, None,
                            f"the signs of the Hessian's eigenvalues {undecided} are undecided "
                            "(give the parameters assumptions, e.g. positive=True, or numbers)")
        neg = [e for e in eig if e.is_negative]
        if neg:
            return PLReport(True, False, None, False, None,
                            f"the Hessian has the negative eigenvalue {neg[0]}: F is unbounded "
                            "below, no PL inequality")
        pos = [e for e in eig if e.is_positive]
        if len(pos) == len(eig):
            mu = _smallest(pos)
            xs = A.LUsolve(-b)
            Fstar = sp.simplify(self.F.xreplace(dict(zip(x, xs))))
            return PLReport(True, True, mu, True, Fstar,
                            f"quadratic with Hessian eigenvalues {eig}: strongly convex and PL "
                            f"with mu = lambda_min = {mu}")
        # singular, positive semi-definite: PL iff b in range(A), with the smallest positive eigenvalue
        aug = A.row_join(b)
        if aug.rank() != A.rank():
            return PLReport(True, False, None, False, None,
                            "the Hessian is singular and grad F(0) is not in its range: F is "
                            "unbounded below along its kernel, no PL inequality")
        if not pos:
            return PLReport(True, True, None, False, self.F.xreplace(zero),
                            "F is constant: every point is a minimiser (PL holds for every mu)")
        mu = _smallest(pos)
        sol, params = A.gauss_jordan_solve(-b)
        xs = sol.xreplace(dict.fromkeys(params, 0))
        Fstar = sp.simplify(self.F.xreplace(dict(zip(x, xs))))
        return PLReport(True, True, mu, False, Fstar,
                        f"convex quadratic with a kernel and grad F(0) in range(A): PL with mu = "
                        f"the smallest positive eigenvalue {mu}, not strongly convex")

    def __repr__(self):
        return f"EuclideanFlow({sp.sstr(self.F)}, {self.variables})"


def _smallest(values):
    """The smallest of SymPy numbers/expressions whose order SymPy can decide."""
    best = values[0]
    for v in values[1:]:
        if (v - best).is_negative:
            best = v
    return sp.simplify(best)
