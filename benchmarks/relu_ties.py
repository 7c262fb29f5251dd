"""Diagnosis: resnet20's native train step against the interpreter, and the ReLU ties behind the
differences after the first update.

    python benchmarks/relu_ties.py                   # learning rate 1e-3, data seed 7 (tests/test_zoo.py's)
    python benchmarks/relu_ties.py --lr 0.1 --seed 7

Both backends start step 2 from the native step 1's state (so step 1's rounding is shared). It
prints the step-2 difference native vs interpreter (tests/test_zoo.py's `errors`), the ReLU input
of smallest magnitude in the interpreter's step 2, and the difference left when the interpreter
takes the other side of that one ReLU. A difference that vanishes then is a tie (a pre-activation
within float32 rounding of 0, decided differently by two correct evaluations), not a wrong kernel.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import graphc                                     # noqa: E402
import graphc.interp as interp                    # noqa: E402
from graphc import Tensor                         # noqa: E402
from graphc.models import resnet20                # noqa: E402
from test_zoo import errors, train_step           # noqa: E402

SHAPE = (4, 1, 28, 28)


def run_step(backend, lr, state, batch):
    graphc.set_context(backend=backend, num_threads=1 if backend == "interp" else 2)
    step = train_step(resnet20, learning_rate=lr)
    if state:
        for name, p in step.parameters_and_names():
            p.set_data(Tensor(state[name].copy()))
    step(Tensor(batch[0]), Tensor(batch[1]))
    return {name: p.asnumpy().copy() for name, p in step.parameters_and_names()}


def worst(values, reference):
    return max(errors(values, reference).items(), key=lambda kv: kv[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    batches = [(rng.standard_normal(SHAPE).astype(np.float32), rng.integers(0, 10, SHAPE[0]).astype(np.int32))
               for _ in range(2)]
    first = run_step("llvm", args.lr, None, batches[0])
    native, reference = run_step("llvm", args.lr, first, batches[1]), run_step("interp", args.lr, first, batches[1])
    print(f"step 2, native vs interpreter: {worst(native, reference)}")

    evaluate, smallest = interp._evaluate, []

    def record(node, values, inputs, params):
        if node.op == "relu":
            x = values[node.inputs[0].id]
            at = np.unravel_index(np.abs(x).argmin(), x.shape)
            smallest.append((abs(float(x[at])), float(x[at]), node.scope, tuple(map(int, at))))
        return evaluate(node, values, inputs, params)
    interp._evaluate = record
    run_step("interp", args.lr, first, batches[1])
    tie = min(smallest)
    print(f"smallest ReLU input in the interpreter's step 2: {tie[1]:.3g} in {tie[2]} at {tie[3]}")

    def flipped(node, values, inputs, params):
        out = evaluate(node, values, inputs, params)
        if node.op == "relu" and node.scope == tie[2]:
            x = values[node.inputs[0].id]
            at = np.unravel_index(np.abs(x).argmin(), x.shape)
            if tuple(map(int, at)) == tie[3] and x[at] == tie[1]:
                out = out.copy()
                out[at] = abs(x[at]) if out[at] == 0 else 0.0
        return out
    interp._evaluate = flipped
    print(f"interpreter with that ReLU on its other side vs native: "
          f"{worst(run_step('interp', args.lr, first, batches[1]), native)}")
    interp._evaluate = evaluate


if __name__ == "__main__":
    main()
