"""The (ρ, H) particle reading compiled by mf.compile (issue 10: C14 code generation from
names, B11 weights; the chaos system of Prop 3.3 on ρ = Σ p_i δ_{θ_i}, H(θ_i) = h_i).

The references are independent of the code generator: `mf.evaluate` of the flow's own
expressions on the discrete measure (SymPy Float arithmetic on the particle values: the
route of the former lambdify implementation, without its code generation) and a particle
energy written by hand in JAX."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.errors import (
    CompileError,
    NoParticleReadingError,
    NotAFlowError,
    SimulationInputError,
)
from mfderive.simulate.rho_h import ORDER, RhoHState, rho_h_flow, rho_h_particle_field

LAM = sp.Rational(1, 10)
P = [sp.Rational(1, 2), sp.Rational(3, 10), sp.Rational(1, 5)]
NODES, QW = np.polynomial.legendre.leggauss(8)
T0, H0 = jnp.array([-0.8, 0.1, 0.9]), jnp.array([0.5, -1.0, 1.5])

x, th = sp.symbols("x theta", real=True)
H = sp.Function("H", real=True)
rho, D = mf.Measure("rho", (th,)), mf.Data("D", (x,))
DATA = {D: (NODES, QW)}


def energy_1d(Hf):
    """G = ½∫_D(∫ H(θ) e^{−(θ−x)²} dρ − sin 2x)² + ∫ λ/2 (H² + θ²) dρ (Prop 3.3's example)."""
    f = mf.integral(Hf(th) * sp.exp(-((th - x) ** 2)), rho)
    return mf.integral((f - sp.sin(2 * x)) ** 2 / 2, D) + mf.integral(LAM / 2 * (Hf(th) ** 2 + th**2), rho)


CHAOS = mf.RhoHFlow(energy_1d(H), rho, H, "chaos")


def particle_energy(t, hh):
    """G on the particles, written by hand (independent of the engine and of mf.compile)."""
    p = jnp.array([float(v) for v in P])
    fx = jnp.sum(p[:, None] * hh[:, None] * jnp.exp(-((t[:, None] - NODES[None, :]) ** 2)), axis=0)
    return 0.5 * jnp.sum(QW * (fx - jnp.sin(2 * NODES)) ** 2) + jnp.sum(p * float(LAM) / 2 * (hh**2 + t**2))


# a 2-D ρ with an interaction term (a nested integral against ρ) and a tanh data fit
a, b = sp.symbols("a b", real=True)
rho2 = mf.Measure("rho2", (a, b))
z = rho2.point("z")
G2 = (
    mf.integral((mf.integral(H(a, b) * sp.tanh(a * x + b), rho2) - sp.cos(x)) ** 2 / 2, D)
    + mf.integral(H(a, b) * mf.integral(H(*z) * sp.exp(-((a - z[0]) ** 2) - (b - z[1]) ** 2), rho2, over=z), rho2) / 4
    + mf.integral((H(a, b) ** 2 + a**2 + b**2) / 10, rho2)
)
CHAOS2 = mf.RhoHFlow(G2, rho2, H, "chaos")
P2 = [0.4, 0.35, 0.25]
DATA2 = {D: ([-1.0, -0.3, 0.2, 0.9], [0.25] * 4)}
TH2 = jnp.array([[0.3, -0.2], [-0.7, 0.5], [1.1, 0.1]])


def reference_field(flow, weights, data, theta, h):
    """(w(θ_i), −δG/δH(θ_i)) by mf.evaluate on ρ = Σ p_i δ_{θ_i} with H(θ_i) = h_i, as an
    (n, d + 1) array: no code generation."""
    Hf, y = flow.H, flow.point
    atoms = [tuple(sp.Float(float(c)) for c in np.atleast_1d(row)) for row in np.asarray(theta)]
    hs = [sp.Float(float(v)) for v in h]
    spec = {flow.rho: (atoms, list(weights)), **{m: (list(map(float, pt)), list(map(float, w))) for m, (pt, w) in data.items()}}
    values = {Hf(*t): v for t, v in zip(atoms, hs)}
    cols = []
    for e in (*flow.v, -flow.Q):
        e = mf.evaluate(flow.nonlocal_(sp.expand(e)), spec).xreplace(values)
        cols.append([float(e.xreplace({**dict(zip(y, t)), Hf(*y): v})) for t, v in zip(atoms, hs)])
    return np.array(cols).T


@pytest.mark.parametrize(
    "flow, weights, data, theta",
    [(CHAOS, P, DATA, T0), (CHAOS2, P2, DATA2, TH2)],
    ids=["1d", "2d-interaction"],
)
def test_field_equals_the_evaluated_flow(flow, weights, data, theta):
    field = rho_h_particle_field(flow, weights, data)
    dth, dh = field(theta, H0)
    got = np.column_stack([np.reshape(dth, (len(weights), -1)), dh])
    # JAX float64 against SymPy's 15-digit Floats on the same inputs, O(1) values that are
    # sums of ≤ 24 terms: the routes differ by rounding, ~1e-15 (measured 1.6e-15); 1e-12
    # leaves room and still catches any wrong or missing term
    np.testing.assert_allclose(got, reference_field(flow, weights, data, theta, H0), rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def chaos_sim():
    """``(init, step, observe)`` of the 1-D chaos system, dt = 1e-2 (one compiled step)."""
    return rho_h_flow(CHAOS, P, DATA, dt=1e-2)


def test_recorded_energy_is_the_hand_written_particle_energy(chaos_sim):
    init, step, obs = chaos_sim
    s = init(T0, H0)
    assert isinstance(s, RhoHState)
    for _ in range(3):
        s, tr = mf.run(step, s, 20, obs, record_every=10)
        # the same float64 sum computed two ways: rounding only
        np.testing.assert_allclose(tr["energy"][-1], particle_energy(s.theta, s.h), rtol=1e-12)
    assert np.all(np.diff(tr["energy"]) < 0) and np.all(tr["dissipation"] > 0)


def test_rk4_is_fourth_order_in_dt():
    init, step, _ = rho_h_flow(CHAOS2, P2, DATA2, dt=1e-3)
    ref, _ = mf.run(step, init(TH2, H0), 1000, record_every=1000)
    dts, errs = [0.1, 0.05, 0.025], []
    for dt in dts:
        n = int(round(1.0 / dt))
        st, _ = mf.run(step, init(TH2, H0, dt=dt), n, record_every=n)
        errs.append(float(jnp.max(jnp.abs(st.theta - ref.theta)) + jnp.max(jnp.abs(st.h - ref.h))))
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    # declared order 4.  Measured 4.02 (errors 2e-6, 1.3e-7, 7.9e-9; the dt = 1e-3 reference's
    # own error is ~2e-14): the next term of C dt⁴(1 + c dt) moves the local slope by ~0.03
    # at dt = 0.1.  ±0.2 is ~7 times that, and still tells order 4 from 3 or 5.
    assert abs(slope - ORDER) < 0.2, (slope, errs)


def _payload(path):
    """Python source that creates ``path`` when executed."""
    return f"__import__('pathlib').Path({str(path)!r}).touch()"


def test_a_user_named_parameter_is_never_executed(tmp_path):
    # the former lambdify route printed this symbol's name into generated source and ran it
    target = tmp_path / "symbol"
    G = mf.integral(sp.Symbol(_payload(target), real=True) * H(th) ** 2 + th**2, rho)
    with pytest.raises(CompileError, match="free symbol"):
        rho_h_particle_field(mf.RhoHFlow(G, rho, H, "chaos"), [0.5, 0.5])
    assert not target.exists()


def test_a_user_named_function_is_never_executed(tmp_path):
    target = tmp_path / "function"
    f = sp.Function(_payload(target), real=True)
    G = mf.integral(f(th) + H(th) ** 2, rho)
    with pytest.raises(CompileError, match="undefined function"):
        rho_h_particle_field(mf.RhoHFlow(G, rho, H, "chaos"), [0.5, 0.5])
    assert not target.exists()


def test_the_name_of_H_does_not_matter(tmp_path):
    target = tmp_path / "H"
    Hp = sp.Function(_payload(target), real=True)
    field = rho_h_particle_field(mf.RhoHFlow(energy_1d(Hp), rho, Hp, "chaos"), P, DATA)
    same = rho_h_particle_field(CHAOS, P, DATA)
    for u, v in zip(field(T0, H0), same(T0, H0)):
        np.testing.assert_array_equal(u, v)  # the same compiled arithmetic: bitwise equal
    assert float(field.energy(T0, H0)) == float(same.energy(T0, H0))
    assert not target.exists()


def test_many_particles_compile_once_and_dissipate():
    """n = 1024: the set-up does not grow with n (one compiled field, atoms as arrays)."""
    n = 1024
    t, hh = jax.random.normal(jax.random.PRNGKey(1), (2, n))
    init, step, obs = rho_h_flow(CHAOS, np.full(n, 1.0 / n), DATA, dt=1e-2)
    s, tr = mf.run(step, init(t, hh), 100, obs, record_every=10)
    assert s.theta.shape == (n,) and s.h.shape == (n,) and int(s.step) == 100
    assert np.all(np.diff(tr["energy"]) < 0) and np.all(tr["dissipation"] > 0)


def test_integer_particles_are_cast_to_float(chaos_sim):
    init, step, _ = chaos_sim
    s = init([0, 1, -1], [1, 0, 2])
    assert jnp.issubdtype(s.theta.dtype, jnp.floating) and jnp.issubdtype(s.h.dtype, jnp.floating)
    assert np.all(np.isfinite(step(s).h))


@pytest.mark.parametrize(
    "weights",
    [
        [1.5, -0.5, 0.0],  # issue 10 B11: sums to one but negative
        [0.5, 0.3, 0.3],
        [0.5, 0.5, float("nan")],
        [0.5, 0.5, float("inf")],
        [0.5 + 0j, 0.3, 0.2],
        [[0.5, 0.5]],
        [],
        "abc",
        {0.5, 0.3, 0.2},
        {0: 0.5, 1: 0.5},
        [sp.Symbol("p"), 0.5, 0.5],
        None,
    ],
)
def test_bad_weights_raise(weights):
    with pytest.raises(SimulationInputError, match="weights of 'rho'"):
        rho_h_flow(CHAOS, weights, DATA)
    with pytest.raises(SimulationInputError, match="weights of 'rho'"):
        rho_h_particle_field(CHAOS, weights, DATA)


@pytest.mark.parametrize("dt", [0, -1e-2, float("nan"), float("inf"), 1j, "0.1", None, True])
def test_bad_dt_raises_at_construction_and_init(dt, chaos_sim):
    with pytest.raises(SimulationInputError, match="dt"):
        rho_h_flow(CHAOS, P, DATA, dt=dt)
    init, _, _ = chaos_sim
    if dt is not None:  # None is init's "use the default"
        with pytest.raises(SimulationInputError, match="dt"):
            init(T0, H0, dt=dt)


@pytest.mark.parametrize(
    "theta, h",
    [
        (T0[:2], H0),  # wrong length
        (T0, H0[:2]),
        (T0[:, None, None], H0),
        (T0.at[0].set(jnp.nan), H0),
        (T0, H0.at[1].set(jnp.inf)),
        (T0 + 0j, H0),
        ("abc", H0),
    ],
)
def test_bad_particles_raise_at_init(theta, h, chaos_sim):
    init, _, _ = chaos_sim
    with pytest.raises(SimulationInputError):
        init(theta, h)


@pytest.mark.parametrize(
    "data, match",
    [
        ({rho: (NODES, QW)}, "flowed measure"),  # issue 10 B10: the particles are not data
        ({D: (NODES, QW[:1])}, "one per point"),  # no broadcasting of length-1 weights
        ({D: ([], [])}, "empty"),
        ({D: (NODES, -QW)}, "non-negative"),
        ({D: (NODES * np.nan, QW)}, "NaN"),
        ({D: NODES}, "pair"),
        ({}, "pass data="),
        ([(D, (NODES, QW))], "dict"),
        ({"D": (NODES, QW)}, "keys must be mf.Data"),
    ],
)
def test_bad_data_raises(data, match):
    with pytest.raises(SimulationInputError, match=match):
        rho_h_flow(CHAOS, P, data)


def test_data_named_like_rho_is_another_measure():
    """The lifted measure of (theta, h) keeps rho's name; compile keys measures by object."""
    Drho = mf.Data("rho", (x,))
    G = energy_1d(H).xreplace({D: Drho})
    field = rho_h_particle_field(mf.RhoHFlow(G, rho, H, "chaos"), P, {Drho: (NODES, QW)})
    same = rho_h_particle_field(CHAOS, P, DATA)
    for u, v in zip(field(T0, H0), same(T0, H0)):
        np.testing.assert_array_equal(u, v)  # the same arithmetic: bitwise equal


def test_systems_without_a_particle_reading_raise():
    with pytest.raises(NoParticleReadingError, match="gradient of H"):
        rho_h_particle_field(mf.RhoHFlow(energy_1d(H), rho, H, "transported"), P, DATA)
    with pytest.raises(NoParticleReadingError, match="separated"):
        rho_h_particle_field(mf.RhoHFlow(energy_1d(H), rho, H, "separated"), P, DATA)
    with pytest.raises(NoParticleReadingError, match="no density"):
        rho_h_flow(mf.RhoHFlow(energy_1d(H) + mf.entropy(rho), rho, H, "chaos"), P, DATA)
    with pytest.raises(NotAFlowError, match="RhoHFlow"):
        rho_h_flow(mf.WassersteinFlow(mf.integral(th**2, rho), rho), P)
