"""ReLU networks in the parameterisations of the ReLU research notes (issue 12 item 4 a–c).

(a) atoms (w_i, a_i): f(x) = (1/N) Σ a_i max(0, w_i·x), a probability measure on (w, a);
(b) a signed measure ν = Σ c_i δ_{w_i}: f(x) = Σ c_i max(0, w_i·x), the weights as state;
(c) the positive/negative split on pairs: f(x) = (1/N) Σ [max(0, p_i·x) − max(0, n_i·x)].

Every expectation is written by hand here in JAX: the particle loss of each
parameterisation and its `jax.grad` (the drift of gradient descent), the network output
of each, and the lifted flow of the signed measure as an explicit Euler loop.
Symbols carry the prefix `rl_` (the measure registry is global).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.codegen import compile as mf_compile
from mfderive.errors import (
    CompileError,
    EvaluationError,
    InvalidExpressionError,
    SimulationInputError,
)
from mfderive.simulate.loop import run
from mfderive.simulate.particles import particle_flow

R = sp.Rational
x1, x2 = sp.symbols("rl_x1 rl_x2", real=True)
w1, w2, a = sp.symbols("rl_w1 rl_w2 rl_a", real=True)
s1, s2 = sp.symbols("rl_s1 rl_s2", real=True)
p1, p2, n1, n2 = sp.symbols("rl_p1 rl_p2 rl_n1 rl_n2", real=True)
NU = mf.Data("rl_nu", (x1, x2))
MU_A = mf.Measure("rl_mu_a", (w1, w2, a))                    # (a) atoms
NU_S = mf.Measure("rl_nu_s", (s1, s2), signed=True)          # (b) signed
MU_C = mf.Measure("rl_mu_c", (p1, p2, n1, n2))               # (c) pairs
KAPPA = R(1, 20)    # (b): κ ν(Θ) = κ∫1 dν (no unit-mass shortcut), in (a): κ∫a dμ


def relu(u):
    return sp.Max(0, u)


TARGET = relu(x1) - relu(x2) / 2                             # a teacher network
F_A_FIT = mf.integral((mf.integral(a * relu(w1 * x1 + w2 * x2), MU_A) - TARGET) ** 2 / 2, NU)
F_A = F_A_FIT + KAPPA * mf.integral(a, MU_A)
F_B_FIT = mf.integral((mf.integral(relu(s1 * x1 + s2 * x2), NU_S) - TARGET) ** 2 / 2, NU)
F_B = F_B_FIT + KAPPA * mf.integral(sp.Integer(1), NU_S)    # = F_A for c_i = a_i / N
F_C = mf.integral(
    (mf.integral(relu(p1 * x1 + p2 * x2) - relu(n1 * x1 + n2 * x2), MU_C) - TARGET) ** 2 / 2, NU
)

N, M = 5, 7
XS = np.array(jax.random.normal(jax.random.PRNGKey(1), (M, 2)))
XS[0] = [1.0, 1.0]                                            # a data point on the kink below
QS = np.full(M, 1.0 / M)
DATA = {NU: (XS, QS)}


def t_hand(X):
    return jax.nn.relu(X[:, 0]) - jax.nn.relu(X[:, 1]) / 2


# -- hand-written particle losses (independent of the engine) -------------------------------
def loss_a(P, act=jax.nn.relu, p=None):
    """F(μ_N) of (a) for μ_N = Σ p_i δ_{(W_i, A_i)} (default p = 1/N)."""
    p = jnp.full(P.shape[0], 1.0 / P.shape[0]) if p is None else p
    f = act(jnp.asarray(XS) @ P[:, :2].T) @ (p * P[:, 2])
    return jnp.sum(QS * (f - t_hand(jnp.asarray(XS))) ** 2) / 2 + float(KAPPA) * jnp.sum(p * P[:, 2])


def loss_b(W, c, act=jax.nn.relu):
    """F(Σ c_i δ_{W_i}) of (b)."""
    f = act(jnp.asarray(XS) @ W.T) @ c
    return jnp.sum(QS * (f - t_hand(jnp.asarray(XS))) ** 2) / 2 + float(KAPPA) * jnp.sum(c)


def loss_c(P):
    """F(μ_N) of (c), μ_N = (1/N) Σ δ_{(p_i, n_i)}."""
    X = jnp.asarray(XS)
    f = (jax.nn.relu(X @ P[:, :2].T) - jax.nn.relu(X @ P[:, 2:].T)).mean(1)
    return jnp.sum(QS * (f - t_hand(X)) ** 2) / 2


DT = 0.02
FUNCTIONALS = {"a": (F_A, MU_A), "b": (F_B, NU_S), "c": (F_C, MU_C)}


@functools.cache
def simulator(which, conv=0, lift_mass=None):
    """particle_flow of a parameterisation, built once per module (each build compiles)."""
    F, mu = FUNCTIONALS[which]
    return particle_flow(mf.WassersteinFlow(F, mu), data=DATA, dt=DT, relu_convention=conv,
                         lift_mass=lift_mass)


def drift_of(step, state, dt=DT):
    """(X_1 − X_0)/dt of one step: the drift (deterministic flows)."""
    return (step(state).particles - state.particles) / dt


P0 = np.array(jax.random.normal(jax.random.PRNGKey(2), (N, 3)))


# -- (a) atoms: derive -> compile -> particle_flow -> observe --------------------------------
def test_atoms_drift_is_minus_grad_of_n_times_the_particle_energy_off_the_kink():
    init, step, observe = simulator("a")
    s = init(P0, 0)
    expected = -N * jax.grad(loss_a)(jnp.asarray(P0))   # D_μF(μ_N, θ_i) = N ∇_{θ_i} F(μ_N)
    # one explicit step read back as a drift: rounding only (float64, |drift| ~ 1)
    np.testing.assert_allclose(drift_of(step, s), expected, rtol=0, atol=1e-11)
    np.testing.assert_allclose(float(observe(s)[0]), float(loss_a(jnp.asarray(P0))), rtol=1e-13)


def test_atoms_on_the_kink_the_relu_convention_is_honoured():
    P = P0.copy()
    P[0, :2] = [1.0, -1.0]          # w_0 · x_0 = 0 exactly: the neuron sits on the kink
    got = {}
    for conv in (0, None):
        init, step, _ = simulator("a", conv)
        got[conv] = np.asarray(drift_of(step, init(P, 0)))
    # jax.nn.relu has relu'(0) = 0; jnp.maximum(u, 0) splits the tie: slope 1/2 = SymPy's H(0)
    zero = -N * jax.grad(loss_a)(jnp.asarray(P))
    half = -N * jax.grad(lambda Q: loss_a(Q, act=lambda u: jnp.maximum(u, 0.0)))(jnp.asarray(P))
    assert abs(float(zero[0, 0] - half[0, 0])) > 1e-3          # the two conventions differ here
    np.testing.assert_allclose(got[0], zero, rtol=0, atol=1e-11)
    np.testing.assert_allclose(got[None], half, rtol=0, atol=1e-11)


def test_atoms_with_probability_weights_move_by_the_gradient_of_the_first_variation():
    p = np.array([0.1, 0.3, 0.2, 0.25, 0.15])
    init, step, observe = simulator("a")
    s = init(P0, 0, weights=p)
    # weighted empirical measure: ∇_y δF/δμ(y) at y = θ_i is (1/p_i) ∇_{θ_i} F(Σ p_j δ_{θ_j})
    g = np.asarray(jax.grad(lambda Q: loss_a(Q, p=jnp.asarray(p)))(jnp.asarray(P0)))
    np.testing.assert_allclose(drift_of(step, s), -g / p[:, None], rtol=0, atol=1e-11)
    np.testing.assert_allclose(step(s).weights, p, rtol=0, atol=0)     # the weights are kept
    # the dissipation is the p-weighted mean of |drift|²
    diss = np.sum(p * np.sum((g / p[:, None]) ** 2, 1))
    assert float(observe(s)[1]) == pytest.approx(float(diss), rel=1e-10)


# -- (b) the signed measure, weights as state ---------------------------------------------
W0 = P0[:, :2]
C0 = P0[:, 2] / N                     # matched to (a): c_i = a_i / N


@pytest.mark.parametrize("lift_mass", [None, 1.0])
def test_signed_lifted_flow_is_gradient_descent_of_the_particle_loss(lift_mass):
    init, step, observe = simulator("b", 0, lift_mass)
    s = init(W0, 0, weights=C0)
    m = 1.0 / N if lift_mass is None else lift_mass
    gW, gc = (np.asarray(g) for g in jax.grad(loss_b, argnums=(0, 1))(jnp.asarray(W0), jnp.asarray(C0)))
    s1_ = step(s)
    # Ẋ = −(1/m) ∂L/∂X, ċ = −m ∂L/∂c (the lift has masses m, amplitudes c/m)
    np.testing.assert_allclose((s1_.particles - s.particles) / DT, -gW / m, rtol=0, atol=1e-11)
    np.testing.assert_allclose((s1_.weights - s.weights) / DT, -m * gc, rtol=0, atol=1e-11)
    np.testing.assert_allclose(float(observe(s)[0]), float(loss_b(jnp.asarray(W0), jnp.asarray(C0))), rtol=1e-13)
    diss = m * np.sum(gc**2) + np.sum(gW**2) / m
    assert float(observe(s)[1]) == pytest.approx(diss, rel=1e-10)


def test_signed_energy_decreases_at_the_recorded_rate_along_the_trajectory_of_the_atoms():
    steps = 100
    ia, sa, oa = simulator("a")
    ib, sb, ob = simulator("b")
    st_b, tr_b = run(sb, ib(W0, 0, weights=C0), steps, ob, record_every=1)
    st_a = ia(P0, 0)
    for _ in range(steps):                   # the atoms flow, step by step (no second scan)
        st_a = sa(st_a)
    E = tr_b["energy"]
    assert np.all(np.diff(E) < 0) and E[-1] < 0.8 * E[0]
    # dF/dt = −Σ (m V_i² + c_i²/m |∇V_i|²): a forward difference matches it to O(dt) (5 %)
    np.testing.assert_allclose((E[1:51] - E[:50]) / DT, -tr_b["dissipation"][:50], rtol=0.05)
    # the lift with masses 1/N is the atoms flow: equal up to rounding over 100 steps
    assert float(oa(st_a)[0]) == pytest.approx(float(E[-1]), rel=1e-9)
    np.testing.assert_allclose(st_b.particles, st_a.particles[:, :2], rtol=0, atol=1e-10)
    np.testing.assert_allclose(st_b.weights, st_a.particles[:, 2] / N, rtol=0, atol=1e-10)


# -- (c) and the outputs of all three ----------------------------------------------------
def split_of(W, c):
    """(p_i, n_i) = (N c_i⁺ w_i, N c_i⁻ w_i): (1/N)[relu(p·x) − relu(n·x)] = c relu(w·x)."""
    cp, cm = np.maximum(c, 0), np.maximum(-c, 0)
    return np.concatenate([N * cp[:, None] * W, N * cm[:, None] * W], 1)


def test_the_three_parameterisations_give_one_network_output():
    xt = np.array(jax.random.normal(jax.random.PRNGKey(3), (9, 2)))
    fa = mf_compile(mf.integral(a * relu(w1 * x1 + w2 * x2), MU_A), [MU_A], at=(x1, x2))
    fb = mf_compile(mf.integral(relu(s1 * x1 + s2 * x2), NU_S), [NU_S], at=(x1, x2))
    fc = mf_compile(mf.integral(relu(p1 * x1 + p2 * x2) - relu(n1 * x1 + n2 * x2), MU_C), [MU_C], at=(x1, x2))
    hand = np.maximum(xt @ W0.T, 0) @ C0
    out_a = fa(P0, np.full(N, 1.0 / N), xt)
    out_b = fb(W0, C0, xt)
    out_c = fc(split_of(W0, C0), np.full(N, 1.0 / N), xt)
    for out in (out_a, out_b, out_c):
        np.testing.assert_allclose(out, hand, rtol=0, atol=1e-13)
    # the energies agree too (exact rationals through mf.evaluate for (b) vs (a))
    atoms = [(R(1), R(-2)), (R(1, 2), R(3))]
    c = [R(3, 2), R(-1, 3)]
    ex = {NU: ([(R(1), R(1)), (R(-1), R(2))], [R(1, 2), R(1, 2)])}
    e_b = mf.evaluate(F_B_FIT, {NU_S: (atoms, c), **ex})
    e_a = mf.evaluate(F_A_FIT, {MU_A: ([(*w, 2 * ci) for w, ci in zip(atoms, c)], [R(1, 2)] * 2), **ex})
    assert e_a == e_b and e_b != 0


def test_split_runs_and_its_drift_is_minus_grad_of_n_times_its_particle_energy():
    P = split_of(W0, C0) + 0.1 * np.array(jax.random.normal(jax.random.PRNGKey(4), (N, 4)))
    init, step, observe = simulator("c")
    s = init(P, 0)
    np.testing.assert_allclose(drift_of(step, s), -N * jax.grad(loss_c)(jnp.asarray(P)), rtol=0, atol=1e-11)
    E = [float(observe(s)[0])]
    for _ in range(20):
        s = step(s)
        E.append(float(observe(s)[0]))
    assert np.all(np.diff(E) < 0)


# -- bad input, at init or earlier -----------------------------------------------------------
def test_bad_weights_are_refused_at_init():
    init_a, init_b = simulator("a")[0], simulator("b")[0]
    bad = [
        (init_a, dict(weights=np.array([0.5, 0.5, 0.5, -0.5, 0.0])), "non-negative"),   # signed on unsigned
        (init_a, dict(weights=np.full(N, 0.3)), "sum to"),
        (init_a, dict(weights=np.full(N + 1, 1.0 / (N + 1))), "shape"),
        (init_b, dict(weights=np.array([1.0, np.nan, 0, 0, 0])), "NaN"),
        (init_b, dict(weights=np.ones((N, 1))), "shape"),
        (init_b, {}, "signed measure"),                                                   # required
    ]
    for init, kw, words in bad:
        with pytest.raises(SimulationInputError, match=words):
            init(W0 if init is init_b else P0, 0, **kw)
    with pytest.raises(SimulationInputError, match="lift_mass"):
        particle_flow(mf.WassersteinFlow(F_A, MU_A), data=DATA, lift_mass=1.0)
    with pytest.raises(SimulationInputError, match="lift_mass"):
        particle_flow(mf.WassersteinFlow(F_B, NU_S), data=DATA, lift_mass=-1.0)


def test_entropy_and_noise_meet_a_signed_measure_with_a_clear_error():
    with pytest.raises(InvalidExpressionError, match="probability measures only"):
        particle_flow(mf.WassersteinFlow(F_B, NU_S, noise=1), data=DATA)
    with pytest.raises(InvalidExpressionError, match="probability measures only"):
        particle_flow(mf.WassersteinFlow(F_B + mf.entropy(NU_S), NU_S), data=DATA)
    with pytest.raises(EvaluationError, match="probability measures only"):
        mf.evaluate(mf.entropy(NU_S), {NU_S: mf.Density(s1 * 0 + 1, [(0, 1), (0, 1)])})
    with pytest.raises(CompileError, match="probability measures only"):
        mf_compile(mf.entropy(NU_S), [NU_S], grids={NU_S: mf.Grid((0, 0), (1, 1), (4, 4))})
