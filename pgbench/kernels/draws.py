"""Draws from a discrete distribution inside lane cores, the same on every target.

:func:`categorical` is an undecorated core like those of :mod:`.mathcore`:
:func:`pgbench.kernels.build.make_lib` compiles it with each target's device
decorator and hands it to the policy cores as ``lib.categorical``. It uses only
+, comparisons and selects, so the CPU, CUDA and the CUDA simulator draw the
same index from the same uniform.
"""

from __future__ import annotations


def categorical(probs, j, n, u):
    """Index i in [0, n) drawn by inverse CDF from the probabilities ``probs[0:n, j]``
    (a column of an (rows >= n, lanes) array, entries >= 0) with the uniform ``u`` in
    [0, 1).

    ``i = #{k < n - 1 : u >= c_k}``, ``c_k = probs[0, j] + ... + probs[k, j]`` summed
    left to right; the last cumulative sum is never formed, so probabilities that
    sum to 1 only up to rounding never let ``u`` fall past the last index.

    Guard: an index of probability 0 is never returned (unless all are 0: then 0).
    The plain count can land on one only when rounding leaves the sum before a
    trailing run of zeros below ``u`` (an interior zero repeats the sum before it,
    so no ``u`` stops there). The count therefore steps from k to k + 1 only into
    an index of nonzero probability, which makes it the last index of positive
    probability in that case and changes nothing anywhere else: the sums are
    nondecreasing, so ``{k : u >= c_k}`` is a prefix and ``i`` is the largest
    ``k + 1`` in it.
    """
    c = 0.0
    i = 0
    for k in range(n - 1):
        c += probs[k, j]
        # A load of its own, not inside the condition, so that LLVM turns the branch
        # into a select (the lane loop of the CPU drivers stays branch-free).
        zero_next = probs[k + 1, j] <= 0.0
        if u >= c and not zero_next:
            i = k + 1
    return i
