"""Records MindSpore 2.10's answers for the losses, layers, Tensor methods and dtype promotion that
tests/test_ms_layers.py and tests/test_promotion.py compare graphc against.

Run it with MindSpore installed (never a dependency of graphc or of its tests):

    python tests/mindspore_reference/record_layers.py      # writes layers.json beside this file

Each case holds its inputs, so the tests rebuild exactly what MindSpore saw. A case whose call
raised records the error instead of an output. PYNATIVE_MODE and GRAPH_MODE are both run and must
agree (the script stops if they do not).
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import Tensor, nn

DTYPES = {"bool": ms.bool_, "int32": ms.int32, "int64": ms.int64, "float32": ms.float32, "float64": ms.float64}
rng = np.random.default_rng(20)


def values(shape, low=None, high=None):
    x = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return np.round(x, 4).tolist()


def tensor(value, dtype):
    return Tensor(np.array(value), DTYPES[dtype])


def case(name, cls, inputs, dtypes, kwargs=None, tensors=None, params=None):
    """One layer or loss: nn.<cls>(**kwargs, **tensor kwargs), its parameters set to `params`,
    called on `inputs`."""
    return {"name": name, "cls": cls, "inputs": inputs, "dtypes": dtypes, "kwargs": kwargs or {},
            "tensors": tensors or {}, "params": params or {}}


def run_case(c):
    kwargs = dict(c["kwargs"], **{k: tensor(v, "float32") for k, v in c["tensors"].items()})
    if "dtype" in kwargs:
        kwargs["dtype"] = DTYPES[kwargs["dtype"]]
    cell = getattr(nn, c["cls"])(**kwargs)
    named = dict(cell.parameters_and_names())
    for name, value in c["params"].items():
        named[name].set_data(tensor(value, "float32"))
    out = cell(*[tensor(x, d) for x, d in zip(c["inputs"], c["dtypes"])])
    outs = out if isinstance(out, tuple) else (out,)
    return {"output": [o.asnumpy().tolist() for o in outs], "out_dtype": [str(o.dtype) for o in outs]}


def losses():
    x, x4, x3 = values((4, 5)), values((2, 3, 2, 2)), values((2, 3, 4))
    y, y4, y3 = [1, 0, 4, 2], rng.integers(0, 3, (2, 2, 2)).tolist(), rng.integers(0, 3, (2, 4)).tolist()
    w, probs = [0.5, 1.0, 2.0, 1.5, 0.7], values((4, 5), 0.0, 1.0)
    ce = "CrossEntropyLoss"
    yield case("ce_mean", ce, [x, y], ["float32", "int32"])
    for reduction in ("mean", "sum", "none"):
        yield case(f"ce_weight_ignore_smooth_{reduction}", ce, [x, y], ["float32", "int32"],
                   {"ignore_index": 2, "reduction": reduction, "label_smoothing": 0.1}, {"weight": w})
        yield case(f"ce_probabilities_{reduction}", ce, [x, probs], ["float32", "float32"],
                   {"reduction": reduction, "label_smoothing": 0.2}, {"weight": w})
        yield case(f"ce_4d_{reduction}", ce, [x4, y4], ["float32", "int32"], {"reduction": reduction})
        yield case(f"ce_3d_weight_smooth_{reduction}", ce, [x3, y3], ["float32", "int32"],
                   {"reduction": reduction, "label_smoothing": 0.1}, {"weight": w[:3]})
        yield case(f"nll_weight_ignore_{reduction}", "NLLLoss", [x, y], ["float32", "int32"],
                   {"ignore_index": 0, "reduction": reduction}, {"weight": w})
        logits, targets = values((2, 3)), values((2, 3), 0.0, 1.0)
        yield case(f"bce_logits_{reduction}", "BCEWithLogitsLoss", [logits, targets], ["float32", "float32"],
                   {"reduction": reduction}, {"weight": values((3,), 0.5, 2.0), "pos_weight": values((2, 3), 0.5, 3.0)})
        probs_in = values((2, 3), 0.05, 0.95)
        yield case(f"bce_{reduction}", "BCELoss", [probs_in, targets], ["float32", "float32"],
                   {"reduction": reduction}, {"weight": values((2, 3), 0.5, 2.0)})
    yield case("ce_1d", ce, [x[0], 3], ["float32", "int32"])
    yield case("ce_label_out_of_range", ce, [x, [1, 0, 7, 2]], ["float32", "int32"])
    yield case("nll_label_out_of_range", "NLLLoss", [x, [1, 0, 7, 2]], ["float32", "int32"])
    yield case("bce_logits_large", "BCEWithLogitsLoss", [[-100.0, 100.0, 30.0], [1.0, 0.0, 1.0]],
               ["float32", "float32"], {"reduction": "none"})
    yield case("bce_saturated", "BCELoss", [[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0]], ["float32", "float32"],
               {"reduction": "none"})
    log_probs, target = values((3, 4), -3.0, -0.1), values((3, 4), 0.0, 1.0)
    target[0][1], target[2][3] = 0.0, -0.5           # a zero and a negative target contribute 0
    for reduction in ("mean", "sum", "none", "batchmean"):
        yield case(f"kl_{reduction}", "KLDivLoss", [log_probs, target], ["float32", "float32"],
                   {"reduction": reduction})


def layers():
    table = values((6, 3))
    yield case("embedding", "Embedding", [[[0, 5], [3, 3]]], ["int32"], {"vocab_size": 6, "embedding_size": 3},
               params={"embedding_table": table})
    yield case("embedding_one_hot", "Embedding", [[1, 4, 0]], ["int32"],
               {"vocab_size": 6, "embedding_size": 3, "use_one_hot": True}, params={"embedding_table": table})
    yield case("embedding_out_of_range", "Embedding", [[0, 6]], ["int32"], {"vocab_size": 6, "embedding_size": 3},
               params={"embedding_table": table})
    x = values((2, 3, 4))
    for shape, norm_axis, params_axis in [((4,), -1, -1), ((3, 4), 1, 1), ((3, 4), -1, 1), ((4,), 1, -1)]:
        gamma, beta = values(shape), values(shape)
        yield case(f"layernorm_{len(shape)}_{norm_axis}_{params_axis}", "LayerNorm", [x], ["float32"],
                   {"normalized_shape": list(shape), "begin_norm_axis": norm_axis, "begin_params_axis": params_axis},
                   params={"gamma": gamma, "beta": beta})
    signal = values((2, 3, 9))
    for name, kwargs in [("same", {}), ("valid_stride_dilation", {"pad_mode": "valid", "stride": 2, "dilation": 2}),
                         ("pad", {"pad_mode": "pad", "padding": 2, "has_bias": True}),
                         ("group", {"group": 3, "stride": 3})]:
        k = {"in_channels": 3, "out_channels": 6, "kernel_size": 3, **kwargs}
        params = {"weight": values((6, 3 // k.get("group", 1), 1, 3))}
        if k.get("has_bias"):
            params["bias"] = values((6,))
        yield case(f"conv1d_{name}", "Conv1d", [signal], ["float32"], k, params=params)
    image = (np.arange(2 * 2 * 5 * 5) % 7 + np.arange(2 * 2 * 5 * 5) / 100).reshape(2, 2, 5, 5).tolist()
    for name, kwargs in [("pad", {"kernel_size": 3, "stride": 2, "pad_mode": "pad", "padding": 1}),
                         ("pad_pair", {"kernel_size": 3, "stride": 2, "pad_mode": "pad", "padding": (1, 0)}),
                         ("ceil", {"kernel_size": 2, "stride": 2, "pad_mode": "pad", "ceil_mode": True}),
                         ("pad_ceil", {"kernel_size": 3, "stride": 2, "pad_mode": "pad", "padding": 1,
                                       "ceil_mode": True}),
                         ("same", {"kernel_size": 3, "stride": 2, "pad_mode": "same"}),
                         ("valid", {"kernel_size": 2, "stride": 2})]:
        yield case(f"maxpool_{name}", "MaxPool2d", [image], ["float32"], kwargs)
        yield case(f"avgpool_{name}", "AvgPool2d", [image], ["float32"], kwargs)
        if kwargs.get("pad_mode") == "pad":
            yield case(f"avgpool_{name}_exclude_pad", "AvgPool2d", [image], ["float32"],
                       dict(kwargs, count_include_pad=False))
    yield case("avgpool_divisor", "AvgPool2d", [image], ["float32"],
               {"kernel_size": 2, "stride": 2, "pad_mode": "pad", "divisor_override": 3})
    yield case("maxpool_chw", "MaxPool2d", [image[0]], ["float32"], {"kernel_size": 2, "stride": 2})
    yield case("maxpool_padding_needs_pad_mode", "MaxPool2d", [image], ["float32"],
               {"kernel_size": 2, "stride": 2, "padding": 1})
    block = values((2, 3, 4, 5))
    for start, end in [(1, -1), (0, -1), (2, -1), (1, 2)]:
        yield case(f"flatten_{start}_{end}", "Flatten", [block], ["float32"], {"start_dim": start, "end_dim": end})
    yield case("flatten_rank1", "Flatten", [[1.0, 2.0]], ["float32"])
    yield from layers_2x()


def layers_2x():
    """ELU, PReLU, GroupNorm, the padding layers and adaptive pooling to sizes that do not divide the input."""
    maps = values((2, 4, 3, 5))
    yield case("elu", "ELU", [maps], ["float32"])
    yield case("prelu_channels", "PReLU", [maps], ["float32"], {"channel": 4}, params={"w": values((4,))})
    yield case("prelu_shared", "PReLU", [maps[0][0]], ["float32"])
    yield case("groupnorm", "GroupNorm", [maps], ["float32"], {"num_groups": 2, "num_channels": 4},
               params={"gamma": values((4,)), "beta": values((4,))})
    matrix = values((3, 4))
    for mode in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        yield case(f"pad_{mode.lower()}", "Pad", [matrix], ["float32"], {"paddings": ((1, 2), (3, 2)), "mode": mode})
    yield case("zeropad2d", "ZeroPad2d", [maps], ["float32"], {"padding": (1, 0, 2, 3)})
    yield case("adaptive_avgpool_uneven", "AdaptiveAvgPool2d", [maps], ["float32"], {"output_size": (2, 3)})
    yield case("adaptive_avgpool_chw", "AdaptiveAvgPool2d", [maps[0]], ["float32"], {"output_size": 2})
    yield case("maxpool_indices", "MaxPool2d", [maps], ["float32"],
               {"kernel_size": (3, 2), "stride": (2, 1), "pad_mode": "pad", "padding": 1, "return_indices": True})
    yield case("maxpool_indices_ceil_chw", "MaxPool2d", [maps[1]], ["float32"],
               {"kernel_size": 2, "stride": 2, "pad_mode": "pad", "ceil_mode": True, "return_indices": True})
    for mode, kwargs in [("same", {}), ("valid", {"dilation": 2}),
                         ("pad", {"padding": (1, 0, 2, 1), "output_padding": 1, "has_bias": True})]:
        params = {"weight": values((4, 3, 3, 3))}
        if kwargs.get("has_bias"):
            params["bias"] = values((3,))
        yield case(f"conv2d_transpose_{mode}", "Conv2dTranspose", [maps], ["float32"],
                   {"in_channels": 4, "out_channels": 3, "kernel_size": 3, "stride": 2, "pad_mode": mode, **kwargs},
                   params=params)


def methods():
    """(method, receiver, dtype, args, kwargs): Tensor methods; an argument {"tensor": values} is a Tensor of the
    receiver's dtype."""
    x = [[1.5, -2.5, 3.0], [4.0, 5.5, -6.0]]
    ints = [[7, -7, 0], [5, -5, 9]]
    return [("std", x, "float32", [], {}), ("std", x, "float32", [], {"axis": 0}),
            ("std", x, "float32", [0, 1, True], {}), ("var", x, "float32", [], {}),
            ("var", x, "float32", [], {"axis": 1, "ddof": 1}), ("var", x, "float32", [(0, 1)], {"keepdims": True}),
            ("__mod__", x, "float32", [2.0], {}), ("__mod__", x, "float32", [-2.0], {}),
            ("__mod__", ints, "int32", [3], {}), ("__mod__", ints, "int32", [-3], {}),
            ("__floordiv__", x, "float32", [2.0], {}), ("__floordiv__", ints, "int32", [2], {}),
            ("__floordiv__", ints, "int32", [-2], {}),
            ("__floordiv__", [1.0, -1.0, 5.5, 0.3, 3.0, -3.0, 0.0], "float32", [{"tensor": [0.1, 0.1, 0.5, 0.1, 0.0, 0.0, 0.0]}], {}),
            ("__mod__", [1.0, -1.0, 5.5, 0.3, 3.0, -3.0, 0.0], "float32", [{"tensor": [0.1, 0.1, 0.5, 0.1, 0.0, 0.0, 0.0]}], {}),
            ("__floordiv__", [7, -7, 0, 5], "int32", [{"tensor": [0, 0, 0, 2]}], {}),
            ("__mod__", [7, -7, 0, 5], "int32", [{"tensor": [0, 0, 0, 2]}], {}),
            ("__floordiv__", [7, -7, 0], "int64", [{"tensor": [0, 0, 0]}], {}),
            ("__mod__", [7, -7, 0], "int64", [{"tensor": [0, 0, 0]}], {}),
            ("exp", x, "float32", [], {}), ("log", [[1.0, 2.5]], "float32", [], {}),
            ("sqrt", [[4, 9]], "int32", [], {}), ("square", ints, "int32", [], {}), ("pow", x, "float32", [2.0], {}),
            ("permute", x, "float32", [1, 0], {}), ("unsqueeze", x, "float32", [1], {}),
            ("unsqueeze", x, "float32", [-1], {}), ("squeeze", [[[1.0], [2.0]]], "float32", [], {}),
            ("squeeze", [[[1.0], [2.0]]], "float32", [2], {}), ("squeeze", [[[1.0], [2.0]]], "float32", [0], {}),
            ("tile", x, "float32", [(2,)], {}), ("tile", x, "float32", [(2, 1, 2)], {}),
            ("repeat_interleave", x, "float32", [2, 1], {}), ("repeat_interleave", x, "float32", [2], {}),
            ("expand_as", [1.0, 2.0, 3.0], "float32", [{"tensor": x}], {}),
            ("float", ints, "int32", [], {}), ("int", x, "float32", [], {}), ("long", x, "float32", [], {}),
            ("double", x, "float32", [], {}), ("bool", x, "float32", [], {}),
            ("argmax", x, "float32", [], {"axis": 1}), ("argmax", x, "float32", [], {}),
            *reductions_2x(x, ints)]


def reductions_2x(x, ints):
    """MindSpore 2.x's overloads of the reductions and reshapes: (dim, keepdim) beside (axis, keepdims),
    max(dim) giving (values, indices), transpose(dim0, dim1) swapping, flatten(start_dim, end_dim)."""
    cube, flags = values((2, 3, 4)), [[True, False, True], [True, True, True]]
    return [("sum", x, "float32", [1, True], {}), ("sum", ints, "int32", [], {"dim": 1, "keepdim": True}),
            ("sum", x, "float32", [], {"axis": 0}), ("mean", x, "float32", [], {"dim": 1, "keepdim": True}),
            ("mean", ints, "int32", [1], {}), ("prod", x, "float32", [1, True], {}), ("prod", ints, "int32", [], {}),
            ("cumsum", x, "float32", [], {"dim": 1}), ("cumsum", x, "float32", [], {}),
            ("cumsum", ints, "int32", [0], {}), ("max", x, "float32", [1], {}), ("max", x, "float32", [1, True], {}),
            ("max", x, "float32", [], {"axis": 1}), ("max", x, "float32", [], {}),
            ("max", x, "float32", [], {"axis": 0, "return_indices": True}), ("min", x, "float32", [0], {}),
            ("min", x, "float32", [1], {"keepdims": True}), ("argmax", x, "float32", [], {"dim": 1, "keepdim": True}),
            ("argmin", x, "float32", [], {"dim": 1}), ("argmin", x, "float32", [], {}),
            ("all", flags, "bool", [], {"dim": 1}), ("any", flags, "bool", [], {"dim": 0, "keepdim": True}),
            ("all", ints, "int32", [1], {}), ("flatten", cube, "float32", [1, 2], {}),
            ("flatten", x, "float32", ["F"], {}), ("ravel", cube, "float32", [], {}),
            ("resize", x, "float32", [3, 3], {}), ("resize", x, "float32", [(2, 2)], {}),
            ("transpose", cube, "float32", [0, 2], {}), ("transpose", x, "float32", [0, 1], {}),
            ("transpose", cube, "float32", [(2, 0, 1)], {})]


def run_method(method, receiver, dtype, args, kwargs):
    args = [tensor(a["tensor"], dtype) if isinstance(a, dict) else a for a in args]
    out = getattr(tensor(receiver, dtype), method)(*args, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    return {"output": [o.asnumpy().tolist() for o in outs], "out_dtype": [str(o.dtype) for o in outs]}


PROMOTION_OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
                 "div": lambda a, b: a / b, "maximum": lambda a, b: ms.ops.maximum(a, b), "lt": lambda a, b: a < b,
                 "mod": lambda a, b: a % b, "floordiv": lambda a, b: a // b}
SAMPLE = {"bool": [True, False], "int32": [3, 4], "int64": [3, 4], "float32": [1.5, 2.5], "float64": [1.5, 2.5]}
SCALARS = {"True": True, "2": 2, "2.5": 2.5}


def promote(op, a, b, swapped):
    x, y = tensor(SAMPLE[a], a), (tensor(SAMPLE[b], b) if b in DTYPES else SCALARS[b])
    try:
        return str((PROMOTION_OPS[op](y, x) if swapped else PROMOTION_OPS[op](x, y)).dtype)
    except (TypeError, RuntimeError, ValueError):
        return "error"


def promotion():
    ms.set_context(mode=ms.PYNATIVE_MODE)
    for op in PROMOTION_OPS:
        for a in DTYPES:
            for b in list(DTYPES) + list(SCALARS):
                for swapped in (False, True):
                    if not (swapped and b in DTYPES):
                        yield {"op": op, "a": b if swapped else a, "b": a if swapped else b,
                               "dtype": promote(op, a, b, swapped), "call": [op, a, b, swapped]}


def record(run, item):
    try:
        return run(item)
    except (TypeError, RuntimeError, ValueError, IndexError) as error:
        return {"error": f"{type(error).__name__}: {str(error).splitlines()[0]}"}


def record_mode(mode: str) -> dict:
    """Every case in one mode (a process per mode: MindSpore 2.10 can crash when a GRAPH_MODE compile
    follows a PYNATIVE error in the same process)."""
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    facts = {"cases": [{**c, **record(run_case, c)} for c in list(losses()) + list(layers())],
             "methods": [{"method": m[0], "input": m[1], "dtype": m[2], "args": m[3], "kwargs": m[4],
                          **record(lambda m: run_method(*m), m)} for m in methods()]}
    return facts


def agree(pynative: dict, graph: dict) -> None:
    for p, g in zip(pynative["cases"] + pynative["methods"], graph["cases"] + graph["methods"]):
        if ("error" in p) != ("error" in g):
            sys.exit(f"only one mode raised on {p.get('name', p.get('method'))}: {p} vs {g}")
        for a, b in zip(p.get("output", []), g.get("output", [])):
            if not np.allclose(np.array(a, np.float64), np.array(b, np.float64), rtol=1e-5, atol=1e-6, equal_nan=True):
                sys.exit(f"PYNATIVE and GRAPH_MODE disagree on {p.get('name', p.get('method'))}: {a} vs {b}")


def run_part(scratch: str, *arguments: str):
    """This script's output for `arguments`, from a process of its own; MindSpore 2.10 sometimes crashes
    (SIGSEGV) partway, so a crashed run is tried again, up to three times."""
    for attempt in range(3):
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *arguments], capture_output=True,
                              text=True, cwd=scratch)
        if done.returncode == 0:
            return json.loads(done.stdout)
    sys.exit(f"{arguments} failed three times; the last stderr ends:\n{done.stderr[-2000:]}")


def main():
    if sys.argv[1:] in (["pynative"], ["graph"]):
        print(json.dumps(record_mode(sys.argv[1])))
        return
    if sys.argv[1:] == ["promotion"]:
        print(json.dumps(list(promotion())))
        return
    if sys.argv[1:2] == ["promote"]:
        print(json.dumps(promote(*json.loads(sys.argv[2]))))
        return
    with tempfile.TemporaryDirectory() as scratch:      # where MindSpore writes its analyze_fail.ir dumps
        pynative, graph, promotions = (run_part(scratch, part) for part in ("pynative", "graph", "promotion"))
        for row in promotions:
            # an error in PYNATIVE_MODE can make a later call in the same process fail: confirm each alone
            if row["dtype"] == "error":
                row["dtype"] = run_part(scratch, "promote", json.dumps(row["call"]))
    agree(pynative, graph)
    facts = {"mindspore": ms.__version__, **pynative,
             "promotion": [{k: v for k, v in row.items() if k != "call"} for row in promotions]}
    path = Path(__file__).with_name("layers.json")
    path.write_text(json.dumps(facts, separators=(",", ":")) + "\n")
    print(f"wrote {len(facts['cases'])} cases, {len(facts['methods'])} methods, "
          f"{len(facts['promotion'])} promotions to {path}")


if __name__ == "__main__":
    main()
