"""The `graphc` command, run as `python -m graphc` in a subprocess (targets in tests/cli_targets/)."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from graphc import interp
from graphc.inspect import format_stats, graph_stats, table
from graphc.ir.export import from_json
from graphc.ir.text import parse_graph, print_graph
from graphc.ir.verify import verify

from conftest import REPO
from test_export import fused_graph

MLP = "tests/cli_targets/mlp.py"
X = "x:f32[2,8]"


def graphc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graphc", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def succeeds(*args: str) -> str:
    result = graphc(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fails(*args: str, lines: int = 1) -> str:
    """The message of a user error: exit status 2, no traceback, one line (an IR error adds the bad line)."""
    result = graphc(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    message = result.stderr.strip().splitlines()
    assert len(message) == lines and message[0].startswith("graphc: error: "), result.stderr
    return "\n".join(message)


# -- dump ----------------------------------------------------------------------------------------------
def test_dump_traced_prints_the_forward_graph():
    graph = parse_graph(succeeds("dump", f"{MLP}:net", "--input", X, "--stage", "traced"))
    assert graph.name == "MLP"
    assert [n.op for n in graph.order()] == ["input", "param", "matmul", "param", "add", "relu",
                                             "param", "matmul", "param", "add"]
    assert [(n.attrs["name"], str(n.type)) for n in graph.inputs] == [("x", "f32[2,8]")]
    assert [p.attrs["name"] for p in graph.params] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [str(o.type) for o in graph.outputs] == ["f32[2,4]"]
    assert graph.nodes[2].loc.startswith("tests/cli_targets/mlp.py:") and graph.nodes[2].scope == "MLP"


@pytest.mark.parametrize("name, inputs, graph_name", [
    ("MLP", [X], "MLP"),                                         # a Cell class
    ("mlp", [X], "MLP"),                                         # a factory
    ("affine", ["x:f32[2,3]", "w:f32[3,5]"], "affine"),          # a @graphc.jit function
    ("scale_add", ["x:f64[3]", "y:f64[]"], "scale_add"),         # a plain function
    ("pick", ["logits:f32[2,4]", "labels:i32[2]"], "pick"),     # mixed dtypes
])
def test_every_kind_of_target_traces(name, inputs, graph_name):
    graph = parse_graph(succeeds("dump", f"{MLP}:{name}", *[a for i in inputs for a in ("--input", i)],
                                 "--stage", "traced"))
    assert graph.name == graph_name
    assert [f"{n.attrs['name']}:{n.type}" for n in graph.inputs] == inputs


def _mlp_sgd_step(x, target, w1, b1, w2, b2):
    """Reference: loss and updated weights of one w <- w - 0.1 * dL/dw step, L = mean((mlp(x) - target)^2)."""
    pre = x @ w1 + b1
    hidden = np.maximum(pre, 0)
    error = hidden @ w2 + b2 - target
    d_out = 2 * error / error.size
    d_pre = (d_out @ w2.T) * (pre > 0)
    grads = [x.T @ d_pre, d_pre.sum(0), hidden.T @ d_out, d_out.sum(0)]
    return np.mean(error ** 2), [w - 0.1 * g for w, g in zip([w1, b1, w2, b2], grads)]


def all_ops(graph) -> list[str]:
    """The ops of graph's nodes and of the nodes inside its fused regions."""
    return [op for n in graph.order() for op in ([n.op] + all_ops(n.attrs["body"]) if "body" in n.attrs else [n.op])]


def test_dump_of_a_training_step_is_the_whole_step():
    text = succeeds("dump", f"{MLP}:step", "--input", X, "--input", "target:f32[2,4]")
    graph = parse_graph(text)
    verify(graph)
    assert "grad" not in all_ops(graph) and all_ops(graph).count("assign") == 4
    rng = np.random.default_rng(5)
    x, target = rng.standard_normal((2, 8)).astype(np.float32), rng.standard_normal((2, 4)).astype(np.float32)
    weights = np.random.default_rng(0)          # the fixture draws its weights this way
    w1, w2 = (weights.standard_normal(shape).astype(np.float32) for shape in [(8, 16), (16, 4)])
    b1, b2 = np.zeros(16, np.float32), np.zeros(4, np.float32)
    names = ["net.fc1.weight", "net.fc1.bias", "net.fc2.weight", "net.fc2.bias"]
    (loss,), updates = interp.run(graph, [x, target], dict(zip(names, [w1, b1, w2, b2])))
    expected_loss, expected = _mlp_sgd_step(x, target, w1, b1, w2, b2)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    for name, value in zip(names, expected):
        np.testing.assert_allclose(updates[name], value, rtol=1e-5, atol=1e-6)


def test_a_train_one_step_cell_is_traced_as_one_step():
    args = ["dump", "tests/cli_targets/lenet.py:train_step", "--input", "x:f32[32,1,32,32]", "--input", "labels:i32[32]"]
    traced = parse_graph(succeeds(*args, "--stage", "traced"))
    weights = [p.attrs["name"] for p in traced.params if p.attrs["name"].startswith("backbone.")]
    assert len(weights) == 8 and len(traced.of_op("grad")) == 8
    written = {n.inputs[0].attrs["name"] for n in traced.of_op("assign")}
    assert set(weights) | {f"moments.{w}" for w in weights} <= written      # Momentum: v = m*v + g; w -= lr*v
    assert "grad" not in all_ops(parse_graph(succeeds(*args)))


def test_stages_traced_and_autodiff():
    args = ["dump", f"{MLP}:step", "--input", X, "--input", "target:f32[2,4]"]
    traced = parse_graph(succeeds(*args, "--stage", "traced"))
    differentiated = parse_graph(succeeds(*args, "--stage", "autodiff"))
    assert len(traced.of_op("grad")) == 4 and not differentiated.of_op("grad")
    assert any(n.meta.get("grad_of") is not None for n in differentiated.order())


def test_json_and_text_dumps_agree():
    args = ["dump", f"{MLP}:step", "--input", X, "--input", "target:f32[2,4]", "--stage", "autodiff"]
    assert print_graph(from_json(succeeds(*args, "--format", "json"))) == succeeds(*args).rstrip("\n")


def test_dot_dump_goes_to_the_output_file(tmp_path):
    out = tmp_path / "mlp.dot"
    assert succeeds("dump", f"{MLP}:net", "--input", X, "--stage", "traced", "--format", "dot", "-o", str(out)) == ""
    text = out.read_text()
    assert text.startswith('digraph "MLP" {') and text.rstrip().endswith("}")
    assert text.count(" -> ") == 9          # two operands for each matmul and add, one for the relu
    assert not list(tmp_path.glob("*.tmp"))


def test_print_after_all_ends_with_the_optimized_graph():
    args = ["dump", f"{MLP}:step", "--input", X, "--input", "target:f32[2,4]"]
    text = succeeds(*args, "--print-after", "all")
    headers = re.findall(r"^// after (\S+)$", text, re.MULTILINE)
    assert headers and headers[0] == "autodiff"
    last = text.rsplit("\n", 1)[0].rsplit(f"// after {headers[-1]}\n", 1)[1]
    assert last == succeeds(*args).rstrip("\n")
    chosen = succeeds(*args, "--print-after", "autodiff")
    assert chosen.startswith("// after autodiff\ngraph @SGDStep {") and chosen.count("// after") == 1


def test_a_dumped_ir_file_is_a_target(tmp_path):
    saved = tmp_path / "step.ir"
    args = ["--input", X, "--input", "target:f32[2,4]", "--stage", "traced"]
    succeeds("dump", f"{MLP}:step", *args, "-o", str(saved))
    assert succeeds("dump", str(saved), "--stage", "traced") == saved.read_text()
    reloaded = parse_graph(succeeds("dump", str(saved), "--stage", "autodiff"))
    assert not reloaded.of_op("grad")


# -- --pipeline ----------------------------------------------------------------------------------------
def test_pipeline_flag_chooses_the_passes_for_dump_and_inspect():
    args = [f"{MLP}:step", "--input", X, "--input", "target:f32[2,4]"]
    assert " = fused(" in succeeds("dump", *args)
    unfused = succeeds("dump", *args, "--pipeline", "fold,cse,dce")
    assert " = fused(" not in unfused and " = grad(" not in unfused and " = relu_grad(" in unfused  # autodiff ran
    inspected = succeeds("inspect", *args, "--pipeline", "fold,cse,dce")
    passes = inspected.split("\npipeline\n", 1)[1].split("\n\n")[0].splitlines()[1:]
    assert [row.split()[0] for row in passes] == ["autodiff", "fold", "cse", "dce"]


@pytest.mark.parametrize("command", ["dump", "inspect"])
def test_pipeline_flag_errors_exit_2_and_list_the_passes(command):
    message = fails(command, f"{MLP}:net", "--input", X, "--pipeline", "fold,fusion")
    assert "unknown pass 'fusion' in pipeline 'fold,fusion'; registered passes: autodiff, cse, dce, fold" in message
    assert "malformed pipeline 'fold,(': expected a pass name" in fails(command, f"{MLP}:net", "--input", X,
                                                                       "--pipeline", "fold,(")


# -- inspect -------------------------------------------------------------------------------------------
def test_inspect_counts_parameters_flops_and_shapes():
    text = succeeds("inspect", f"{MLP}:net", "--input", X, "--stage", "traced")
    # 8*16 + 16 + 16*4 + 4 = 212 float32 values
    assert "parameters: 4 tensors, 212 values, 848 bytes" in text
    # matmuls: 2*(2*8*16) + 2*(2*16*4) multiply-adds
    assert re.search(r"^\s+matmul\s+2\s+768\s", text, re.MULTILINE)
    rows = re.findall(r"^\s+([a-z_]+)\s+(\d+)\s+([\d,]+)\s+[\d.]+%$", text, re.MULTILINE)
    counts = {op: (int(nodes), int(flops.replace(",", ""))) for op, nodes, flops in rows}
    assert counts["param"] == (4, 0) and counts["relu"][0] == 1
    total = counts.pop("total")
    assert total == (sum(n for n, _ in counts.values()), sum(f for _, f in counts.values())) == (10, total[1])
    assert f"FLOPs per call: {total[1]:,}" in text
    assert re.search(r"^\s+x\s+f32\[2,8\]$", text, re.MULTILINE)
    assert re.search(r"^\s+fc1\.weight\s+f32\[8,16\]$", text, re.MULTILINE)
    assert re.search(r"^\s+%9\s+f32\[2,4\]$", text, re.MULTILINE)


def test_inspect_lists_every_node_with_type_flops_and_scope():
    text = succeeds("inspect", f"{MLP}:net", "--input", X, "--stage", "traced")
    table = text.split("\nnodes\n", 1)[1].splitlines()
    assert table[0].split() == ["value", "op", "type", "FLOPs", "scope"]
    assert [row.split() for row in table[1:3]] == [["%0", "input", "f32[2,8]", "0", "-"],
                                                   ["%1", "param", "f32[8,16]", "0", "MLP"]]
    assert table[3].split()[:4] == ["%2", "matmul", "f32[2,16]", "512"]
    assert len(table) == 1 + 10


def test_inspect_shows_the_nodes_inside_fused_regions_and_their_shapes():
    """After fusion, LeNet's conv output (inside conv2d+relu) is listed, indented under its region."""
    text = succeeds("inspect", "tests/cli_targets/lenet.py:lenet", "--input", "x:f32[32,1,32,32]")
    table = text.split("\nnodes\n", 1)[1].split("\n\n")[0].splitlines()
    fused = [i for i, row in enumerate(table) if row.split()[1:2] == ["fused"]]
    assert fused
    inside = table[fused[0] + 1].split()
    assert table[fused[0] + 1].startswith("    %") and inside[1] == "conv2d" and inside[2] == "f32[32,6,28,28]"
    assert int(inside[3].replace(",", "")) == 2 * 32 * 6 * 28 * 28 * 25


def test_inspect_lenet_forward():
    text = succeeds("inspect", "tests/cli_targets/lenet.py:lenet", "--input", "x:f32[32,1,32,32]", "--stage", "traced")
    # conv1 6*1*5*5, conv2 16*6*5*5 (no biases), fc1 400*120+120, fc2 120*84+84, fc3 84*10+10
    assert "parameters: 8 tensors, 61,684 values, 246,736 bytes (241.0 KiB)" in text
    # 2 flops per multiply-add: conv1 32*6*28*28*(1*5*5), conv2 32*16*10*10*(6*5*5)
    assert re.search(r"^\s+conv2d\s+2\s+22,886,400\s", text, re.MULTILINE)
    assert re.search(r"^\s+matmul\s+3\s+3,770,880\s", text, re.MULTILINE)   # 32*(400*120 + 120*84 + 84*10)*2


def test_inspect_names_an_op_without_a_flops_rule():
    message = fails("inspect", "tests/cli_targets/custom_op.py:double", "--input", "x:f32[3]", "--stage", "traced")
    assert "op 'twice' has no flops rule" in message and "f32[3] from f32[3]" in message


# -- user errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, expected", [
    ([f"{MLP}:net"], r"takes inputs \(x\) but 0 --input flag\(s\) were given.*e\.g\. --input x:f32\["),
    ([f"{MLP}:step", "--input", X], r"takes inputs \(x, target\).*--input target:"),
    ([f"{MLP}:net", "--input", "x:f8[2,8]"], r"bad --input 'x:f8\[2,8\]'.*f32 f64 i32 i64 bool f16 bf16"),
    ([f"{MLP}:net", "--input", "x:float32[2,8]"], r"bad --input"),
    ([f"{MLP}:net", "--input", "x:f32[2,,8]"], r"bad --input"),
    ([f"{MLP}:net", "--input", "x=f32[2,8]"], r"bad --input"),
    ([f"{MLP}:net", "--input", X, "--stage", "bogus"], r"unknown stage 'bogus'; the stages are: traced, autodiff,.* optimized$"),
    ([f"{MLP}:nope"], r"tests/cli_targets/mlp.py has no object 'nope'; it defines: .*\bnet\b.*\bstep\b"),
    (["tests/cli_targets/absent.py:net"], r"tests/cli_targets/absent.py: no such file"),
    (["tests/cli_targets/absent.ir"], r"cannot read tests/cli_targets/absent.ir: No such file"),
    ([MLP], r"TARGET must be file.py:object or file.ir"),
    ([f"{MLP}:net", "--input", "y:f32[2,8]"], r"--input 1 is named 'y' .* should be 'x'"),
    ([f"{MLP}:mlp", "--input", X, "--input", X], r"takes 1 input\(s\) \(x\) but 2 --input flags"),
    ([f"{MLP}:NeedsWidth"], r"needs arguments to be built"),
    ([f"{MLP}:forty_two"], r"returned an object of type int, not a Cell"),
    ([f"{MLP}:answer"], r"is an object of type int; expected a Cell"),
    ([f"{MLP}:bad_shapes", "--input", "x:f32[2,3]"], r"^graphc: error: tests/cli_targets/mlp.py:\d+: matmul: .*f32\[2,3\]"),
    ([f"{MLP}:net", "--input", X, "--format", "json", "--print-after", "all"], r"--print-after prints several graphs"),
    ([f"{MLP}:net", "--input", X, "-o", "/nonexistent/dir/out.ir"], r"cannot write /nonexistent/dir/out.ir"),
])
def test_user_errors_are_one_line_with_exit_status_2(args, expected):
    assert re.search(expected, fails("dump", *args))


def test_a_broken_ir_file_names_its_line(tmp_path):
    broken = tmp_path / "broken.ir"
    broken.write_text("graph @g {\n  %0: f32[2] = input() {name='x', index=0}\n  %1: f32[2] = neg(%5)\n  return %1\n}\n")
    message = fails("dump", str(broken), lines=2)
    assert re.search(r"broken.ir: line 3: unknown value '%5'", message)
    assert message.splitlines()[1].strip() == "%1: f32[2] = neg(%5)"
    assert re.search(r"--input is for Python targets", fails("dump", str(broken), "--input", X))


def test_usage_errors_come_from_argparse_with_exit_status_2():
    result = graphc("dump", f"{MLP}:net", "--stage", "traced", "--print-after", "all")
    assert result.returncode == 2 and "not allowed with argument --stage" in result.stderr
    assert graphc().returncode == 2


# -- the statistics behind inspect (in process) -----------------------------------------------------------
def test_inspect_looks_inside_fused_regions():
    stats = graph_stats(fused_graph())
    inside = stats.region_ops["fused"]
    assert stats.ops["fused"][0] == 1 and set(inside) == {"add", "relu"}   # body inputs are operands
    assert stats.ops["fused"][1] == inside["add"][1] + inside["relu"][1] > 0
    ops_table = format_stats(stats).split("FLOPs per call")[1].split("\n\n")[0]
    rows = [line.split()[0] for line in ops_table.splitlines()[2:]]
    assert rows[rows.index("fused") + 1: rows.index("fused") + 3] in (["add", "relu"], ["relu", "add"])
    assert re.search(r"^    add ", format_stats(stats), re.MULTILINE)          # indented under fused


def test_tables_align_text_left_and_numbers_right():
    assert table(["op", "n"], [["a", "1"], ["bb", "10"]]) == "  op   n\n  a    1\n  bb  10"


def test_cache_info_and_clear_report_the_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    for name in ("a", "b"):
        (tmp_path / f"{name}.gobj").write_bytes(b"x" * 10)
    info = graphc("cache", "info")
    assert info.returncode == 0
    assert re.search(r"entries\s+2\nbytes\s+20", info.stdout)
    cleared = graphc("cache", "clear")
    assert "removed 2 entries (20 bytes)" in cleared.stdout
    assert not list(tmp_path.glob("*.gobj"))


def test_inspect_lists_the_native_kernels_of_the_training_step():
    out = succeeds("inspect", "examples/lenet.py:train_step", "--input", "images:f32[32,1,32,32]",
                   "--input", "labels:i32[32]")
    kernels = out.split("native kernels\n", 1)[1]
    assert re.search(r"conv2d_grad_input\s+15\.360", kernels)        # 2*32*6*14*14*16*25 FLOPs
    assert re.search(r"^\d+ kernels, \d+\.\d\d MFLOP, \d+ KB moved per call$", kernels, re.M)


def test_profile_build_prints_a_kernel_table_at_exit():
    run = subprocess.run([sys.executable, "examples/lenet.py"], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "GRAPHC_PROFILE": "1"})
    assert run.returncode == 0, run.stderr
    assert "graphc profile of TrainOneStepCell:" in run.stderr
    assert re.search(r"n125\.conv2d_grad_input\s+%125 Gradients/backbone\.conv2\s+1\s+\d+\.\d", run.stderr)
