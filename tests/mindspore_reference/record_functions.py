"""Records MindSpore's results for the cases of functions.py into functions.json. Run it with a
MindSpore 2.10 install (never part of the project or its tests), from the repository root:

    /path/to/mindspore-env/bin/python tests/mindspore_reference/record_functions.py
"""
import json
import os
import sys

import mindspore

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from functions import CASES  # noqa: E402


def _record(result):
    results = result if isinstance(result, tuple) else (result,)
    return [{"dtype": str(r.asnumpy().dtype), "shape": list(r.shape), "values": r.asnumpy().tolist()} for r in results]


if __name__ == "__main__":
    lines = [f"  {json.dumps(name)}: {json.dumps(_record(case(mindspore)))}" for name, case in CASES.items()]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "functions.json")
    with open(path, "w") as out:
        out.write(f'{{"mindspore": {json.dumps(mindspore.__version__)}, "cases": {{\n' + ",\n".join(lines) + "\n}}\n")
