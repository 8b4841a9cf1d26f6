r"""Compile derived expressions to jitted JAX functions on particles or grids.

``mf.compile(exprs, measures=[mu, nu], at=y)`` turns SymPy expressions containing
integrals against ``mu`` (an empirical measure: atoms ``(N, d)`` and weights ``(N,)``)
and ``nu`` (data points and weights) into one jitted function

``fn(mu_atoms, mu_weights, nu_atoms, nu_weights[, points][, *params]) -> array``

returning the expressions at every point: shape ``(P,)`` for one expression, ``(P, K)``
for ``K`` of them (``(K,)`` without ``at``).

The weights are used as given: ``1/N`` or any probability weights for a
:class:`~mfderive.Measure`, weights of any sign and total mass for a signed measure
(``mf.Measure(..., signed=True)``, e.g. :math:`\mu = \sum_i\alpha_i\delta_{w_i}` of a
ReLU network) or a :class:`~mfderive.Data` measure.  Inside ``jit`` their values cannot be
checked (the simulators check them at ``init``); their shape ``(N,)`` is.

This module checks the arguments, lays out the measures' arrays (atoms and weights, or a
grid's cell centres and :math:`m_j|C|`), binds the point coordinates to a point axis and
evaluates each expression with the evaluator that has the capabilities needed
(:class:`~.contract.MeasureEvaluator`, or :class:`~.densities.GridEvaluator` with
``grids``).  With ``chunk_size``, more points than that are evaluated block by block in a
``lax.map``, after one pass that computes everything that does not depend on the point
(such as :math:`f_\mu(x)` on the data) once for all blocks.  The blocks are *strided*:
:math:`n` points make :math:`n_b = \lceil n/\text{chunk}\rceil` blocks of
:math:`\lceil n/n_b\rceil` points, block :math:`j` holding rows :math:`j, n_b + j,
2n_b + j, \dots` (padded with copies of row 0, whose values are dropped), and the
outputs are put back in the original order.  Points split over devices in row blocks (the
simulators' ``sharding=``) thus split every block alike, and each device evaluates only
its own rows; contiguous blocks would gather the points onto every device.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import sympy as sp

from ..derive.canonical import canonical
from ..derive.integrals import LocalIntegral
from ..derive.measures import SignedMeasure, check_expression, check_measure, check_names
from ..errors import CompileError, MeasureNameClashError, UnsafeInputError
from ..grids import Grid
from .axes import align
from .contract import MeasureEvaluator, sibling_groups
from .linearity import merge_integrals
from .densities import GridEvaluator

__all__ = ["compile", "CompileError"]


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
        outs.append(jnp.broadcast_to(align(r, target) if r.axes else r.value, shape))
    return outs[0] if single else jnp.stack(outs, axis=-1)


_POINTS = "@points"  # the source of the points argument (no measure source starts with @)
_FIRST_BLOCK, _BLOCKS = "#pt0", "#ptmap"  # sources of the blocks of points (chunk_size)


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


def _no_entropy_of_signed(exprs):
    """Refuse a log of the density of a signed measure (its entropy): defined for
    probability measures only."""
    for e in exprs:
        for A in e.atoms(LocalIntegral):
            M = A.measure
            if isinstance(M, SignedMeasure) and any(
                lg.has(M.density) for lg in A.integrand.atoms(sp.log)
            ):
                raise CompileError(
                    f"{sp.sstr(A)} takes the log of the density of the signed measure "
                    f"{M.name!r}: the entropy and relative entropy are defined for probability "
                    f"measures only"
                )


def compile(exprs, measures, at=None, params=(), points_from=None, chunk_size=None, jit=True,
            grids=None):
    r"""Compile SymPy expressions with integrals into one JAX function on particles or grids.

    Parameters
    ----------
    exprs : expression, list of expressions, or Matrix
    measures : list of Measure/Data
        Their atoms and weights are the function's first arguments, in this order.  The
        weights of a signed measure (``mf.Measure(..., signed=True)``) may have any sign
        and total mass; integrals against it are :math:`\sum_a w_a g(\xi_a)` with no
        unit-mass simplification.
    at : point (tuple of symbols), optional
        The expressions are evaluated at each row of ``points`` (shape ``(P, len(at))``).
    params : symbols passed as scalar arguments after the arrays
    points_from : Measure, optional
        Evaluate at the atoms of this measure (no ``points`` argument): e.g. the Lions
        derivative at the particles themselves.  Shares all work with the integrals.
    chunk_size : int, optional
        Accumulate integrals over more atoms of a :class:`Measure` than this block by block,
        and evaluate more points than this block by block (``lax.map`` over strided
        blocks: block :math:`j` holds points :math:`j, n_b + j, \dots`, so that points
        split over devices stay split), so that no temporary is larger than
        ``chunk_size`` × (the number of data points);
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

    Examples
    --------
    :math:`\int w^2\,d\mu` and the Lions derivative of :math:`(\int w^2 d\mu)^2/2`,
    :math:`D_\mu F(\mu, y) = 2y\int w^2 d\mu`, at the atoms of
    :math:`\mu = \frac12(\delta_1 + \delta_3)`:

    >>> import numpy as np, sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); mu = mf.Measure("mu", (w,)); y = mu.point("y")
    >>> atoms, weights = np.array([1.0, 3.0]), np.array([0.5, 0.5])
    >>> float(mf.compile(mf.integral(w**2, mu), [mu])(atoms, weights))
    5.0
    >>> D = mf.lions_derivative(mf.integral(w**2, mu) ** 2 / 2, mu, at=y)
    >>> mf.compile(D, [mu], at=y, points_from=mu)(atoms, weights).ravel().tolist()
    [10.0, 30.0]

    A signed measure :math:`\nu = 2\delta_1 - \delta_3` (mass 1, but not a probability
    measure) in a ReLU output :math:`\int\max(0, w x)\,\nu(dw)` at :math:`x = 1`:

    >>> x = sp.Symbol("x", real=True); nu = mf.Measure("nu_cmp", (w,), signed=True)
    >>> f = mf.compile(mf.integral(sp.Max(0, w * x), nu), [nu], at=(x,))
    >>> f(atoms, np.array([2.0, -1.0]), np.array([1.0])).tolist()
    [-1.0]
    """
    single = not isinstance(exprs, (list, tuple, sp.MatrixBase))
    exprs = [exprs] if single else list(exprs)
    exprs = [_expression(e) for e in exprs]
    # constant factors out of integrals (no splitting of sums: one contraction per integral)
    exprs = [canonical(e.doit() if e.has(sp.Derivative) else e, rename=False, split_sums=False) for e in exprs]
    # n_k C ∫ c_k G dμ summed into C ∫ (Σ n_k c_k) G dμ: one column per G, not per term
    exprs = [merge_integrals(e) for e in exprs]
    _no_entropy_of_signed(exprs)
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
    groups = sibling_groups(exprs)
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
    # blocks of points (chunk_size) lead like the points, so pair arrays are (points, atoms)
    # and their contractions run along the last axis (3x faster on the CPU than the first)
    points_src = source[points_from] if points_from is not None else _POINTS
    priority[points_src + _FIRST_BLOCK] = priority[points_src + _BLOCKS] = -1

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
            weights = jnp.asarray(args.pop(0))
            if weights.shape != (atoms.shape[0],):
                raise CompileError(
                    f"the weights of {m.name!r} must have shape ({atoms.shape[0]},), one per "
                    f"atom, got {weights.shape}"
                )
            tables[m] = (atoms, weights, source[m])
        rest = args
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
        values = dict(zip(params, rest))
        counter = itertools.count()
        if grids:
            comp = GridEvaluator({}, values, priority, counter, tables, chunk_size, groups, densities)
        else:
            comp = MeasureEvaluator({}, values, priority, counter, tables, chunk_size, groups)
        if pts is None:
            return _outputs(comp, exprs, None, single)
        if points_from in grids:
            out = _at_points(comp, exprs, at, pts, src, single)
            return jnp.reshape(out, grids[points_from].shape + out.shape[1:])
        if not chunk_size or pts.shape[0] <= chunk_size:
            return _at_points(comp, exprs, at, pts, src, single)
        # Blocks of points: values that do not depend on the point (f_mu(x), ...) are
        # computed once here and shared; lax.map evaluates the rest block by block.
        # The blocks are strided: nb blocks of size <= chunk_size, block j the rows
        # j, nb + j, 2 nb + j, ... (a (size, nb, d) reshape, block axis moved to the front).
        # Points split over devices in row blocks (sharding=) then split every block alike,
        # so each device evaluates its own rows; contiguous blocks (nb, size, d) would
        # gather the points and every device would evaluate every block.
        n, d = pts.shape
        nb = -(-n // chunk_size)
        size = -(-n // nb)  # balanced: fewer than nb pad rows, copies of row 0, cut below
        pad = nb * size - n
        padded = jnp.concatenate([pts, jnp.broadcast_to(pts[:1], (pad, d))]) if pad else pts
        blocks = jnp.swapaxes(padded.reshape(size, nb, d), 0, 1)  # (nb, size, d)
        _at_points(comp, exprs, at, blocks[0], src + _FIRST_BLOCK, single)  # fills the shared cache
        shared = dict(comp.cache)

        def one(block):
            c = comp.child({})
            c.cache = dict(shared)
            return _at_points(c, exprs, at, block, src + _BLOCKS, single)

        out = jnp.swapaxes(jax.lax.map(one, blocks), 0, 1)  # (size, nb, ...): original order
        return out.reshape((nb * size,) + out.shape[2:])[:n]

    return jax.jit(fn) if jit else fn
