"""FFT convolution of grid integrals ∫W(x − y) m(dy): detection from the integrand, the
same midpoint sums as the dense path and as a hand-written NumPy double sum (1-D and 2-D),
the fallback to dense for kernels that are not translation invariant or points off the
grid, and the switch to force dense.

Tolerances: in float64 the FFT sum differs from the direct sum by rounding,
O(ε·log n·Σ|W||w|); relative to the largest value that is ~1e-15, and 1e-12 leaves three
orders of margin (the dense path itself loses a few digits when the kernel arrives expanded,
e.g. x² − 2xz + z²)."""

import jax
import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.codegen import convolution
from mfderive.simulate.lower import grid_potential

x = sp.Symbol("x", real=True)
mu = mf.Measure("mu", (x,))
(z,) = mu.point("z")
y = mu.point("y")
x1, x2 = sp.symbols("x1 x2", real=True)
mu2 = mf.Measure("mu", (x1, x2))
z2 = mu2.point("z")
y2 = mu2.point("y")
TOL = 1e-12


@pytest.fixture
def mode():
    """Restore convolution.MODE after a test that switches it."""
    saved = convolution.MODE
    yield
    convolution.MODE = saved


def compiled(expr, measure, point, grid, params=(), force=None):
    """``(values, uses_fft)`` of ``expr`` at the grid's own cells, with MODE ``force``."""
    saved = convolution.MODE
    convolution.MODE = force or saved
    try:
        fn = mf.compile(expr, [measure], at=point, points_from=measure, grids={measure: grid}, params=params)
        m = grid.gaussian([0.3] * grid.dim, [0.6] * grid.dim)
        args = (m, *[1.3 for _ in params])
        text = str(jax.make_jaxpr(fn)(*args))
        return np.asarray(fn(*args)), "fft" in text
    finally:
        convolution.MODE = saved


def rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize(
    "kernel, hand",
    [
        (sp.exp(-((y[0] - z) ** 2)), lambda d: np.exp(-(d**2))),
        (sp.expand((y[0] - z) ** 2) / 2, lambda d: d**2 / 2),  # arrives expanded: x² − 2xz + z²
        (sp.Abs(y[0] - z) + sp.cos(y[0] - z), lambda d: np.abs(d) + np.cos(d)),
        (sp.log(1 + (z - y[0]) ** 2), lambda d: np.log1p(d**2)),
    ],
)
def test_1d_kernel_is_a_convolution_with_the_dense_sums(kernel, hand):
    g = mf.Grid(-3, 4, 300)
    fft, used = compiled(mf.integral(kernel, mu, over=(z,)), mu, y, g, force="fft")
    dense, used_dense = compiled(mf.integral(kernel, mu, over=(z,)), mu, y, g, force="dense")
    assert used and not used_dense
    c = g.axes[0]
    w = g.gaussian([0.3], [0.6]) * g.vol
    numpy_sum = hand(c[:, None] - c[None, :]) @ w  # the midpoint sum by hand
    assert rel(fft, numpy_sum) < TOL and rel(fft, dense) < TOL


def test_factor_on_the_integration_variable_and_a_parameter():
    a = sp.Symbol("a", positive=True)
    g = mf.Grid(-2, 2, 257)
    xi = mf.integral(z**2 * sp.exp(-a * (y[0] - z) ** 2), mu, over=(z,))
    fft, used = compiled(xi, mu, y, g, params=[a], force="fft")
    c = g.axes[0]
    w = g.gaussian([0.3], [0.6]) * g.vol * c**2
    assert used and rel(fft, np.exp(-1.3 * (c[:, None] - c[None, :]) ** 2) @ w) < TOL


def test_a_factor_on_the_point_times_an_integral_is_one_convolution():
    # e^{-y²/2}∫e^{-z²/2}e^{yz} m(dz) = ∫e^{-(y-z)²/2} m(dz): neither factor alone is a kernel
    g = mf.Grid(-3, 4, 300)
    xi = sp.exp(-y[0] ** 2 / 2) * mf.integral(sp.exp(-(z**2) / 2) * sp.exp(y[0] * z), mu, over=(z,))
    fft, used = compiled(xi, mu, y, g, force="fft")
    dense, used_dense = compiled(xi, mu, y, g, force="dense")
    c = g.axes[0]
    numpy_sum = np.exp(-((c[:, None] - c[None, :]) ** 2) / 2) @ (g.gaussian([0.3], [0.6]) * g.vol)
    assert used and not used_dense
    assert rel(fft, numpy_sum) < TOL and rel(fft, dense) < TOL


def test_2d_kernel_on_an_anisotropic_grid():
    g = mf.Grid((-2, -1), (3, 2), (20, 31))
    kernel = sp.exp(-((y2[0] - z2[0]) ** 2) - 2 * (y2[1] - z2[1]) ** 2) + (y2[0] - z2[0]) * (y2[1] - z2[1])
    fft, used = compiled(mf.integral(kernel, mu2, over=z2), mu2, y2, g, force="fft")
    dense, _ = compiled(mf.integral(kernel, mu2, over=z2), mu2, y2, g, force="dense")
    C = g.centres
    d = C[:, None, :] - C[None, :, :]
    W = np.exp(-d[..., 0] ** 2 - 2 * d[..., 1] ** 2) + d[..., 0] * d[..., 1]
    numpy_sum = W @ (g.gaussian([0.3, 0.3], [0.6, 0.6]).ravel() * g.vol)
    assert used and fft.shape == g.shape
    assert rel(fft.ravel(), numpy_sum) < TOL and rel(fft, dense) < TOL


@pytest.mark.parametrize(
    "kernel, hand",
    [
        (y[0] * z, lambda p, q: p * q),
        (sp.exp(-((y[0] - 2 * z) ** 2)), lambda p, q: np.exp(-((p - 2 * q) ** 2))),
        ((y[0] + z) ** 2, lambda p, q: (p + q) ** 2),
        (sp.exp(-((y[0] - z) ** 2)) * (y[0] ** 2 + z), lambda p, q: np.exp(-((p - q) ** 2)) * (p**2 + q)),
    ],
)
def test_kernels_not_translation_invariant_are_summed_densely(kernel, hand):
    g = mf.Grid(-3, 3, 200)
    got, used = compiled(mf.integral(kernel, mu, over=(z,)), mu, y, g, force="fft")
    assert not used
    c = g.axes[0]
    assert rel(got, hand(c[:, None], c[None, :]) @ (g.gaussian([0.3], [0.6]) * g.vol)) < TOL


def test_points_off_the_grid_are_summed_densely(mode):
    convolution.MODE = "fft"
    g = mf.Grid(-3, 3, 200)
    fn = mf.compile(mf.integral(sp.exp(-((y[0] - z) ** 2)), mu, over=(z,)), [mu], at=y, grids={mu: g})
    m, pts = g.gaussian([0.3], [0.6]), np.array([[0.1], [2.5]])
    assert "fft" not in str(jax.make_jaxpr(fn)(m, pts))
    want = np.exp(-((pts - g.axes[0][None, :]) ** 2)) @ (m * g.vol)
    assert rel(np.asarray(fn(m, pts)), want) < TOL


def test_auto_uses_fft_above_the_threshold_and_the_energy_and_gradient_agree(mode):
    # E = ½∬W(x−z) dm dm: its inner integral is a convolution too (x bound to the cells by
    # the outer integral); jax.grad of E_h/|C| is the first variation (the grid identity)
    E = mf.integral(mf.integral(sp.exp(-((x - z) ** 2)), mu, over=(z,)), mu) / 2
    xi = mf.first_variation(E, mu, at=y)
    small, large = mf.Grid(-3, 3, convolution.FFT_MIN_CELLS - 1), mf.Grid(-3, 3, 2 * convolution.FFT_MIN_CELLS)
    assert not compiled(xi, mu, y, small)[1] and compiled(xi, mu, y, large)[1]
    m = large.gaussian([0.3], [0.6])
    E_h = mf.compile(E, [mu], grids={mu: large})
    assert "fft" in str(jax.make_jaxpr(E_h)(m))
    xi_h = mf.compile(xi, [mu], at=y, points_from=mu, grids={mu: large})
    np.testing.assert_allclose(jax.grad(E_h)(m) / large.vol, xi_h(m), rtol=0, atol=1e-13)
    convolution.MODE = "dense"
    E_dense = mf.compile(E, [mu], grids={mu: large})
    assert "fft" not in str(jax.make_jaxpr(E_dense)(m))
    assert abs(float(E_h(m)) - float(E_dense(m))) < TOL * abs(float(E_dense(m)))


def test_aggregation_diffusion_grid_flow_is_the_same_with_fft_and_dense(mode):
    # the whole scheme: 40 SSP-RK3 steps with the interaction by FFT and by dense sums
    F = mf.integral((x - 1) ** 2 / 2, mu) + mf.integral(mf.integral(sp.exp(-((x - z) ** 2)), mu, over=(z,)), mu)
    flow = mf.WassersteinFlow(F, mu, noise=sp.Float(0.8))
    g = mf.Grid(-4, 5, 300)
    m0 = g.gaussian([-1.0], [0.3])
    m0 = m0 / g.integrate(m0)
    # the engine expands the kernel: ξ has -exp(-y²)·∫exp(-z²)exp(2yz) dm(z), a product that
    # is a convolution only with its factor on the point (try_fft_product)
    lowered = grid_potential(flow, g)
    assert "fft" in str(jax.make_jaxpr(lowered.potential)(m0))
    out = {}
    for mode_ in ("fft", "dense"):
        convolution.MODE = mode_
        init, step, obs = mf.grid_flow(flow, g, dt=0.3 * g.h[0] ** 2)
        st, tr = mf.run(step, init(m0), 40, obs, record_every=40)
        out[mode_] = (np.asarray(st.density), float(tr["energy"][-1]))
    assert rel(out["fft"][0], out["dense"][0]) < TOL
    assert abs(out["fft"][1] - out["dense"][1]) < TOL * abs(out["dense"][1])


def test_lattice_and_fast_lengths():
    g = mf.Grid((0, 0), (1, 2), (3, 4))
    lat = convolution.lattice(g)
    assert lat.shape == (5 * 7, 2)
    np.testing.assert_allclose(lat[0], [-2 / 3, -3 / 2])
    np.testing.assert_allclose(lat[-1], [2 / 3, 3 / 2])
    for n in (1, 7, 97, 769, 4096):
        (L,) = convolution._lengths((n,))
        # a linear (not circular) convolution of n weights with 2n - 1 kernel values needs
        # at least 3n - 2 points; a fast FFT length is 2^a 3^b 5^c and not much longer
        assert 3 * n - 2 <= L < 1.25 * (3 * n - 2) + 2
        while L % 2 == 0:
            L //= 2
        for p in (3, 5):
            while L % p == 0:
                L //= p
        assert L == 1
