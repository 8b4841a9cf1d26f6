r"""Convolution kernels on grids: :math:`\int W(x - y)\,m(y)\,dy` by FFT.

On a uniform grid the midpoint sum of an integral whose integrand depends on the point
:math:`x` and the integration variable :math:`y` only through :math:`x - y`,

.. math:: r_i = \sum_j W(x_i - y_j)\,c(y_j)\,m_j|C|,

with :math:`x_i` the same grid's cell centres, is a discrete convolution: :math:`x_i - y_j =
(i - j)h` lies on the difference lattice :math:`\{kh: |k| \le n - 1\}` (per axis).  Here
:math:`W` is evaluated once on that lattice (:math:`\prod_k(2n_k - 1)` points instead of
:math:`n^2` pairs) and convolved with the weights by a zero-padded real FFT (linear, not
circular, convolution: padded length :math:`\ge 3n - 2` per axis), so an evaluation costs
:math:`O(n\log n)` instead of :math:`O(n^2)` and gives the same sums up to rounding.

**Detection** (:func:`kernel_of`) is symbolic and conservative: the integrand (times the
factors on the point alone that multiply the integral, :func:`try_fft_product`; less the
factors on the integration variables alone, :func:`~.contract.split`) must contain no
density, no integral and no symbol bound to anything but the same grid's cells; the point
coordinates :math:`x_k` are replaced by :math:`y_k + d_k` and the result, expanded (and
simplified if needed), must be free of every :math:`y_k`.  Anything else is evaluated
densely (:class:`~.contract.MeasureEvaluator`).

:data:`MODE` chooses: ``"auto"`` (the default: FFT for a detected kernel on at least
:data:`FFT_MIN_CELLS` cells), ``"fft"`` (every detected kernel) or ``"dense"`` (never).
It is read when a compiled function is traced (its first call), e.g.

>>> import numpy as np, sympy as sp, mfderive as mf
>>> from mfderive.codegen import convolution
>>> x = sp.Symbol("x", real=True); mu = mf.Measure("mu", (x,)); (z,) = mu.point("z"); y = mu.point("y")
>>> xi = mf.integral(sp.exp(-(y[0] - z) ** 2), mu, over=(z,))
>>> g = mf.Grid(-3, 3, 200); m = g.gaussian([0.0], [0.5])
>>> fft = mf.compile(xi, [mu], at=y, points_from=mu, grids={mu: g})(m)
>>> convolution.MODE = "dense"
>>> dense = mf.compile(xi, [mu], at=y, points_from=mu, grids={mu: g})(m)
>>> convolution.MODE = "auto"
>>> bool(np.max(np.abs(fft - dense)) < 1e-6 * np.max(np.abs(dense)))  # float32 by default
True
"""

from __future__ import annotations

import functools
import operator

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from scipy.fft import next_fast_len
from sympy.core.function import AppliedUndef

from ..derive.integrals import LocalIntegral, MeasureIntegral
from .axes import Arr, align, combine, fold
from .contract import split

__all__ = ["FFT_MIN_CELLS", "MODE", "convolve", "kernel_of", "kernel_transform", "lattice", "try_fft", "try_fft_product"]

#: ``"auto"``, ``"fft"`` or ``"dense"``: how grid integrals with a convolution kernel are
#: evaluated (read at trace time)
MODE = "auto"
#: with ``MODE = "auto"``, the FFT is used on grids of at least this many cells (below,
#: the dense sum is as fast: measured by ``benchmarks/bench_grid.py conv``, 1-D, CPU)
FFT_MIN_CELLS = 128


@functools.lru_cache(maxsize=256)
def _kernel(G, xs, ys):
    """``(W, ds)`` with ``G(x, y) = W(x - y)`` in the difference symbols ``ds``, or None when
    that is not provable.  Cached on ``(G, xs, ys)``: the symbolic proof (which may call
    ``simplify``) runs once per integrand, not at every trace of every compiled function."""
    ds = tuple(sp.Dummy(f"_d{k}", real=True) for k in range(len(ys)))
    shifted = G.xreplace({x: y + d for x, y, d in zip(xs, ys, ds) if x is not None})
    for attempt in (lambda e: e, sp.expand, lambda e: sp.simplify(sp.expand(e))):
        W = attempt(shifted)
        if not W.free_symbols & set(ys):
            return W, ds
    return None


def kernel_of(G, over, bind, source):
    r"""``(W, ds, axis)`` when the integrand ``G`` of an integral over ``over`` against a grid
    measure (its cells' source name ``source``) is :math:`W(x - y)` for point coordinates
    :math:`x_k` bound (``bind``: symbol → ``(source, column, axis, values)``) to column
    :math:`k` of the same grid's cells on one axis; ``ds`` are the symbols of the
    difference :math:`d = x - y` in ``W``.  None when that is not provable (evaluate densely).

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> kernel_of(x**2 - 2*x*y + y**2, (y,), {x: ("0:mu", 0, "A", None)}, "0:mu")[0]
    __d0**2
    >>> kernel_of(x * y, (y,), {x: ("0:mu", 0, "A", None)}, "0:mu") is None
    True
    """
    if G.atoms(AppliedUndef) or G.atoms(MeasureIntegral) or G.atoms(LocalIntegral):
        return None
    if G.has(sp.Derivative, sp.Subs):
        return None
    outer = [s for s in G.free_symbols if s in bind and s not in over]
    if not outer:
        return None  # no point dependence: the dense sum is a plain sum of the weights
    axes = {bind[s][2] for s in outer}
    if len(axes) != 1:
        return None
    xs = [None] * len(over)
    for s in outer:
        src, col = bind[s][0], bind[s][1]
        if src != source or xs[col] is not None:
            return None
        xs[col] = s
    found = _kernel(G, tuple(xs), tuple(over))
    if found is None:
        return None
    W, ds = found
    return W, ds, next(iter(axes))


def lattice(grid) -> np.ndarray:
    r"""The difference lattice of ``grid``: ``((2n_1 - 1)···(2n_d - 1), d)`` points
    :math:`(k_1h_1, \dots, k_dh_d)`, :math:`|k_i| \le n_i - 1`, in C order."""
    axes = [(np.arange(2 * n - 1) - (n - 1)) * h for n, h in zip(grid.shape, grid.h)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([a.ravel() for a in mesh], axis=-1)


def _lengths(shape):
    return [next_fast_len(3 * n - 2, real=True) for n in shape]  # 2^a 3^b 5^c


def kernel_transform(kernel, shape):
    """The real FFT of a kernel on the difference lattice, zero-padded for :func:`convolve`."""
    axes = tuple(range(-len(shape), 0))
    return jnp.fft.rfftn(kernel, s=_lengths(shape), axes=axes)


def convolve(kernel, weights, shape, transform=None):
    r""":math:`r_i = \sum_j K_{i - j}\,w_j` for weights ``w`` of the grid's ``shape`` and a
    kernel ``K`` on the difference lattice (shape ``2n - 1`` per axis, index :math:`k + n - 1`
    for the difference :math:`k`), by zero-padded real FFTs (a linear convolution);
    ``transform``: :func:`kernel_transform` of ``K`` if already computed."""
    lengths = _lengths(shape)
    axes = tuple(range(-len(shape), 0))
    fk = kernel_transform(kernel, shape) if transform is None else transform
    fw = jnp.fft.rfftn(weights, s=lengths, axes=axes)
    full = jnp.fft.irfftn(fk * fw, s=lengths, axes=axes)
    return full[tuple(slice(n - 1, 2 * n - 1) for n in shape)]


def _factorings(integrand, over):
    """Candidate ``(c, G)`` splits of the integrand, ``c`` on the integration variables only:
    the density factors alone (so that e.g. :math:`e^{-y^2/2}e^{xy}e^{-x^2/2}` stays whole),
    then every factor on the integration variables (:func:`~.contract.split`)."""
    c, G = [], []
    for f in sp.Mul.make_args(integrand):
        (c if f.atoms(AppliedUndef) and f.free_symbols <= set(over) else G).append(f)
    yield sp.Mul(*c), sp.Mul(*G)
    yield split(integrand, over)


def try_fft(ev, e, grid, source):
    """The integral ``e`` against a grid measure by FFT convolution, or None (evaluate
    densely): called by :class:`~.densities.GridEvaluator` for grid integrals."""
    if MODE == "dense" or (MODE == "auto" and grid.size < FFT_MIN_CELLS):
        return None
    for c, G in _factorings(e.integrand, e.over):
        found = kernel_of(G, tuple(e.over), ev.bind, source)
        if found is not None:
            break
    else:
        return None
    W, ds, ax = found
    if ax.size != grid.size:  # pragma: no cover - grid points are never chunked
        return None
    atoms, weights, _ = ev.tables[e.measure]

    def transform():
        lat = jnp.asarray(lattice(grid), weights.dtype)
        dax = ev.new_axis(source + "#lattice", lat.shape[0])
        w_lat = ev.child({d: (source + "#lattice", k, dax, lat[:, k]) for k, d in enumerate(ds)}).ev(W)
        kern = jnp.broadcast_to(align(w_lat, (dax,)) if w_lat.axes else w_lat.value, (lat.shape[0],))
        kern = jnp.reshape(jnp.asarray(kern, weights.dtype), tuple(2 * n - 1 for n in grid.shape))
        return kernel_transform(kern, grid.shape)

    if W.free_symbols <= set(ds):
        # a kernel of constants only: its transform is computed once, when the function is
        # traced, and enters the program as a constant (not recomputed at every call)
        with jax.ensure_compile_time_eval():
            fk = transform()
    else:  # parameters are arguments of the function: the transform is traced with them
        fk = transform()
    iax = ev.new_axis(source, grid.size)
    inner = ev.child({v: (source, k, iax, atoms[:, k]) for k, v in enumerate(e.over)})
    wc = weights * jnp.broadcast_to(align(inner.ev(c), (iax,)), (iax.size,)) if c != 1 else weights
    r = convolve(None, jnp.reshape(wc, grid.shape), grid.shape, transform=fk)
    return Arr(jnp.reshape(r, (grid.size,)), (ax,))


def try_fft_product(ev, e):
    r"""A product :math:`P(x)\int G(x, y)\,m(dy)\cdot R` whose factors :math:`P` on the point
    make a convolution with the integrand, :math:`P(x)G(x, y) = W(x - y)c(y)` (the engine
    pulls :math:`e^{-x^2/2}` out of :math:`\int e^{-(x-y)^2/2}\,m(dy)` when it expands the
    kernel), by FFT of :math:`\int P(x)G(x, y)\,m(dy)` times the rest :math:`R`; or None."""
    if MODE == "dense":
        return None
    args = sp.Mul.make_args(e)
    grid_integrals = [a for a in args if isinstance(a, MeasureIntegral) and a.measure in ev.densities]
    if len(grid_integrals) != 1:
        return None
    integral = grid_integrals[0]
    over = set(integral.over)
    movable, rest = [], []
    for a in args:
        if a is integral:
            continue
        plain = not (a.atoms(MeasureIntegral) or a.atoms(LocalIntegral) or a.atoms(AppliedUndef)
                     or a.has(sp.Derivative, sp.Subs))
        (movable if a.free_symbols and plain and not a.free_symbols & over else rest).append(a)
    if not movable:
        return None
    M = integral.measure
    inside = integral.func(sp.Mul(*movable) * integral.integrand, M, integral.args[2])
    r = try_fft(ev, inside, ev.densities[M][0], ev.tables[M][2])
    if r is None:
        return None
    return combine([r, *[ev.ev(a) for a in rest]], lambda *v: fold(operator.mul, v))
