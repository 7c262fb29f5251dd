"""Records what real MindSpore prints for each program here, into reference.json.

Run it with a Python that has MindSpore 2.10 (never a dependency of graphc or of its tests), e.g.
    python -m venv ~/msvenv && ~/msvenv/bin/pip install mindspore==2.10.0 "numpy<2"
    ~/msvenv/bin/python tests/mindspore_programs/record_reference.py
tests/test_mindspore_programs.py runs the same programs on graphc after the one rename and compares.
"""
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def program_result(path, python=sys.executable, env=None):
    """Runs one program and returns the JSON of its last `RESULT ...` line."""
    run = subprocess.run([python, str(path)], capture_output=True, text=True, cwd=path.parent, env=env, timeout=600)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    if run.returncode != 0 or not lines:
        raise RuntimeError(f"{path.name} failed (exit {run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def programs():
    return sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)


if __name__ == "__main__":
    import mindspore
    reference = {"mindspore": mindspore.__version__,
                 "results": {p.stem: program_result(p) for p in programs()}}
    (HERE / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"recorded {len(reference['results'])} programs with MindSpore {reference['mindspore']}")
