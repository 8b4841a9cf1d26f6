r"""``python benchmarks/bench_systems.py --steps 50 [--n 1024] [--cells 256] [--only 1 6 12a]``

Steps per second of the twelve source systems of issue 12, each built from its functional
through the public API only (``import mfderive as mf``), the same systems as
``tests/test_systems.py`` at benchmark sizes:

* particle systems at ``--n`` particles (default 1024; the game: ``n`` per player),
* grid systems at ``--cells`` cells (default 256; the entropic JKO, whose inner Sinkhorn
  loop is :math:`O(\text{cells}^2)` per iteration, at ``--jko-cells``, default 128, with
  200 iterations).

``steps/s`` is ``mf.run(step, state, steps)`` (one ``lax.scan``, no observe) timed from its
second call on (repeated until 0.5 s have passed), so tracing and XLA compilation are excluded; ``set-up s`` is the simulator's
construction plus the first (compiling) call. Dtype float64 (``jax_enable_x64``). Prints a
Markdown table with the machine (``platform``, cores) and the JAX backend.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

import mfderive as mf  # noqa: E402

RNG = np.random.default_rng(0)


def s01(n, cells):
    w, a, b, x = sp.symbols("bs1_w bs1_a bs1_b bs1_x", real=True)
    sig = sp.Symbol("bs1_sigma", positive=True)
    mu, nu = mf.Measure("bs1_mu", (w, a, b)), mf.Data("bs1_nu", (x,))
    F = mf.integral((mf.integral(w * sp.tanh(a * x + b), mu) - sp.sin(2 * x)) ** 2 / 2, nu) \
        + sp.Rational(1, 100) * mf.integral(w**2 + a**2 + b**2, mu)
    M = 256
    xs, q = np.linspace(-1, 1, M), np.full(M, 1 / M)
    init, step, _ = mf.particle_flow(mf.WassersteinFlow(F, mu, noise=sig), data={nu: (xs, q)},
                                     values={sig: 0.05}, dt=0.05)
    return step, init(RNG.normal(size=(n, 3)), 0), f"n = {n} particles, M = {M} data"


def s02(n, cells):
    u, sig = sp.Symbol("bs2_u", real=True), sp.Symbol("bs2_sigma", positive=True)
    mu = mf.Measure("bs2_mu", (u,))
    init, step, _ = mf.particle_flow(mf.WassersteinFlow(mf.integral((u**2 - 1) ** 2 / 4 + u / 5, mu), mu, noise=sig),
                                     values={sig: 0.3}, dt=0.01)
    return step, init(RNG.normal(size=n), 0), f"n = {n} particles"


def s03(n, cells):
    u = sp.Symbol("bs3_u", real=True)
    mu = mf.Measure("bs3_mu", (u,))
    (z,) = mu.point("bs3_z")
    F = mf.integral(u**2 / 2, mu) + mf.integral(mf.integral(sp.exp(-((u - z) ** 2)), mu, over=(z,)), mu) / 2
    init, step, _ = mf.particle_flow(mf.WassersteinFlow(F, mu), dt=0.02)
    return step, init(RNG.normal(size=n), 0), f"n = {n} particles (pairwise)"


def _rho_h_grid(variant, k, cells):
    th = sp.Symbol(f"bs{k}_theta", real=True)
    H = sp.Function(f"bs{k}H", real=True)
    rho = mf.Measure(f"bs{k}_rho", (th,))
    G = mf.integral((H(th) - sp.sin(th)) ** 2 / 2 + th**2 / 2, rho)
    g = mf.Grid(-4, 4, cells)
    init, step, _ = mf.rho_h_grid_flow(mf.RhoHFlow(G, rho, H, variant), g, dt=0.1 * g.h[0] / 4)
    xs = np.asarray(g.axes[0])
    m0 = np.exp(-(xs**2) / 2)
    return step, init(m0 / float(g.integrate(m0)), np.sin(xs) + 0.5 * xs), f"{cells} cells"


def s04(n, cells):
    return _rho_h_grid("separated", 4, cells)


def s05(n, cells):
    return _rho_h_grid("transported", 5, cells)


def s06(n, cells):
    a, b, x = sp.symbols("bs6_a bs6_b bs6_x", real=True)
    H = sp.Function("bs6H", real=True)
    rho, D = mf.Measure("bs6_rho", (a, b)), mf.Data("bs6_D", (x,))
    G = mf.integral((mf.integral(H(a, b) * sp.tanh(a * x + b), rho) - sp.cos(x)) ** 2 / 2, D) \
        + mf.integral((H(a, b) ** 2 + a**2 + b**2) / 10, rho)
    M = 64
    xs, qs = np.linspace(-1, 1, M), np.full(M, 1 / M)
    init, step, _ = mf.rho_h_flow(mf.RhoHFlow(G, rho, H, "chaos"), np.full(n, 1.0 / n), {D: (xs, qs)}, dt=0.02)
    return step, init(0.8 * RNG.normal(size=(n, 2)), RNG.normal(size=n)), f"n = {n} particles, M = {M} data, RK4"


def _grid(F, mu, cells, values=None):
    g = mf.Grid(-4, 4, cells)
    init, step, _ = mf.grid_flow(mf.WassersteinFlow(F, mu), g, values=values, dt=0.2 * g.h[0] ** 2)
    xs = np.asarray(g.axes[0])
    m0 = np.exp(-((xs - 1.0) ** 2) / 0.5)
    return step, init(m0 / float(g.integrate(m0))), f"{cells} cells"


def s07(n, cells):
    u, tau = sp.Symbol("bs7_u", real=True), sp.Symbol("bs7_tau", positive=True)
    mu = mf.Measure("bs7_mu", (u,))
    return _grid(mf.integral(u**2 / 2, mu) + tau * mf.entropy(mu), mu, cells, {tau: 0.25})


def s08(n, cells):
    u = sp.Symbol("bs8_u", real=True)
    mu = mf.Measure("bs8_mu", (u,))
    return _grid(mf.integral(u**2 / 2, mu) + mf.local(mu.density(u) ** 2, mu) / 4, mu, cells)


def s09(n, cells):
    u, al = sp.Symbol("bs9_u", real=True), sp.Symbol("bs9_alpha", positive=True)
    mu = mf.Measure("bs9_mu", (u,))
    flow = mf.UnbalancedFlow(mf.integral(sp.cos(3 * u) / 2 + u**2 / 2, mu), mu, al)
    init, step, _ = mf.birth_death_flow(flow, values={al: 2.0}, dt=0.01)
    return step, init(RNG.normal(size=n), 0), f"n = {n} particles"


def s10(n, cells):
    x, y = sp.symbols("bs10_x bs10_y", real=True)
    al = sp.Symbol("bs10_alpha", positive=True)
    mx, my = mf.Measure("bs10_mux", (x,)), mf.Measure("bs10_muy", (y,))
    game = mf.ZeroSumGame(mf.integral(mf.integral(sp.cos(x - y), my), mx), mx, my, al)
    init, step, _ = mf.ascent_descent(game, values={al: 1.0}, dt=0.02)
    return step, init(RNG.uniform(0, 6, n), RNG.uniform(0, 6, n)), f"n = {n} per player"


def s11(n, cells, jko_cells=128):
    u = sp.Symbol("bs11_u", real=True)
    mu = mf.Measure("bs11_mu", (u,))
    g = mf.Grid(-4, 4, jko_cells)
    flow = mf.WassersteinFlow(mf.integral(u**2 / 2, mu), mu, noise=sp.Integer(1))
    init, step, _ = mf.entropic_jko(flow, g, tau=0.1, epsilon=1e-2, iterations=200, tol=None)
    xs = np.asarray(g.axes[0])
    m0 = np.exp(-((xs - 1.0) ** 2) / 0.5)
    return step, init(m0 / float(g.integrate(m0))), f"{jko_cells} cells, 200 Sinkhorn its/step"


def _relu(kind, n, cells):
    x1, x2 = sp.symbols(f"bs12{kind}_x1 bs12{kind}_x2", real=True)
    nu = mf.Data(f"bs12{kind}_nu", (x1, x2))
    relu = lambda e: sp.Max(0, e)  # noqa: E731
    target = relu(x1) - relu(x2) / 2
    M = 256
    X = RNG.normal(size=(M, 2))
    W = RNG.normal(size=(n, 2))
    A = RNG.normal(size=n)
    kw = {}
    if kind == "a":
        w1, w2, a = sp.symbols("bs12a_w1 bs12a_w2 bs12a_a", real=True)
        mu = mf.Measure("bs12a_mu", (w1, w2, a))
        inner, P0 = a * relu(w1 * x1 + w2 * x2), np.column_stack([W, A])
    elif kind == "b":
        s1, s2 = sp.symbols("bs12b_s1 bs12b_s2", real=True)
        mu = mf.Measure("bs12b_mu", (s1, s2), signed=True)
        inner, P0, kw = relu(s1 * x1 + s2 * x2), W, {"weights": A / n}
    elif kind == "c":
        p1, p2, n1, n2 = sp.symbols("bs12c_p1 bs12c_p2 bs12c_n1 bs12c_n2", real=True)
        mu = mf.Measure("bs12c_mu", (p1, p2, n1, n2))
        inner = relu(p1 * x1 + p2 * x2) - relu(n1 * x1 + n2 * x2)
        P0 = np.concatenate([np.maximum(A, 0)[:, None] * W, np.maximum(-A, 0)[:, None] * W], 1)
    else:
        t1, t2, r = sp.symbols("bs12d_t1 bs12d_t2 bs12d_r", real=True)
        mu = mf.Measure("bs12d_mu", (t1, t2, r), domain=mf.Sphere(2) * mf.Reals(1))
        inner = r * relu(t1 * x1 + t2 * x2)
        P0 = np.column_stack([W / np.linalg.norm(W, axis=1, keepdims=True), np.linalg.norm(W, axis=1) * A])
    F = mf.integral((mf.integral(inner, mu) - target) ** 2 / 2, nu)
    init, step, _ = mf.particle_flow(mf.WassersteinFlow(F, mu), data={nu: (X, np.full(M, 1 / M))}, dt=0.02,
                                     relu_convention=0)
    return step, init(P0, 0, **kw), f"n = {n} particles, M = {M} data"


SYSTEMS = {
    "1": ("MFLD, two-layer tanh network, σ > 0", "particle_flow", s01),
    "2": ("noisy GD / Langevin of a potential", "particle_flow", s02),
    "3": ("WGF in μ, σ = 0, interaction", "particle_flow", s03),
    "4": ("(ρ,H) separated (3.19)", "rho_h_grid_flow", s04),
    "5": ("(ρ,H) transported (3.21)–(3.22)", "rho_h_grid_flow", s05),
    "6": ("(ρ,H) chaos (Prop. 3.3)", "rho_h_flow", s06),
    "7": ("heat-regularised (4.2)", "grid_flow", s07),
    "8": ("porous-medium-regularised (4.7)", "grid_flow", s08),
    "9": ("WFR birth–death", "birth_death_flow", s09),
    "10": ("zero-sum game, ascent–descent", "ascent_descent", s10),
    "11": ("entropic JKO", "entropic_jko", s11),
    "12a": ("ReLU, atoms (w, a)", "particle_flow", lambda n, c: _relu("a", n, c)),
    "12b": ("ReLU, signed measure", "particle_flow", lambda n, c: _relu("b", n, c)),
    "12c": ("ReLU, ± split", "particle_flow", lambda n, c: _relu("c", n, c)),
    "12d": ("ReLU, S¹ × ℝ", "particle_flow", lambda n, c: _relu("d", n, c)),
}


def bench(key, n, cells, steps, jko_cells):
    name, sim, build = SYSTEMS[key]
    t0 = time.perf_counter()
    step, state, size = (s11(n, cells, jko_cells) if key == "11" else build(n, cells))
    out, _ = mf.run(step, state, steps)
    jax.block_until_ready(out)
    setup = time.perf_counter() - t0
    # repeat the (compiled) run until ≥ 0.5 s have passed: short runs are timer/noise bound
    calls, t0 = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - t0 < 0.5:
        out, _ = mf.run(step, state, steps)
        jax.block_until_ready(out)
        calls += 1
    return name, sim, size, setup, calls * steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--cells", type=int, default=256)
    ap.add_argument("--jko-cells", type=int, default=128)
    ap.add_argument("--only", nargs="*", default=list(SYSTEMS))
    args = ap.parse_args()
    dev = jax.devices()[0]
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; JAX {jax.__version__} on {dev.platform} ({dev.device_kind}); "
          f"float64; mf.run of {args.steps} steps, timed after the compiling call\n")
    print("| # | system | simulator | size | set-up s | steps/s |")
    print("|---|---|---|---|---|---|")
    for key in args.only:
        name, sim, size, setup, rate = bench(key, args.n, args.cells, args.steps, args.jko_cells)
        print(f"| {key} | {name} | `mf.{sim}` | {size} | {setup:.1f} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
