"""The Graph data structure and the verifier."""
import pytest

from graphc.ir import Graph
from graphc.ir.verify import VerifyError, verify
from graphc.types import TensorType, float32

F23 = TensorType((2, 3), float32)


def small_graph():
    g = Graph("g")
    x = g.add("input", (), {"name": "x", "index": 0, "type": F23}, F23)
    y = g.add("exp", (x,), {}, F23)
    z = g.add("add", (x, y), {}, F23)
    g.outputs = [z]
    return g, x, y, z


def test_edges_follow_operands_and_order_is_deterministic():
    g, x, y, z = small_graph()
    assert sorted(g.nx.in_edges(z.id, keys=True)) == [(x.id, z.id, 0), (y.id, z.id, 1)]
    assert [n.id for n in g.order()] == [x.id, y.id, z.id]
    assert g.uses(x) == [(y, 0), (z, 0)]
    verify(g)


def test_replace_all_uses_and_erase():
    g, x, y, z = small_graph()
    w = g.add("neg", (x,), {}, F23)
    g.replace_all_uses(y, w)
    assert z.inputs == (x, w)
    g.erase(y)
    assert y.id not in g.nodes and y.id not in g.nx
    verify(g)


def test_erase_refuses_a_used_node():
    g, x, y, z = small_graph()
    with pytest.raises(ValueError, match="still has uses"):
        g.erase(y)


def test_verifier_names_a_wrong_recorded_type():
    g, x, y, z = small_graph()
    g.add("exp", (x,), {}, TensorType((3, 2), float32))
    with pytest.raises(VerifyError, match=r"recorded type f32\[3,2\] but the shape rule gives f32\[2,3\]"):
        verify(g)


def test_verifier_catches_operands_out_of_sync_with_edges():
    g, x, y, z = small_graph()
    z.inputs = (y, x)           # bypassing the builder API
    with pytest.raises(VerifyError, match="operand list and networkx edges disagree"):
        verify(g)


def test_verifier_requires_assign_to_target_a_param():
    g, x, y, z = small_graph()
    g.add("assign", (x, y), {}, F23)
    with pytest.raises(VerifyError, match="must be a param node"):
        verify(g)


def test_tensor_type_text_round_trip():
    for text in ("f32[32,1,32,32]", "i32[]", "bool[0,4]"):
        assert str(TensorType.parse(text)) == text
    with pytest.raises(ValueError):
        TensorType.parse("f32(3)")
