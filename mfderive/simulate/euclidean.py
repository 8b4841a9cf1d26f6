r"""Gradient flows on :math:`\mathbb{R}^d`: explicit gradient descent, the proximal point
step (implicit Euler) and the exact flow.

For a function :math:`F` of :class:`~mfderive.flows.euclidean.EuclideanFlow`, three
``(init_fn, step_fn, observe_fn)`` triples for :func:`mfderive.run`, each advancing time
by :math:`\tau` per step:

* :func:`gradient_descent`, :math:`x_{n+1} = x_n - \tau\nabla F(x_n)` (explicit Euler,
  order 1 in :math:`\tau`);
* :func:`proximal_point`, :math:`x_{n+1} = \arg\min_x F(x) + \frac{1}{2\tau}|x - x_n|^2`,
  whose first-order condition :math:`x_{n+1} + \tau\nabla F(x_{n+1}) = x_n` is the implicit
  Euler step (the "proximal gradient descent" of Hu, Ren, Šiška & Szpruch 2021, §2; the
  proximal point method of Martinet 1970 and Rockafellar 1976; order 1 in :math:`\tau`);
* :func:`exact_gradient_flow`, :math:`\dot x = -\nabla F(x)` integrated over each interval
  of length :math:`\tau` by an adaptive Dormand–Prince solver to ``rtol``/``atol`` (the
  reference trajectory: its error does not depend on :math:`\tau`).

:data:`ORDER` is the order in :math:`\tau` of the first two (1: the local error of either
Euler step is :math:`\frac{\tau^2}{2}|\nabla^2F\,\nabla F|`).  :math:`F` and
:math:`\nabla F` are the engine's: :func:`lower_function` compiles the SymPy expressions of
the flow with :func:`mfderive.compile` (no measures, the variables as the point), and the
compiled :math:`F` carries the compiled :math:`\nabla F` as its derivative, so every
JAX transformation of it (the inner solver included) uses the derived gradient.  The
schemes :func:`gd_steps`, :func:`prox_steps`, :func:`exact_steps` take any such callables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import NotAFlowError, SimulationError, SimulationInputError, StepSizeError
from ..flows.euclidean import EuclideanFlow
from .inputs import count, float_array, parameter_values, real_number, time_step
from .lower import compile_expr

__all__ = [
    "ORDER",
    "GRADIENT_DESCENT_ORDER",
    "PROXIMAL_POINT_ORDER",
    "EuclideanState",
    "EuclideanFunctions",
    "lower_function",
    "gradient_descent",
    "proximal_point",
    "exact_gradient_flow",
    "gd_steps",
    "prox_steps",
    "exact_steps",
]

#: order in ``tau`` of explicit gradient descent and of the proximal (implicit Euler) step
ORDER = 1
#: explicit Euler for :math:`\dot x = -\nabla F(x)`
GRADIENT_DESCENT_ORDER = 1
#: implicit Euler for :math:`\dot x = -\nabla F(x)`
PROXIMAL_POINT_ORDER = 1


@jax.tree_util.register_dataclass
@dataclass
class EuclideanState:
    r"""The point ``x`` ``(d,)``, the time, the step count, ``residual`` (the last step's
    check: the optimality residual :math:`|(x_{n+1}-x_n)/\tau + \nabla F(x_{n+1})|` of a
    proximal step, 0 for the other schemes) and ``converged``: False from the first step
    that failed its scheme's check (sticky), which :func:`mfderive.run` turns into a
    :class:`~mfderive.SimulationError`."""

    x: jax.Array
    t: jax.Array
    step: jax.Array
    residual: jax.Array
    converged: jax.Array

    def admissible(self):
        return self.converged


class EuclideanFunctions(NamedTuple):
    """``value(x)`` (scalar, differentiable: its derivative is ``gradient``),
    ``gradient(x)`` ``(d,)``, ``hessian(x)`` ``(d, d)`` at a point ``x`` ``(d,)``; ``dim``."""

    value: Callable
    gradient: Callable
    hessian: Callable
    dim: int


def lower_function(flow: EuclideanFlow, values=None) -> EuclideanFunctions:
    r"""The flow's :math:`F`, :math:`\nabla F`, :math:`\nabla^2F` compiled by
    :func:`mfderive.compile` (the engine's derivatives, evaluated node by node; no
    generated source), with the parameter ``values`` substituted.

    ``values`` is a dict ``{Symbol or name: number}`` for the parameters that occur in
    :math:`F` (checked as every simulator checks it).  ``value`` is a ``jax.custom_jvp``
    whose derivative is the compiled gradient, so ``jax.grad(value)`` is the engine's
    :math:`\nabla F`, not an autodiff of the evaluator.

    >>> import jax.numpy as jnp, sympy as sp
    >>> u, c = sp.Symbol("u", real=True), sp.Symbol("c", real=True)
    >>> fn = lower_function(EuclideanFlow(c * u**3, u, parameters=(c,)), values={c: 2})
    >>> float(fn.value(jnp.array([1.0]))), fn.gradient(jnp.array([1.0])).tolist()
    (2.0, [6.0])
    """
    if not isinstance(flow, EuclideanFlow):
        raise NotAFlowError(f"expected an EuclideanFlow, got {type(flow).__name__}")
    present = flow.F.free_symbols & set(flow.parameters)
    vals = parameter_values(values, present)
    x = flow.variables
    d = len(x)
    F = flow.F.xreplace(vals)
    g = [e.xreplace(vals) for e in flow.gradient]
    H = [e.xreplace(vals) for e in flow.hessian]
    f_fn = compile_expr(F, [], at=x)
    g_fn = compile_expr(g, [], at=x)
    h_fn = []  # the d^2 Hessian entries are compiled on first use (no scheme needs them)

    def gradient(z):
        return g_fn(z[None, :])[0].astype(z.dtype)

    def hessian(z):
        if not h_fn:
            h_fn.append(compile_expr(H, [], at=x))
        return jnp.reshape(h_fn[0](z[None, :])[0], (d, d)).astype(z.dtype)

    @jax.custom_jvp
    def value(z):
        return f_fn(z[None, :])[0].astype(z.dtype)

    @value.defjvp
    def _value_jvp(primals, tangents):
        (z,), (v,) = primals, tangents
        return value(z), jnp.dot(gradient(z), v)

    return EuclideanFunctions(value, gradient, hessian, d)


# -- shared pieces --------------------------------------------------------------------------
def _start(x0, dim: int):
    """The starting point as a finite float array ``(dim,)`` (a scalar is read as ``(1,)``
    when ``dim == 1``)."""
    x = float_array(x0, "the starting point x0")
    if x.ndim == 0 and dim == 1:
        x = x[None]
    if x.shape != (dim,):
        raise SimulationInputError(
            f"the starting point x0 must have shape ({dim},), one entry per variable, got {x.shape}"
        )
    return x


def _state(x, residual=0.0):
    z = jnp.zeros((), x.dtype)
    return EuclideanState(x, z, jnp.zeros((), jnp.int32), z + residual, jnp.array(True))


def _observe(fns: EuclideanFunctions):
    def observe_fn(s: EuclideanState):
        g = fns.gradient(s.x)
        return {"energy": fns.value(s.x), "dissipation": jnp.sum(g * g), "x": s.x,
                "residual": s.residual}

    return observe_fn


def _raise_if_failed(state: EuclideanState, failure: str) -> None:
    """Called eagerly (outside ``jit``/``run``), a step that failed its check raises at once;
    traced, the failure travels in ``state.converged`` to :func:`mfderive.run`."""
    if not isinstance(state.converged, jax.core.Tracer) and not bool(state.converged):
        raise SimulationError(failure)


# -- explicit gradient descent --------------------------------------------------------------
def gd_steps(fns: EuclideanFunctions, tau):
    r"""``(init_fn, step_fn, observe_fn)`` of gradient descent
    :math:`x_{n+1} = x_n - \tau\nabla F(x_n)` over compiled callables (:func:`lower_function`).

    ``init_fn(x0)``: ``x0`` of shape ``(d,)``, finite; ``observe_fn(state)`` → dict with
    ``energy`` :math:`F(x)`, ``dissipation`` :math:`|\nabla F(x)|^2`, ``x`` and ``residual``.

    >>> import jax.numpy as jnp
    >>> fns = EuclideanFunctions(lambda x: x @ x / 2, lambda x: x, None, 2)
    >>> init, step, observe = gd_steps(fns, tau=0.5)
    >>> step(init(jnp.array([1.0, -2.0]))).x.tolist()
    [0.5, -1.0]
    """
    tau = time_step(tau, "tau")

    def init_fn(x0):
        return _state(_start(x0, fns.dim))

    def step_fn(s: EuclideanState) -> EuclideanState:
        x = s.x - tau * fns.gradient(s.x)
        return EuclideanState(x, s.t + tau, s.step + 1, s.residual, s.converged)

    return init_fn, step_fn, _observe(fns)


def gradient_descent(flow: EuclideanFlow, tau, values=None):
    r"""Explicit gradient descent :math:`x_{n+1} = x_n - \tau\nabla F(x_n)` for an
    :class:`~mfderive.flows.euclidean.EuclideanFlow`: the explicit Euler scheme of
    :math:`\dot x = -\nabla F(x)`, order 1 in :math:`\tau` (:data:`GRADIENT_DESCENT_ORDER`)
    (Hu, Ren, Šiška & Szpruch 2021, §2).

    ``tau`` is a finite positive number; for a quadratic :math:`F` whose Hessian has largest
    eigenvalue :math:`L > 0`, a ``tau`` :math:`\ge 2/L` (where the iteration diverges) raises
    :class:`~mfderive.StepSizeError` naming :math:`2/L`.  ``values`` gives the parameters.
    Returns ``(init_fn, step_fn, observe_fn)`` as :func:`gd_steps`.

    >>> import jax.numpy as jnp, sympy as sp
    >>> u = sp.Symbol("u", real=True)
    >>> init, step, observe = gradient_descent(EuclideanFlow(u**2, u), tau=0.25)
    >>> step(init(jnp.array([1.0]))).x.tolist()
    [0.5]
    """
    if not isinstance(flow, EuclideanFlow):
        raise NotAFlowError(f"gradient_descent needs an EuclideanFlow, got {type(flow).__name__}")
    tau = time_step(tau, "tau")
    fns = lower_function(flow, values)
    if flow.is_quadratic():
        vals = parameter_values(values, flow.F.free_symbols & set(flow.parameters))
        H = np.array(flow.hessian.xreplace(vals).evalf(), dtype=float)
        L = float(np.max(np.linalg.eigvalsh(H)))
        if L > 0 and tau * L >= 2:
            raise StepSizeError(
                f"tau = {tau:g} is not below 2/L = {2 / L:.6g} (L = {L:.6g}, the largest eigenvalue "
                f"of the Hessian): explicit gradient descent diverges on this quadratic; take "
                f"tau < {2 / L:.6g}"
            )
    return gd_steps(fns, tau)


gradient_descent.ORDER = gd_steps.ORDER = GRADIENT_DESCENT_ORDER


# -- the proximal point step = implicit Euler -----------------------------------------------
def _lbfgs_solve(value, x_start, xn, tau, tol, maxiter):
    """Minimise :math:`F(x) + |x - x_n|^2/2\\tau` with optax's L-BFGS (zoom line search),
    stopping when the gradient of the objective — the optimality residual — has norm below
    ``tol`` or after ``maxiter`` iterations."""
    import optax
    import optax.tree_utils as otu

    def objective(x):
        dx = x - xn
        return value(x) + jnp.sum(dx * dx) / (2 * tau)

    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def body(carry):
        x, st = carry
        v, g = value_and_grad(x, state=st)
        updates, st = opt.update(g, st, x, value=v, grad=g, value_fn=objective)
        return optax.apply_updates(x, updates), st

    def cond(carry):
        _, st = carry
        k = otu.tree_get(st, "count")
        g = otu.tree_get(st, "grad")
        return (k == 0) | ((k < maxiter) & (otu.tree_norm(g) >= tol))

    x, _ = jax.lax.while_loop(cond, body, (x_start, opt.init(x_start)))
    return x


def prox_steps(fns: EuclideanFunctions, tau, tol=None, maxiter=100):
    r"""``(init_fn, step_fn, observe_fn)`` of the proximal point step (implicit Euler)

    .. math:: x_{n+1} = \arg\min_x\ F(x) + \frac{1}{2\tau}|x - x_n|^2,\qquad
              r_{n+1} = \Big|\frac{x_{n+1} - x_n}{\tau} + \nabla F(x_{n+1})\Big| \le \mathrm{tol},

    over compiled callables (:func:`lower_function`).

    **Inner solver.** L-BFGS with a zoom (strong Wolfe) line search from ``optax``
    (``optax.lbfgs``), started at the explicit step :math:`x_n - \tau\nabla F(x_n)` (within
    :math:`O(\tau^2)` of the solution) and run in a ``lax.while_loop``, so the step is a pure
    JAX function and the outer loop stays in :func:`mfderive.run`'s ``lax.scan`` (jit, GPU,
    ``vmap`` over starting points).  Chosen over a hand-written Newton iteration (the
    project uses the field's solvers) and over ``scipy.optimize.minimize`` (which would take
    the outer loop out of ``lax.scan``).  The objective's Hessian is
    :math:`\nabla^2F + I/\tau`: for :math:`\tau < 1/\max(0, -\lambda_{\min}(\nabla^2F))` it is
    strongly convex and well conditioned for small :math:`\tau`, where L-BFGS converges in
    a few iterations.  The gradient L-BFGS sees is the engine's :math:`\nabla F`.

    **Convergence check.** The solver stops when the gradient of the objective, which is the
    optimality residual :math:`r`, has norm below ``tol``; the step then recomputes
    :math:`r_{n+1}` with the compiled :math:`\nabla F` (stored in ``state.residual``) and,
    if it exceeds ``tol``, marks the state unconverged: :func:`mfderive.run` raises
    :class:`~mfderive.SimulationError` naming :math:`\tau` (a step called outside ``jit``
    raises at once).  ``tol`` defaults to ``1e-9`` (``1e-3`` when JAX's default float is
    float32); since
    :math:`(x_{n+1}-x_n)/\tau` is computed in floating point, ``init_fn`` refuses a ``tol``
    below the rounding floor :math:`10\,\varepsilon_{\rm mach}\max(1, |x_0|_\infty)/\tau`
    (pass a larger ``tol`` in float32).

    >>> import jax.numpy as jnp
    >>> fns = EuclideanFunctions(lambda x: x @ x / 2, lambda x: x, None, 1)
    >>> init, step, observe = prox_steps(fns, tau=1.0)
    >>> round(float(step(init(jnp.array([1.0]))).x[0]), 5)   # x / (1 + tau)
    0.5
    """
    tau = time_step(tau, "tau")
    maxiter = count(maxiter, "maxiter", 1)
    if tol is not None:
        tol = real_number(tol, "tol")
        if not tol > 0:
            raise SimulationInputError(f"tol must be a positive number (or None), got {tol:g}")
    try:
        import optax  # noqa: F401
    except ImportError as e:  # pragma: no cover - optax is a dependency
        raise ImportError("the proximal step solves its inner problem with optax: pip install optax") from e
    if tol is None:  # the default float dtype: float64 under jax_enable_x64
        tol = 1e-9 if jnp.finfo(jnp.result_type(float)).bits == 64 else 1e-3

    def init_fn(x0):
        x = _start(x0, fns.dim)
        eps = float(jnp.finfo(x.dtype).eps)
        floor = 10 * eps * max(1.0, float(jnp.max(jnp.abs(x)))) / tau
        if tol < floor:
            raise SimulationInputError(
                f"tol = {tol:g} is below the rounding floor {floor:.3g} of the optimality "
                f"residual |(x_(n+1) - x_n)/tau + grad F| at tau = {tau:g} in {x.dtype}: pass "
                f"tol >= {floor:.3g} (or a larger tau, or float64)"
            )
        return _state(x)

    @jax.jit  # one compiled inner solve: fast when a step is called outside run/jit too
    def advance(xn):
        guess = xn - tau * fns.gradient(xn)
        x = _lbfgs_solve(fns.value, guess, xn, tau, tol, maxiter)
        return x, jnp.linalg.norm((x - xn) / tau + fns.gradient(x))

    def step_fn(s: EuclideanState) -> EuclideanState:
        x, r = advance(s.x)
        ok = s.converged & (r <= tol)
        out = EuclideanState(x, s.t + tau, s.step + 1, r, ok)
        _raise_if_failed(out, step_fn.failure)
        return out

    step_fn.failure = (
        f"the proximal (implicit Euler) step with tau = {tau:g} did not converge: its optimality "
        f"residual |(x_(n+1) - x_n)/tau + grad F(x_(n+1))| stayed above tol = {tol:g} "
        f"after {maxiter} L-BFGS iterations; take a smaller tau (the inner problem "
        f"F(x) + |x - x_n|^2/(2 tau) is strongly convex when tau < 1/max(0, -lambda_min(Hess F))) "
        f"or a larger maxiter"
    )
    return init_fn, step_fn, _observe(fns)


def proximal_point(flow: EuclideanFlow, tau, values=None, tol=None, maxiter=100):
    r"""The proximal point step (implicit Euler) of an
    :class:`~mfderive.flows.euclidean.EuclideanFlow`,

    .. math:: x_{n+1} = \arg\min_x\ F(x) + \frac{1}{2\tau}|x - x_n|^2
              \iff x_{n+1} + \tau\nabla F(x_{n+1}) = x_n ,

    the "(proximal) gradient descent" of Hu, Ren, Šiška & Szpruch (2021, §2), order 1 in
    :math:`\tau` to the gradient flow (:data:`PROXIMAL_POINT_ORDER`; Rockafellar 1976;
    Ambrosio, Gigli & Savaré 2008, ch. 2 for the minimising-movement view).  Unlike
    gradient descent it is stable for every :math:`\tau` on a convex :math:`F`.
    ``tol``, ``maxiter`` and the inner solver (optax L-BFGS) as in :func:`prox_steps`.

    >>> import jax.numpy as jnp, sympy as sp
    >>> u = sp.Symbol("u", real=True)
    >>> init, step, observe = proximal_point(EuclideanFlow(u**2, u), tau=0.5)
    >>> round(float(step(init(jnp.array([1.0]))).x[0]), 5)   # x / (1 + 2 tau)
    0.5
    """
    if not isinstance(flow, EuclideanFlow):
        raise NotAFlowError(f"proximal_point needs an EuclideanFlow, got {type(flow).__name__}")
    return prox_steps(lower_function(flow, values), tau, tol, maxiter)


proximal_point.ORDER = prox_steps.ORDER = PROXIMAL_POINT_ORDER


# -- the exact flow -------------------------------------------------------------------------
def exact_steps(fns: EuclideanFunctions, tau, rtol=1e-10, atol=1e-12, mxstep=100_000):
    r"""``(init_fn, step_fn, observe_fn)`` sampling the exact flow
    :math:`\dot x = -\nabla F(x)` every :math:`\tau`: each step integrates over
    :math:`[t_n, t_n + \tau]` with ``jax.experimental.ode.odeint`` (adaptive Dormand–Prince
    5(4), error per step controlled by ``rtol``, ``atol``; Dormand & Prince 1980), inside
    JAX so that :func:`mfderive.run` keeps it in ``lax.scan``.  The result does not depend on
    :math:`\tau` (up to the tolerances): this is the reference trajectory the schemes'
    orders are measured against.  A step where :math:`F` increased (impossible along the
    exact flow beyond rounding: the solver failed, e.g. ``mxstep`` ran out) marks the state
    unconverged.

    >>> import jax.numpy as jnp
    >>> fns = EuclideanFunctions(lambda x: x @ x / 2, lambda x: x, None, 1)
    >>> init, step, observe = exact_steps(fns, tau=1.0)
    >>> round(float(step(init(jnp.array([1.0]))).x[0]), 5)   # e^{-1}
    0.36788
    """
    from jax.experimental.ode import odeint

    tau = time_step(tau, "tau")
    rtol, atol = real_number(rtol, "rtol"), real_number(atol, "atol")
    if not (rtol > 0 and atol > 0):
        raise SimulationInputError(f"rtol and atol must be positive, got {rtol:g}, {atol:g}")
    mxstep = count(mxstep, "mxstep", 1)

    def rhs(x, t):
        return -fns.gradient(x)

    def init_fn(x0):
        return _state(_start(x0, fns.dim))

    @jax.jit
    def advance(x0, t):
        x = odeint(rhs, x0, jnp.stack([t, t + tau]), rtol=rtol, atol=atol, mxstep=mxstep)[1]
        f0, f1 = fns.value(x0), fns.value(x)
        slack = 100 * jnp.finfo(x.dtype).eps * (1 + jnp.abs(f0)) + atol
        return x, jnp.maximum(f1 - f0, 0.0), f1 <= f0 + slack

    def step_fn(s: EuclideanState) -> EuclideanState:
        x, rise, decreased = advance(s.x, s.t)
        ok = s.converged & decreased
        out = EuclideanState(x, s.t + tau, s.step + 1, rise, ok)
        _raise_if_failed(out, step_fn.failure)
        return out

    step_fn.failure = (
        f"the ODE solver for the exact flow (tau = {tau:g}, rtol = {rtol:g}, atol = {atol:g}, "
        f"mxstep = {mxstep}) returned a point where F increased: it did not resolve the flow "
        f"(raise mxstep or loosen rtol/atol)"
    )
    return init_fn, step_fn, _observe(fns)


def exact_gradient_flow(flow: EuclideanFlow, tau, values=None, rtol=1e-10, atol=1e-12,
                        mxstep=100_000):
    r"""The exact gradient flow :math:`\dot x = -\nabla F(x)` of an
    :class:`~mfderive.flows.euclidean.EuclideanFlow`, sampled every :math:`\tau` (adaptive
    Dormand–Prince to ``rtol``/``atol``, see :func:`exact_steps`): the reference trajectory
    for :func:`gradient_descent` and :func:`proximal_point`.  Its error is set by the
    tolerances, not by :math:`\tau` (``ORDER = None``).

    >>> import jax.numpy as jnp, sympy as sp
    >>> u = sp.Symbol("u", real=True)
    >>> init, step, observe = exact_gradient_flow(EuclideanFlow(u**2 / 2, u), tau=1.0)
    >>> round(float(step(init(jnp.array([1.0]))).x[0]), 5)   # e^{-1}
    0.36788
    """
    if not isinstance(flow, EuclideanFlow):
        raise NotAFlowError(f"exact_gradient_flow needs an EuclideanFlow, got {type(flow).__name__}")
    return exact_steps(lower_function(flow, values), tau, rtol, atol, mxstep)


exact_gradient_flow.ORDER = exact_steps.ORDER = None
