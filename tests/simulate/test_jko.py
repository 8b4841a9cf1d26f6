"""Entropic JKO on a grid (C13): implicit Euler in W₂, so first order in the step τ against
the exact OU solution, and stable in the log domain where exp(−C/ε) underflows."""

import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.simulate.jko import ORDER

x = sp.Symbol("x", real=True)
mu = mf.Measure("mu", (x,))
OU = mf.WassersteinFlow(mf.integral(x**2 / 2, mu), mu, noise=sp.Integer(1))
GRID = mf.Grid(-5, 5, 200)


def start():
    q = GRID.gaussian([1.0], [0.25])
    return q / GRID.integrate(q)


def test_entropic_jko_is_first_order_in_tau():
    T, errs, taus = 0.8, [], [0.2, 0.1, 0.05]
    mT, vT = np.exp(-T), 0.25 * np.exp(-2 * T) + 0.5 * (1 - np.exp(-2 * T))
    for tau in taus:
        # ε = 2e-3 ≈ h² (blur below one cell; extra diffusion ε/2τ ≤ 0.02 against σ²/2 = 0.5)
        init, step, obs = mf.entropic_jko(OU, GRID, tau=tau, epsilon=2e-3, iterations=1000)
        n = int(round(T / tau))
        st, tr = mf.run(step, init(start()), n, obs, record_every=1)
        assert tr["marginal_error"].max() < 1e-3  # the inner problem is solved
        assert np.all(np.diff(tr["energy"]) < 0)  # each step decreases E (a minimising movement)
        errs.append(float(GRID.integrate(np.abs(np.asarray(st.density) - GRID.gaussian([mT], [vT])))))
    slope = np.polyfit(np.log(taus), np.log(errs), 1)[0]
    # implicit Euler: order 1 (measured 0.94 at T = 1)
    assert ORDER - 0.2 < slope < ORDER + 0.3, (slope, errs)


def test_entropic_jko_is_stable_where_the_kernel_underflows():
    eps = 1e-5
    C = (GRID.axes[0][:, None] - GRID.axes[0][None, :]) ** 2
    assert np.mean(np.exp(-C / eps) == 0) > 0.95  # a plain Sinkhorn kernel is mostly zeros
    # 400 iterations do not solve the inner problem at this ε (marginal error ≈ 0.9): by
    # default run refuses such a step, naming ε ...
    init, step, obs = mf.entropic_jko(OU, GRID, tau=0.1, epsilon=eps, iterations=400)
    with pytest.raises(mf.SimulationError, match="epsilon = 1e-05"):
        mf.run(step, init(start()), 3, obs, record_every=1)
    # ... and with the check off (tol=None) the log-domain iteration stays finite
    init, step, obs = mf.entropic_jko(OU, GRID, tau=0.1, epsilon=eps, iterations=400, tol=None)
    st, tr = mf.run(step, init(start()), 3, obs, record_every=1)
    assert np.all(np.isfinite(np.asarray(st.density)))
    assert np.all(np.diff(tr["energy"]) < 0) and abs(tr["mass"][-1] - 1) < 1e-12


def test_entropic_jko_errors():
    with pytest.raises(ValueError, match="positive"):
        mf.entropic_jko(OU, GRID, tau=0.1, epsilon=0)
    m = mu.density(x)
    pm = mf.WassersteinFlow(mf.local(m**2 * sp.log(m), mu), mu)  # ξ = 2m log m + m
    with pytest.raises(ValueError, match="kappa"):
        mf.entropic_jko(pm, GRID, tau=0.1, epsilon=1e-3)
