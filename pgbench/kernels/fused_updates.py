"""Fused training updates (CPU): every epoch and minibatch of a PPO update in one call.

:func:`pgbench.algorithms.ppo.objective_gradient` is the readable reference: per
minibatch, Python indexes the rows, runs one policy pass and one critic pass,
weights their gradients term by term (Schulman et al. 2017, eq. 9) and takes one
optimizer step. :func:`ppo_epochs` runs the same steps, from the same inlined passes
(:mod:`.mlp_passes`, :mod:`.nets`, :mod:`.gaussian_nets`, :func:`.optim.step_into`),
for all ``n_epochs`` x minibatches of a segment with no Python between them. It
agrees with the reference to rounding: sums here run in index order where numpy's
reductions (the minibatch mean and standard deviation of the advantages) sum
pairwise, and ``math.exp`` stands for ``numpy.exp`` in the probability ratio.

Networks are given as in :mod:`.mlp_passes`: ``sizes`` (int64 ``[D, h_1, ..., K]``)
and an activation code. The policy head is :data:`SOFTMAX` (categorical, logits from
the network; int64 actions (N,)) or :data:`GAUSSIAN` (diagonal, mean from the
network, log-std shared or a second head, ``state_dep``; float actions (N, K)); the
critic is a network with one output. ``params`` holds (theta (P,), phi (Q,)) in one
vector, stepped in place by one optimizer, as the reference does.
"""

from __future__ import annotations

import math

import numpy as np

from pgbench.kernels.cpu import device_jit, driver_jit
from pgbench.kernels.gaussian_nets import LOG_2PI, gaussian_forward, gaussian_grad
from pgbench.kernels.mlp_passes import backward, forward
from pgbench.kernels.nets import _log_softmax, _softmax_out_grad
from pgbench.kernels.optim import step_into
from pgbench.kernels.returns import make_return_cores

SOFTMAX, GAUSSIAN = 0, 1


@device_jit
def gather_rows(X, idx):
    """X[idx] as a new C-contiguous array: (n, D) for X (N, D)."""
    n = idx.shape[0]
    out = np.empty((n, X.shape[1]), X.dtype)
    for i in range(n):
        out[i, :] = X[idx[i], :]
    return out


@device_jit
def gather(x, idx):
    """x[idx]: (n,) for x (N,)."""
    out = np.empty(idx.shape[0], x.dtype)
    for i in range(idx.shape[0]):
        out[i] = x[idx[i]]
    return out


@device_jit
def _standardized(x):
    """(x - mean) / (std + 1e-8), std with Bessel's correction; x - mean for n < 2."""
    n = x.shape[0]
    mean = 0.0
    for i in range(n):
        mean += x[i]
    mean /= n
    out = np.empty(n)
    if n < 2:
        for i in range(n):
            out[i] = x[i] - mean
        return out
    ss = 0.0
    for i in range(n):
        d = x[i] - mean
        ss += d * d
    scale = math.sqrt(ss / (n - 1)) + 1e-8
    for i in range(n):
        out[i] = (x[i] - mean) / scale
    return out


@device_jit
def surrogate_weights(logp, old_logp, adv, kl_penalty, clip):
    """(w (n,), ratio (n,)): the weights of the policy term on grad log pi(a_n | s_n).

    r_n = exp(log pi - log pi_old). L^CLIP: r A / n where r A is the smaller term of
    min(r A, clip(r, 1 - clip, 1 + clip) A), else 0 (the clipped term is constant in
    theta). L^KLPEN's surrogate (``kl_penalty``): r A / n.
    """
    n = logp.shape[0]
    w = np.empty(n)
    ratio = np.empty(n)
    for i in range(n):
        r = math.exp(logp[i] - old_logp[i])
        ratio[i] = r
        unclipped = r * adv[i]
        if not kl_penalty:
            clipped = min(max(r, 1.0 - clip), 1.0 + clip) * adv[i]
            w[i] = unclipped / n if unclipped <= clipped else 0.0
        else:
            w[i] = unclipped / n
    return w, ratio


@device_jit
def _softmax_policy_grad(theta, X, sizes, act, a, old_logp, adv, kl, clip, w_ent, w_kl, q):
    """(P,) d/dtheta of the policy terms on minibatch rows X (n, D), categorical head."""
    n = X.shape[0]
    Z, acts = forward(theta, X, sizes, act)
    logp, p, ent = _log_softmax(Z)
    lp = np.empty(n)
    for i in range(n):
        lp[i] = logp[i, a[i]]
    w, _ = surrogate_weights(lp, old_logp, adv, kl, clip)
    G = _softmax_out_grad(logp, p, ent, a, w, w_ent, q, w_kl)
    grad = np.zeros(theta.shape[0])
    backward(theta, X, acts, sizes, act, G, np.empty((n, 0)), 0, grad)
    return grad


@device_jit
def _gaussian_policy_grad(
    theta, X, sizes, act, state_dep, a, old_logp, adv, kl, clip, w_ent, w_kl, mu_old, ls_old
):
    """(P,) d/dtheta of the policy terms on minibatch rows X (n, D), Gaussian head;
    a (n, K); mu_old, ls_old the old distributions' rows, or (0, K) without a KL term."""
    n = X.shape[0]
    mu, ls, acts = gaussian_forward(theta, X, sizes, act, state_dep)
    K = mu.shape[1]
    lp = np.zeros(n)
    for i in range(n):
        r = i if state_dep else 0
        for k in range(K):
            z = (a[i, k] - mu[i, k]) * math.exp(-ls[r, k])
            lp[i] += -0.5 * z * z - ls[r, k] - 0.5 * LOG_2PI
    w, _ = surrogate_weights(lp, old_logp, adv, kl, clip)
    return gaussian_grad(
        theta, X, acts, sizes, act, state_dep, mu, ls, a, w, w_ent, mu_old, ls_old, w_kl
    )


@device_jit
def value_grad(phi, X, sizes, act, targets, coef, old_values, value_clip):
    """(Q,) d/dphi of -coef L^VF (an ascent direction): L^VF = mean_n (V_phi(x_n) -
    target_n)^2, or with ``value_clip`` > 0 the clipped loss around ``old_values`` (n,)
    of :func:`pgbench.algorithms.ppo.objective_gradient`."""
    n = X.shape[0]
    Y, acts = forward(phi, X, sizes, act)
    G = np.empty((n, 1))
    c = coef * 2.0
    for i in range(n):
        G[i, 0] = (c * (targets[i] - Y[i, 0])) / n
        if value_clip > 0.0:
            vc = old_values[i] + min(max(Y[i, 0] - old_values[i], -value_clip), value_clip)
            if (vc - targets[i]) ** 2 > (Y[i, 0] - targets[i]) ** 2:
                G[i, 0] = 0.0
    grad = np.empty(phi.shape[0])
    backward(phi, X, acts, sizes, act, G, np.empty((n, 0)), 0, grad)
    return grad


@driver_jit
def ppo_epochs(
    params, P, m, v, t, kind, lr, beta1, beta2, alpha, eps, max_norm,
    head, psizes, pact, state_dep, csizes, cact,
    obs, a_int, a_flt, adv, returns, old_logp, old_a, old_b,
    perms, batch_size, normalize_adv, kl, clip, beta, ent_coef, vf_coef, old_values, value_clip,
):  # fmt: skip
    """Every epoch and minibatch of one PPO update; returns (optimizer steps taken so far
    ``t``, |d L / d theta| of the last minibatch).

    ``params`` (P + Q,) = (theta, phi), stepped in place by the optimizer ``kind`` with
    moments ``m``, ``v`` (P + Q,) and step count ``t`` (the constants of
    :func:`.optim.step_into`). The segment: ``obs`` (N, D); actions ``a_int`` (N,)
    (SOFTMAX) or ``a_flt`` (N, K) (GAUSSIAN), the other one empty; ``adv``, ``returns``,
    ``old_logp`` (N,). ``perms`` (n_epochs, N): each epoch's row order, taken
    ``batch_size`` rows at a time. L^CLIP with epsilon ``clip``, or with ``kl``
    L^KLPEN with coefficient ``beta`` and the old distributions at every row: probabilities
    ``old_a`` (N, A) (SOFTMAX), or means ``old_a`` (N, K) and log-stds ``old_b``
    ((1, K) shared or (N, K)) (GAUSSIAN).
    """
    N = obs.shape[0]
    n_epochs = perms.shape[0]
    grad = np.empty(params.shape[0])
    grad_norm = 0.0
    for e in range(n_epochs):
        for start in range(0, N, batch_size):
            idx = perms[e, start : min(start + batch_size, N)]
            n = idx.shape[0]
            X = gather_rows(obs, idx)
            A = gather(adv, idx)
            if normalize_adv:
                A = _standardized(A)
            olp = gather(old_logp, idx)
            w_ent = ent_coef / n
            w_kl = -beta / n if kl else 0.0
            theta = params[:P]
            if head == SOFTMAX:
                q = gather_rows(old_a, idx) if kl else np.empty((0, old_a.shape[1]))
                g = _softmax_policy_grad(
                    theta, X, psizes, pact, gather(a_int, idx), olp, A, kl, clip, w_ent, w_kl, q
                )
            else:
                K = a_flt.shape[1]
                if kl:
                    mu_old = gather_rows(old_a, idx)
                    ls_old = gather_rows(old_b, idx) if state_dep else old_b
                else:
                    mu_old = np.empty((0, K))
                    ls_old = np.empty((0, K))
                g = _gaussian_policy_grad(
                    theta, X, psizes, pact, state_dep, gather_rows(a_flt, idx), olp, A, kl, clip,
                    w_ent, w_kl, mu_old, ls_old,
                )  # fmt: skip
            sq = 0.0
            for i in range(P):
                grad[i] = g[i]
                sq += g[i] * g[i]
            grad_norm = math.sqrt(sq)
            g_phi = value_grad(
                params[P:],
                X,
                csizes,
                cact,
                gather(returns, idx),
                vf_coef,
                gather(old_values, idx),
                value_clip,
            )
            grad[P:] = g_phi
            t += 1
            step_into(kind, params, grad, m, v, t, lr, beta1, beta2, alpha, eps, max_norm, params)
    return t, grad_norm


_gae_row = device_jit(make_return_cores()["gae_segment"])


@device_jit
def _policy_grad(head, theta, X, sizes, act, state_dep, a_int, a_flt, w, w_ent):
    """(P,) sum_n w_n grad log pi(a_n | x_n) + w_ent grad sum_n H_n: the categorical
    head's (:func:`.nets.mlp_softmax_grad`) or the Gaussian's
    (:func:`.gaussian_nets.gaussian_grad`) gradient, through one forward pass."""
    n = X.shape[0]
    if head == SOFTMAX:
        Z, acts = forward(theta, X, sizes, act)
        logp, p, ent = _log_softmax(Z)
        G = _softmax_out_grad(logp, p, ent, a_int, w, w_ent, np.empty((0, p.shape[1])), 0.0)
        grad = np.zeros(theta.shape[0])
        backward(theta, X, acts, sizes, act, G, np.empty((n, 0)), 0, grad)
        return grad
    mu, ls, acts = gaussian_forward(theta, X, sizes, act, state_dep)
    K = mu.shape[1]
    empty = np.empty((0, K))
    return gaussian_grad(
        theta, X, acts, sizes, act, state_dep, mu, ls, a_flt, w, w_ent, empty, empty, 0.0
    )


@driver_jit
def a2c_step(
    params, P, m, v, t, kind, lr, beta1, beta2, alpha, eps, max_norm,
    head, psizes, pact, state_dep, csizes, cact,
    obs, last_obs, final_obs, a_int, a_flt, rewards, dones, terminated, truncated,
    gamma, lam, normalize_adv, ent_coef, vf_coef,
):  # fmt: skip
    """One A2C update of a segment of L lanes x T steps (Mnih et al. 2016, Algorithm S3,
    synchronous), as :func:`pgbench.algorithms.actor_critic.a2c` writes it: critic values
    of the segment's states and the lanes' last states in one pass, the bootstrap values
    (:func:`pgbench.algorithms.segments.next_state_values`), GAE(gamma, lam) advantages,
    the policy gradient with weights A / N and the entropy bonus, the critic's regression
    on the returns A + V, one optimizer step on ``params`` (P + Q,) in place. Returns
    (optimizer steps so far ``t``, d/dtheta (P,)).

    ``obs`` (N, D) = the (L, T) steps lane-major; ``last_obs`` (L, D); ``final_obs``
    (N, D) (read where ``truncated``); ``rewards``, ``dones``, ``terminated``,
    ``truncated`` (L, T); actions ``a_int`` (N,) (SOFTMAX) or ``a_flt`` (N, K)
    (GAUSSIAN); the rest as :func:`ppo_epochs`.
    """
    L, T = rewards.shape
    N = L * T
    D = obs.shape[1]
    theta, phi = params[:P], params[P:]
    # 1. V(s) of the segment's N states and the L last ones, one forward pass
    X = np.empty((N + L, D))
    X[:N] = obs
    X[N:] = last_obs
    Y, cacts = forward(phi, X, csizes, cact)
    values = np.empty((L, T))
    nxt = np.empty((L, T))
    for l in range(L):
        for s in range(T):
            values[l, s] = Y[l * T + s, 0]
        for s in range(T - 1):
            nxt[l, s] = Y[l * T + s + 1, 0]
        nxt[l, T - 1] = Y[N + l, 0]
    # 2. a truncated step bootstraps from V(final state), a terminal one from 0
    n_trunc = 0
    for i in range(N):
        if truncated.ravel()[i] > 0:
            n_trunc += 1
    if n_trunc > 0:
        rows = np.empty(n_trunc, np.int64)
        c = 0
        for i in range(N):
            if truncated.ravel()[i] > 0:
                rows[c] = i
                c += 1
        Yt, _ = forward(phi, gather_rows(final_obs, rows), csizes, cact)
        for c in range(n_trunc):
            nxt[rows[c] // T, rows[c] % T] = Yt[c, 0]
    for l in range(L):
        for s in range(T):
            if terminated[l, s] > 0:
                nxt[l, s] = 0.0
    adv = np.zeros((L, T))
    for l in range(L):
        _gae_row(rewards, values, nxt, dones, gamma, lam, adv, l)
    # 3. the policy gradient and the critic's regression, one optimizer step
    flat_adv = adv.ravel()
    A = _standardized(flat_adv) if normalize_adv else flat_adv
    w = np.empty(N)
    for i in range(N):
        w[i] = A[i] / N
    grad = np.empty(params.shape[0])
    g_theta = _policy_grad(head, theta, obs, psizes, pact, state_dep, a_int, a_flt, w,
                           ent_coef / N)  # fmt: skip
    grad[:P] = g_theta
    G = np.zeros((N + L, 1))
    c2 = vf_coef * 2.0
    for i in range(N):
        G[i, 0] = (c2 * ((flat_adv[i] + values.ravel()[i]) - values.ravel()[i])) / N
    g_phi = np.empty(phi.shape[0])
    backward(phi, X, cacts, csizes, cact, G, np.empty((N + L, 0)), 0, g_phi)
    grad[P:] = g_phi
    t += 1
    step_into(kind, params, grad, m, v, t, lr, beta1, beta2, alpha, eps, max_norm, params)
    return t, g_theta
