"""Simulator inputs (issue 10, B10, B11, B13, C14): every bad input raises a named
``MfDeriveError`` before the first step, never a raw JAX/NumPy error or a silently wrong
number; ``values=`` keys are matched by name against the flow's own symbols and never
evaluated; explicit grid steps beyond the stability limits are refused at ``init``, and a
run that leaves the scheme's admissible set (a negative density, an unconverged JKO step)
stops with a ``SimulationError``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.errors import NotAFlowError, SimulationInputError, UnsafeInputError
from mfderive.simulate.finite_volume import GridState
from mfderive.errors import StepSizeError
from mfderive.simulate.inputs import rate

u, x = sp.symbols("u x", real=True)
x1, x2 = sp.symbols("x1 x2", real=True)
a = sp.Symbol("a", positive=True)
s = sp.Symbol("sigma", positive=True)
al = sp.Symbol("alpha", positive=True)
mu = mf.Measure("mu", (u,))
nu = mf.Data("nu", (x,))
mu2 = mf.Measure("mu", (x1, x2))
OU = mf.WassersteinFlow(mf.integral(a * u**2 / 2, mu), mu, noise=s)
FIT = mf.WassersteinFlow(mf.integral(mf.integral((u - x) ** 2 / 2, nu), mu), mu)  # uses data nu
WFR = mf.UnbalancedFlow(mf.integral(u**2 / 2, mu), mu, al)
mx, my = mf.Measure("mux", (u,)), mf.Measure("muy", (x,))
GAME = mf.ZeroSumGame(mf.integral(mf.integral(sp.cos(u - x), my), mx), mx, my, al)
GRID_OU = mf.WassersteinFlow(mf.integral(u**2 / 2, mu), mu, noise=sp.Integer(1))
KEY = jax.random.PRNGKey(0)
PTS, WTS = np.linspace(-1, 1, 3), np.full(3, 1 / 3)
GRID = mf.Grid(-4, 4, 40)


def ou(**kw):
    return mf.particle_flow(OU, **{"values": {a: 1.0, s: 0.5}, **kw})


def fit(pts, wts):
    return mf.particle_flow(FIT, data={nu: (pts, wts)})


def ou_init(X, key=KEY):
    return ou()[0](X, key)


def normalised(g, mean=0.0, var=0.5):
    m = g.gaussian(mean, var)
    return m / g.integrate(m)


def grid_init(density, **kw):
    return mf.grid_flow(GRID_OU, GRID, **{"dt": 1e-3, **kw})[0](density)


def jko(**kw):
    return mf.entropic_jko(GRID_OU, GRID, **{"tau": 0.1, "epsilon": 0.05, **kw})


def run_ou(steps, record_every=1, state=None):
    init, step, obs = ou()
    return mf.run(step, init(np.zeros(4), KEY) if state is None else state, steps, obs, record_every)


BAD = [
    # -- data= (B10) --------------------------------------------------------------------------
    ("data keyed by the flowed measure", lambda: mf.particle_flow(FIT, data={mu: (PTS, WTS)}),
     SimulationInputError, "flowed measure"),
    ("data keyed by a string", lambda: mf.particle_flow(FIT, data={"nu": (PTS, WTS)}),
     SimulationInputError, "mf.Data"),
    ("data not a pair", lambda: mf.particle_flow(FIT, data={nu: PTS}), SimulationInputError, "pair"),
    ("data missing", lambda: mf.particle_flow(FIT), SimulationInputError, "pass data="),
    ("empty data arrays", lambda: fit(np.zeros(0), np.zeros(0)), SimulationInputError, "empty"),
    ("data weights of length 1 (no broadcast)", lambda: fit(PTS, np.ones(1)), SimulationInputError, "one per point"),
    ("data weights of the wrong length", lambda: fit(PTS, np.ones(2) / 2), SimulationInputError, "one per point"),
    ("2-D data weights", lambda: fit(PTS, np.ones((3, 1)) / 3), SimulationInputError, "one per point"),
    ("negative data weights", lambda: fit(PTS, [0.5, 0.7, -0.2]), SimulationInputError, "non-negative"),
    ("NaN data points", lambda: fit([0.0, np.nan, 1.0], WTS), SimulationInputError, "NaN"),
    ("infinite data weights", lambda: fit(PTS, [np.inf, 0, 0]), SimulationInputError, "infinite"),
    ("data points of the wrong dimension", lambda: fit(np.zeros((3, 2)), WTS), SimulationInputError, "shape"),
    ("complex data points", lambda: fit(PTS + 1j, WTS), SimulationInputError, "real numbers"),
    ("ragged data points", lambda: fit([[0.0], [1.0, 2.0]], WTS), SimulationInputError, "ragged"),
    # -- values= (B10, C14) ---------------------------------------------------------------------
    ("missing parameter: say values=", lambda: mf.particle_flow(OU, values={a: 1.0}),
     SimulationInputError, "pass values={'sigma'"),
    ("no values at all", lambda: mf.particle_flow(OU), SimulationInputError, "values="),
    ("unknown name", lambda: mf.particle_flow(OU, values={"a": 1, "sigma": 1, "tau": 1}),
     SimulationInputError, "'tau' is not a parameter"),
    ("an expression string is only a name", lambda: mf.particle_flow(OU, values={"a": 1, "sigma**2": 1}),
     SimulationInputError, "not a parameter"),
    ("a key that is neither Symbol nor name", lambda: mf.particle_flow(OU, values={a: 1, 2: 1}),
     SimulationInputError, "keys must be"),
    ("a parameter given twice", lambda: mf.particle_flow(OU, values={a: 1, s: 1, "sigma": 1}),
     SimulationInputError, "twice"),
    ("values not a dict", lambda: mf.particle_flow(OU, values=[(a, 1)]), SimulationInputError, "dict"),
    ("NaN sigma", lambda: mf.particle_flow(OU, values={a: 1, s: np.nan}), SimulationInputError, "values['sigma']"),
    ("infinite parameter", lambda: mf.particle_flow(OU, values={a: np.inf, s: 1}), SimulationInputError, "finite"),
    ("complex parameter", lambda: mf.particle_flow(OU, values={a: 1 + 1j, s: 1}), SimulationInputError, "real"),
    ("a string value is not parsed", lambda: mf.particle_flow(OU, values={a: "1", s: 1}),
     SimulationInputError, "real number"),
    ("symbolic value", lambda: mf.particle_flow(OU, values={a: sp.Symbol("b"), s: 1}),
     SimulationInputError, "real number"),
    # -- dt and other options (B10) -------------------------------------------------------------
    ("dt NaN", lambda: ou(dt=np.nan), SimulationInputError, "dt"),
    ("dt negative", lambda: ou(dt=-0.1), SimulationInputError, "dt must be positive"),
    ("dt zero", lambda: ou(dt=0), SimulationInputError, "dt must be positive"),
    ("dt infinite", lambda: ou(dt=np.inf), SimulationInputError, "finite"),
    ("dt a string", lambda: ou(dt="0.1"), SimulationInputError, "dt"),
    ("chunk_size 0", lambda: ou(chunk_size=0), SimulationInputError, "chunk_size"),
    ("a flow of the wrong kind", lambda: mf.particle_flow(WFR, values={al: 1}), NotAFlowError, "WassersteinFlow"),
    # -- init: particles and keys (B10) ---------------------------------------------------------
    ("NaN particles", lambda: ou_init([0.0, np.nan]), SimulationInputError, "NaN"),
    ("infinite particles", lambda: ou_init([0.0, -np.inf]), SimulationInputError, "infinite"),
    ("no particles (N = 0)", lambda: ou_init(np.zeros(0)), SimulationInputError, "empty"),
    ("particles with too many columns", lambda: ou_init(np.zeros((4, 2))), SimulationInputError, "shape"),
    ("complex particles", lambda: ou_init(np.zeros(4) + 1j), SimulationInputError, "real numbers"),
    ("string particles", lambda: ou_init("0 1 2"), SimulationInputError, "real numbers"),
    ("a float as key", lambda: ou_init(np.zeros(4), 0.5), SimulationInputError, "PRNG key"),
    ("a string as key", lambda: ou_init(np.zeros(4), "0"), SimulationInputError, "PRNG key"),
    # -- run (B10) ------------------------------------------------------------------------------
    ("steps < 0", lambda: run_ou(-4), SimulationInputError, "steps must be an integer >= 0"),
    ("steps a float", lambda: run_ou(4.0), SimulationInputError, "steps must be an integer"),
    ("record_every = 0", lambda: run_ou(4, 0), SimulationInputError, "record_every must be an integer >= 1"),
    ("steps not a multiple of record_every", lambda: run_ou(5, 2), SimulationInputError, "multiple"),
    ("a state that is not one", lambda: run_ou(4, state=np.zeros(4)), SimulationInputError, "init_fn"),
    # -- birth-death and games (B10) ------------------------------------------------------------
    ("alpha without a value", lambda: mf.birth_death_flow(WFR), SimulationInputError, "'alpha'"),
    ("negative alpha", lambda: mf.birth_death_flow(WFR, values={al: -1}), SimulationInputError, "non-negative"),
    ("birth-death dt zero", lambda: mf.birth_death_flow(WFR, values={al: 1}, dt=0), SimulationInputError, "dt"),
    ("birth-death no particles", lambda: mf.birth_death_flow(WFR, values={al: 1})[0](np.zeros(0), 0),
     SimulationInputError, "empty"),
    ("birth-death wrong flow", lambda: mf.birth_death_flow(OU), NotAFlowError, "UnbalancedFlow"),
    ("game dt NaN", lambda: mf.ascent_descent(GAME, values={al: 1}, dt=np.nan), SimulationInputError, "dt"),
    ("game unknown value", lambda: mf.ascent_descent(GAME, values={"alpha": 1, "beta": 2}),
     SimulationInputError, "'beta' is not a parameter"),
    ("game player without particles", lambda: mf.ascent_descent(GAME, values={al: 1})[0](np.zeros(0), np.ones(3)),
     SimulationInputError, "empty"),
    ("game NaN particles", lambda: mf.ascent_descent(GAME, values={al: 1})[0](np.ones(3), [0, np.nan]),
     SimulationInputError, "NaN"),
    ("game NaN probes", lambda: mf.ascent_descent(GAME, values={al: 1}, probes=([np.nan], [0.0])),
     SimulationInputError, "NaN"),
    ("game probes not a pair", lambda: mf.ascent_descent(GAME, values={al: 1}, probes=np.zeros(3)),
     SimulationInputError, "pair"),
    ("game of the wrong kind", lambda: mf.ascent_descent(OU), NotAFlowError, "ZeroSumGame"),
    ("rate from a string is refused", lambda: rate("alpha", {}), UnsafeInputError, "string"),
    ("rate left symbolic", lambda: rate(al, {}), SimulationInputError, "values="),
    # -- grids (B11) ----------------------------------------------------------------------------
    ("non-integer cells truncated", lambda: mf.Grid(0, 1, 10.7), mf.GridError, "whole numbers"),
    ("integral float cells", lambda: mf.Grid(0, 1, 10.0), mf.GridError, "whole numbers"),
    ("NaN bound", lambda: mf.Grid(np.nan, 1, 10), mf.GridError, "empty, reversed or infinite"),
    ("infinite bound", lambda: mf.Grid(0, np.inf, 10), mf.GridError, "empty, reversed or infinite"),
    ("reversed bounds", lambda: mf.Grid(1, 0, 10), mf.GridError, "reversed"),
    ("no cells", lambda: mf.Grid(0, 1, 0), mf.GridError, "at least 3"),
    ("string bound", lambda: mf.Grid("0", 1, 10), mf.GridError, "real numbers"),
    ("grid_flow dt NaN", lambda: mf.grid_flow(GRID_OU, GRID, dt=np.nan), SimulationInputError, "dt"),
    ("grid_flow theta NaN", lambda: mf.grid_flow(GRID_OU, GRID, theta=np.nan), SimulationInputError, "theta"),
    ("grid_flow grid not a Grid", lambda: mf.grid_flow(GRID_OU, (-4, 4, 40)), mf.GridError, "Grid"),
    ("grid_flow data keyed by the flowed measure", lambda: mf.grid_flow(GRID_OU, GRID, data={mu: (PTS, WTS)}),
     SimulationInputError, "flowed measure"),
    ("grid NaN density", lambda: grid_init(np.where(np.arange(40) == 3, np.nan, 0.125)), SimulationInputError, "NaN"),
    ("grid density of the wrong shape", lambda: grid_init(np.ones(41) / 8), mf.GridError, "shape"),
    # -- entropic JKO (B11) ---------------------------------------------------------------------
    ("JKO iterations 0", lambda: jko(iterations=0), SimulationInputError, "iterations must be an integer >= 1"),
    ("JKO iterations 2.5", lambda: jko(iterations=2.5), SimulationInputError, "iterations"),
    ("JKO epsilon NaN", lambda: jko(epsilon=np.nan), SimulationInputError, "epsilon"),
    ("JKO epsilon zero", lambda: jko(epsilon=0), SimulationInputError, "epsilon"),
    ("JKO tau negative", lambda: jko(tau=-0.1), SimulationInputError, "tau"),
    ("JKO tol zero", lambda: jko(tol=0), SimulationInputError, "tol"),
    ("JKO initial mass 2", lambda: jko()[0](2 * normalised(GRID)), mf.GridError, "mass 2"),
    ("JKO NaN density", lambda: jko()[0](np.full(40, np.nan)), SimulationInputError, "NaN"),
]


@pytest.mark.parametrize("what,call,err,match", BAD, ids=[b[0] for b in BAD])
def test_bad_simulator_input_raises_a_named_error(what, call, err, match):
    with pytest.raises(err) as info:
        call()
    assert isinstance(info.value, mf.MfDeriveError)
    assert match in str(info.value), str(info.value)
    assert "smaller dt" not in str(info.value)  # a bad input is named, not blamed on the step size


def test_a_values_key_is_never_evaluated(tmp_path):
    """C14: ``parameter_values`` used to ``sympify`` every key, which runs ``eval``."""
    target = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {target}')"
    with pytest.raises(SimulationInputError, match="is not a parameter of this flow"):
        mf.particle_flow(OU, values={a: 1.0, payload: 0.5})
    assert not target.exists()


def test_values_by_name_give_the_same_trajectory_as_by_symbol():
    X0 = jnp.linspace(-1, 1, 8)
    runs = []
    for values in ({a: 1.5, s: 0.5}, {"a": 1.5, "sigma": 0.5}, {sp.Symbol("a"): 1.5, sp.Symbol("sigma"): 0.5}):
        init, step, obs = mf.particle_flow(OU, values=values, dt=0.01)  # last: other assumptions, same names
        st = step(step(step(init(X0, KEY))))
        runs.append((np.asarray(st.particles), float(obs(st)[0])))
    for P, E in runs[1:]:
        assert np.array_equal(P, runs[0][0]) and E == runs[0][1]


def test_integer_particles_and_int_seeds_are_converted():
    init, step, _ = ou()
    st = init(np.arange(-2, 3), 7)  # int particles are cast to float64, an int seed to PRNGKey
    assert st.particles.dtype == jnp.float64 and st.particles.shape == (5, 1)
    ref = init(np.arange(-2.0, 3.0), jax.random.PRNGKey(7))
    assert np.array_equal(np.asarray(step(st).particles), np.asarray(step(ref).particles))
    typed = init(np.arange(-2.0, 3.0), jax.random.key(7))  # new-style typed keys work too
    assert step(typed).particles.shape == (5, 1)


def test_integer_grid_density_is_converted():
    g = mf.Grid(0, 4, 4)
    flow = mf.WassersteinFlow(mf.local(mu.density(u) ** 2 / 2, mu), mu)  # no mass condition
    st = mf.grid_flow(flow, g, dt=1e-3)[0](np.array([0, 1, 2, 1]))
    assert st.density.dtype == jnp.float64


def test_run_with_zero_steps_returns_the_state_and_an_empty_trace():
    init, step, obs = ou()
    st0 = init(np.zeros(4), KEY)
    st, tr = mf.run(step, st0, 0, obs)
    assert st is st0
    assert set(tr) == {"step", "energy", "dissipation"}
    assert all(v.shape == (0,) for v in tr.values())
    init, step, obs = mf.grid_flow(GRID_OU, GRID, dt=1e-3, snapshots=True)
    _, tr = mf.run(step, init(normalised(GRID)), 0, obs, record_every=5)
    assert tr["density"].shape == (0, 40) and tr["cfl"].shape == (0,)


def test_grid_step_beyond_the_transport_limit_is_refused_at_init_and_caught_in_the_run():
    """B11: past its CFL limit the scheme returned negative densities (min −10.7 at CFL 2.3)."""
    flow = mf.WassersteinFlow(mf.integral(2 * u**2, mu), mu)  # velocity −4u: max 4(5 − h) at the faces
    g = mf.Grid(-5, 5, 50)
    dt = 2.3 * g.h[0] / (4 * (5 - g.h[0]))  # CFL 2.3
    init, step, obs = mf.grid_flow(flow, g, dt=dt)
    m0 = normalised(g, 1.0, 0.25)
    with pytest.raises(StepSizeError, match=r"largest stable dt is 0\.0104167") as info:
        init(m0)  # h / max|u| with |u| = 4|face| ≤ 4(5 − h): 0.2 / 19.2
    assert isinstance(info.value, SimulationInputError) and isinstance(info.value, mf.SimulationError)
    # a state that skipped init: run stops at the first negative density instead of returning it
    st = GridState(jnp.asarray(m0), jnp.zeros(()), jnp.zeros((), jnp.int32), jnp.array(True))
    with pytest.raises(mf.SimulationError, match="density became negative"):
        mf.run(step, st, 20, record_every=20)
    # at the limit itself the run is clean
    init, step, obs = mf.grid_flow(flow, g, dt=g.h[0] / (4 * (5 - g.h[0])))
    st, _ = mf.run(step, init(m0), 20, record_every=20)
    # rounding-level negatives only (measured −2e-31 at CFL 1 on 100 cells): the run's own bound
    assert float(st.density.min()) > -1e-12 * float(st.density.max())


def test_readme_diffusion_step_is_refused_in_2d():
    """B13: dt = h²/(2D) (the README's old rule) is right in 1-D only; in 2-D it blows up.
    The limit dt·D/h² ≤ 0.4/dim is enforced at init."""
    flow = mf.WassersteinFlow(mf.integral((x1**2 + x2**2) / 20, mu2), mu2, noise=sp.Integer(1))  # D = 1/2
    g = mf.Grid((-4, -4), (4, 4), (16, 16))
    h = g.h[0]
    m0 = normalised(g, [0.5, -0.3], [0.5, 0.4])
    init, step, obs = mf.grid_flow(flow, g, dt=h**2 / (2 * 0.5))
    with pytest.raises(StepSizeError, match="0.4/dim"):
        init(m0)
    st = GridState(jnp.asarray(m0), jnp.zeros(()), jnp.zeros((), jnp.int32), jnp.array(True))
    with pytest.raises(mf.SimulationError):
        mf.run(step, st, 30, record_every=30)
    init, step, obs = mf.grid_flow(flow, g, dt=0.4 / 2 * h**2 / 0.5)  # exactly at the limit: accepted
    st, _ = mf.run(step, init(m0), 30, record_every=30)
    assert float(st.density.min()) > 0


def test_jko_step_that_does_not_converge_raises_naming_epsilon():
    """B11: at ε far below h² the iterations stall (marginal error ≈ 0.9, not a JKO step)."""
    g = mf.Grid(-4, 4, 30)  # h² = 0.07
    q = normalised(g, 1.0, 0.25)
    init, step, obs = mf.entropic_jko(GRID_OU, g, tau=0.1, epsilon=1e-5, iterations=20)
    with pytest.raises(mf.SimulationError, match=r"epsilon = 1e-05") as info:
        mf.run(step, init(q), 2, obs)
    assert "iterations" in str(info.value) and "tol = 0.001" in str(info.value)
    # opting out of the check returns the unconverged iterate, marked as such in the trace
    init, step, obs = mf.entropic_jko(GRID_OU, g, tau=0.1, epsilon=1e-5, iterations=20, tol=None)
    _, tr = mf.run(step, init(q), 2, obs)
    assert tr["marginal_error"].max() > 0.1  # measured 0.95, 0.76 (converged steps: tests/test_jko.py)
