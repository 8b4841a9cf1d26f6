"""W₂ for the checks (issue 12, item 5): ``mfderive.simulate.transport``.

Every expectation is independent of the module: POT's network simplex ``ot.emd2`` and
``ot.wasserstein_1d``, POT's Bures–Wasserstein ``ot.gaussian.bures_wasserstein_distance``,
and closed forms (translation, 1-D scaling, Gaussians in 1-D and with commuting
covariances, a uniform density against one atom).
"""

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ot = pytest.importorskip("ot")  # the `transport` extra (pip install pot)

from mfderive.errors import (
    GridError,
    MfDeriveError,
    MissingDependencyError,
    SimulationError,
    SimulationInputError,
)
from mfderive.grids import Grid
from mfderive.simulate.transport import (
    EXACT_MAX_PAIRS,
    GRID_ORDER,
    sinkhorn_divergence,
    w2,
    w2_1d,
    w2_gaussian,
    w2_to_grid,
)


def emd_sq(X, Y, a=None, b=None):
    """W₂² by POT's exact solver, directly."""
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    X = X[:, None] if X.ndim == 1 else X
    Y = Y[:, None] if Y.ndim == 1 else Y
    a = np.full(len(X), 1 / len(X)) if a is None else np.asarray(a, float)
    b = np.full(len(Y), 1 / len(Y)) if b is None else np.asarray(b, float)
    return float(ot.emd2(a, b, ot.dist(X, Y), numItermax=10**7))


def random_weights(rng, n):
    w = rng.uniform(0.1, 1.0, n)
    return w / w.sum()


# --------------------------------------------------------------------------- 1-D


def test_w2_1d_matches_pot_exact_and_wasserstein_1d():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=37), 2 * rng.standard_t(3, size=23) + 0.5
    a, b = random_weights(rng, 37), random_weights(rng, 23)
    got = w2_1d(x, y, a, b, squared=True)
    # both are exact: agreement to rounding (1e-10 relative)
    assert got == pytest.approx(emd_sq(x, y, a, b), rel=1e-10)
    assert got == pytest.approx(float(ot.wasserstein_1d(x, y, a, b, p=2)), rel=1e-10)
    assert w2_1d(x, y, a, b) == pytest.approx(math.sqrt(got), rel=1e-14)


def test_w2_1d_scaling_closed_form():
    # x ↦ λx is monotone, hence optimal in 1-D: W₂²(μ, λ#μ) = (1−λ)² ∫x² dμ
    rng = np.random.default_rng(1)
    x = rng.normal(size=50)
    a = random_weights(rng, 50)
    for lam in (0.3, 2.5):
        expected = (1 - lam) ** 2 * float(a @ x**2)
        assert w2_1d(x, lam * x, a, a, squared=True) == pytest.approx(expected, rel=1e-12)


def test_w2_1d_ties_and_zero_weights():
    # repeated atoms and atoms without mass change nothing
    x = [0.0, 0.0, 1.0, 5.0]
    a = [0.25, 0.25, 0.5, 0.0]
    assert w2_1d(x, [0.0, 1.0], a, squared=True) == pytest.approx(0.0, abs=1e-15)
    assert w2_1d(x, [2.0], a, squared=True) == pytest.approx(0.5 * 4 + 0.5 * 1, rel=1e-14)


# --------------------------------------------------------------------------- exact


def test_translation_exact_and_auto():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    c = np.array([0.3, -1.2, 2.0])
    value, meta = w2(X, X + c, info=True)
    assert meta["method"] == "exact"  # d = 3, N·M = 1600 ≤ EXACT_MAX_PAIRS
    assert value == pytest.approx(np.linalg.norm(c), rel=1e-10)
    v1, m1 = w2(X[:, 0], X[:, 0] + 0.7, info=True)
    assert m1["method"] == "1d" and v1 == pytest.approx(0.7, rel=1e-12)
    assert 40 * 40 <= EXACT_MAX_PAIRS


def test_exact_matches_pot_permutation_and_symmetry():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(30, 2)), rng.uniform(-1, 2, size=(45, 2))
    a, b = random_weights(rng, 30), random_weights(rng, 45)
    ref = emd_sq(X, Y, a, b)
    assert w2(X, Y, a, b, method="exact", squared=True) == pytest.approx(ref, rel=1e-10)
    perm = rng.permutation(30)
    assert w2(X[perm], Y, a[perm], b, method="exact", squared=True) == pytest.approx(ref, rel=1e-10)
    assert w2(Y, X, b, a, method="exact", squared=True) == pytest.approx(ref, rel=1e-10)
    assert w2(X, X, a, a, method="exact") == pytest.approx(0.0, abs=1e-7)


def test_jax_float32_input():
    # particles straight from a simulation state: JAX arrays, float32 weights summing to 1
    # within float32 rounding; the result equals the float64 one up to the float32 inputs
    import jax.numpy as jnp

    rng = np.random.default_rng(9)
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 1.0
    a = random_weights(rng, 30)
    ref = w2(X, Y, a, method="exact")
    got = w2(jnp.asarray(X, jnp.float32), jnp.asarray(Y, jnp.float32), jnp.asarray(a, jnp.float32),
             method="exact")
    assert got == pytest.approx(ref, rel=1e-5)  # float32 rounding of points and weights


# --------------------------------------------------------------------------- Sinkhorn


def test_sinkhorn_exact_for_translations():
    # S_ε(μ, μ + c) = |c|² for every ε: the cross term of |x − y − c|² is fixed by the marginals
    rng = np.random.default_rng(4)
    X = rng.uniform(size=(25, 2))
    c = np.array([0.4, -0.3])
    for eps in (0.05, 0.5):
        s = sinkhorn_divergence(X, X + c, eps=eps)
        # tol = 1e-6 on the marginals moves the dual value by at most ~1e-6·osc(potentials)
        assert s == pytest.approx(0.25, abs=1e-6)
    assert w2(X, X + c, method="sinkhorn", eps=0.05) == pytest.approx(0.5, abs=1e-6)


def test_sinkhorn_bias_against_exact():
    """The measured bias of S_ε (recorded in the docstring of sinkhorn_divergence)."""
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(60, 2))
    Y = rng.uniform(size=(60, 2)) * np.array([1.0, 0.7]) + 0.2
    exact = emd_sq(X, Y)
    bias = {}
    for eps in (0.04, 0.01):
        s, meta = w2(X, Y, method="sinkhorn", eps=eps, squared=True, info=True)
        assert meta["eps"] == eps and meta["marginal_error"] < 1e-6
        bias[eps] = exact - s
        # measured: 0.107ε and 0.233ε; the bound 0.5ε states the docstring's claim with margin
        assert 0 < bias[eps] <= 0.5 * eps
    assert bias[0.01] < bias[0.04]  # S_ε → W₂² as ε → 0


def test_sinkhorn_first_order_bias_for_discrete_measures():
    """S_ε = W₂² + ε(½H(a) + ½H(b) − H(π*)) + o(ε) for well-separated atoms (the docstring's
    expansion; π* from POT's emd, H the Shannon entropy).  Measured remainder ≤ 1e-6·ε at
    ε = 0.01, 0.005; the first-order term itself is 0.39·ε, so the 0.01·ε tolerance tells
    the expansion from plain W₂² and from the wrong sign."""
    x, y = np.array([0.0, 1.0]), np.array([0.2, 0.7, 1.5])
    a, b = np.array([0.5, 0.5]), np.array([0.3, 0.3, 0.4])
    M = ot.dist(x[:, None], y[:, None])
    plan = ot.emd(a, b, M)
    exact = float(np.sum(plan * M))

    def H(p):
        p = p[p > 0]
        return -float(np.sum(p * np.log(p)))

    coef = 0.5 * H(a) + 0.5 * H(b) - H(plan.ravel())
    assert coef < -0.3
    for eps in (0.01, 0.005):
        s = sinkhorn_divergence(x, y, a, b, eps=eps)
        assert abs(s - (exact + eps * coef)) <= 0.01 * eps


def test_sinkhorn_default_eps_and_zero_weight_atoms():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0]])
    a = np.array([0.5, 0.5, 0.0])  # the far atom carries no mass: it changes nothing
    s, meta = sinkhorn_divergence(X, X + 1.0, a, a, info=True)
    assert s == pytest.approx(2.0, abs=1e-6)
    assert meta["eps"] == pytest.approx((0.05 * np.linalg.norm([10.0, 10.0])) ** 2)


def test_sinkhorn_that_does_not_converge_raises():
    rng = np.random.default_rng(5)
    X, Y = rng.uniform(size=(30, 2)), rng.uniform(size=(30, 2))
    with pytest.raises(SimulationError, match="did not converge"):
        w2(X, Y, method="sinkhorn", eps=1e-3, max_iter=3)


# --------------------------------------------------------------------------- Gaussians


def test_gaussian_1d_formula_and_commuting_case():
    # 1-D: (m1 − m2)² + (s1 − s2)²
    assert w2_gaussian(1.0, 4.0, -0.5, 0.25, squared=True) == pytest.approx(1.5**2 + 1.5**2, rel=1e-12)
    # commuting (diagonal) covariances: |m1 − m2|² + Σ(√λ1 − √λ2)²
    l1, l2 = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.1, 0.5])
    m1, m2 = np.zeros(3), np.array([1.0, 0.0, -2.0])
    expected = 5.0 + float(np.sum((np.sqrt(l1) - np.sqrt(l2)) ** 2))
    assert w2_gaussian(m1, np.diag(l1), m2, np.diag(l2), squared=True) == pytest.approx(expected, rel=1e-12)


def test_gaussian_matches_pot_bures():
    rng = np.random.default_rng(6)
    A, B = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    S1, S2 = A @ A.T + 0.1 * np.eye(3), B @ B.T
    m1, m2 = rng.normal(size=3), rng.normal(size=3)
    ref = float(ot.gaussian.bures_wasserstein_distance(m1, m2, S1, S2))
    assert w2_gaussian(m1, S1, m2, S2) == pytest.approx(ref, rel=1e-8)


def _moment_matched(rng, n, m, S):
    """n samples with empirical mean m and empirical covariance S exactly."""
    z = rng.normal(size=(n, len(m)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, bias=True))).T
    return m + z @ np.linalg.cholesky(S).T


def test_gaussian_against_exact_ot_between_samples():
    """Gelbrich (1990): W₂ between two measures is at least the Bures–Wasserstein distance of
    their means and covariances — a deterministic lower bound for moment-matched samples;
    above it, the empirical gap falls with n (measured over 6 seeds: 0.083 ± 0.005 at
    n = 200, 0.029 ± 0.003 at n = 800; bounds at mean + 8 sd)."""
    m1, S1 = np.zeros(2), np.array([[1.0, 0.3], [0.3, 0.5]])
    m2, S2 = np.array([1.0, -0.5]), np.array([[0.6, -0.2], [-0.2, 1.2]])
    exact = w2_gaussian(m1, S1, m2, S2, squared=True)
    rng = np.random.default_rng(0)
    gaps = {}
    for n in (200, 800):
        X, Y = _moment_matched(rng, n, m1, S1), _moment_matched(rng, n, m2, S2)
        gaps[n] = w2(X, Y, method="exact", squared=True) - exact
    assert gaps[200] >= -1e-9 and gaps[800] >= -1e-9
    assert gaps[200] <= 0.125 and gaps[800] <= 0.055
    assert gaps[800] < gaps[200]


# --------------------------------------------------------------------------- grids


def test_grid_1d_exact_against_subdivided_cells():
    """1-D: exact.  Independent route: POT's emd2 against each cell split into s equal atoms
    at sub-cell centres, within W₂ ≤ h/(s√12) of the piecewise-constant density."""
    g = Grid(-3.0, 3.0, 24)
    m = g.gaussian(0.4, 0.5)
    m = m / (m.sum() * g.vol)
    rng = np.random.default_rng(7)
    x = rng.normal(size=15)
    got = w2_to_grid(x, None, g, m)
    s = 100
    h = g.h[0]
    sub = (np.linspace(g.lower[0], g.upper[0], 24 * s + 1)[:-1] + h / (2 * s))
    mass = np.repeat(m * h / s, s)
    ref = math.sqrt(emd_sq(x, sub, None, mass / mass.sum()))
    assert abs(got - ref) <= h / (s * math.sqrt(12)) + 1e-9


def test_grid_uniform_against_one_atom():
    # ∫|x − c|² dx on the unit square, c the centre: 1/6 (each axis 1/12)
    g = Grid((0.0, 0.0), (1.0, 1.0), (10, 10))
    value, meta = w2_to_grid([[0.5, 0.5]], None, g, np.ones((10, 10)), squared=True, info=True)
    assert meta["grid_error"] == pytest.approx(math.sqrt(2 * 0.01 / 12))
    assert abs(math.sqrt(value) - math.sqrt(1 / 6)) <= meta["grid_error"]
    # in 1-D the same integral is exact: 1/12
    g1 = Grid(0.0, 1.0, 7)
    assert w2_to_grid([0.5], None, g1, np.ones(7), squared=True) == pytest.approx(1 / 12, rel=1e-13)


def test_grid_order_in_2d_is_the_declared_one():
    """Worst case of the cells-as-atoms reading: the particles *are* the cell centres with
    the cells' masses, so w2_to_grid returns 0, while the true W₂ to the uniform density is
    h/√6 (the map to the cell centre is the gradient of max_j ⟨x, x_j⟩ − |x_j|²/2, optimal
    by Brenier; cost Σ_k h²/12).  The fitted slope of the error against h is GRID_ORDER."""
    hs, errs = [], []
    for n in (4, 8, 16):
        g = Grid((0.0, 0.0), (1.0, 1.0), (n, n))
        value, meta = w2_to_grid(g.centres, None, g, np.ones((n, n)), info=True)
        truth = (1 / n) / math.sqrt(6)
        assert value == pytest.approx(0.0, abs=1e-7)
        assert abs(value - truth) <= meta["grid_error"] + 1e-9  # the stated bound, attained
        hs.append(1 / n)
        errs.append(abs(value - truth))
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert slope == pytest.approx(GRID_ORDER, abs=0.05)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: w2([0.0, np.nan], [1.0]), "NaN or infinite"),
        (lambda: w2([0.0, 1.0], [1.0], a=[1.5, -0.5]), "non-negative"),
        (lambda: w2([0.0, 1.0], [1.0], a=[0.5, 0.6]), "sum to"),
        (lambda: w2([0.0, 1.0], [1.0], a=[1.0]), r"shape \(2,\)"),
        (lambda: w2(np.zeros((3, 2)), np.zeros((3, 3))), "different dimensions"),
        (lambda: w2([], [1.0]), "empty"),
        (lambda: w2(np.zeros((2, 2, 2)), [1.0]), "shape"),
        (lambda: w2([0.0], [1.0], method="emd"), "method must be"),
        (lambda: w2(np.zeros((2, 2)), np.ones((2, 2)), method="sinkhorn", eps=0.0), "positive"),
        (lambda: w2_1d(np.zeros((2, 2)), np.zeros((2, 2))), "on the line"),
        (lambda: w2_gaussian(0.0, -1.0, 0.0, 1.0), "positive semi-definite"),
        (lambda: w2_gaussian([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]], [0, 0], np.eye(2)), "symmetric"),
        (lambda: w2_gaussian([0.0, 0.0], np.eye(2), 0.0, 1.0), "dimensions"),
        (lambda: w2_to_grid([0.5], None, Grid(0.0, 1.0, 5), np.ones(5) * 2), "mass"),
        (lambda: w2_to_grid([0.5], None, Grid(0.0, 1.0, 5), np.ones(4)), "shape"),
        (lambda: w2_to_grid([0.5], None, Grid(0.0, 1.0, 5), [2, -1, 1, 1, 2]), "non-negative"),
        (lambda: w2_to_grid([[0.5, 0.5]], None, Grid(0.0, 1.0, 5), np.ones(5)), "coordinate"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(MfDeriveError, match=match) as e:
        call()
    assert isinstance(e.value, (SimulationInputError, GridError))


def test_missing_pot_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ot", None)  # `import ot` now raises ImportError
    with pytest.raises(MissingDependencyError, match="pip install pot"):
        w2(np.zeros((2, 2)), np.ones((2, 2)), method="exact")
    assert w2_1d([0.0], [1.0]) == 1.0  # the 1-D formula needs no POT
    # and importing the module does not import POT: no top-level `import ot`
    import ast

    import mfderive.simulate.transport as T

    tree = ast.parse(open(T.__file__, encoding="utf-8").read())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name.split(".")[0] for n in top for a in n.names} | {
        (n.module or "").split(".")[0] for n in top if isinstance(n, ast.ImportFrom)
    }
    assert "ot" not in names


# --------------------------------------------------------------------------- properties


atoms = st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None)
@given(atoms, atoms, st.floats(-5, 5))
def test_property_1d_formula_is_pot_exact_and_translation(x, y, c):
    x, y = np.array(x), np.array(y)
    assert w2_1d(x, y, squared=True) == pytest.approx(emd_sq(x, y), rel=1e-9, abs=1e-9)
    assert w2(x, x + c, method="exact") == pytest.approx(abs(c), abs=1e-6)


def test_sinkhorn_jax_backend_agrees_with_numpy():
    # the same POT solver on JAX arrays (x64 from conftest): equal to rounding and tol
    rng = np.random.default_rng(8)
    X, Y = rng.uniform(size=(10, 2)), rng.uniform(size=(12, 2)) + 0.3
    s_np = sinkhorn_divergence(X, Y, eps=1.0)
    s_jax = sinkhorn_divergence(X, Y, eps=1.0, backend="jax")
    assert s_jax == pytest.approx(s_np, abs=1e-6)
    with pytest.raises(SimulationInputError, match="backend"):
        w2(X, Y, backend="torch")


def test_grid_1d_cells_with_mass_below_rounding_give_a_number():
    """Cells of a narrow Gaussian far in its tail carry masses down to 1e-79, below the
    rounding of the cumulative sum: zero- or tiny-width quantile pieces.  W₂ must stay
    finite and equal the value with those cells emptied (their mass cannot matter)."""
    g = Grid(-6.0, 6.0, 200)
    h = g.h[0]
    c = -6.0 + h * (np.arange(200) + 0.5)
    m = np.exp(-(c**2) / (2 * 0.1**2))
    m = m / (m.sum() * h)
    x = np.random.default_rng(0).normal(0.0, 0.1, 50)
    got = w2_to_grid(x, None, g, m)
    m0 = np.where(m * h < 1e-16, 0.0, m)
    ref = w2_to_grid(x, None, g, m0 / (m0.sum() * h))
    assert math.isfinite(got) and got == pytest.approx(ref, rel=1e-9)
