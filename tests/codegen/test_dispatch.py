"""mf.compile dispatches on the class of each node along its MRO (SymPy's Printer pattern):
unknown classes are refused by name, subclasses of known classes compile as their parent,
and a name never decides what a node is (Function("Mul") is not a product)."""

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import mfderive as mf

w, a = sp.symbols("w a", real=True)
mu = mf.Measure("mu", (w, a))
X = jnp.array([[0.5, -1.0], [1.5, 2.0], [-0.3, 0.7]])
wts = jnp.array([0.2, 0.3, 0.5])


def _integral(expr):
    return float(mf.compile(mf.integral(expr, mu), [mu])(X, wts))


class mytanh(sp.tanh):
    """A user's subclass of a function in the table: compiles as tanh."""


class softplus(sp.Function):
    """A user's function without a JAX counterpart."""


class Pi(sp.Function):
    """A user's function that only shares its name with SymPy's constant (a user class is
    never looked up by name; one named Mul would also break SymPy's own printer)."""


def test_a_subclass_of_a_known_function_dispatches_through_the_mro():
    assert isinstance(mytanh(w * a), sp.tanh)
    ref = float(jnp.sum(wts * jnp.tanh(X[:, 0] * X[:, 1])))
    np.testing.assert_allclose(_integral(mytanh(w * a)), ref, rtol=1e-15)


@pytest.mark.parametrize(
    "expr, name",
    [(sp.gamma(w), "gamma"), (softplus(w), "softplus"), (Pi(w), "Pi"), (sp.EulerGamma * w, "EulerGamma")],
)
def test_an_unknown_class_is_refused_by_name(expr, name):
    with pytest.raises(mf.CompileError, match=rf"cannot compile {name}\b"):
        _integral(expr)


def test_an_undefined_function_named_like_a_class_is_an_undefined_function():
    for name in ("Mul", "Add", "Symbol", "tanh"):
        with pytest.raises(mf.CompileError, match="undefined function"):
            _integral(sp.Function(name)(w))


def test_an_equality_condition_is_refused_as_a_compile_error():
    with pytest.raises(mf.CompileError, match="cannot compile Equality"):
        _integral(sp.Piecewise((w, sp.Eq(a, 0)), (0, True)))


def test_a_grid_measure_named_like_a_class_has_its_density():
    u = sp.Symbol("u", real=True)
    add = mf.Measure("Add", (u,))
    g = mf.Grid(0, 1, 8)
    m = jnp.linspace(0.5, 1.5, 8)
    got = mf.compile(mf.local(add.density(u) ** 2, add), [add], grids={add: g})(m)
    np.testing.assert_allclose(got, jnp.sum(m**2) * g.vol, rtol=1e-14)
