"""Shared fixtures: the two-layer network of DESIGN.md and small exact discrete measures."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import pytest  # noqa: E402
import sympy as sp  # noqa: E402
from hypothesis import settings  # noqa: E402

import mfderive as mf  # noqa: E402

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("ci")

R = sp.Rational


class NN:
    """F(μ) = ½∫(∫ w tanh(a x + b) μ(dw da db) − sin x)² ν(dx) + λ∫(w²+a²+b²) dμ."""

    w, a, b, x = sp.symbols("w a b x", real=True)
    lam = R(1, 100)
    mu = mf.Measure("mu", (w, a, b))
    nu = mf.Data("nu", (x,))
    y = mu.point("y")
    z = mu.point("z")
    phi = staticmethod(lambda p, x: p[0] * sp.tanh(p[1] * x + p[2]))
    f_mu = mf.integral(w * sp.tanh(a * x + b), mu)
    F = mf.integral((f_mu - sp.sin(x)) ** 2 / 2, nu) + lam * mf.integral(w**2 + a**2 + b**2, mu)
    # 5 data points with equal weights: an exact quadrature of the empirical risk
    data = ([R(-1), R(-1, 2), R(0), R(1, 3), R(1)], [R(1, 5)] * 5)
    atoms = [(R(1, 2), R(1), R(-1, 3)), (R(-1), R(2, 3), R(1, 4)), (R(1, 3), R(-1, 2), R(1))]
    weights = [R(1, 2), R(1, 3), R(1, 6)]
    other = [(R(2), R(-1, 4), R(0)), (R(-1, 3), R(1, 5), R(-1, 2))]
    other_weights = [R(3, 4), R(1, 4)]


@pytest.fixture
def nn():
    return NN
