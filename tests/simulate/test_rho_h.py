"""The (ρ, H) chaos particles of Fernández-Real & Figalli (2022, Prop. 3.3) at realistic
width (issue 12, claim C11.2): n = 1024 particles on two variables with an interaction term,
against a hand-written JAX integrator of the same ODEs (RK4 on the weighted gradient flow
θ_i' = −∂G/∂θ_i / p_i, h_i' = −∂G/∂h_i / p_i of a particle energy written by hand and
differentiated by ``jax.grad``), and the identity dG/dt = −Σ p_i(|θ_i'|² + h_i'²) along the run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.simulate.rho_h import ORDER, rho_h_flow, rho_h_particle_field

a, b, x = sp.symbols("rhb_a rhb_b rhb_x", real=True)
H = sp.Function("rhbH", real=True)
rho, D = mf.Measure("rhb_rho", (a, b)), mf.Data("rhb_D", (x,))
z = rho.point("rhb_z")
XS, QS = np.array([-1.0, -0.3, 0.2, 0.9]), np.full(4, 0.25)
DATA = {D: (XS, QS)}
G = (
    mf.integral((mf.integral(H(a, b) * sp.tanh(a * x + b), rho) - sp.cos(x)) ** 2 / 2, D)
    + mf.integral(H(a, b) * mf.integral(H(*z) * sp.exp(-((a - z[0]) ** 2) - (b - z[1]) ** 2), rho, over=z), rho) / 4
    + mf.integral((H(a, b) ** 2 + a**2 + b**2) / 10, rho)
)
CHAOS = mf.RhoHFlow(G, rho, H, "chaos")


def particle_energy(p):
    """G on ρ = Σ p_i δ_{θ_i}, H(θ_i) = h_i, written by hand."""

    def E(th, h):
        f = jnp.sum((p * h)[:, None] * jnp.tanh(th[:, :1] * XS[None, :] + th[:, 1:]), axis=0)
        fit = 0.5 * jnp.sum(QS * (f - jnp.cos(XS)) ** 2)
        K = jnp.exp(-jnp.sum((th[:, None, :] - th[None, :, :]) ** 2, -1))
        return fit + (p * h) @ K @ (p * h) / 4 + jnp.sum(p * (h**2 + jnp.sum(th**2, -1)) / 10)

    return E


def hand_rk4(p, dt, steps):
    """RK4 on θ' = −∇_θG/p, h' = −∂_hG/p, written independently of mfderive."""
    gE = jax.grad(particle_energy(p), argnums=(0, 1))

    def f(y):
        gt, gh = gE(*y)
        return -gt / p[:, None], -gh / p

    def step(y, _):
        add = lambda u, k, c: (u[0] + c * k[0], u[1] + c * k[1])
        k1 = f(y)
        k2 = f(add(y, k1, dt / 2))
        k3 = f(add(y, k2, dt / 2))
        k4 = f(add(y, k3, dt))
        inc = tuple((e1 + 2 * e2 + 2 * e3 + e4) / 6 for e1, e2, e3, e4 in zip(k1, k2, k3, k4))
        return add(y, inc, dt), None

    return jax.jit(lambda y: jax.lax.scan(step, y, None, length=steps)[0])


N = 1024


def initial(n):
    th = 0.8 * jax.random.normal(jax.random.PRNGKey(3), (n, 2))
    return th, jax.random.normal(jax.random.PRNGKey(4), (n,))


STEPS = 10


@pytest.fixture(scope="module")
def sim():
    """One compiled simulator (dt is state: ``init(..., dt=)`` reuses the compiled scan)."""
    return rho_h_flow(CHAOS, np.full(N, 1.0 / N), DATA, dt=0.02)


def test_chaos_at_1024_particles_is_the_hand_written_integrator(sim):
    p = np.full(N, 1.0 / N)
    th0, h0 = initial(N)
    dt, steps = 0.02, STEPS
    init, step, obs = sim
    s, tr = mf.run(step, init(th0, h0), steps, obs, record_every=1)
    th_ref, h_ref = hand_rk4(jnp.asarray(p), dt, steps)((th0, h0))
    # the same ODE, the same RK4 steps; the two fields are the same sums in another order:
    # rounding of O(1) values, amplified by at most e^{L t} over t = 0.2 (measured ~1e-15)
    np.testing.assert_allclose(s.theta, th_ref, rtol=0, atol=1e-11)
    np.testing.assert_allclose(s.h, h_ref, rtol=0, atol=1e-11)
    np.testing.assert_allclose(tr["energy"][-1], particle_energy(jnp.asarray(p))(th_ref, h_ref), rtol=1e-12)


def test_chaos_dissipation_identity_along_the_run_at_1024_particles(sim):
    """dG/dt = −Σ p_i(|θ_i'|² + h_i'²) (Prop. 3.3 on the particles): central differences of
    the recorded energy against the recorded rate, O(dt²) + RK4's O(dt⁴)."""
    init, step, obs = sim
    errs = []
    for dt in (0.02, 0.01):
        _, tr = mf.run(step, init(*initial(N), dt=dt), STEPS, obs, record_every=1)
        e, r = np.asarray(tr["energy"]), np.asarray(tr["dissipation"])
        assert e[0] - e[-1] > 1e-3 and np.all(np.diff(e) < 0)
        fd = (e[2:] - e[:-2]) / (2 * dt)
        errs.append(float(np.max(np.abs(fd + r[1:-1]))) / float(np.max(r)))
    print("relative errors of dG/dt + rate:", errs)
    # the central difference is second order: halving dt divides the error by ~4 (≥ 3)
    assert errs[0] < 1e-2 and errs[1] < errs[0] / 3, errs


def test_chunked_field_equals_the_field():
    u = sp.Symbol("rhb_u", real=True)
    r1 = mf.Measure("rhb_r1", (u,))
    w = r1.point("rhb_w")
    flow = mf.RhoHFlow(mf.integral(H(u) * mf.integral(H(*w) * sp.exp(-((u - w[0]) ** 2)), r1, over=w), r1) / 4
                       + mf.integral((H(u) ** 2 + u**2) / 10, r1), r1, H, "chaos")
    n = 64
    p = np.full(n, 1.0 / n)
    th, h = initial(n)
    th = th[:, 0]
    full = rho_h_particle_field(flow, p)
    chunked = rho_h_particle_field(flow, p, chunk_size=16)
    for f1, f2 in zip(full(th, h), chunked(th, h)):
        # the same terms, summed per block: rounding only
        np.testing.assert_allclose(f1, f2, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(full.energy(th, h), chunked.energy(th, h), rtol=1e-12)


def test_declared_order():
    assert ORDER == 4
