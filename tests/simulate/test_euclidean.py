"""Gradient flows on R^d: explicit GD, the proximal step (implicit Euler), the exact flow.

Independent expectations: jax.grad / jax.hessian of F written by hand in jax.numpy, scipy's
DOP853 on that hand-written gradient, the matrix exponential and the closed-form
implicit Euler step of a quadratic, scipy's bounded scalar minimiser for the misprinted
prox step, and a PL constant measured on a grid with NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.optimize
import sympy as sp

from mfderive.errors import NotAFlowError, SimulationError, SimulationInputError, StepSizeError
from mfderive.flows.euclidean import EuclideanFlow
from mfderive.simulate import euclidean as eu
from mfderive.simulate.euclidean import (
    exact_gradient_flow,
    gradient_descent,
    lower_function,
    proximal_point,
)
from mfderive.simulate.loop import run


def needs_optax(scheme=None):
    """The proximal step's inner solver is optax's L-BFGS: skip its tests without optax."""
    if scheme is None or scheme is proximal_point:
        pytest.importorskip("optax")

# symbol names unique to this file
x1, x2 = sp.symbols("se_x1 se_x2", real=True)
u = sp.Symbol("se_u", real=True)
c = sp.Symbol("se_c", real=True)

F_SYM = x1**4 / 4 + x1**2 / 2 + x2**2 + x1 * x2 / 2 + sp.sin(x1 + x2)


def F_hand(z):
    return z[0] ** 4 / 4 + z[0] ** 2 / 2 + z[1] ** 2 + z[0] * z[1] / 2 + jnp.sin(z[0] + z[1])


X0 = np.array([1.5, -1.0])


@pytest.fixture(scope="module")
def flow():
    return EuclideanFlow(F_SYM, (x1, x2))


def slope(taus, errs):
    return np.polyfit(np.log(taus), np.log(errs), 1)[0]


def reference(x0, T):
    """x(T) of x' = -grad F by scipy's DOP853 on jax.grad of the hand-written F."""
    g = jax.jit(jax.grad(F_hand))
    sol = scipy.integrate.solve_ivp(lambda t, z: -np.asarray(g(jnp.asarray(z))), (0, T), x0,
                                    method="DOP853", rtol=1e-12, atol=1e-13)
    assert sol.success
    return sol.y[:, -1]


def test_compiled_functions_against_jax_grad(flow):
    fns = lower_function(flow)
    pts = np.random.default_rng(0).normal(size=(3, 2))
    for p in pts:
        z = jnp.asarray(p)
        assert abs(float(fns.value(z)) - float(F_hand(z))) < 1e-13
        assert np.allclose(fns.gradient(z), jax.grad(F_hand)(z), atol=1e-13, rtol=0)
        assert np.allclose(fns.hessian(z), jax.hessian(F_hand)(z), atol=1e-13, rtol=0)
        # the compiled F carries the engine's gradient as its derivative
        assert np.allclose(jax.grad(fns.value)(z), fns.gradient(z), atol=1e-14, rtol=0)


def test_parameters_take_values():
    fl = EuclideanFlow(c * u**2 / 2, u, parameters=(c,))
    fns = lower_function(fl, values={"se_c": 3})
    assert fns.gradient(jnp.array([2.0])).tolist() == [6.0]
    with pytest.raises(SimulationInputError, match="se_c"):
        lower_function(fl)


def test_exact_flow_against_scipy_and_the_dissipation_identity(flow):
    T, tau = 1.0, 0.02
    init, step, observe = exact_gradient_flow(flow, tau=tau)
    state, trace = run(step, init(X0), int(T / tau), observe)
    # DOP853 at rtol 1e-12 vs Dormand-Prince at rtol 1e-10: agreement to ~1e-9
    assert np.max(np.abs(np.asarray(state.x) - reference(X0, T))) < 1e-8
    # C18.1 measured: dF/dt (fourth-order central differences of the recorded F, error
    # tau^4/30 |d^5F/dt^5|: measured below 2e-4 relative at tau = 0.02, where |grad F|^2
    # falls from 16 to 0.5) equals minus the recorded |grad F|^2
    E, D = trace["energy"], trace["dissipation"]
    dEdt = (-E[4:] + 8 * E[3:-1] - 8 * E[1:-3] + E[:-4]) / (12 * tau)
    assert np.max(np.abs(dEdt + D[2:-2]) / (1 + D[2:-2])) < 1e-3
    assert np.all(np.diff(E) < 0)
    assert eu.exact_gradient_flow.ORDER is None


def test_exact_flow_of_a_quadratic_is_the_matrix_exponential():
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    b = np.array([1.0, -1.0])
    xs = sp.Matrix([x1, x2])
    F = (xs.T * sp.Matrix(A).applyfunc(sp.nsimplify) * xs)[0] / 2 + (sp.Matrix(b).applyfunc(sp.nsimplify).T * xs)[0]
    init, step, observe = exact_gradient_flow(EuclideanFlow(F, (x1, x2)), tau=0.5)
    state, _ = run(step, init(X0), 4)
    xstar = -np.linalg.solve(A, b)
    exact = xstar + scipy.linalg.expm(-2.0 * A) @ (X0 - xstar)
    assert np.max(np.abs(np.asarray(state.x) - exact)) < 1e-9


@pytest.mark.parametrize("scheme", [gradient_descent, proximal_point])
def test_first_order_in_tau(flow, scheme):
    """GD and prox converge to the exact flow at T = 1 with the declared order.  The error is
    C tau + O(tau^2), so the fitted log-log slope over tau in [0.00625, 0.1] differs from 1 by
    O(tau): measured 1.04 (GD) and 0.97 (prox); 0.1 leaves room and still tells order 1
    from 2 or 0.5."""
    needs_optax(scheme)
    T = 1.0
    ref = reference(X0, T)
    taus = [0.1, 0.05, 0.025, 0.0125, 0.00625]
    errs = []
    for tau in taus:
        init, step, observe = scheme(flow, tau=tau)
        n = round(T / tau)
        state, trace = run(step, init(X0), n, observe, record_every=n)
        errs.append(np.linalg.norm(np.asarray(state.x) - ref))
        if scheme is proximal_point:
            assert float(trace["residual"][-1]) <= 1e-9
    assert abs(slope(taus, errs) - scheme.ORDER) < 0.1, errs
    # the finest halving alone: ratio 2^ORDER within 3%
    assert abs(np.log2(errs[-2] / errs[-1]) - scheme.ORDER) < 0.03, errs
    assert eu.ORDER == scheme.ORDER == 1


def test_prox_on_a_quadratic_is_the_closed_form_implicit_euler_step():
    needs_optax()
    A = np.array([[3.0, 1.0], [1.0, 0.5]])  # eigenvalues ~3.35, ~0.15
    b = np.array([-1.0, 2.0])
    xs = sp.Matrix([x1, x2])
    F = (xs.T * sp.Matrix(A).applyfunc(sp.nsimplify) * xs)[0] / 2 + (sp.Matrix(b).applyfunc(sp.nsimplify).T * xs)[0]
    flow = EuclideanFlow(F, (x1, x2))
    for tau in (0.01, 0.3, 10.0):  # 10 is far above GD's stability limit 2/3.35
        init, step, observe = proximal_point(flow, tau=tau)
        s = init(X0)
        x = X0.copy()
        for _ in range(3):
            s = step(s)
            x = np.linalg.solve(np.eye(2) + tau * A, x - tau * b)  # (I + tau A)^{-1}(x_n - tau b)
            assert np.max(np.abs(np.asarray(s.x) - x)) < 1e-9 * max(1.0, tau)
            assert float(s.residual) <= 1e-9
    with pytest.raises(StepSizeError, match="2/L"):
        gradient_descent(flow, tau=10.0)


def test_pl_rate_of_a_strongly_convex_quadratic_is_two_mu():
    """F(x_t) - F* = sum_i lambda_i c_i^2 e^{-2 lambda_i t} / 2 in the eigenbasis: the bound
    e^{-2 mu t} holds at every t with mu = lambda_min (PL), and the late rate is exactly
    2 mu (the other mode is smaller by e^{-2(lambda_max - lambda_min)t} < 1e-7 for t >= 3):
    a wrong mu (half, double) fails the 0.1% check."""
    A = sp.Matrix([[1, sp.Rational(3, 10)], [sp.Rational(3, 10), 4]])
    xs = sp.Matrix([x1, x2])
    F = (xs.T * A * xs)[0] / 2 + x1 - x2
    flow = EuclideanFlow(F, (x1, x2))
    rep = flow.pl()
    mu, Fstar = float(rep.mu), float(rep.minimum)
    assert abs(mu - np.linalg.eigvalsh(np.array(A, dtype=float)).min()) < 1e-12
    tau = 0.1
    init, step, observe = exact_gradient_flow(flow, tau=tau)
    _, trace = run(step, init(X0), 60, observe)
    t = tau * trace["step"]
    gap = trace["energy"] - Fstar
    gap0 = float(observe(init(X0))["energy"]) - Fstar
    assert np.all(gap <= np.exp(-2 * mu * t) * gap0 * (1 + 1e-9))
    late = t >= 3
    rate = -slope(np.exp(t[late]), gap[late])  # d log(gap)/dt, fitted
    assert abs(rate - float(rep.rate)) < 1e-3 * float(rep.rate), (rate, float(rep.rate))


def test_pl_rate_of_a_nonconvex_pl_function():
    """x^2 + 3 sin^2 x (Karimi, Nutini & Schmidt 2016): not convex (F'' = 2 + 6 cos 2x < 0
    near pi/2), PL with mu >= 1/32.  mu is measured by NumPy on a grid as
    min F'^2 / (2 (F - F*)), F* = 0; the exact flow must obey F(x_t) <= e^{-2 mu t} F(x_0) at
    every t, and its late rate is 2 F''(0) = 16 >= 2 mu (linearisation at the minimiser)."""
    flow = EuclideanFlow(u**2 + 3 * sp.sin(u) ** 2, u)
    assert not flow.pl().decided  # SymPy cannot decide it; the simulation measures it
    z = np.linspace(-20, 20, 400_001)
    z = z[np.abs(z) > 1e-3]
    Fz, dFz = z**2 + 3 * np.sin(z) ** 2, 2 * z + 3 * np.sin(2 * z)
    mu = np.min(dFz**2 / (2 * Fz))
    assert mu >= 1 / 32
    tau = 0.02
    init, step, observe = exact_gradient_flow(flow, tau=tau)
    x0 = np.array([2.5])  # starts where F is concave
    _, trace = run(step, init(x0), 75, observe)
    t = tau * trace["step"]
    F0 = float(observe(init(x0))["energy"])
    assert np.all(trace["energy"] <= np.exp(-2 * mu * t) * F0 * (1 + 1e-9))
    late = t >= 1.0
    rate = -slope(np.exp(t[late]), trace["energy"][late])
    assert rate >= 2 * mu
    assert abs(rate - 16) < 0.02 * 16, rate  # the next correction decays like e^{-16 t} x^2


def _misprinted_step(F, x, tau):
    """The prox step as printed in the MFLD slides, with |x - x_n| not squared:
    argmin F(z) + |z - x_n| / (2 tau), by scipy's bounded Brent minimiser (1-D)."""
    res = scipy.optimize.minimize_scalar(lambda z: F(z) + abs(z - x) / (2 * tau),
                                         bounds=(x - 5, x + 5), method="bounded",
                                         options={"xatol": 1e-12})
    return res.x


def test_the_misprinted_prox_step_is_not_implicit_euler():
    """The MFLD slides (Hu, Ren, Šiška & Szpruch; "(Noisy) Gradient Descent") print
    x_{n+1} = argmin F(x) + |x - x_{n+1}|/(2 gamma) and then the first-order condition
    x_{n+1} + gamma grad F(x_{n+1}) = x_n.  Read with |x - x_n| unsquared, the minimiser
    sits at the kink x_n whenever |F'(x_n)| <= 1/(2 tau): it does not move as tau -> 0.
    Decided by (a) the optimality residual of implicit Euler, the slide's own first-order
    condition, and (b) convergence to the flow as tau -> 0."""
    needs_optax()
    flow = EuclideanFlow(u**4 / 4 + u**2 / 2, u)

    def F(z):
        return z**4 / 4 + z**2 / 2

    def dF(z):
        return z**3 + z

    x0, T = 1.5, 1.0
    ref = reference_1d(x0, T)
    taus = [0.05, 0.025, 0.0125]
    bad, good = [], []
    for tau in taus:
        x = x0
        for _ in range(round(T / tau)):
            xn, x = x, _misprinted_step(F, x, tau)
            # (a) the implicit Euler residual of the misprinted step is |F'(x_n)|, not 0
            r = abs((x - xn) / tau + dF(x))
            assert abs(r - abs(dF(xn))) < 1e-6 and r > 0.1
        bad.append(abs(x - ref))
        init, step, observe = proximal_point(flow, tau=tau)
        n = round(T / tau)
        state, trace = run(step, init(np.array([x0])), n, observe, record_every=1)
        assert np.max(trace["residual"]) <= 1e-9  # (a) the corrected step solves it
        good.append(abs(float(state.x[0]) - ref))
    # (b) the misprinted scheme stays at x0: its error does not decrease (slope ~ 0);
    # the corrected one converges with order 1
    assert abs(bad[-1] - abs(x0 - ref)) < 1e-6 and abs(slope(taus, bad)) < 0.05, bad
    assert abs(slope(taus, good) - 1) < 0.1, good


def reference_1d(x0, T):
    sol = scipy.integrate.solve_ivp(lambda t, z: -(z**3 + z), (0, T), [x0], method="DOP853",
                                    rtol=1e-12, atol=1e-13)
    return sol.y[0, -1]


def test_unconverged_prox_step_raises_naming_tau(flow):
    needs_optax()
    init, step, observe = proximal_point(flow, tau=0.5, tol=1e-12, maxiter=1)
    with pytest.raises(SimulationError, match="tau = 0.5"):
        run(step, init(X0), 4, observe)
    with pytest.raises(SimulationError, match="tau = 0.5"):
        step(init(X0))  # eagerly: at once


@pytest.mark.parametrize("scheme", [gradient_descent, proximal_point, exact_gradient_flow])
def test_bad_input(flow, scheme):
    needs_optax(scheme)
    for tau in (0.0, -0.1, np.nan, np.inf, "0.1"):
        with pytest.raises(SimulationInputError):
            scheme(flow, tau=tau)
    init, step, observe = scheme(flow, tau=0.1)
    for x0 in (np.zeros(3), np.zeros((1, 2)), 1.0, [np.nan, 0.0], [np.inf, 0.0], "ab"):
        with pytest.raises(SimulationInputError):
            init(x0)
    with pytest.raises(NotAFlowError):
        scheme(object(), tau=0.1)
    with pytest.raises(SimulationInputError, match="values"):
        scheme(flow, tau=0.1, values={"se_nope": 1.0})


def test_prox_tolerance_below_the_rounding_floor_is_refused(flow):
    needs_optax()
    init, _, _ = proximal_point(flow, tau=1e-8, tol=1e-12)
    with pytest.raises(SimulationInputError, match="rounding floor"):
        init(X0)
    with pytest.raises(SimulationInputError):
        proximal_point(flow, tau=0.1, tol=-1.0)


def test_exact_flow_that_the_solver_did_not_resolve_raises():
    # one Dormand-Prince step for an interval of length 2 on a quartic: the solver's
    # interpolant overshoots and F increases, which the exact flow cannot do
    init, step, observe = exact_gradient_flow(EuclideanFlow(u**4 / 4 + u**2 / 2, u), tau=2.0, mxstep=1)
    with pytest.raises(SimulationError, match="mxstep = 1"):
        run(step, init(np.array([3.0])), 2, observe)
