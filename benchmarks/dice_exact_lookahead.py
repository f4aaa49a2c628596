"""Noise-free LOLA-DiCE: k-step opponent lookahead with exact inner and outer derivatives.

LOLA-DiCE (Foerster et al., ICML 2018, arXiv 1802.05098, Sec. 5.2) moves agent 1 up
the gradient of V^1(theta^1, theta^2_k(theta^1)), where the opponent's imagined
parameters follow k naive steps theta^2_{m+1} = theta^2_m + alpha grad_{theta^2} V^2.
Here every derivative is exact (:func:`pgbench.games.exact.derivatives` of the same
150-round discounted value the sampled 64-episode estimates of ``lola-dice`` target),
so the only difference from the suite ``suites/dice_ipd.yaml`` is the sampling noise.
The derivative through the inner steps is the chain rule of ``lola-dice`` itself,
D_{m+1} = D_m + alpha (H^2_m[2, 1] + H^2_m[2, 2] D_m) (D_0 = 0; H^2_m the exact
Hessian of V^2 at the m-th imagined point), step = beta (G^1[1] + D_k^T G^1[2]) with
G^1 the exact gradient of V^1 at the k-th imagined point; ``tests/test_dice.py``
checks that recursion against finite differences of the lookahead objective.

Both agents update simultaneously (symmetric for agent 2), 200 iterations, outer
lr beta 0.2, initial logits N(0, 0.4^2) drawn as ``pgbench.play`` draws them (the
same starts as the suite's seeds 0..4). Reported, mean (std, ddof 0) over seeds of the
mean of both agents: the exact per-step reward (1 - gamma) V^k (infinite horizon,
LOLA's R) averaged over iterations 190..199 ("last 10", the suite's sampled column
without the noise) and at the final point.

    python benchmarks/dice_exact_lookahead.py                      # k 1..3, alpha 0.3 and 0.1
    python benchmarks/dice_exact_lookahead.py --lookahead 3 --inner-lr 0.3 --seeds 20
"""

from __future__ import annotations

import argparse

import numpy as np

from pgbench.games.exact import Derivatives, derivatives, make_game

HORIZON = 150  # rounds of the sampled episodes whose value the DiCE estimates target


def lookahead_step(game, x: np.ndarray, agent: int, k: int, inner_lr: float, lr: float):
    """Agent ``agent``'s (0 or 1) exact LOLA-DiCE step (5,) at x (10,): lr times the
    gradient of its H-round value after k exact naive steps of the opponent."""
    me = slice(0, 5) if agent == 0 else slice(5, 10)
    other = slice(5, 10) if agent == 0 else slice(0, 5)
    opp = 1 - agent
    y = x.copy()
    D = np.zeros((5, 5))  # d theta^opp_m / d theta^me
    for _ in range(k):
        d = derivatives(game, y, HORIZON)
        H = d.hess[opp]
        D = D + inner_lr * (H[other, me] + H[other, other] @ D)
        y[other] = y[other] + inner_lr * d.grad[opp, other]
    G = derivatives(game, y, HORIZON).grad[agent]
    return lr * (G[me] + D.T @ G[other])


def run(k: int, inner_lr: float, seed: int, *, iterations=200, lr=0.2, init_scale=0.4):
    """(iterations + 1,) per-step reward (1 - gamma) V, mean of both agents, of one run."""
    game = make_game("ipd")
    starts = [
        init_scale * np.random.default_rng(np.random.SeedSequence([seed, a])).standard_normal(5)
        for a in (0, 1)
    ]
    x = np.concatenate(starts)
    rewards = []
    for it in range(iterations + 1):
        d: Derivatives = derivatives(game, x)
        rewards.append(float(d.per_step(game.gamma).mean()))
        if it == iterations:
            break
        steps = [lookahead_step(game, x, a, k, inner_lr, lr) for a in (0, 1)]
        x = x + np.concatenate(steps)
    return np.array(rewards)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lookahead", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--inner-lr", type=float, nargs="+", default=[0.3, 0.1])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=200)
    args = ap.parse_args(argv)
    print("| k | inner lr | exact R, last 10 | exact R, final | runs |")
    print("|---|---:|---:|---:|---|")
    for alpha in args.inner_lr:
        for k in args.lookahead:
            curves = np.stack(
                [run(k, alpha, s, iterations=args.iterations) for s in range(args.seeds)]
            )
            last10 = curves[:, -11:-1].mean(axis=1)
            final = curves[:, -1]
            each = ", ".join(f"{v:.2f}" for v in final)
            print(
                f"| {k} | {alpha} | {last10.mean():.2f} ({last10.std():.2f})"
                f" | {final.mean():.2f} ({final.std():.2f}) | {each} |"
            )


if __name__ == "__main__":
    main()
