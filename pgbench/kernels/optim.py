"""Optimizer updates in one pass over the parameters (CPU).

:class:`pgbench.algorithms.optim.Optimizer` states the update rules; these
kernels apply them without numpy temporaries: for the ~9k parameters of a
64x64 policy and critic, a chain of numpy expressions costs about as much as
the network passes of a small A2C update. The arithmetic is written in the
order of the numpy formulas it replaces, element by element, once (:func:`step_into`).
:func:`ascent_step` returns new parameters; :func:`ascent_step_inplace` adds the
same step to shared parameters in place, element by element (A3C's Hogwild
updates). Both are compiled like every CPU kernel called from Python
(:func:`pgbench.kernels.cpu.driver_jit`: ``nogil``, cached on disk).
"""

from __future__ import annotations

import math

import numpy as np

from pgbench.kernels.cpu import device_jit, driver_jit

SGD, RMSPROP, ADAM = 0, 1, 2


@device_jit
def clip_scale(grad, max_norm):
    """The factor that scales ``grad`` (P,) to L2 norm ``max_norm`` if it is longer, else
    1 (``max_norm <= 0``: no clipping)."""
    scale = 1.0
    if max_norm > 0.0:
        sq = 0.0
        for i in range(grad.shape[0]):
            sq += grad[i] * grad[i]
        norm = math.sqrt(sq)
        if norm > max_norm:
            scale = max_norm / (norm + 1e-6)
    return scale


@device_jit
def step_into(kind, params, grad, m, v, t, lr, beta1, beta2, alpha, eps, max_norm, out):
    """One ascent step along ``grad`` (P,) from ``params`` (P,) written to ``out`` (P,),
    which may be ``params`` itself (the fused updates of :mod:`.fused_updates` step their
    parameters in place; element i is read before it is written).

    ``grad`` is first scaled to L2 norm ``max_norm`` if longer (``max_norm <= 0``:
    no clipping). ``m``, ``v`` (P,) are the moment estimates, updated in place;
    ``t`` is the step number (from 1) for Adam's bias corrections.
    """
    P = params.shape[0]
    scale = clip_scale(grad, max_norm)
    if kind == SGD:
        for i in range(P):
            out[i] = params[i] + lr * (grad[i] * scale)
    elif kind == RMSPROP:
        for i in range(P):
            g = grad[i] * scale
            v[i] = v[i] * alpha + ((1.0 - alpha) * g) * g
            out[i] = params[i] + (lr * g) / (math.sqrt(v[i]) + eps)
    else:
        c1 = 1.0 - beta1**t
        c2 = 1.0 - beta2**t
        for i in range(P):
            g = grad[i] * scale
            m[i] = m[i] * beta1 + (1.0 - beta1) * g
            v[i] = v[i] * beta2 + ((1.0 - beta2) * g) * g
            out[i] = params[i] + (lr * (m[i] / c1)) / (math.sqrt(v[i] / c2) + eps)


@driver_jit
def ascent_step(kind, params, grad, m, v, t, lr, beta1, beta2, alpha, eps, max_norm):
    """New parameters (P,) after one ascent step along ``grad`` (P,): :func:`step_into`
    into a new array (``params`` unchanged; ``m``, ``v`` updated in place)."""
    out = np.empty(params.shape[0])
    step_into(kind, params, grad, m, v, t, lr, beta1, beta2, alpha, eps, max_norm, out)
    return out


@driver_jit
def ascent_step_inplace(kind, params, grad, m, v, t, lr, beta1, beta2, alpha, eps, max_norm, step):
    """One ascent step applied to ``params`` (P,) in place, element by element (Hogwild).

    The update rules and arithmetic of :func:`ascent_step` (its ``out[i]`` equals
    ``params[i] + step[i]`` here, bit for bit), but each element is read, moved
    and written back on its own: ``params[i] += step[i]``, and the moments ``m[i]``,
    ``v[i]`` likewise. Threads that share ``params``, ``m`` and ``v`` (A3C) then
    lose nothing to each other's whole-vector writes (Recht et al. 2011, "Hogwild!",
    NIPS, Algorithm 1: lock-free per-coordinate updates); two threads on the same
    index at the same instant can still lose one add of that one element. ``step``
    (P,) receives the step taken (its scaled gradient when ``grad`` was clipped).
    """
    P = params.shape[0]
    scale = clip_scale(grad, max_norm)
    if kind == SGD:
        for i in range(P):
            step[i] = lr * (grad[i] * scale)
            params[i] += step[i]
    elif kind == RMSPROP:
        for i in range(P):
            g = grad[i] * scale
            vi = v[i] * alpha + ((1.0 - alpha) * g) * g
            v[i] = vi
            step[i] = (lr * g) / (math.sqrt(vi) + eps)
            params[i] += step[i]
    else:
        c1 = 1.0 - beta1**t
        c2 = 1.0 - beta2**t
        for i in range(P):
            g = grad[i] * scale
            mi = m[i] * beta1 + (1.0 - beta1) * g
            vi = v[i] * beta2 + ((1.0 - beta2) * g) * g
            m[i] = mi
            v[i] = vi
            step[i] = (lr * (mi / c1)) / (math.sqrt(vi / c2) + eps)
            params[i] += step[i]
