r"""Integrals against measures: contraction of an axis with the weights, in BLAS-sized pieces.

An empirical measure :math:`\mu = \sum_a w_a\delta_{\xi_a}` (atoms ``(N, d)``, weights
``(N,)``) turns :math:`\int g\,d\mu` into :math:`\sum_a w_a\,g(\xi_a)`: the integration
variables are bound to the columns of the atoms on a new axis, the integrand is evaluated
on it and the axis is contracted with the weights (:meth:`MeasureEvaluator.contract`).

* **Factor on the atoms.**  The integrand splits as :math:`c(\xi)\,G(\xi, \cdot)`
  (:func:`split`); :math:`c` only rescales the weights, :math:`\sum_a (w_a c_a) G_a`.
* **Sibling integrals.**  Integrals :math:`\int c_k G\,d\nu` sharing :math:`G` (the
  components of a Lions derivative, :func:`sibling_groups`) are one matrix product of
  :math:`G` with the stacked :math:`w\,c_k`.
* **Bilinear sums.**  A sum :math:`\sum_k u_k(x)\,v_k(\xi)` of three or more products of
  factors on two different axes is one matrix product (:meth:`MeasureEvaluator._ev_Add`),
  e.g. :math:`a\cdot x` inside :math:`\tanh(a\cdot x + b)`.
* **Chunking.**  With ``chunk``, an integral over more atoms of a :class:`Measure` than
  that is accumulated block by block in a ``lax.scan`` (:meth:`MeasureEvaluator.chunked`),
  so that no N×N or N×M temporary exists at once.  Integrals against :class:`Data` stay
  whole, so :math:`f_\mu(x)` on the data is computed once per evaluation.
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
import sympy as sp

from ..derive.integrals import MeasureIntegral
from ..derive.measures import Data
from ..errors import CompileError
from .axes import Arr, align, combine, fold
from .evaluator import Evaluator

__all__ = ["MeasureEvaluator", "sibling_groups", "split"]


def split(integrand, over):
    """``(c, G)``: the factors of the integrand that depend on the integration variables only
    (``c``, evaluated on the atoms alone, e.g. ``x_k (f_mu(x) - t)``) and the rest (``G``)."""
    over = set(over)
    c, G = [], []
    for f in sp.Mul.make_args(integrand):
        fs = f.free_symbols
        (c if fs and fs <= over else G).append(f)
    return sp.Mul(*c), sp.Mul(*G)


def sibling_groups(exprs):
    """Integrals that share the same G (and measure, variables), for batching."""
    found = {}
    for e in exprs:
        for A in e.atoms(MeasureIntegral):
            c, G = split(A.integrand, A.over)
            members = found.setdefault((A.measure, A.over, G), [])
            if c not in members:
                members.append(c)
    return {k: v for k, v in found.items() if len(v) > 1}


class MeasureEvaluator(Evaluator):
    """:class:`~.evaluator.Evaluator` with integrals against empirical measures.

    ``tables`` maps a measure to ``(atoms (N, d), weights (N,), source name)``; ``chunk`` is
    the largest block of atoms contracted at once (``None``: all); ``groups`` are the
    :func:`sibling_groups` of the compiled expressions.
    """

    def __init__(self, bindings, params, priority, counter, tables, chunk, groups):
        super().__init__(bindings, params, priority, counter)
        self.tables = tables
        self.chunk = chunk
        self.groups = groups

    # -- sums: bilinear terms become one matrix product -----------------------------------
    def axes_of(self, expr):
        return {self.bind[s][2] for s in expr.free_symbols if s in self.bind}

    def _ev_Add(self, e):
        """Sum, with bilinear terms over two single axes turned into one matrix product."""
        groups, rest = {}, []
        for t in e.args:
            pair = self._bilinear(t)
            if pair is None:
                rest.append(t)
            else:
                groups.setdefault(pair[0], []).append(pair[1])
        parts = [self.ev(t) for t in rest]
        for (A, B), pairs in groups.items():
            if len(pairs) < 3:
                parts += [self.ev(sp.Mul(*p)) for p in pairs]
                continue
            left = jnp.stack([jnp.broadcast_to(align(self.ev(p[0]), (A,)), (A.size,)) for p in pairs], axis=-1)
            right = jnp.stack([jnp.broadcast_to(align(self.ev(p[1]), (B,)), (B.size,)) for p in pairs], axis=-1)
            prod = left @ right.T  # (A, B)
            axes = (A, B) if A.order < B.order else (B, A)
            parts.append(Arr(prod if axes == (A, B) else prod.T, axes))
        return combine(parts, lambda *v: fold(operator.add, v))

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
    def _ev_MeasureIntegral(self, e: MeasureIntegral) -> Arr:
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

    def _ev_LocalIntegral(self, e):
        raise CompileError(
            f"{sp.sstr(e)} is a local functional of the density of {e.measure.name!r}; pass "
            f"grids={{{e.measure.name}: Grid(...)}} to mf.compile to evaluate it on a grid (an "
            f"empirical measure has no density)"
        )

    def contract(self, e: MeasureIntegral, ax, weights) -> Arr:
        """Σ_a w_a g_a along ``ax``; integrals sharing G are batched into one matrix product."""
        c, G = split(e.integrand, e.over)
        gkey = (e.measure, e.over, G)
        members = self.groups.get(gkey, [])
        if len(members) > 1:
            g = self.ev(G)
            cs = jnp.stack(
                [jnp.broadcast_to(align(self.ev(ck), (ax,)), (ax.size,)) for ck in members], -1
            )
            wc = weights[:, None] * cs  # (A, K)
            other = tuple(a for a in g.axes if a != ax)
            if ax in g.axes:  # contract in place: no transpose of the big array
                res = jnp.tensordot(g.value, wc, axes=([g.axes.index(ax)], [0]))  # (..., K)
            else:
                res = g.value[..., None] * jnp.sum(wc, 0) if other else g.value * jnp.sum(wc, 0)
            for k, ck in enumerate(members):
                atom = MeasureIntegral(ck * G, e.measure, e.over) if ck != 1 else MeasureIntegral(G, e.measure, e.over)
                key, axes_of = self.parent_key(atom)
                inv = {a: i for i, a in axes_of.items()}
                self.cache[key] = (res[..., k], tuple(inv[a] for a in other))
            return Arr(res[..., members.index(c)], other)
        # ∫ c G dμ = Σ_a (w_a c_a) G_a: the factor on the atoms only multiplies the weights
        wc = weights * jnp.broadcast_to(align(self.ev(c), (ax,)), (ax.size,)) if c != 1 else weights
        g = self.ev(G)
        if ax not in g.axes:
            return Arr(g.value * jnp.sum(wc), g.axes)
        res = jnp.tensordot(g.value, wc, axes=([g.axes.index(ax)], [0]))
        return Arr(res, tuple(a for a in g.axes if a != ax))

    def parent_key(self, atom):
        """The cache key of ``atom`` in the enclosing scope (its bound variables unbound)."""
        saved = {v: self.bind.pop(v) for v in atom.over if v in self.bind}
        try:
            return self.key(atom)
        finally:
            self.bind.update(saved)

    # -- chunking -------------------------------------------------------------------------
    def chunked(self, e, atoms, weights, source) -> Arr:
        """Σ over strided blocks of ``chunk`` atoms in a ``lax.scan`` (padding has weight 0)."""
        n, d = atoms.shape
        size = self.chunk
        nb = -(-n // size)
        pad = nb * size - n
        A = jnp.concatenate([atoms, jnp.broadcast_to(atoms[:1], (pad, d))]) if pad else atoms
        W = jnp.concatenate([weights, jnp.zeros((pad,), weights.dtype)]) if pad else weights
        # strided blocks (block j: atoms j, nb + j, ...): with the atoms split over devices in
        # row blocks, every block is split the same way, so no device gathers the atoms (a sum
        # does not depend on the order; the zero-weight padding still adds nothing)
        A, W = jnp.swapaxes(A.reshape(size, nb, d), 0, 1), W.reshape(size, nb).T
        # the shape of the result: evaluate on the first block (traced once, discarded by XLA)
        ax0 = self.new_axis(source + "#block", size)
        probe = self._block(e, A[0], W[0], ax0)

        def body(acc, blk):
            a, w = blk
            ax = self.new_axis(source + "#block", size)
            r = self._block(e, a, w, ax)
            return acc + align(r, probe.axes), None

        total, _ = jax.lax.scan(body, jnp.zeros_like(jnp.asarray(align(probe, probe.axes))), (A, W))
        return Arr(total, probe.axes)

    def _block(self, e, a, w, ax):
        inner = self.child({v: (f"{ax.source}{id(ax)}", k, ax, a[:, k]) for k, v in enumerate(e.over)})
        inner.chunk = None
        inner.cache = dict(self.cache)  # read outer values; block-local values stay local
        return inner.contract(e, ax, w)
