r"""Densities on grids: the measure is its cell averages, local functionals are midpoint sums.

On a :class:`~mfderive.grids.Grid` a measure is :math:`\sum_j m_j|C|\,\delta_{x_j}` (cell
centres :math:`x_j`, cell averages :math:`m_j`): integrals against it are the midpoint rule,
contracted like any measure (:class:`~.contract.MeasureEvaluator`).  What a grid adds is
the density itself:

* :math:`m(y)` and its derivatives at the cells, the latter by second-order finite
  differences (:func:`~mfderive.grids.gradient`), wherever ``y`` is bound to the cell
  centres (inside an integral against the measure, a local functional, or the points when
  ``points_from`` is the grid measure);
* local functionals :math:`\int L(x, m, \nabla m)\,dx \approx \sum_j L(x_j, m_j,
  \nabla_h m_j)\,|C|` (entropy, :math:`\int m^2`, Fisher information), order :math:`h^2`;
* convolutions: an integral :math:`\int W(x - y)\,c(y)\,m(dy)` at the same grid's cells
  is the same midpoint sum computed by FFT in :math:`O(n\log n)` (:mod:`.convolution`),
  detected from the integrand; any other integrand is summed densely.
"""

from __future__ import annotations

import jax.numpy as jnp
from sympy.core.function import AppliedUndef

from ..errors import CompileError
from ..grids import gradient
from . import convolution
from .axes import Arr
from .contract import MeasureEvaluator

__all__ = ["GridEvaluator"]


class GridEvaluator(MeasureEvaluator):
    """:class:`~.contract.MeasureEvaluator` with densities on grids.

    ``densities`` maps a grid measure to ``(Grid, density values, grid shape)``; its entry in
    ``tables`` holds the cell centres and the weights :math:`m_j|C|`.
    """

    def __init__(self, bindings, params, priority, counter, tables, chunk, groups, densities):
        super().__init__(bindings, params, priority, counter, tables, chunk, groups)
        self.densities = densities

    def _grid_of(self, f):
        for M in self.densities:
            if f.func == M.density:
                return M
        return None

    def _ev_MeasureIntegral(self, e):
        """A convolution against a grid measure by FFT (:func:`.convolution.try_fft`);
        anything else by :class:`~.contract.MeasureEvaluator`."""
        M = e.measure
        if M in self.densities and M in self.tables:
            r = convolution.try_fft(self, e, self.densities[M][0], self.tables[M][2])
            if r is not None:
                return r
        return super()._ev_MeasureIntegral(e)

    def _ev_Mul(self, e):
        """A product of factors on the point and a convolution integral by FFT
        (:func:`.convolution.try_fft_product`); anything else as a product."""
        r = convolution.try_fft_product(self, e)
        return r if r is not None else super()._ev_Mul(e)

    def _ev_AppliedUndef(self, e):
        if self._grid_of(e) is not None:
            return self.density(e, ())
        return super()._ev_AppliedUndef(e)

    def _ev_Derivative(self, e):
        if isinstance(e.expr, AppliedUndef) and self._grid_of(e.expr):
            return self.density(e.expr, e.variable_count)
        return super()._ev_Derivative(e)

    def density(self, f, counts) -> Arr:
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
        return Arr(jnp.reshape(v, (grid.size,)), (ax,))

    def _ev_LocalIntegral(self, e) -> Arr:
        """Midpoint rule over the grid's cells: Σ_j L(x_j, m_j, ∇_h m_j) |C|."""
        M = e.measure
        if M not in self.densities:
            return super()._ev_LocalIntegral(e)
        grid = self.densities[M][0]
        atoms = self.tables[M][0]
        src = self.tables[M][2]
        ax = self.new_axis(src, grid.size)
        inner = self.child({v: (src, k, ax, atoms[:, k]) for k, v in enumerate(e.over)})
        g = inner.ev(e.integrand)
        if ax not in g.axes:
            return Arr(g.value * grid.vol * grid.size, g.axes)
        res = jnp.sum(g.value, axis=g.axes.index(ax)) * grid.vol
        return Arr(res, tuple(a for a in g.axes if a != ax))
