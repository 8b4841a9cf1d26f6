"""Measures over products with sphere factors: the domain option, the Riemannian Lions
derivative, and the Wasserstein flow on S^{k-1} x R (claims C13.3, C13.4).

Expectations are written by hand: the tangent projection (I - theta theta^T) applied to a
gradient computed here with sp.diff, and tangency theta . grad_theta = 0 on the sphere."""

import math

import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.derive.domains import Domain, Euclidean, Reals, Sphere, sphere_times_line
from mfderive.errors import (
    InvalidOptionError,
    InvalidPointError,
    InvalidVariablesError,
    MfDeriveError,
)

# symbol names unique to this file (the measure registry is global)
T1, T2, T3, R = sp.symbols("dom_t1 dom_t2 dom_t3 dom_r", real=True)
X1, X2, X3 = sp.symbols("dom_x1 dom_x2 dom_x3", real=True)


def _sphere_measure(name="dom_mu"):
    return mf.Measure(name, (T1, T2, T3, R), domain=Sphere(3) * Reals(1))


def _relu_risk(mu, nu):
    f = mf.integral(R * sp.Max(0, T1 * X1 + T2 * X2 + T3 * X3), mu)
    return mf.integral((f - X1 * X2) ** 2 / 2, nu)


# -- the domain objects --------------------------------------------------------------------
def test_product_structure_and_equality():
    d = Sphere(3) * Reals(1)
    assert d.dim == 4 and not d.is_euclidean
    assert d.blocks() == [("sphere", slice(0, 3)), ("reals", slice(3, 4))]
    assert d == sphere_times_line(3) and hash(d) == hash(sphere_times_line(3))
    assert d != Reals(1) * Sphere(3)
    assert (Reals(2) * Reals(1)).is_euclidean and Reals(3) == Euclidean() == Reals(1) * Reals(2)
    assert (Sphere(2) * Sphere(2)).sphere_blocks() == [slice(0, 2), slice(2, 4)]


@pytest.mark.parametrize("bad", [1, 0, -3, 2.0, True, "3", None])
def test_sphere_needs_dimension_two_or_more(bad):
    with pytest.raises(InvalidOptionError):
        Sphere(bad)


def test_bad_domain_specs_raise():
    # wrong number of coordinates for the variables
    with pytest.raises(InvalidVariablesError, match="4 coordinate"):
        mf.Measure("dom_bad1", (T1, T2, R), domain=Sphere(3) * Reals(1))
    # not a domain
    for bad in ("sphere", 3, (Sphere(2), Reals(1)), Sphere):
        with pytest.raises(InvalidOptionError):
            mf.Measure("dom_bad2", (T1, T2, R), domain=bad)
    with pytest.raises(InvalidOptionError):
        Sphere(2) * 3
    # a sphere coordinate declared of one sign
    p1, p2 = sp.symbols("dom_p1 dom_p2", positive=True)
    with pytest.raises(InvalidVariablesError, match="either sign"):
        mf.Measure("dom_bad3", (p1, p2, R), domain=Sphere(2) * Reals(1))
    # signed measures on a sphere domain: refused, not silently Euclidean
    with pytest.raises(InvalidOptionError, match="signed"):
        mf.Measure("dom_bad4", (T1, T2, R), signed=True, domain=Sphere(2) * Reals(1))
    for err in (InvalidOptionError, InvalidVariablesError):
        assert issubclass(err, MfDeriveError)


def test_domain_is_part_of_the_measure_identity():
    a = mf.Measure("dom_id", (T1, T2, R))
    b = mf.Measure("dom_id", (T1, T2, R), domain=Sphere(2) * Reals(1))
    c = mf.Measure("dom_id", (T1, T2, R), domain=Reals(3))  # all-Reals: the default
    assert a != b and a == c and hash(a) == hash(c)
    assert a.domain == Euclidean() and b.domain == Sphere(2) * Reals(1)
    assert mf.Measure("dom_id", (T1, T2, R), domain=Sphere(2) * Reals(1)) == b
    import pickle
    assert pickle.loads(pickle.dumps(b)) == b and pickle.loads(pickle.dumps(b)).domain == b.domain


# -- the Riemannian Lions derivative -------------------------------------------------------
def test_lions_derivative_is_tangent_and_equals_hand_projection():
    mu, nu = _sphere_measure(), mf.Data("dom_nu", (X1, X2, X3))
    F = _relu_risk(mu, nu) + mf.integral(R**2 * T1 + T3**3, mu) / 7
    y = mu.point("y")
    D = mf.lions_derivative(F, mu, at=y)
    # hand-written: Euclidean gradient of the first variation, then (I - theta theta^T)
    e = mf.first_variation(F, mu, at=y)
    g = sp.Matrix([sp.diff(e, s) for s in y])
    th = sp.Matrix(y[:3])
    P = sp.diag(sp.eye(3) - th * th.T, 1)
    hand = P * g
    # compare numerically on discrete measures at points of the sphere
    rng = np.random.default_rng(0)
    atoms = rng.normal(size=(5, 4))
    atoms[:, :3] /= np.linalg.norm(atoms[:, :3], axis=1, keepdims=True)
    data = (rng.normal(size=(6, 3)), np.full(6, 1 / 6))
    meas = {mu: (atoms.tolist(), [0.2] * 5), nu: (data[0].tolist(), data[1].tolist())}
    for _ in range(4):
        p = rng.normal(size=4)
        p[:3] /= np.linalg.norm(p[:3])
        sub = dict(zip(y, [sp.Float(v, 30) for v in p]))
        got = [float(mf.evaluate(D[i].xreplace(sub), meas)) for i in range(4)]
        want = [float(mf.evaluate(hand[i].xreplace(sub), meas)) for i in range(4)]
        assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
        # tangent: theta . grad_theta = 0 (exact up to float rounding of |p| = 1)
        assert abs(float(np.dot(p[:3], got[:3]))) < 1e-12
        # and the projection did something (the Euclidean gradient is not tangent here)
        eu = [float(mf.evaluate(g[i].xreplace(sub), meas)) for i in range(3)]
        assert abs(float(np.dot(p[:3], eu))) > 1e-3


def test_lions_derivative_tangent_symbolically_on_the_sphere():
    mu = _sphere_measure("dom_mu2")
    F = mf.integral(R * T1 * T2 + T3**2 * R**2, mu) ** 2
    y = mu.point("z")
    D = mf.lions_derivative(F, mu, at=y)
    tangency = sp.expand(sum(y[i] * D[i] for i in range(3)))
    # theta . (I - theta theta^T) g = (1 - |theta|^2)(theta . g): zero on the sphere
    on_sphere = tangency.subs(y[2] ** 2, 1 - y[0] ** 2 - y[1] ** 2)
    assert sp.expand(on_sphere) == 0
    # the r component is the Euclidean one
    e = mf.first_variation(F, mu, at=y)
    assert sp.expand(D[3] - sp.diff(e, y[3])) == 0


def test_lions_derivative_at_numeric_points():
    mu = mf.Measure("dom_mu3", (T1, T2, R), domain=Sphere(2) * Reals(1))
    F = mf.integral(R * T1, mu)
    h = sp.sqrt(2) / 2
    D = mf.lions_derivative(F, mu, at=(h, h, 3))
    # grad = (r, 0, t1) = (3, 0, sqrt2/2); (I - tt^T) (3, 0) = (3 - 3/2, -3/2)
    assert [sp.nsimplify(v) for v in D] == [sp.Rational(3, 2), -sp.Rational(3, 2), h]
    with pytest.raises(InvalidPointError, match="norm one"):
        mf.lions_derivative(F, mu, at=(1, 1, 3))
    with pytest.raises(InvalidPointError):
        mf.lions_derivative(F, mu, at=(0.6, 0.8001, 3))
    assert list(mf.lions_derivative(F, mu, at=(0.6, 0.8, 0))) == pytest.approx([0, 0, 0.6])


def test_euclidean_measures_unchanged():
    u1, u2 = sp.symbols("dom_u1 dom_u2", real=True)
    mu_e = mf.Measure("dom_eu", (u1, u2))
    mu_r = mf.Measure("dom_eu", (u1, u2), domain=Reals(2))
    F = mf.integral(u1**2 * u2, mu_e) ** 2
    y = mu_e.point("y")
    D = mf.lions_derivative(F, mu_e, at=y)
    e = mf.first_variation(F, mu_e, at=y)
    assert D == sp.Matrix([sp.diff(e, s) for s in y])
    assert mf.lions_derivative(F, mu_r, at=y) == D


# -- the flow ------------------------------------------------------------------------------
def test_wasserstein_flow_on_the_sphere_projects_and_its_identity_is_proved():
    mu, nu = _sphere_measure("dom_mu4"), mf.Data("dom_nu4", (X1, X2, X3))
    F = _relu_risk(mu, nu) + mf.integral(R**2, mu) / 10
    flow = mf.WassersteinFlow(F, mu)
    y = flow.point
    v = flow.velocity()
    drift, sigma = flow.sde()
    assert sigma == 0 and drift == v
    D = mf.lions_derivative(F, mu, at=y)
    rng = np.random.default_rng(1)
    atoms = rng.normal(size=(4, 4))
    atoms[:, :3] /= np.linalg.norm(atoms[:, :3], axis=1, keepdims=True)
    meas = {mu: (atoms.tolist(), [0.25] * 4), nu: (rng.normal(size=(5, 3)).tolist(), [0.2] * 5)}
    p = rng.normal(size=4)
    p[:3] /= np.linalg.norm(p[:3])
    for scale in (1.0, 1.7):  # on the unit sphere, and on the sphere |theta| = 1.7
        q = p.copy()
        q[:3] *= scale
        sub = dict(zip(y, [sp.Float(c, 30) for c in q]))
        got = np.array([float(mf.evaluate(v[i].xreplace(sub), meas)) for i in range(4)])
        # tangent to the sphere through the point (homogeneous projection)
        assert abs(float(np.dot(q[:3], got[:3]))) < 1e-12
        if scale == 1.0:  # on the unit sphere the velocity is minus the Lions derivative
            want = [-float(mf.evaluate(D[i].xreplace(sub), meas)) for i in range(4)]
            assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    # the PDE's flux is the projected one: it has the 1/|theta|^2 of the projection
    (eq,) = flow.pde()
    assert eq.rhs.has(sp.Pow(y[0] ** 2 + y[1] ** 2 + y[2] ** 2, -1))
    # d/dt E = -int |P grad phi|^2 dmu, proved
    assert bool(mf.dissipation_identity(flow).verify())


def test_flow_refuses_noise_and_local_terms_on_the_sphere():
    mu = _sphere_measure("dom_mu5")
    F = mf.integral(R**2, mu)
    with pytest.raises(InvalidOptionError, match="Brownian"):
        mf.WassersteinFlow(F, mu, noise=1)
    with pytest.raises(InvalidOptionError, match="local"):
        mf.WassersteinFlow(F + mf.entropy(mu), mu)
    other = _sphere_measure("dom_mu6")
    with pytest.raises(InvalidOptionError, match="R\\^d only"):
        mf.WassersteinFlow(F + mf.integral(R, other), [mu, other])


def test_relu_parameterisations_give_the_same_output():
    """C13.3 (the S^{d-1} x R part): theta = w/|w|, r = |w| a gives the same network."""
    w1, w2, a = sp.symbols("dom_w1 dom_w2 dom_a", real=True)
    s1, s2, rr = sp.symbols("dom_s1 dom_s2 dom_rr", real=True)
    x1, x2 = sp.symbols("dom_y1 dom_y2", real=True)
    mu_e = mf.Measure("dom_atoms", (w1, w2, a))
    mu_s = mf.Measure("dom_sph", (s1, s2, rr), domain=sphere_times_line(2))
    f_e = mf.integral(a * sp.Max(0, w1 * x1 + w2 * x2), mu_e)
    f_s = mf.integral(rr * sp.Max(0, s1 * x1 + s2 * x2), mu_s)
    rng = np.random.default_rng(2)
    W, A = rng.normal(size=(7, 2)), rng.normal(size=7)
    nrm = np.linalg.norm(W, axis=1)
    S = np.column_stack([W / nrm[:, None], nrm * A])
    wts = [1 / 7] * 7
    for x in rng.normal(size=(5, 2)):
        sub = {x1: x[0], x2: x[1]}
        ve = mf.evaluate(f_e.xreplace(sub), {mu_e: (np.column_stack([W, A]).tolist(), wts)})
        vs = mf.evaluate(f_s.xreplace(sub), {mu_s: (S.tolist(), wts)})
        assert math.isclose(float(ve), float(vs), rel_tol=1e-12, abs_tol=1e-13)
