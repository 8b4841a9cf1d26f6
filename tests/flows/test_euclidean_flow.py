"""EuclideanFlow: gradient, Hessian, ODE, dissipation identity and PL report of F on R^d.

Every expectation is written by hand (the gradient and Hessian of a fixed F, the
eigenvalues from NumPy) independently of the code that derives them."""

import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.errors import (
    InvalidExpressionError,
    InvalidVariablesError,
    NotSympyError,
    UnsafeInputError,
)
from mfderive.flows.base import TIME
from mfderive.flows.euclidean import EuclideanFlow

# symbol names unique to this file (the measure registry is global)
x1, x2, x3 = sp.symbols("fe_x1 fe_x2 fe_x3", real=True)
a = sp.Symbol("fe_a", positive=True)


def F_nonlinear():
    return x1**4 / 4 + x1 * x2 + 2 * sp.cos(x2) + a * x2**2


def test_gradient_and_hessian_against_hand_written():
    flow = EuclideanFlow(F_nonlinear(), (x1, x2), parameters=(a,))
    grad = sp.Matrix([x1**3 + x2, x1 - 2 * sp.sin(x2) + 2 * a * x2])
    hess = sp.Matrix([[3 * x1**2, 1], [1, -2 * sp.cos(x2) + 2 * a]])
    assert sp.simplify(flow.gradient - grad) == sp.zeros(2, 1)
    assert sp.simplify(flow.hessian - hess) == sp.zeros(2, 2)
    assert flow.dim == 2 and not flow.is_quadratic()
    # the ODE x' = -grad F with x(t) as functions of time
    ode = flow.ode()
    X1, X2 = (sp.Function(s.name, real=True)(TIME) for s in (x1, x2))
    assert ode[0].lhs == sp.Derivative(X1, TIME)
    assert sp.expand(ode[0].rhs + X1**3 + X2) == 0
    assert sp.expand(ode[1].rhs + X1 - 2 * sp.sin(X2) + 2 * a * X2) == 0


def test_dissipation_identity_is_derived_by_the_chain_rule():
    flow = EuclideanFlow(F_nonlinear(), (x1, x2), parameters=(a,))
    d = flow.dissipation_identity()
    expected = -((x1**3 + x2) ** 2 + (x1 - 2 * sp.sin(x2) + 2 * a * x2) ** 2)
    assert d.proved and bool(d.verify())
    assert sp.expand(d.derived - expected) == 0
    assert sp.expand(d.claimed - expected) == 0


def test_dissipation_identity_can_fail():
    # the derived rate follows the velocity: a flow twice as fast dissipates 2|grad F|^2,
    # so the identity with the claimed -|grad F|^2 is then not proved (the check is live)
    flow = EuclideanFlow(x1**2 + sp.sin(x2) * x1, (x1, x2))
    flow.velocity = 2 * flow.velocity
    d = flow.dissipation_identity()
    assert not d.proved and not bool(d)
    assert sp.simplify(d.residual + sum(g**2 for g in flow.gradient)) == 0


def test_pl_of_a_strongly_convex_quadratic_is_the_smallest_eigenvalue():
    A = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    b = np.array([1.0, -2.0, 0.5])
    xs = sp.Matrix([x1, x2, x3])
    F = (xs.T * sp.Matrix(A).applyfunc(sp.nsimplify) * xs)[0] / 2 + (sp.Matrix(b).applyfunc(sp.nsimplify).T * xs)[0]
    rep = EuclideanFlow(F, (x1, x2, x3)).pl()
    assert rep.decided and rep.pl and rep.strongly_convex
    lam = np.linalg.eigvalsh(A)
    assert abs(float(rep.mu) - lam.min()) < 1e-12
    assert abs(float(rep.rate) - 2 * lam.min()) < 1e-12
    # F* = -b^T A^{-1} b / 2
    assert abs(float(rep.minimum) + b @ np.linalg.solve(A, b) / 2) < 1e-12


def test_pl_of_degenerate_and_indefinite_quadratics():
    # convex, singular, linear term in the range: PL with the smallest positive eigenvalue
    rep = EuclideanFlow((x1 + x2) ** 2 + (x1 + x2), (x1, x2)).pl()
    assert rep.decided and rep.pl and rep.strongly_convex is False
    assert rep.mu == 4  # Hessian [[2, 2], [2, 2]]: eigenvalues 0 and 4
    assert rep.minimum == sp.Rational(-1, 4)
    # linear term outside the range: unbounded below
    rep = EuclideanFlow((x1 + x2) ** 2 + x1, (x1, x2)).pl()
    assert rep.decided and rep.pl is False
    # a negative eigenvalue: unbounded below
    rep = EuclideanFlow(x1**2 - x2**2, (x1, x2)).pl()
    assert rep.decided and rep.pl is False and "negative" in rep.reason


def test_pl_with_a_positive_parameter_is_symbolic():
    rep = EuclideanFlow(a * (x1 - 1) ** 2 + 3, x1, parameters=(a,)).pl()
    assert rep.decided and rep.pl and rep.mu == 2 * a and rep.minimum == 3
    # a real parameter of unknown sign: the sign of the eigenvalue is undecided
    r = sp.Symbol("fe_r", real=True)
    rep = EuclideanFlow(r * x1**2, x1, parameters=(r,)).pl()
    assert not rep.decided and "undecided" in rep.reason


def test_pl_in_one_variable_and_undecided_cases():
    # F'' = 2 - cos x >= 1: strongly convex with mu = 1
    rep = EuclideanFlow(x1**2 + sp.cos(x1), x1).pl()
    assert rep.decided and rep.pl and rep.mu == 1
    # x^2 + 3 sin^2 x is PL (Karimi, Nutini & Schmidt 2016) but not convex: not decided
    rep = EuclideanFlow(x1**2 + 3 * sp.sin(x1) ** 2, x1).pl()
    assert not rep.decided and rep.pl is None and rep.mu is None and rep.rate is None
    rep = EuclideanFlow(x1**4 + x2**2, (x1, x2)).pl()
    assert not rep.decided


def test_bad_input():
    with pytest.raises(UnsafeInputError):
        EuclideanFlow("fe_x1**2", (x1,))
    with pytest.raises(NotSympyError):
        EuclideanFlow([x1**2], (x1,))
    with pytest.raises(InvalidVariablesError, match="real"):
        EuclideanFlow(x1**2, (sp.Symbol("fe_plain"),))
    with pytest.raises(InvalidVariablesError, match="repeat"):
        EuclideanFlow(x1**2, (x1, x1))
    with pytest.raises(InvalidVariablesError):
        EuclideanFlow(x1**2, "fe_x1")
    with pytest.raises(InvalidVariablesError):
        EuclideanFlow(x1**2, ())
    with pytest.raises(InvalidVariablesError, match="both"):
        EuclideanFlow(x1**2, (x1,), parameters=(x1,))
    with pytest.raises(InvalidExpressionError, match="fe_x2"):
        EuclideanFlow(x1**2 + x2, (x1,))
    with pytest.raises(InvalidExpressionError, match="not real"):
        EuclideanFlow(sp.I * x1**2, (x1,))
    with pytest.raises(InvalidExpressionError):
        EuclideanFlow(sp.nan * x1, (x1,))
    with pytest.raises(InvalidExpressionError, match="undefined|explicit"):
        EuclideanFlow(sp.Function("fe_g")(x1), (x1,))
    mu = mf.Measure("fe_mu", (sp.Symbol("fe_w", real=True),))
    with pytest.raises(InvalidExpressionError, match="measure"):
        EuclideanFlow(mf.integral(sp.Symbol("fe_w", real=True) ** 2, mu) + x1**2, (x1,))
