r"""``python benchmarks/bench.py mfld --N 4096 --M 4096 --d 16 --steps 200 --dtype float32``

One MFLD step of a two-layer tanh network, neurons :math:`\xi = (w, a \in\mathbb R^d, b)`,
MSE loss on data :math:`(x_m, t_m)`, penalty :math:`\frac\lambda2|\xi|^2`, noise :math:`\sigma`,
confinement :math:`U = |\xi|^2/2`:

* **generated** — the drift derived by the engine (``WassersteinFlow(...).sde()``) and
  compiled by :func:`mfderive.compile`, stepped by :func:`mfderive.particle_flow`;
* **jax (hand)** — the same step written by hand with ``jax.grad`` of the particle loss;
* **numpy (hand)** — forward and backward pass by hand in NumPy;
* **torch (hand)** — autograd on the CPU, if PyTorch is installed.

All JAX variants run ``steps`` steps inside one ``lax.scan`` after a warm-up compile. The
last line is ``generated steps/s: X``.  ``python benchmarks/bench.py scaling`` prints the
generated step's time and peak memory for N = 10³ … 10⁶ (M fixed).
``python benchmarks/bench.py grid`` runs ``benchmarks/bench_grid.py ou1d``: the OU
Fokker–Planck equation with :func:`mfderive.grid_flow` and, if installed, with py-pde, wall
times at equal :math:`L^1` error.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

LAM = 0.01
SIGMA = 0.05
DT = 0.1


def _problem(N, M, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(M, d)).astype(dtype)
    t = np.tanh(X @ rng.normal(size=d) / np.sqrt(d)).astype(dtype)
    P = (rng.normal(size=(N, d + 2)) * 0.5).astype(dtype)
    return P, X, t


def mfld_flow(d, pair=False):
    r"""``(flow, nu, sigma)``: the MFLD flow of the two-layer tanh network (MSE loss on the data
    measure ``nu``, penalty, confinement, noise ``sigma``); ``pair`` adds the interaction energy
    :math:`\frac1{10}\iint e^{-(w-w')^2-(b-b')^2}\,d\mu\,d\mu` (an N×N pair sum)."""
    import sympy as sp

    import mfderive as mf

    w, b = sp.symbols("w b", real=True)
    a = sp.symbols(f"a1:{d + 1}", real=True)
    x = sp.symbols(f"x1:{d + 1}", real=True)
    t = sp.Symbol("t", real=True)
    mu = mf.Measure("mu", (w, *a, b))
    nu = mf.Data("nu", (*x, t))
    f_mu = mf.integral(w * sp.tanh(sum(ai * xi for ai, xi in zip(a, x)) + b), mu)
    sq = w**2 + b**2 + sum(ai**2 for ai in a)
    F = mf.integral((f_mu - t) ** 2 / 2, nu) + sp.Float(LAM) / 2 * mf.integral(sq, mu)
    if pair:
        z = mu.point("z")
        F += mf.integral(mf.integral(sp.exp(-((w - z[0]) ** 2) - (b - z[-1]) ** 2), mu, over=z), mu) / 10
    sigma = sp.Symbol("sigma", positive=True)
    return mf.WassersteinFlow(F, mu, noise=sigma, confinement=sq / 2), nu, sigma


def generated_step(N, M, d, dtype, chunk_size=None):
    """The engine's MFLD step, ``step(P, key) -> P`` (jittable)."""
    import jax.numpy as jnp

    from mfderive.simulate.particles import particle_flow

    flow, nu, sigma = mfld_flow(d)
    P, X, tt = _problem(N, M, d, dtype)
    data = np.concatenate([X, tt[:, None]], axis=1)
    wts = np.full(M, 1.0 / M, dtype)
    _, step_fn, _ = particle_flow(
        flow, data={nu: (jnp.asarray(data), jnp.asarray(wts))}, values={sigma: SIGMA}, dt=DT,
        chunk_size=chunk_size,
    )
    from mfderive.simulate.particles import ParticleState

    def step(P, key):
        s = step_fn(ParticleState(P, key, jnp.zeros((), P.dtype), jnp.zeros((), jnp.int32)))
        return s.particles

    return step, P


def jax_hand_step(N, M, d, dtype):
    import jax
    import jax.numpy as jnp

    P0, X, t = _problem(N, M, d, dtype)
    X, t = jnp.asarray(X), jnp.asarray(t)

    def loss(P):
        w, A, b = P[:, 0], P[:, 1 : d + 1], P[:, d + 1]
        f = jnp.tanh(X @ A.T + b) @ w / P.shape[0]
        return 0.5 * jnp.mean((f - t) ** 2) + LAM / 2 * jnp.mean(jnp.sum(P**2, axis=1))

    grad = jax.grad(loss)

    def step(P, key):
        drift = -P.shape[0] * grad(P) - SIGMA**2 / 2 * P
        sub = jax.random.split(key)[1]  # the simulator's key discipline: same noise
        return P + DT * drift + SIGMA * jnp.sqrt(DT) * jax.random.normal(sub, P.shape, P.dtype)

    return step, P0


def numpy_hand_step(N, M, d, dtype):
    P0, X, t = _problem(N, M, d, dtype)
    rng = np.random.default_rng(1)

    def step(P):
        w, A, b = P[:, 0], P[:, 1 : d + 1], P[:, d + 1]
        H = np.tanh(X @ A.T + b)  # (M, N)
        r = (H @ w / N - t) / M  # dL/df per data point
        G = (1 - H * H) * r[:, None]  # (M, N)
        gw = H.T @ r / N
        gA = (G.T @ X) * (w / N)[:, None]
        gb = G.sum(0) * w / N
        grad = np.concatenate([gw[:, None], gA, gb[:, None]], axis=1) + LAM * P / N
        drift = -N * grad - SIGMA**2 / 2 * P
        noise = rng.standard_normal(P.shape).astype(P.dtype)
        return (P + DT * drift + SIGMA * np.sqrt(DT) * noise).astype(P.dtype)

    return step, P0


def torch_hand_step(N, M, d, dtype):
    import torch

    P0, X, t = _problem(N, M, d, dtype)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    X, t = torch.from_numpy(X).to(dev), torch.from_numpy(t).to(dev)

    def step(P):
        P = P.detach().requires_grad_(True)
        w, A, b = P[:, 0], P[:, 1 : d + 1], P[:, d + 1]
        f = torch.tanh(X @ A.T + b) @ w / N
        loss = 0.5 * torch.mean((f - t) ** 2) + LAM / 2 * torch.mean(torch.sum(P**2, 1))
        (g,) = torch.autograd.grad(loss, P)
        with torch.no_grad():
            return P + DT * (-N * g - SIGMA**2 / 2 * P) + SIGMA * DT**0.5 * torch.randn_like(P)

    return step, torch.from_numpy(P0).to(dev)


def _time_jax(step, P, steps):
    import jax

    def many(P, key):
        def body(c, k):
            return step(c, k), None

        return jax.lax.scan(body, P, jax.random.split(key, steps))[0]

    f = jax.jit(many)
    key = jax.random.PRNGKey(0)
    t0 = time.perf_counter()
    f(P, key).block_until_ready()
    compile_s = time.perf_counter() - t0
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        out = f(P, key)
        out.block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return steps / best, compile_s, np.asarray(out)


def _time_loop(step, P, steps, sync=lambda: None):
    P = step(P)  # warm-up
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        P = step(P)
    sync()
    return steps / (time.perf_counter() - t0)


def machine_line():
    import jax

    blas = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "XLA_FLAGS") if os.environ.get(k)}
    return (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{jax.devices()[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}, "
        f"numpy {np.__version__}, BLAS env {blas or 'default'}"
    )


def bench_mfld(args):
    import jax

    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    dtype = np.dtype(args.dtype)
    N, M, d, steps = args.N, args.M, args.d, args.steps
    print(machine_line())
    print(f"MFLD step, two-layer tanh network: N={N} neurons, M={M} data, d={d}, {args.dtype}, {steps} steps")
    results = {}
    t0 = time.perf_counter()
    gen, P = generated_step(N, M, d, dtype, args.chunk)
    derive_s = time.perf_counter() - t0
    sps, comp, out_gen = _time_jax(gen, jax.numpy.asarray(P), steps)
    results["generated"] = sps
    print(f"  generated      {sps:9.1f} steps/s   (derive {derive_s:.1f} s, compile+first run {comp:.1f} s)")
    hand, P = jax_hand_step(N, M, d, dtype)
    sps, comp, out_hand = _time_jax(hand, jax.numpy.asarray(P), steps)
    results["jax (hand)"] = sps
    print(f"  jax (hand)     {sps:9.1f} steps/s   (compile+first run {comp:.1f} s)")
    diff = np.max(np.abs(out_gen - out_hand)) / max(1e-30, np.max(np.abs(out_hand)))
    print(f"  generated vs jax (hand) after {steps} steps, same keys: max rel. difference {diff:.2e}")
    step, P = numpy_hand_step(N, M, d, dtype)
    n_np = max(1, min(steps, 20))
    results["numpy (hand)"] = _time_loop(step, P, n_np)
    print(f"  numpy (hand)   {results['numpy (hand)']:9.1f} steps/s   ({n_np} steps)")
    try:
        import torch

        step, P = torch_hand_step(N, M, d, dtype)
        sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
        n_t = steps if torch.cuda.is_available() else n_np
        results["torch (hand)"] = _time_loop(step, P, n_t, sync)
        print(f"  torch (hand)   {results['torch (hand)']:9.1f} steps/s   ({n_t} steps, {P.device})")
    except ImportError:
        print("  torch (hand)   not installed")
    peers = {k: v for k, v in results.items() if k != "generated"}
    best = max(peers, key=peers.get)
    print(f"  ratio generated / best hand-written ({best}): {results['generated'] / peers[best]:.2f}")
    for k, v in peers.items():
        print(f"  ratio generated / {k}: {results['generated'] / v:.2f}")
    print(f"generated steps/s: {results['generated']:.1f}")


def bench_scaling(args):
    import resource

    import jax

    dtype = np.dtype(args.dtype)
    print(machine_line())
    print(f"generated MFLD step, M={args.M}, d={args.d}, {args.dtype}, chunk_size={args.chunk}")
    dev = jax.devices()[0]
    print(f"{'N':>9} {'steps/s':>10} {'peak host RSS (MB)':>19} {'peak device (MB)':>17}")
    for N in (1000, 10_000, 100_000, 1_000_000):
        gen, P = generated_step(N, args.M, args.d, dtype, args.chunk)
        sps, _, _ = _time_jax(gen, jax.numpy.asarray(P), max(2, args.steps // max(1, N // 1000)))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        stats = dev.memory_stats() if hasattr(dev, "memory_stats") else None
        peak = f"{stats['peak_bytes_in_use'] / 2**20:.0f}" if stats and "peak_bytes_in_use" in stats else "n/a"
        print(f"{N:>9} {sps:>10.3g} {rss:>19.0f} {peak:>17}", flush=True)


def bench_grid(args):
    """The grid benchmarks live in ``benchmarks/bench_grid.py``: its 1-D OU comparison."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_grid

    bench_grid.main(["ou1d", "--cells", *map(str, args.cells), "--target", str(args.target)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="mfderive benchmarks")
    ap.add_argument("which", choices=("mfld", "scaling", "grid"))
    ap.add_argument("--N", type=int, default=4096)
    ap.add_argument("--M", type=int, default=4096)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--chunk", type=int, default=None, help="chunk_size for the generated code")
    ap.add_argument("--cells", type=int, nargs="+", default=[100, 200, 400, 800], help="grid sizes (grid)")
    ap.add_argument("--target", type=float, default=1e-4, help="L1 error for the equal-error comparison (grid)")
    args = ap.parse_args(argv)
    {"mfld": bench_mfld, "scaling": bench_scaling, "grid": bench_grid}[args.which](args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
