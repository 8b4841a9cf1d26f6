"""Bad input gets a documented error that names the problem, never a SymPy traceback."""

import numpy as np
import pytest
import sympy as sp

import mfderive as mf

w, a, x = sp.symbols("w a x", real=True)
mu = mf.Measure("mu", (w, a))
nu = mf.Data("nu", (x,))
y = mu.point("y")
F = mf.integral(w * sp.tanh(a), mu) ** 2


@pytest.mark.parametrize(
    "call,err,match",
    [
        (lambda: mf.first_variation(F, mu, at=(y[0],)), mf.InvalidPointError, "1 coordinate"),
        (lambda: mf.first_variation(F, mu, at=(1, 2, 3)), mf.InvalidPointError, "2 variable"),
        (lambda: mf.first_variation(F, mu, at="y"), mf.InvalidPointError, "tuple of 2"),
        (lambda: mf.first_variation(F, mu, at=(y[0], "a")), mf.InvalidPointError, "not a SymPy"),
        (lambda: mf.first_variation("F", mu, at=y), mf.NotSympyError, "SymPy expression"),
        (lambda: mf.first_variation(F, "mu", at=y), mf.NotAMeasureError, "Measure"),
        (lambda: mf.first_variation(F, nu, at=(x,)), mf.NotAMeasureError, "never differentiated"),
        (lambda: mf.lions_derivative(F, mu, at=(1,)), mf.InvalidPointError, "coordinate"),
        (lambda: mf.second_variation(F, mu, at=y), mf.InvalidPointError, r"at=\(y, z\)"),
        (lambda: mf.integral([1, 2], mu), mf.NotSympyError, "integrand"),
        (lambda: mf.integral(w, mu, over=(x, a)), mf.InvalidVariablesError, r"belongs to (.*, )?nu\b"),
        (lambda: mf.integral(w, mu, over=(w,)), mf.InvalidVariablesError, "1 symbol"),
        (lambda: mf.integral(w, mu, over=(w, w)), mf.InvalidVariablesError, "repeats"),
        (lambda: mf.integral(w, mu, over=(w, 2)), mf.InvalidVariablesError, "Symbols"),
        (lambda: mf.integral(w, 3), mf.NotAMeasureError, "Measure or Data"),
        (lambda: mf.integral(mu, mu), mf.NotSympyError, "measure 'mu' itself"),
        (lambda: mf.entropy(nu), mf.NotAMeasureError, "Data"),
        (lambda: mf.Measure("mu", ()), mf.InvalidVariablesError, "at least one"),
        (lambda: mf.Measure("mu", ("w",)), mf.InvalidVariablesError, "Symbols"),
        (lambda: mf.Measure("1mu", (w,)), mf.InvalidVariablesError, "identifier"),
        (lambda: mu.point(""), mf.InvalidPointError, "identifier"),
        (lambda: mf.function_variation(F, "H", mu, at=y), mf.NotSympyError, "undefined SymPy function"),
    ],
)
def test_malformed_input_raises_documented_error(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_density_outside_local_functional_is_not_differentiable():
    bad = mf.integral(mu.density(w, a) * w, mu)
    with pytest.raises(mf.NotDifferentiableError, match="Dirac"):
        mf.first_variation(bad, mu, at=y)
    shifted = mf.local(mu.density(w + 1, a) ** 2, mu)
    with pytest.raises(mf.NotDifferentiableError, match="not at its own integration variables"):
        mf.first_variation(shifted, mu, at=y)


def test_function_variation_of_pointwise_H_is_not_differentiable():
    H = sp.Function("H")
    with pytest.raises(mf.NotDifferentiableError, match="Dirac"):
        mf.function_variation(H(1) + mf.integral(H(w), mu), H, mu, at=y)
    with pytest.raises(mf.NotDifferentiableError, match="derivative"):
        mf.function_variation(mf.integral(sp.Derivative(H(w), w) ** 2, mu), H, mu, at=y)


def test_entropy_of_discrete_measure_is_infinite():
    with pytest.raises(mf.InfiniteValueError, match=r"\+infinity"):
        mf.evaluate(mf.entropy(mu), {mu: [(0, 1), (1, 0)]})
    with pytest.raises(mf.InfiniteValueError):
        mf.evaluate(mf.local(mu.density(w, a) ** 2, mu), {mu: [(0, 1)]})


@pytest.mark.parametrize(
    "spec,match",
    [
        (([(0, 1)], [1, 2]), "1 atoms but 2 weights"),
        ([(0, 1, 2)], "3 coordinate"),
        (([(0, 1), (1, 1)], [0.5, 0.6]), "sum to"),
        ([], "no atoms"),
        ([("a", 1)], "number"),
        (5, "sequence of points"),
        (([(0, 1)], "w"), "sequence"),
    ],
)
def test_malformed_evaluation_input(spec, match):
    with pytest.raises(mf.EvaluationError, match=match):
        mf.evaluate(F, {mu: spec})


def test_evaluate_rejects_non_dict_and_non_measure_keys():
    with pytest.raises(mf.EvaluationError, match="dict"):
        mf.evaluate(F, [(0, 1)])
    with pytest.raises(mf.NotAMeasureError):
        mf.evaluate(F, {"mu": [(0, 1)]})


def test_errors_are_also_builtin_types():
    assert issubclass(mf.InvalidPointError, ValueError)
    assert issubclass(mf.NotSympyError, TypeError)
    assert issubclass(mf.NotAMeasureError, TypeError)
    assert all(issubclass(e, mf.MfDeriveError) for e in (mf.EvaluationError, mf.InfiniteValueError))


def test_evaluate_accepts_numpy_and_data_weights_of_any_mass():
    val = mf.evaluate(mf.integral(x**2, nu), {nu: (np.array([1.0, 2.0]), np.array([2.0, 3.0]))})
    assert abs(float(val) - 14.0) < 1e-14


def test_every_error_class_is_listed_and_exported():
    """``mfderive.errors.__all__`` and ``mfderive.__all__`` name every error class, so the
    API reference (autodoc of ``__all__``) and ``from mfderive import *`` show them all."""
    import inspect

    import mfderive as mf
    import mfderive.errors as errors

    classes = {n for n, c in vars(errors).items()
               if inspect.isclass(c) and issubclass(c, errors.MfDeriveError) and c.__module__ == errors.__name__}
    assert classes <= set(errors.__all__)
    assert classes <= set(mf.__all__)
    assert all(getattr(mf, n) is getattr(errors, n) for n in classes)
