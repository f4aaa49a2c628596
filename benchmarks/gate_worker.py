"""One side of the kernel speed gate: a persistent process that times ``gate_cases``.

Started by ``benchmarks/gate.py`` as ``python benchmarks/gate_worker.py`` with the
tree whose ``pgbench`` it must time first on ``PYTHONPATH``. It reads one JSON
request per line on stdin and answers one JSON line on the stdout it was given
(anything else that writes to stdout is sent to stderr):

    {"op": "setup", "cases": [NAME, ...]}
        -> {"pgbench": pgbench.__file__, "cases": {NAME: {"compile_s": S} | {"error": MSG}}}
    {"op": "time", "case": NAME, "number": N}
        -> {"seconds": S}     seconds of the fastest of N calls, after one untimed call
    {"op": "quit"}

BLAS runs on one thread (the network cases are one-core benchmarks; a second
BLAS thread that spins after each call would also take the core the other
side's worker is being timed on); Numba's parallel kernels use every core, as
they do for a user.
"""

from __future__ import annotations

import gc
import json
import math
import os
import sys
import time
import traceback


def _protocol_stream():
    """The original stdout, for answers; fd 1 then points at stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def setup(names: list[str]) -> tuple[dict, dict]:
    """Import pgbench, set up and compile (call once) each case: (the answer, the calls by
    case name); a case that fails has its one-line error in the answer."""
    from gate_cases import CASES

    import pgbench

    calls, report = {}, {}
    for name in names:
        start = time.perf_counter()
        try:
            call = CASES[name].setup()
            call()
        except Exception as exc:  # a base revision without what the case needs
            line = f"{type(exc).__name__}: {exc}".splitlines()[0]
            report[name] = {"error": line}
            traceback.print_exc()
            continue
        calls[name] = call
        report[name] = {"compile_s": time.perf_counter() - start}
    return {"pgbench": pgbench.__file__, "cases": report}, calls


def sample(call, number: int) -> float:
    """Seconds of the fastest of ``number`` calls, each timed alone, after one untimed call
    (caches), with the garbage collector off: on a shared machine most calls of a
    millisecond fit between two interruptions, so the fastest one is the code's own time."""
    call()
    gc.collect()
    gc.disable()
    try:
        best = math.inf
        for _ in range(number):
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
        return best
    finally:
        gc.enable()


def _one_blas_thread() -> None:
    """BLAS on one thread in every BLAS library loaded so far (gate.py also sets
    ``OPENBLAS_NUM_THREADS=1``: a library loaded later, such as the one scipy's BLAS wrappers
    bring in for Numba's ``np.dot``, is limited only by that)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def main() -> int:
    out = _protocol_stream()
    calls: dict = {}
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "setup":
            answer, calls = setup(request["cases"])
            _one_blas_thread()
        elif op == "time":
            answer = {"seconds": sample(calls[request["case"]], int(request["number"]))}
        elif op == "quit":
            return 0
        else:
            answer = {"error": f"unknown op {op!r}"}
        out.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
