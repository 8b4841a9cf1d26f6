"""Benchmark: the Nikaido–Isoda gap of a non-bilinear game (mfderive.simulate.nash) and
ascent–descent steps with the gap observed.

    python benchmarks/bench_nash.py [--n 256] [--probes 64 256 1024] [--iters 200] [--dtype float64]

Game: on the torus, L = ∬(cos(x−y) + cos 2x sin y / 2) dμx dμy + λ/2|∫e^{ix}dμx|² −
λ/2|∫e^{iy}dμy|², λ = 1/2 (convex–concave, not bilinear).  n particles per player, uniform
random.  For each probe count K: the time of one gap evaluation (2 × iters away-step
Frank–Wolfe steps) after a warm-up call (compilation excluded), and the bracket upper − lower;
then ascent–descent steps/s with the gap recorded every 100 steps (K = the first probe count,
α = 1).  Results are machine-dependent: record them with the machine line printed here.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--probes", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    a = p.parse_args(argv)
    jax.config.update("jax_enable_x64", a.dtype == "float64")
    import jax.numpy as jnp
    import numpy as np
    import sympy as sp

    import mfderive as mf
    from mfderive.simulate.ascent_descent import ascent_descent
    from mfderive.simulate.lower import game_potentials
    from mfderive.simulate.nash import nash_gap_of_fields

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"jax {jax.__version__} on {jax.devices()[0].platform}; dtype {a.dtype}")
    x, y = sp.symbols("x_bn y_bn", real=True)
    al = sp.Symbol("alpha_bn", nonnegative=True)
    mx, my = mf.Measure("mux_bn", (x,)), mf.Measure("muy_bn", (y,))
    I, C, S = mf.integral, sp.cos, sp.sin
    lam = sp.Rational(1, 2)
    L = (I(I(C(x - y) + C(2 * x) * S(y) / 2, my), mx)
         + lam / 2 * (I(C(x), mx) ** 2 + I(S(x), mx) ** 2) - lam / 2 * (I(C(y), my) ** 2 + I(S(y), my) ** 2))
    game = mf.ZeroSumGame(L, mx, my, al)
    f = game_potentials(game, {al: 1})
    dt = jnp.float64 if a.dtype == "float64" else jnp.float32
    X = (jax.random.uniform(jax.random.PRNGKey(0), (a.n, 1)) * 2 * np.pi).astype(dt)
    Y = (jax.random.uniform(jax.random.PRNGKey(1), (a.n, 1)) * 2 * np.pi).astype(dt)
    w = jnp.full((a.n,), 1.0 / a.n, dt)
    for K in a.probes:
        P = jnp.linspace(0, 2 * np.pi, K, endpoint=False, dtype=dt)[:, None]
        r = nash_gap_of_fields(f, X, w, Y, w, (P, P), a.iters)
        jax.block_until_ready(r)
        t = time.perf_counter()
        r = jax.block_until_ready(nash_gap_of_fields(f, X, w, Y, w, (P, P), a.iters))
        el = time.perf_counter() - t
        print(f"nash_gap  n={a.n} K={K} iters={a.iters}: {el * 1e3:.1f} ms/gap, "
              f"gap in [{float(r.lower):.3e}, {float(r.upper):.3e}]")
    K = a.probes[0]
    probes = np.linspace(0, 2 * np.pi, K, endpoint=False)
    init, step, obs = ascent_descent(game, values={al: 1}, dt=0.05, probes=(probes, probes),
                                     best_response_iters=a.iters)
    s0 = init(X, Y)
    jax.block_until_ready(mf.run(step, s0, a.steps, obs, record_every=100))
    t = time.perf_counter()
    _, tr = jax.block_until_ready(mf.run(step, s0, a.steps, obs, record_every=100))
    el = time.perf_counter() - t
    g = np.asarray(tr["nash_gap"])
    print(f"ascent_descent n={a.n} K={K} steps={a.steps}: {a.steps / el:.0f} steps/s "
          f"(gap every 100 steps), gap {g[0]:.2e} -> {g[-1]:.2e}")


if __name__ == "__main__":
    main()
