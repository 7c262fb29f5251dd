"""Records MindSpore 2.10's half-precision checkpoints, which tests/test_half_checkpoint.py compares
graphc against, both ways:

    PYTHONPATH=. python -m tests.test_half_checkpoint          # graphc writes graphc_half.ckpt
    python tests/mindspore_reference/record_half_checkpoint.py  # with MindSpore installed (never a
                                                                # dependency of graphc or its tests)

MindSpore saves a float16 and a bfloat16 Parameter (VALUES) to ms_half.ckpt, and loads graphc's
graphc_half.ckpt; half_checkpoint.json records what it read: each entry's dtype, shape and values
(widened to float32, which holds every float16 and bfloat16 exactly: MindSpore has no bitcast op and
NumPy no bfloat16, so the bits cannot be had directly).
"""
import json
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor

HERE = Path(__file__).parent
VALUES = {"w16": ([[1.5, -2.25, 65504.0], [0.1, 3e-5, -0.0]], "float16"), "wbf": ([1.5, -2.25, 3.0e38, 0.1], "bfloat16")}


params = [Parameter(Tensor(np.array(v, np.float32), getattr(ms, dtype)), name=name) for name, (v, dtype) in VALUES.items()]
ms.save_checkpoint(params, str(HERE / "ms_half.ckpt"))
read = ms.load_checkpoint(str(HERE / "graphc_half.ckpt"))
record = {name: {"dtype": str(t.dtype), "shape": list(t.shape), "values": t.astype(ms.float32).asnumpy().tolist()} for name, t in read.items()}
(HERE / "half_checkpoint.json").write_text(json.dumps(record, indent=1) + "\n")
