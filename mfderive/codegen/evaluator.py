r"""The evaluator: a SymPy expression tree, node by node, as JAX operations on named axes.

An expression is evaluated once, vectorised over the :class:`~.axes.Axis` of each bound
symbol: a symbol bound to column ``k`` of an array of atoms is that column on its axis, a
parameter is a scalar, and an operation node broadcasts its arguments over the union of
their axes (:func:`~.axes.combine`).

**Dispatch on the class.**  :meth:`Evaluator.ev` walks ``type(e).__mro__`` (as SymPy's
``Printer._print`` does for ``_print_<Class>``) and uses the first class that is either in
the table :data:`FUNCTIONS` (elementwise functions and order relations, as data: a node is
its JAX function of its evaluated arguments) or has a method ``_ev_<Class>``.  Only classes
of SymPy and of this package are looked up by name, so a user's subclass of ``sp.tanh`` is
a ``tanh`` and a user's class named ``Mul`` is not a product; an undefined function
``Function("Add")(x)`` is looked up from ``AppliedUndef`` on.  Capabilities are added by
subclasses: :class:`~.contract.MeasureEvaluator` (integrals against measures) and
:class:`~.densities.GridEvaluator` (densities on grids).

**Common subexpressions.**  A subexpression is evaluated once per binding of its free
symbols: the cache key (:meth:`Evaluator.key`) is the expression with each bound symbol
renamed after the array column and axis pattern it is bound to, so ``tanh(a·x + b)``
computed for :math:`f_\mu(x)` is reused wherever the same columns meet again.
"""

from __future__ import annotations

import copy
import operator

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import CompileError
from .axes import Arr, Axis, combine, fold

__all__ = ["FUNCTIONS", "Evaluator"]

FUNCTIONS = {
    sp.tanh: jnp.tanh, sp.exp: jnp.exp, sp.log: jnp.log, sp.sin: jnp.sin, sp.cos: jnp.cos,
    sp.tan: jnp.tan, sp.sinh: jnp.sinh, sp.cosh: jnp.cosh, sp.atan: jnp.arctan,
    sp.asin: jnp.arcsin, sp.acos: jnp.arccos, sp.Abs: jnp.abs, sp.sign: jnp.sign,
    sp.erf: jsp.erf,
    # Heaviside(g, H0): SymPy's second argument is the value at 0 (1/2 unless the user says
    # otherwise; the ReLU convention sigma'(0) = 0 is Heaviside(g, 0), see derive/nonsmooth.py)
    sp.Heaviside: lambda v, h0=0.5: jnp.where(v > 0, 1.0, jnp.where(v < 0, 0.0, h0)),
    sp.atanh: jnp.arctanh, sp.asinh: jnp.arcsinh,
    # order relations (the conditions of a Piecewise)
    sp.StrictLessThan: jnp.less, sp.LessThan: jnp.less_equal,
    sp.StrictGreaterThan: jnp.greater, sp.GreaterThan: jnp.greater_equal,
}
"""SymPy class → JAX function of the evaluated arguments (looked up along the MRO)."""

_NAMED = ("sympy", "mfderive")  # the packages whose classes are looked up by name


class Evaluator:
    """Arithmetic, powers, ``Piecewise``, ``Max``/``Min``, :data:`FUNCTIONS`, parameters.

    ``bindings`` maps a Symbol to ``(source, column, Axis, 1-d array)``; ``params`` a Symbol
    to a scalar; ``priority`` a source name to its rank among the axes.
    """

    functions = FUNCTIONS

    def __init__(self, bindings, params, priority, counter):
        self.bind = dict(bindings)
        self.params = params
        self.priority = priority
        self.counter = counter  # shared by all scopes: creation order of the axes
        self.cache = {}

    def new_axis(self, source, size):
        return Axis(source, (self.priority.get(source, 99), next(self.counter)), size)

    def child(self, extra):
        """The same evaluator with more bound symbols; cache and axis counter are shared."""
        c = copy.copy(self)
        c.bind = {**self.bind, **extra}
        return c

    # -- cache key: the expression and the binding pattern of its free symbols ------------
    def key(self, expr):
        """The expression with each bound symbol renamed after what it is bound to (source
        array, column, and the axis pattern), so that ``tanh(a·x + b)`` and
        ``tanh(y_a·x + y_b)`` bound to the same arrays share one evaluation."""
        bound = [s for s in expr.free_symbols if s in self.bind]
        syms = sorted(bound, key=lambda s: (self.bind[s][0], self.bind[s][1], self.bind[s][2].order))
        axis_index, rename = {}, {}
        for s in syms:
            if s in self.bind:
                src, col, ax, _ = self.bind[s]
                idx = axis_index.setdefault(ax, len(axis_index))
                rename[s] = sp.Symbol(f"__{src}[{col}]@{idx}", **s.assumptions0)
        return expr.xreplace(rename), {i: ax for ax, i in axis_index.items()}

    def ev(self, expr) -> Arr:
        """The value of ``expr`` on the axes of its bound symbols (cached)."""
        k, axes_of = self.key(expr)
        hit = self.cache.get(k)
        if hit is not None:
            value, idx = hit
            axes = tuple(axes_of[i] for i in idx)
            order = sorted(range(len(axes)), key=lambda j: axes[j].order)
            if order != list(range(len(axes))):
                value = jnp.transpose(value, order)
                axes = tuple(axes[j] for j in order)
            return Arr(value, axes)
        out = self.dispatch(expr)
        inv = {ax: i for i, ax in axes_of.items()}
        if all(a in inv for a in out.axes):
            self.cache[k] = (out.value, tuple(inv[a] for a in out.axes))
        return out

    def dispatch(self, e) -> Arr:
        """The first class along ``type(e).__mro__`` in :data:`FUNCTIONS` or with ``_ev_<Class>``."""
        classes = type(e).__mro__
        if AppliedUndef in classes:  # Function("Add")(x) is an undefined function, not a sum
            classes = classes[classes.index(AppliedUndef):]
        for cls in classes:
            f = self.functions.get(cls)
            if f is not None:
                return combine([self.ev(a) for a in e.args], f)
            if (cls.__module__ or "").partition(".")[0] in _NAMED:
                method = getattr(self, f"_ev_{cls.__name__}", None)
                if method is not None:
                    return method(e)
        raise CompileError(f"cannot compile {type(e).__name__} {sp.sstr(e)}")

    # -- atoms ----------------------------------------------------------------------------
    def _ev_Number(self, e):
        return Arr(float(e), ())

    _ev_Pi = _ev_Exp1 = _ev_Number

    def _ev_Symbol(self, e):
        if e in self.bind:
            _, _, ax, col = self.bind[e]
            return Arr(col, (ax,))
        if e in self.params:
            return Arr(self.params[e], ())
        raise CompileError(
            f"the symbol {e} is free in the expression but neither a point coordinate "
            f"nor a declared parameter; pass params=[{e}, ...] to mf.compile"
        )

    # -- arithmetic -----------------------------------------------------------------------
    def _ev_Add(self, e):
        return combine([self.ev(a) for a in e.args], lambda *v: fold(operator.add, v))

    def _ev_Mul(self, e):
        return combine([self.ev(a) for a in e.args], lambda *v: fold(operator.mul, v))

    def _ev_Pow(self, e):
        b, x = e.args
        base = self.ev(b)
        if x.is_Integer:
            n = int(x)
            if n == 2:
                return Arr(base.value * base.value, base.axes)
            if n == -1:
                return Arr(1.0 / base.value, base.axes)
            return Arr(jax.lax.integer_pow(jnp.asarray(base.value), n) if base.axes else base.value**n, base.axes)
        if x == sp.S.Half:
            return Arr(jnp.sqrt(base.value), base.axes)
        if x == -sp.S.Half:
            return Arr(jax.lax.rsqrt(jnp.asarray(base.value)), base.axes)
        return combine([base, self.ev(x)], jnp.power)

    def _ev_Max(self, e):
        return combine([self.ev(a) for a in e.args], lambda *v: fold(jnp.maximum, v))

    def _ev_Min(self, e):
        return combine([self.ev(a) for a in e.args], lambda *v: fold(jnp.minimum, v))

    def _ev_Piecewise(self, e):
        out = None
        for val, cond in reversed(e.args):
            v = self.ev(val)
            if cond == sp.true:
                out = v
                continue
            c = self.ev(cond)
            out = combine([c, v, out], jnp.where)
        return out

    # -- what needs a capability this evaluator lacks -------------------------------------
    def _ev_AppliedUndef(self, e):
        raise CompileError(
            f"{e} is an undefined function (a density or an unknown); substitute a "
            f"concrete expression before compiling"
        )

    def _ev_Derivative(self, e):
        raise CompileError(f"unevaluated derivative {e}; call .doit() first")

    _ev_Subs = _ev_Derivative

