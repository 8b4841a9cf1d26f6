r"""Grid solver benchmarks: ``python benchmarks/bench_grid.py {ou1d,ou2d,nonlocal,conv,all}``.

* **ou1d** — the OU Fokker–Planck equation :math:`\partial_t m = (xm)' + \frac12m''` on
  [−5, 5] from N(1, 1/4) to t = 1, float64: :func:`mfderive.grid_flow` (SSP-RK3 and RKL2)
  against py-pde (numba explicit Euler) and the same scheme typed by hand in JAX; L¹ error
  of the cell values against the exact Gaussian, wall time of the stepping only, and the
  time at equal error (``--target``, log-log interpolation over the cells) with its ratio.
* **ou2d** — the same in 2-D (:math:`V = |x|^2/2` on [−5, 5]², from N((1, 0.5), I/4)) at
  ``--cells2d`` cells per axis, against py-pde.
* **nonlocal** — aggregation–diffusion :math:`\xi = x^2/2 - \int e^{-|x-y|^2/2}m(dy) +
  \frac{\sigma^2}2\log m`: ``grid_flow`` (the interaction by FFT, detected automatically)
  against the same finite-volume SSP-RK3 step written by hand in NumPy with an FFT
  convolution, at the same grid and step (1-D and 2-D).
* **conv** — the compiled first variation of that energy at the cells, FFT against dense
  (``convolution.MODE``), per evaluation, 1-D 256…4096 and 2-D 64²…256² (dense only up to
  ``--dense-max`` cells: it holds an n×n matrix).

py-pde is an optional peer (``pip install py-pde``), not a dependency.  Timings are the
best of ``--repeat`` runs after a warm-up (compile) run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import numpy as np

SIG2 = 0.5  # σ²/2 with σ = 1


def machine_line():
    import jax

    versions = [f"jax {jax.__version__}", f"numpy {np.__version__}"]
    try:
        import numba
        import pde

        versions += [f"py-pde {pde.__version__}", f"numba {numba.__version__}"]
    except ImportError:
        versions.append("py-pde not installed")
    return (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{jax.devices()[0].device_kind} ({jax.default_backend()}); {', '.join(versions)}; "
        f"float64; {datetime.date.today().isoformat()}"
    )


def best_of(fn, repeat):
    fn()  # warm-up: compile
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


# -- OU ------------------------------------------------------------------------------------
def _ou_exact(g, T, m0, v0=0.25):
    var = v0 * np.exp(-2 * T) + SIG2 * (1 - np.exp(-2 * T))
    return g.gaussian([c * np.exp(-T) for c in m0], [var] * g.dim)


def _ou_flow(dim):
    import sympy as sp

    import mfderive as mf

    xs = sp.symbols(f"x1:{dim + 1}", real=True)
    mu = mf.Measure("mu", xs)
    return mf.WassersteinFlow(mf.integral(sum(v**2 for v in xs) / 2, mu), mu, noise=sp.Integer(1))


def _ours(g, T, m0, method, repeat):
    """grid_flow at its largest stable step (transport dt·Σmax|u_k|/h_k <= 1, diffusion at
    the method's limit; RKL2 with the fewest stages reaching the transport limit)."""
    import jax

    import mfderive as mf
    from mfderive.simulate.finite_volume import diffusion_limit, rkl2_stages

    rate_d = SIG2 * sum(1 / h**2 for h in g.h)
    dt_t = 1 / sum(5.0 / h for h in g.h)  # max|∂_k V| = 5 on [-5, 5]
    stages = rkl2_stages(rate_d, dt_t) if method == "rkl2" else None
    dt_max = min(dt_t, diffusion_limit(method, stages) / rate_d)
    steps = int(np.ceil(T / dt_max))
    init, step, _ = mf.grid_flow(_ou_flow(g.dim), g, dt=T / steps, method=method, stages=stages)
    s0 = init(g.gaussian(m0, [0.25] * g.dim))

    def go():
        st, _ = mf.run(step, s0, steps, record_every=steps)
        return jax.block_until_ready(st.density)

    wall, out = best_of(go, repeat)
    err = float(g.integrate(np.abs(np.asarray(out) - _ou_exact(g, T, m0))))
    return err, wall, steps, steps * (stages or 3)


def _hand_jax(g, T, m0, repeat):
    """The SSP-RK3 finite-volume step typed by hand in JAX (1-D, OU potential typed in)."""
    import jax
    import jax.numpy as jnp

    h, c = g.h[0], jnp.asarray(g.axes[0])
    steps = int(np.ceil(T / min(0.4 * h * h / SIG2, h / 5)))
    dt = T / steps

    def rhs(m):
        xi = c * c / 2 + SIG2 * (jnp.log(m) + 1)
        dl, dr = m[1:-1] - m[:-2], m[2:] - m[1:-1]
        mag = jnp.minimum(jnp.minimum(1.5 * jnp.abs(dl), 0.5 * jnp.abs(dl + dr)), 1.5 * jnp.abs(dr))
        sl = jnp.pad(jnp.where(dl * dr > 0, jnp.sign(dl) * mag, 0.0), 1)
        u = -(xi[1:] - xi[:-1]) / h
        F = jnp.pad(jnp.maximum(u, 0) * (m + sl / 2)[:-1] + jnp.minimum(u, 0) * (m - sl / 2)[1:], 1)
        return -(F[1:] - F[:-1]) / h

    def step(_, m):
        m1 = m + dt * rhs(m)
        m2 = 0.75 * m + 0.25 * (m1 + dt * rhs(m1))
        return m / 3 + 2 / 3 * (m2 + dt * rhs(m2))

    run = jax.jit(lambda m: jax.lax.fori_loop(0, steps, step, m))
    start = jnp.asarray(g.gaussian(m0, [0.25]))
    wall, out = best_of(lambda: jax.block_until_ready(run(start)), repeat)
    return float(g.integrate(np.abs(np.asarray(out) - _ou_exact(g, T, m0)))), wall, steps, 3 * steps


def _pypde(g, T, m0, repeat, factor=0.4):
    """py-pde's numba explicit Euler with dt = factor·h² (its parabolic limit:
    dt·(σ²/2)·Σ_k 2/h_k² <= 1, i.e. dt <= h²/dim)."""
    import pde

    grid = pde.CartesianGrid([[lo, hi] for lo, hi in zip(g.lower, g.upper)], list(g.shape))
    field = pde.ScalarField(grid, g.gaussian(m0, [0.25] * g.dim))
    if g.dim == 1:
        eq = pde.PDE({"m": "d_dx(x * m) + 0.5 * laplace(m)"}, bc={"derivative": 0})
    else:
        eq = pde.PDE({"m": "d_dx(x * m) + d_dy(y * m) + 0.5 * laplace(m)"}, bc={"derivative": 0})
    dt = factor * min(g.h) ** 2
    solver = pde.solvers.EulerSolver(eq, backend="numba")
    stepper = solver.make_stepper(field, dt=dt)
    stepper(field.copy(), 0.0, dt)  # numba compile

    def go():
        state = field.copy()
        stepper(state, 0.0, T)  # advances state.data in place
        return state.data

    wall, out = best_of(go, repeat)
    steps = int(round(T / dt))
    return float(g.integrate(np.abs(out - _ou_exact(g, T, m0)))), wall, steps, steps


def _equal_error(rows, target):
    """Wall time at L¹ error ``target`` by log-log interpolation of (error, time), or None."""
    e, w = np.log([r[0] for r in rows]), np.log([r[1] for r in rows])
    if not np.all(np.isfinite(e)) or not (e.min() <= np.log(target) <= e.max()):
        return None
    order = np.argsort(e)
    return float(np.exp(np.interp(np.log(target), e[order], w[order])))


def _compare(table, grids, T, m0, target, repeat):
    rows = {}
    print(f"{'solver':<40} {'cells':>9} {'steps':>6} {'RHS':>7} {'L1 error':>9} {'wall (s)':>9}")
    for name, fn in table.items():
        rows[name] = []
        for g in grids:
            err, wall, steps, nrhs = fn(g, T, m0, repeat)
            rows[name].append((err, wall))
            cells = "x".join(str(n) for n in g.shape)
            print(f"{name:<40} {cells:>9} {steps:>6} {nrhs:>7} {err:>9.2e} {wall:>9.4f}", flush=True)
    print(f"wall time at equal L1 error {target:g} (log-log interpolation over the cells):")
    times = {}
    for name, r in rows.items():
        t = _equal_error(r, target)
        if t is None:
            print(f"  {name}: error {target:g} not bracketed")
        else:
            times[name] = t
            print(f"  {name}: {t:.4f} s")
    peers = [n for n in times if n.startswith("py-pde")]
    for ours in [n for n in times if n.startswith("mfderive")]:
        for p in peers:
            print(f"  {p} / {ours}: {times[p] / times[ours]:.2f}  (> 1: mfderive faster)")
    return rows


def _peers(dim):
    try:
        import pde  # noqa: F401
    except ImportError:
        print("py-pde not installed (pip install py-pde): no peer")
        return {}
    return {
        "py-pde Euler dt=0.4h^2/dim": lambda g, T, m0, r: _pypde(g, T, m0, r, 0.4 / dim),
        "py-pde Euler dt=0.8h^2/dim": lambda g, T, m0, r: _pypde(g, T, m0, r, 0.8 / dim),
    }


def bench_ou1d(args):
    import mfderive as mf

    print("1-D OU Fokker-Planck dm/dt = (x m)' + m''/2 on [-5, 5], N(1, 1/4) -> t = 1; L1 error of cell values")
    table = {
        "mfderive grid_flow SSP-RK3": lambda g, T, m0, r: _ours(g, T, m0, "ssprk3", r),
        "mfderive grid_flow RKL2": lambda g, T, m0, r: _ours(g, T, m0, "rkl2", r),
        "jax (hand, SSP-RK3)": _hand_jax,
        **_peers(1),
    }
    _compare(table, [mf.Grid(-5, 5, n) for n in args.cells], 1.0, [1.0], args.target, args.repeat)


def bench_ou2d(args):
    import mfderive as mf

    print("2-D OU Fokker-Planck dm/dt = div(x m) + Δm/2 on [-5, 5]^2, N((1, 0.5), I/4) -> t = 1")
    table = {
        "mfderive grid_flow SSP-RK3": lambda g, T, m0, r: _ours(g, T, m0, "ssprk3", r),
        "mfderive grid_flow RKL2": lambda g, T, m0, r: _ours(g, T, m0, "rkl2", r),
        **_peers(2),
    }
    grids = [mf.Grid((-5, -5), (5, 5), (n, n)) for n in args.cells2d]
    _compare(table, grids, 1.0, [1.0, 0.5], args.target2d, 1)


# -- nonlocal -------------------------------------------------------------------------------
def _aggregation(dim):
    """ξ = |x|²/2 − ∫exp(−|x−y|²/2) m(dy) + (σ²/2) log m, σ = 1 (grid_flow's flow)."""
    import sympy as sp

    import mfderive as mf

    xs = sp.symbols(f"x1:{dim + 1}", real=True)
    mu = mf.Measure("mu", xs)
    zs = mu.point("z")
    W = -sp.exp(-sum((a - b) ** 2 for a, b in zip(xs, zs)) / 2)
    F = mf.integral(sum(v**2 for v in xs) / 2, mu) + mf.integral(mf.integral(W, mu, over=zs), mu) / 2
    return mf.WassersteinFlow(F, mu, noise=sp.Integer(1))


def _numpy_fv(g, dt, theta=1.5):
    """The same finite-volume SSP-RK3 step in NumPy, the interaction by rfftn of the
    zero-padded density against the kernel's transform (computed once)."""
    from numpy.fft import irfftn, rfftn
    from scipy.fft import next_fast_len

    shape, h, d = g.shape, g.h, g.dim
    V = sum(c**2 for c in g.mesh()) / 2
    lat = np.meshgrid(*[(np.arange(2 * n - 1) - (n - 1)) * hk for n, hk in zip(shape, h)], indexing="ij")
    K = -np.exp(-sum(a**2 for a in lat) / 2)
    L = [next_fast_len(3 * n - 2, real=True) for n in shape]
    ax = tuple(range(d))
    FK = rfftn(K, s=L, axes=ax)
    cut = tuple(slice(n - 1, 2 * n - 1) for n in shape)

    def xi(m):
        conv = irfftn(FK * rfftn(m * g.vol, s=L, axes=ax), s=L, axes=ax)[cut]
        return V + conv + SIG2 * (np.log(m) + 1)

    def rhs(m):
        x = xi(m)
        out = np.zeros_like(m)
        for k in range(d):
            mm, xx = np.moveaxis(m, k, 0), np.moveaxis(x, k, 0)
            dl, dr = mm[1:-1] - mm[:-2], mm[2:] - mm[1:-1]
            mag = np.minimum(np.minimum(theta * np.abs(dl), np.abs(dl + dr) / 2), theta * np.abs(dr))
            half = np.zeros_like(mm)
            half[1:-1] = np.where(((dl > 0) & (dr > 0)) | ((dl < 0) & (dr < 0)), np.sign(dl) * mag, 0.0) / 2
            u = -(xx[1:] - xx[:-1]) / h[k]
            F = np.maximum(u, 0) * (mm[:-1] + half[:-1]) + np.minimum(u, 0) * (mm[1:] - half[1:])
            div = np.zeros_like(mm)
            div[:-1] += F
            div[1:] -= F
            out -= np.moveaxis(div, 0, k) / h[k]
        return out

    def step(m):
        m1 = m + dt * rhs(m)
        m2 = 0.75 * m + 0.25 * (m1 + dt * rhs(m1))
        return m / 3 + 2 / 3 * (m2 + dt * rhs(m2))

    return step


def bench_nonlocal(args):
    import jax

    import mfderive as mf

    print("aggregation-diffusion xi = |x|^2/2 - int exp(-|x-y|^2/2) dm(y) + log(m)/2 on [-5, 5]^d, "
          "SSP-RK3, same grid and dt; per-step time")
    print(f"{'dim':>3} {'cells':>9} {'steps':>6} {'mfderive (s/step)':>18} {'numpy FFT (s/step)':>19} "
          f"{'numpy/mfderive':>15} {'max |diff|':>10}")
    for dim, n, steps in [(1, 1024, 200), (1, 4096, 50), (2, 128, 20), (2, 256, 10)]:
        g = mf.Grid((-5,) * dim, (5,) * dim, (n,) * dim)
        dt = 0.4 * min(g.h) ** 2 / (SIG2 * dim)  # the SSP-RK3 diffusion limit
        init, step, _ = mf.grid_flow(_aggregation(dim), g, dt=dt)
        m0 = g.gaussian([1.0] + [0.5] * (dim - 1), [0.25] * dim)
        m0 = m0 / g.integrate(m0)
        s0 = init(m0)

        def ours():
            st, _ = mf.run(step, s0, steps, record_every=steps)
            return np.asarray(jax.block_until_ready(st.density))

        hand_step = _numpy_fv(g, dt)

        def hand():
            m = m0
            for _ in range(steps):
                m = hand_step(m)
            return m

        t_ours, a = best_of(ours, args.repeat)
        t_hand, b = best_of(hand, args.repeat)
        cells = "x".join(str(k) for k in g.shape)
        print(f"{dim:>3} {cells:>9} {steps:>6} {t_ours / steps:>18.3e} {t_hand / steps:>19.3e} "
              f"{t_hand / t_ours:>15.2f} {float(np.max(np.abs(a - b))):>10.1e}", flush=True)


def bench_conv(args):
    import jax
    import sympy as sp

    import mfderive as mf
    from mfderive.codegen import convolution

    print("first variation of E = 1/2 int int exp(-|x-y|^2/2) dm dm at the cells: FFT vs dense, per evaluation")
    print(f"{'dim':>3} {'cells':>9} {'fft (s)':>10} {'dense (s)':>10} {'dense/fft':>9} {'rel diff':>9}")
    for dim, n in [(1, 256), (1, 1024), (1, 4096), (2, 64), (2, 128), (2, 256)]:
        xs = sp.symbols(f"x1:{dim + 1}", real=True)
        mu = mf.Measure("mu", xs)
        zs, ys = mu.point("z"), mu.point("y")
        xi = mf.integral(sp.exp(-sum((a - b) ** 2 for a, b in zip(ys, zs)) / 2), mu, over=zs)
        g = mf.Grid((-5,) * dim, (5,) * dim, (n,) * dim)
        m = g.gaussian([1.0] * dim, [0.25] * dim)
        res = {}
        for mode in ("fft", "dense"):
            if mode == "dense" and g.size > args.dense_max:
                continue
            convolution.MODE = mode
            fn = mf.compile(xi, [mu], at=ys, points_from=mu, grids={mu: g})
            reps = 20 if g.size <= 4096 else 3
            wall, out = best_of(lambda: [jax.block_until_ready(fn(m)) for _ in range(reps)][-1], args.repeat)
            res[mode] = (wall / reps, np.asarray(out))
        convolution.MODE = "auto"
        cells = "x".join(str(k) for k in g.shape)
        if "dense" in res:
            diff = np.max(np.abs(res["fft"][1] - res["dense"][1])) / np.max(np.abs(res["dense"][1]))
            print(f"{dim:>3} {cells:>9} {res['fft'][0]:>10.2e} {res['dense'][0]:>10.2e} "
                  f"{res['dense'][0] / res['fft'][0]:>9.1f} {diff:>9.1e}", flush=True)
        else:
            print(f"{dim:>3} {cells:>9} {res['fft'][0]:>10.2e} {'(n x n)':>10} {'':>9} {'':>9}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="mfderive grid benchmarks")
    ap.add_argument("which", choices=("ou1d", "ou2d", "nonlocal", "conv", "all"))
    ap.add_argument("--cells", type=int, nargs="+", default=[100, 200, 400, 800], help="1-D cells (ou1d)")
    ap.add_argument("--cells2d", type=int, nargs="+", default=[64, 128, 256], help="cells per axis (ou2d)")
    ap.add_argument("--target", type=float, default=1e-4, help="L1 error for the equal-error comparison (ou1d)")
    ap.add_argument("--target2d", type=float, default=5e-4, help="L1 error for the equal-error comparison (ou2d)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dense-max", type=int, default=16384, help="largest grid (cells) for the dense sums (conv)")
    args = ap.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    print(machine_line(), flush=True)
    todo = ("ou1d", "ou2d", "nonlocal", "conv") if args.which == "all" else (args.which,)
    for which in todo:
        {"ou1d": bench_ou1d, "ou2d": bench_ou2d, "nonlocal": bench_nonlocal, "conv": bench_conv}[which](args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
