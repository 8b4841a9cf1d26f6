r"""Cell-centred tensor grids over a box, for densities.

A :class:`Grid` over :math:`\prod_k [l_k, u_k]` with :math:`n_k` cells per axis holds a
density as its cell averages :math:`m_j`.  The midpoint rule
:math:`\int f\,dm \approx \sum_j f(x_j)\,m_j\,|C|` (second order in :math:`h`) is what
:func:`mfderive.compile` uses for integrals on a grid, so the grid measure is the
discrete measure :math:`\sum_j m_j|C|\,\delta_{x_j}` and its first variation at the cell
centres is exactly the gradient of the discrete energy divided by :math:`|C|`.
Derivatives of the density are second-order finite differences (:func:`gradient`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .errors import GridError

__all__ = ["Grid", "GridError", "gradient"]



def _entries(v, what):
    """The entries of a number or a flat sequence of numbers, as a 1-d NumPy array."""
    try:
        a = np.atleast_1d(np.asarray(v))
    except (TypeError, ValueError):  # ragged
        raise GridError(f"{what} must be a number or a flat tuple of numbers, got {v!r}") from None
    if a.ndim != 1 or a.size == 0:
        raise GridError(f"{what} must be a number or a flat tuple of numbers, got {v!r}")
    return a


def _bounds(v, what):
    """Box bounds as floats: real numbers only (no strings, complex numbers or bools)."""
    a = _entries(v, what)
    out = []
    for e in a.tolist():
        if isinstance(e, bool) or not (isinstance(e, (int, float)) or _real(e)):
            raise GridError(f"{what} must be real numbers, got {e!r}")
        out.append(float(e))
    return tuple(out)


def _real(e):
    """A SymPy real number (converts to float)."""
    return isinstance(e, sp.Basic) and e.is_number and e.is_extended_real is True


def _cells(v):
    """Cells per axis: integers (``10.7`` is refused, not truncated)."""
    a = _entries(v, "shape")
    out = []
    for e in a.tolist():
        if isinstance(e, bool) or not isinstance(e, (int, sp.Integer)):
            raise GridError(f"shape must be whole numbers of cells per axis, got {e!r}")
        out.append(int(e))
    return tuple(out)


@dataclass(frozen=True)
class Grid:
    """A cell-centred grid: ``Grid(lower, upper, shape)``, each a number (1-D) or a tuple:
    finite real bounds with ``lower < upper``, and whole numbers ``>= 3`` of cells per axis
    (anything else raises :class:`GridError`).

    Attributes: ``dim``, ``h`` (cell widths), ``vol`` (cell volume), ``size`` (cells),
    ``axes`` (the cell centres per axis), ``centres`` (``(size, dim)``, C order).
    """

    lower: tuple
    upper: tuple
    shape: tuple

    def __init__(self, lower, upper, shape):
        lo = _bounds(lower, "lower")
        up = _bounds(upper, "upper")
        sh = _cells(shape)
        if not (len(lo) == len(up) == len(sh)):
            raise GridError(f"lower {lo}, upper {up} and shape {sh} must have the same length")
        for k, (a, b, n) in enumerate(zip(lo, up, sh)):
            if not np.isfinite(a) or not np.isfinite(b) or not b > a:
                raise GridError(
                    f"axis {k}: the box [{a}, {b}] is empty, reversed or infinite "
                    f"(need finite bounds with lower < upper)"
                )
            if n < 3:
                raise GridError(f"axis {k}: {n} cells; a grid needs at least 3 per axis")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", up)
        object.__setattr__(self, "shape", sh)

    @property
    def dim(self) -> int:
        return len(self.shape)

    @property
    def h(self) -> tuple:
        return tuple((b - a) / n for a, b, n in zip(self.lower, self.upper, self.shape))

    @property
    def vol(self) -> float:
        return float(np.prod(self.h))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def axes(self) -> tuple:
        return tuple(a + (np.arange(n) + 0.5) * h for a, n, h in zip(self.lower, self.shape, self.h))

    def mesh(self) -> tuple:
        """The centres' coordinates as ``dim`` arrays of the grid's shape."""
        return tuple(np.meshgrid(*self.axes, indexing="ij"))

    @property
    def centres(self) -> np.ndarray:
        return np.stack([c.ravel() for c in self.mesh()], axis=-1)

    def integrate(self, values):
        """Midpoint rule: :math:`\\sum_j v_j |C|`."""
        return self.vol * values.sum(axis=tuple(range(-self.dim, 0)))

    def gaussian(self, mean, var):
        r"""Exact cell averages of the product Gaussian :math:`N(\text{mean}, \operatorname{diag}(\text{var}))`
        (from differences of ``erfc``, accurate in both tails) — initial data and exact
        solutions for checks."""
        from scipy.special import erfc

        mean, var = np.atleast_1d(mean), np.atleast_1d(var)
        out = 1.0
        for k, (lo, hi, n) in enumerate(zip(self.lower, self.upper, self.shape)):
            z = (np.linspace(lo, hi, n + 1) - mean[k]) / np.sqrt(2 * var[k])
            left, right = np.diff(0.5 * erfc(-z)), -np.diff(0.5 * erfc(z))
            avg = np.where(self.axes[k] < mean[k], left, right) / self.h[k]
            out = np.multiply.outer(out, avg) if k else avg
        return out

    def check(self, values, what="density values"):
        """``values`` as an array, after checking its trailing shape is the grid's."""
        shape = tuple(np.shape(values))
        if shape[len(shape) - self.dim:] != self.shape:
            raise GridError(f"{what} have shape {shape}; the grid has shape {self.shape}")
        return values

    def __repr__(self):
        box = " x ".join(f"[{a:g}, {b:g}]" for a, b in zip(self.lower, self.upper))
        return f"Grid({box}, shape={self.shape})"


def gradient(values, grid: Grid, axis: int):
    r"""Second-order finite difference of grid values along ``axis``: central inside,
    :math:`(-3f_0 + 4f_1 - f_2)/2h` and its mirror at the two ends (works on NumPy and
    JAX arrays; ``axis`` counts among the grid's axes, which are the trailing ones)."""
    import jax.numpy as jnp

    h = grid.h[axis]
    ax = values.ndim - grid.dim + axis
    f = jnp.moveaxis(values, ax, 0)
    inner = (f[2:] - f[:-2]) / (2 * h)
    first = (-3 * f[0] + 4 * f[1] - f[2]) / (2 * h)
    last = (3 * f[-1] - 4 * f[-2] + f[-3]) / (2 * h)
    out = jnp.concatenate([first[None], inner, last[None]], axis=0)
    return jnp.moveaxis(out, 0, ax)
