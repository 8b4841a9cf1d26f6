r"""Compile derived expressions to jitted JAX functions on particles or grids.

``mf.compile(exprs, measures=[mu, nu], at=y)`` turns SymPy expressions containing
integrals against ``mu`` (an empirical measure: atoms ``(N, d)`` and weights ``(N,)``)
and ``nu`` (data points and weights) into one jitted function

``fn(mu_atoms, mu_weights, nu_atoms, nu_weights[, points][, *params]) -> array``

returning the expressions at every point: shape ``(P,)`` for one expression, ``(P, K)``
for ``K`` of them (``(K,)`` without ``at``).

How the code is generated:

* **Named axes.** Every integral gets an axis for its atoms; a point gets one more. An
  expression is evaluated once, vectorised over the axes of its free symbols, and an
  integral contracts its axis with the weights.
* **Common subexpressions.** A subexpression is evaluated once per binding of its free
  symbols (the cache key is the expression and the pattern of arrays its symbols are bound
  to), so ``tanh(a·x + b)`` computed for :math:`f_\mu(x)` is reused for the drift at the
  particles when ``points_from=mu``.
* **BLAS.** A sum :math:`\sum_k a_k x_k` of products of factors living on two different
  axes becomes one matrix product, and sibling integrals
  :math:`\int c_k(\xi)\,G(\xi, y)\,d\nu` sharing :math:`G` (the components of a Lions
  derivative) become one matrix product with the stacked :math:`c_k`.
* **Chunking.** With ``chunk_size``, an integral over more atoms of a :class:`Measure` than
  that is accumulated block by block in a ``lax.scan``, and points are evaluated block by
  block, so N×N and N×M temporaries never exist at once (data integrals stay whole, so that
  :math:`f_\mu(x)` is computed once per evaluation, not once per block of points).
* **Grids.** With ``grids={mu: Grid(...)}`` the measure is its density's cell averages: the
  cell centres are its atoms and :math:`m_j|C|` its weights (midpoint rule, order
  :math:`h^2`), the density :math:`m(y)` and its second-order finite differences are
  available at the cells, and local functionals (entropy, :math:`\int m^2`, Fisher
  information) are midpoint sums.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import sympy as sp
from sympy.core.function import AppliedUndef

from ..derive.canonical import canonical
from ..derive.integrals import LocalIntegral, MeasureIntegral
from ..derive.measures import Data, check_expression, check_measure, check_names
from ..errors import CompileError, MeasureNameClashError, UnsafeInputError
from ..grids import Grid, gradient

__all__ = ["compile", "CompileError"]



_FUNCS = {
    sp.tanh: jnp.tanh, sp.exp: jnp.exp, sp.log: jnp.log, sp.sin: jnp.sin, sp.cos: jnp.cos,
    sp.tan: jnp.tan, sp.sinh: jnp.sinh, sp.cosh: jnp.cosh, sp.atan: jnp.arctan,
    sp.asin: jnp.arcsin, sp.acos: jnp.arccos, sp.Abs: jnp.abs, sp.sign: jnp.sign,
    sp.erf: jsp.erf,
    # Heaviside(g, H0): SymPy's second argument is the value at 0 (1/2 unless the user says
    # otherwise; the ReLU convention sigma'(0) = 0 is Heaviside(g, 0), see nonsmooth.py)
    sp.Heaviside: lambda v, h0=0.5: jnp.where(v > 0, 1.0, jnp.where(v < 0, 0.0, h0)),
    sp.atanh: jnp.arctanh, sp.asinh: jnp.arcsinh,
}


@dataclass(frozen=True)
class _Axis:
    """An axis of evaluation: ``source`` names the arrays bound along it, ``order`` sorts axes
    (particle-like sources first, then creation order)."""

    source: str
    order: tuple
    size: int


@dataclass
class _Arr:
    value: object  # jnp array with one dimension per axis, in ``axes`` order (or a scalar)
    axes: tuple


class _Compiler:
    def __init__(self, bindings, params, tables, chunk_size, priority, densities=None):
        self.bind = dict(bindings)  # Symbol -> (source, column, _Axis, 1-d array)
        self.params = params  # Symbol -> scalar tracer
        self.tables = tables  # measure -> (atoms (N, d), weights (N,), source name)
        self.chunk = chunk_size
        self.priority = priority
        self.densities = densities or {}  # grid measure -> (Grid, density values, grid shape)
        self.cache = {}
        self.counter = itertools.count()
        self.groups = {}

    # -- axes -------------------------------------------------------------------
    def new_axis(self, source, size):
        return _Axis(source, (self.priority.get(source, 99), next(self.counter)), size)

    @staticmethod
    def _sorted(axes):
        return tuple(sorted(set(axes), key=lambda a: a.order))

    def align(self, arr: _Arr, axes):
        if arr.axes == tuple(axes):
            return arr.value
        if not arr.axes:
            return arr.value
        v = arr.value
        if list(arr.axes) != sorted(arr.axes, key=lambda a: a.order):  # pragma: no cover
            raise AssertionError("axes out of order")
        shape = [a.size if a in arr.axes else 1 for a in axes]
        return jnp.reshape(v, shape)

    def combine(self, arrs, op):
        axes = self._sorted([a for r in arrs for a in r.axes])
        return _Arr(op(*[self.align(r, axes) for r in arrs]), axes)

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

    def ev(self, expr) -> _Arr:
        k, axes_of = self.key(expr)
        hit = self.cache.get(k)
        if hit is not None:
            value, idx = hit
            axes = tuple(axes_of[i] for i in idx)
            order = sorted(range(len(axes)), key=lambda j: axes[j].order)
            if order != list(range(len(axes))):
                value = jnp.transpose(value, order)
                axes = tuple(axes[j] for j in order)
            return _Arr(value, axes)
        out = self._ev(expr)
        inv = {ax: i for i, ax in axes_of.items()}
        if all(a in inv for a in out.axes):
            self.cache[k] = (out.value, tuple(inv[a] for a in out.axes))
        return out

    # -- the evaluator ------------------------------------------------------------------
    def _ev(self, e) -> _Arr:
        if e.is_Number or e is sp.pi or e is sp.E:
            return _Arr(float(e), ())
        if isinstance(e, sp.Symbol):
            if e in self.bind:
                _, _, ax, col = self.bind[e]
                return _Arr(col, (ax,))
            if e in self.params:
                return _Arr(self.params[e], ())
            raise CompileError(
                f"the symbol {e} is free in the expression but neither a point coordinate "
                f"nor a declared parameter; pass params=[{e}, ...] to mf.compile"
            )
        if isinstance(e, MeasureIntegral):
            return self.integral(e)
        if isinstance(e, LocalIntegral):
            return self.local_integral(e)
        if isinstance(e, sp.Add):
            return self.add(e)
        if isinstance(e, sp.Mul):
            return self.combine([self.ev(a) for a in e.args], lambda *v: _prod(v))
        if isinstance(e, sp.Pow):
            return self.power(e)
        if isinstance(e, sp.Piecewise):
            return self.piecewise(e)
        if isinstance(e, (sp.Max, sp.Min)):
            op = jnp.maximum if isinstance(e, sp.Max) else jnp.minimum
            return self.combine([self.ev(a) for a in e.args], lambda *v: _fold(op, v))
        if isinstance(e, AppliedUndef) and self._grid_of(e) is not None:
            return self.density(e, ())
        if isinstance(e, sp.Derivative) and isinstance(e.expr, AppliedUndef) and self._grid_of(e.expr):
            return self.density(e.expr, e.variable_count)
        if isinstance(e, AppliedUndef):
            raise CompileError(
                f"{e} is an undefined function (a density or an unknown); substitute a "
                f"concrete expression before compiling"
            )
        for f, jf in _FUNCS.items():
            if isinstance(e, f):
                return self.combine([self.ev(a) for a in e.args], jf)
        if isinstance(e, (sp.Derivative, sp.Subs)):
            raise CompileError(f"unevaluated derivative {e}; call .doit() first")
        if isinstance(e, sp.core.relational.Relational):
            ops = {sp.StrictLessThan: jnp.less, sp.LessThan: jnp.less_equal,
                   sp.StrictGreaterThan: jnp.greater, sp.GreaterThan: jnp.greater_equal}
            return self.combine([self.ev(a) for a in e.args], ops[type(e)])
        raise CompileError(f"cannot compile {type(e).__name__} {sp.sstr(e)}")

    def power(self, e):
        b, x = e.args
        base = self.ev(b)
        if x.is_Integer:
            n = int(x)
            if n == 2:
                return _Arr(base.value * base.value, base.axes)
            if n == -1:
                return _Arr(1.0 / base.value, base.axes)
            return _Arr(jax.lax.integer_pow(jnp.asarray(base.value), n) if base.axes else base.value**n, base.axes)
        if x == sp.S.Half:
            return _Arr(jnp.sqrt(base.value), base.axes)
        if x == -sp.S.Half:
            return _Arr(jax.lax.rsqrt(jnp.asarray(base.value)), base.axes)
        return self.combine([base, self.ev(x)], jnp.power)

    def piecewise(self, e):
        out = None
        for val, cond in reversed(e.args):
            v = self.ev(val)
            if cond == sp.true:
                out = v
                continue
            c = self.ev(cond)
            out = self.combine([c, v, out], jnp.where)
        return out

    def axes_of(self, expr):
        return {self.bind[s][2] for s in expr.free_symbols if s in self.bind}

    def add(self, e):
        """Sum, with bilinear terms over two single axes turned into one matrix product."""
        groups, rest = {}, []
        for t in e.args:
            split = self._bilinear(t)
            if split is None:
                rest.append(t)
            else:
                groups.setdefault(split[0], []).append(split[1])
        parts = [self.ev(t) for t in rest]
        for (A, B), pairs in groups.items():
            if len(pairs) < 3:
                parts += [self.ev(sp.Mul(*p)) for p in pairs]
                continue
            left = jnp.stack([jnp.broadcast_to(self.align(self.ev(p[0]), (A,)), (A.size,)) for p in pairs], axis=-1)
            right = jnp.stack([jnp.broadcast_to(self.align(self.ev(p[1]), (B,)), (B.size,)) for p in pairs], axis=-1)
            prod = left @ right.T  # (A, B)
            axes = (A, B) if A.order < B.order else (B, A)
            parts.append(_Arr(prod if axes == (A, B) else prod.T, axes))
        return self.combine(parts, lambda *v: _sum(v))

    def _bilinear(self, term):
        """``((A, B), (u, v))`` when ``term = u·v`` with ``u`` on axis A only and ``v`` on B only."""
        by_axis = {}
        for f in sp.Mul.make_args(term):
            axes = self.axes_of(f)
            if len(axes) > 1:
                return None
            ax = next(iter(axes)) if axes else None
            by_axis.setdefault(ax, []).append(f)
        const = by_axis.pop(None, [])
        if len(by_axis) != 2:
            return None
        (A, fa), (B, fb) = sorted(by_axis.items(), key=lambda kv: kv[0].order)
        return (A, B), (sp.Mul(*const, *fa), sp.Mul(*fb))

    # -- integrals ------------------------------------------------------------------------
    def integral(self, e: MeasureIntegral) -> _Arr:
        M = e.measure
        if M not in self.tables:
            raise CompileError(
                f"{sp.sstr(e)} integrates against {M.name!r}, which is not among the compiled "
                f"measures; pass measures=[..., {M.name}]"
            )
        atoms, weights, source = self.tables[M]
        n = atoms.shape[0]
        # Data integrals are not chunked: a data block would be a new trace for every block of
        # points, so point-independent values such as f_mu(x) could not be shared across
        # point blocks and would be recomputed for each (measured 50x slower at M = 2 chunks)
        if self.chunk and n > self.chunk and not isinstance(M, Data):
            return self.chunked(e, atoms, weights, source)
        ax = self.new_axis(source, n)
        inner = self.child({v: (source, k, ax, atoms[:, k]) for k, v in enumerate(e.over)})
        return inner.contract(e, ax, weights)

    # -- densities on a grid -------------------------------------------------------------
    def _grid_of(self, f):
        for M in self.densities:
            if f.func == M.density:
                return M
        return None

    def density(self, f, counts) -> _Arr:
        """The density (or a finite-difference derivative of it) at grid-bound arguments."""
        M = self._grid_of(f)
        grid, values, _ = self.densities[M]
        bound = [self.bind.get(a) for a in f.args]
        ax = bound[0][2] if bound[0] else None
        if any(b is None or b[0] != self.tables[M][2] or b[1] != j or b[2] != ax for j, b in enumerate(bound)):
            raise CompileError(
                f"{f} is the density of {M.name!r}, which lives on a grid: it can only be "
                f"evaluated at the grid's cells (inside an integral against {M.name}, in a "
                f"local functional of it, or with points_from={M.name})"
            )
        v = values
        for var, n in counts:
            j = f.args.index(var) if var in f.args else None
            if j is None:
                raise CompileError(f"cannot differentiate {f} by {var}, which is not one of its arguments")
            for _ in range(int(n)):
                v = gradient(v, grid, j)
        return _Arr(jnp.reshape(v, (grid.size,)), (ax,))

    def local_integral(self, e) -> _Arr:
        """Midpoint rule over the grid's cells: Σ_j L(x_j, m_j, ∇_h m_j) |C|."""
        M = e.measure
        if M not in self.densities:
            raise CompileError(
                f"{sp.sstr(e)} is a local functional of the density of {M.name!r}; pass "
                f"grids={{{M.name}: Grid(...)}} to mf.compile to evaluate it on a grid (an "
                f"empirical measure has no density)"
            )
        grid = self.densities[M][0]
        atoms = self.tables[M][0]
        src = self.tables[M][2]
        ax = self.new_axis(src, grid.size)
        inner = self.child({v: (src, k, ax, atoms[:, k]) for k, v in enumerate(e.over)})
        g = inner.ev(e.integrand)
        if ax not in g.axes:
            return _Arr(g.value * grid.vol * grid.size, g.axes)
        res = jnp.sum(g.value, axis=g.axes.index(ax)) * grid.vol
        return _Arr(res, tuple(a for a in g.axes if a != ax))

    def child(self, extra):
        c = _Compiler({**self.bind, **extra}, self.params, self.tables, self.chunk, self.priority, self.densities)
        c.cache, c.counter, c.groups = self.cache, self.counter, self.groups
        return c

    def contract(self, e: MeasureIntegral, ax: _Axis, weights) -> _Arr:
        """Σ_a w_a g_a along ``ax``; integrals sharing G are batched into one matrix product."""
        c, G = _split(e.integrand, e.over)
        gkey = (e.measure, e.over, G)
        members = self.groups.get(gkey, [])
        if len(members) > 1:
            g = self.ev(G)
            cs = jnp.stack(
                [jnp.broadcast_to(self.align(self.ev(ck), (ax,)), (ax.size,)) for ck in members], -1
            )
            wc = weights[:, None] * cs  # (A, K)
            other = tuple(a for a in g.axes if a != ax)
            if ax in g.axes:  # contract in place: no transpose of the big array
                res = jnp.tensordot(g.value, wc, axes=([g.axes.index(ax)], [0]))  # (..., K)
            else:
                res = g.value[..., None] * jnp.sum(wc, 0) if other else g.value * jnp.sum(wc, 0)
            for k, ck in enumerate(members):
                atom = MeasureIntegral(ck * G, e.measure, e.over) if ck != 1 else MeasureIntegral(G, e.measure, e.over)
                key, axes_of = self.parent_key(atom, ax)
                inv = {a: i for i, a in axes_of.items()}
                self.cache[key] = (res[..., k], tuple(inv[a] for a in other))
            return _Arr(res[..., members.index(c)], other)
        # ∫ c G dμ = Σ_a (w_a c_a) G_a: the factor on the atoms only multiplies the weights
        wc = weights * jnp.broadcast_to(self.align(self.ev(c), (ax,)), (ax.size,)) if c != 1 else weights
        g = self.ev(G)
        if ax not in g.axes:
            return _Arr(g.value * jnp.sum(wc), g.axes)
        res = jnp.tensordot(g.value, wc, axes=([g.axes.index(ax)], [0]))
        return _Arr(res, tuple(a for a in g.axes if a != ax))

    def parent_key(self, atom, ax):
        """The cache key of ``atom`` in the enclosing scope (its bound variables unbound)."""
        saved = {v: self.bind.pop(v) for v in atom.over if v in self.bind}
        try:
            return self.key(atom)
        finally:
            self.bind.update(saved)

    def chunked(self, e, atoms, weights, source) -> _Arr:
        """Σ over blocks of ``chunk`` atoms in a ``lax.scan`` (padding has weight 0)."""
        n, d = atoms.shape
        size = self.chunk
        nb = -(-n // size)
        pad = nb * size - n
        A = jnp.concatenate([atoms, jnp.broadcast_to(atoms[:1], (pad, d))]) if pad else atoms
        W = jnp.concatenate([weights, jnp.zeros((pad,), weights.dtype)]) if pad else weights
        A, W = A.reshape(nb, size, d), W.reshape(nb, size)
        # the shape of the result: evaluate on the first block (traced once, discarded by XLA)
        ax0 = self.new_axis(source + "#block", size)
        probe = self._block(e, A[0], W[0], ax0)

        def body(acc, blk):
            a, w = blk
            ax = self.new_axis(source + "#block", size)
            r = self._block(e, a, w, ax)
            return acc + self.align(r, probe.axes), None

        total, _ = jax.lax.scan(body, jnp.zeros_like(jnp.asarray(self.align(probe, probe.axes))), (A, W))
        return _Arr(total, probe.axes)

    def _block(self, e, a, w, ax):
        inner = _Compiler(
            {**self.bind, **{v: (f"{ax.source}{id(ax)}", k, ax, a[:, k]) for k, v in enumerate(e.over)}},
            self.params, self.tables, None, self.priority,
        )
        inner.cache = dict(self.cache)  # read outer values; block-local values stay local
        inner.counter, inner.groups = self.counter, self.groups
        return inner.contract(e, ax, w)


def _prod(vals):
    out = vals[0]
    for v in vals[1:]:
        out = out * v
    return out


def _sum(vals):
    out = vals[0]
    for v in vals[1:]:
        out = out + v
    return out


def _fold(op, vals):
    out = vals[0]
    for v in vals[1:]:
        out = op(out, v)
    return out


def _split(integrand, over):
    """``(c, G)``: the factors of the integrand that depend on the integration variables only
    (``c``, evaluated on the atoms alone, e.g. ``x_k (f_mu(x) - t)``) and the rest (``G``)."""
    over = set(over)
    c, G = [], []
    for f in sp.Mul.make_args(integrand):
        fs = f.free_symbols
        (c if fs and fs <= over else G).append(f)
    return sp.Mul(*c), sp.Mul(*G)


def _groups(exprs):
    """Integrals that share the same G (and measure, variables), for batching."""
    found = {}
    for e in exprs:
        for A in e.atoms(MeasureIntegral):
            c, G = _split(A.integrand, A.over)
            members = found.setdefault((A.measure, A.over, G), [])
            if c not in members:
                members.append(c)
    return {k: v for k, v in found.items() if len(v) > 1}


def _at_points(comp, exprs, at, pts, src, single):
    ax = comp.new_axis(src, pts.shape[0])
    comp.bind = {s: (src, j, ax, pts[:, j]) for j, s in enumerate(at)}
    return _outputs(comp, exprs, ax, single)


def _outputs(comp, exprs, ax, single):
    outs = []
    target = (ax,) if ax is not None else ()
    for e in exprs:
        r = comp.ev(e)
        if any(a not in target for a in r.axes):  # pragma: no cover
            raise CompileError(f"internal: result has stray axes {r.axes}")
        shape = (ax.size,) if ax is not None else ()
        outs.append(jnp.broadcast_to(comp.align(r, target) if r.axes else r.value, shape))
    return outs[0] if single else jnp.stack(outs, axis=-1)


_POINTS = "@points"  # the source of the points argument (no measure source starts with @)


def _expression(e):
    """A SymPy expression to compile; strings are refused (parsing one runs ``eval``)."""
    if isinstance(e, (str, bytes)):
        raise UnsafeInputError(
            f"mf.compile got the string {e!r}; it never parses strings (that runs eval). "
            "Pass a SymPy expression"
        )
    if isinstance(e, (int, float)) and not isinstance(e, bool):
        return sp.Float(e) if isinstance(e, float) else sp.Integer(e)
    if not isinstance(e, sp.Expr):
        raise CompileError(f"mf.compile needs SymPy expressions, got {type(e).__name__} {e!r}")
    return check_expression(e, "the compiled expression")


def compile(exprs, measures, at=None, params=(), points_from=None, chunk_size=None, jit=True,
            grids=None):
    r"""Compile SymPy expressions with integrals into one JAX function on particles or grids.

    Parameters
    ----------
    exprs : expression, list of expressions, or Matrix
    measures : list of Measure/Data
        Their atoms and weights are the function's first arguments, in this order.
    at : point (tuple of symbols), optional
        The expressions are evaluated at each row of ``points`` (shape ``(P, len(at))``).
    params : symbols passed as scalar arguments after the arrays
    points_from : Measure, optional
        Evaluate at the atoms of this measure (no ``points`` argument): e.g. the Lions
        derivative at the particles themselves.  Shares all work with the integrals.
    chunk_size : int, optional
        Accumulate integrals over more atoms of a :class:`Measure` than this block by block,
        and evaluate more points than this block by block (``lax.map``), so that no
        temporary is larger than ``chunk_size`` × (the number of data points);
        point-independent values (such as :math:`f_\mu(x)` on the data) are computed once.
        Integrals against :class:`Data` are not chunked.
    jit : bool
        Return ``jax.jit`` of the function (default).
    grids : dict ``{Measure: Grid}``, optional
        The **grid backend** for these measures: such a measure is passed as one array, its
        density's cell averages (the grid's shape), instead of atoms and weights.  Integrals
        against it are midpoint sums over the cells (order :math:`h^2`), its density
        :math:`m(y)` and derivatives (second-order finite differences) may appear in local
        functionals and, with ``points_from`` it, at the point; entropy and
        :math:`\int m^2` terms therefore compile.  With ``points_from`` a grid measure the
        result has the grid's shape (``+ (K,)``).

    Returns
    -------
    ``fn(*[atoms_i, weights_i (or density values) for each measure], [points], *params)``
    returning an array of shape ``(P,)`` / ``(P, K)`` with ``at``, scalar / ``(K,)``
    without.
    """
    single = not isinstance(exprs, (list, tuple, sp.MatrixBase))
    exprs = [exprs] if single else list(exprs)
    exprs = [_expression(e) for e in exprs]
    # constant factors out of integrals (no splitting of sums: one contraction per integral)
    exprs = [canonical(e.doit() if e.has(sp.Derivative) else e, rename=False, split_sums=False) for e in exprs]
    if isinstance(measures, (str, bytes)) or not hasattr(measures, "__iter__"):
        raise CompileError(f"measures= must be a list of Measure/Data objects, got {measures!r}")
    measures = [check_measure(m) for m in measures]
    if len(set(measures)) != len(measures):
        raise CompileError(f"measures= lists a measure twice: {measures}")
    # arrays are keyed by the measure object (never by its name): a Measure and a Data
    # named alike, or a measure named like a reserved source, stay apart
    source = {m: f"{i}:{m.name}" for i, m in enumerate(measures)}
    if at is not None:
        at = tuple(at)
    if points_from is not None and (at is None or points_from not in measures):
        raise CompileError("points_from needs at= and must be one of the compiled measures")
    params = tuple(params)
    grids = dict(grids or {})
    for m, g in grids.items():
        if m not in measures or not isinstance(g, Grid):
            raise CompileError(f"grids= maps compiled measures to Grid objects; got {m!r}: {g!r}")
        if g.dim != m.dim:
            raise CompileError(f"the grid for {m.name!r} has {g.dim} axes; the measure has {m.dim} variables")
    if grids and chunk_size:
        raise CompileError("chunk_size is for particles; a grid's cells are evaluated at once")
    groups = _groups(exprs)
    named = {}
    for m in grids:
        if named.setdefault(m.name, m) != m:
            raise MeasureNameClashError(
                f"two grid measures are both named {m.name!r}: their densities would be one "
                "SymPy function; give each its own name"
            )
    if grids:
        check_names(exprs, list(measures))  # a density is the function named like its measure
    priority = {source[m]: i for i, m in enumerate(measures)}
    priority[_POINTS] = -1

    centres = {m: jnp.asarray(g.centres) for m, g in grids.items()}

    def fn(*args):
        k = sum(1 if m in grids else 2 for m in measures)
        if len(args) < k:
            raise CompileError(
                f"expected {k} measure arrays (atoms and weights per measure, density values "
                f"per grid measure), got {len(args)}"
            )
        tables, densities, args = {}, {}, list(args)
        for m in measures:
            if m in grids:
                g = grids[m]
                vals = jnp.asarray(args.pop(0))
                if vals.shape != g.shape:
                    raise CompileError(f"density values of {m.name!r} must have the grid's shape {g.shape}, got {vals.shape}")
                densities[m] = (g, vals, g.shape)
                tables[m] = (centres[m].astype(vals.dtype), jnp.reshape(vals, (g.size,)) * g.vol, source[m])
                continue
            atoms = jnp.asarray(args.pop(0))
            if atoms.ndim == 1 and m.dim == 1:
                atoms = atoms[:, None]
            if atoms.ndim != 2 or atoms.shape[1] != m.dim:
                raise CompileError(f"atoms of {m.name!r} must have shape (N, {m.dim}), got {atoms.shape}")
            tables[m] = (atoms, jnp.asarray(args.pop(0)), source[m])
        rest = args
        comp = _Compiler({}, {}, tables, chunk_size, priority, densities)
        comp.groups = groups
        pts = src = None
        if at is not None:
            if points_from is not None:
                pts, src = tables[points_from][0], source[points_from]
            else:
                pts = jnp.asarray(rest.pop(0))
                pts = pts[:, None] if pts.ndim == 1 else pts
                src = _POINTS
        if len(rest) != len(params):
            raise CompileError(f"expected {len(params)} parameter value(s) {params}, got {len(rest)}")
        comp.params = dict(zip(params, rest))
        if pts is None:
            return _outputs(comp, exprs, None, single)
        if points_from in grids:
            out = _at_points(comp, exprs, at, pts, src, single)
            return jnp.reshape(out, grids[points_from].shape + out.shape[1:])
        if not chunk_size or pts.shape[0] <= chunk_size:
            return _at_points(comp, exprs, at, pts, src, single)
        # Blocks of points: values that do not depend on the point (f_mu(x), ...) are
        # computed once here and shared; lax.map evaluates the rest block by block.
        n, d = pts.shape
        nb = -(-n // chunk_size)
        padded = jnp.concatenate([pts, jnp.broadcast_to(pts[:1], (nb * chunk_size - n, d))])
        blocks = padded.reshape(nb, chunk_size, d)
        _at_points(comp, exprs, at, blocks[0], src + "#pt0", single)  # fills the shared cache
        shared = dict(comp.cache)

        def one(block):
            c = comp.child({})
            c.cache = dict(shared)
            return _at_points(c, exprs, at, block, src + "#ptmap", single)

        out = jax.lax.map(one, blocks)
        return out.reshape((nb * chunk_size,) + out.shape[2:])[:n]

    return jax.jit(fn) if jit else fn
