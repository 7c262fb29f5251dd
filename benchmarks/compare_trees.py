"""Benchmark: LeNet's train step compiled and run by two checkouts of graphc, back to back.

    python benchmarks/compare_trees.py /work/main /path/to/other/checkout

For each checkout, thread count (1 and all cores) and repetition (3), a new process with an empty
cache compiles the train step (batch 32) and times it (median of rounds): the cold compile seconds
and ms/step of each, interleaved so both see the same machine. Run it through the CPU lock.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r'''
import sys, time, json
sys.path.insert(0, sys.argv[1] + "/benchmarks")
import lenet_step as b
images, labels = b.batch()
step = b.make_train_step()
start = time.perf_counter()
step.compile(images, labels)
seconds = time.perf_counter() - start
print(json.dumps([seconds, b.ms_per_step(lambda: step(images, labels), 9, 40)]))
'''


def run(tree: str, threads: int) -> list[float]:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYTHONPATH": tree, "GRAPHC_CACHE_DIR": cache, "GRAPHC_NUM_THREADS": str(threads)}
        out = subprocess.run([sys.executable, "-c", CHILD, tree], env=env, capture_output=True, text=True,
                             check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    trees = sys.argv[1:]
    results: dict = {}
    for _ in range(3):
        for tree in trees:
            for threads in sorted({1, os.cpu_count()}):
                results.setdefault((tree, threads), []).append(run(tree, threads))
    for (tree, threads), rows in results.items():
        print(f"{tree} {threads} thread(s): cold compile s {[round(r[0], 3) for r in rows]}, ms/step "
              f"{[round(r[1], 3) for r in rows]}, median {statistics.median(r[1] for r in rows):.3f}")


if __name__ == "__main__":
    main()
