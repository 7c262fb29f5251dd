import pytest

from graphc.ir.text import parse_graph
from graphc.passes.memory import MemoryPlan, _best_fit
from passes_support import ir, run_pass


def plan(text: str) -> MemoryPlan:
    graph = parse_graph(ir(text))
    assert run_pass("plan-memory", graph) is True
    assert run_pass("plan-memory", graph) is False        # the same plan again
    return graph.memory_plan


def test_a_chain_reuses_the_buffer_of_a_value_two_steps_back():
    # 16 floats = 64 bytes each. %1 is live over steps 1-2, %2 over 2-3, %3 over 3-4 (an output):
    # %3 can take %1's place, not %2's.
    memory = plan("""
        graph @f {
          %0: f32[16] = input() {name='x', index=0}
          %1: f32[16] = exp(%0)
          %2: f32[16] = neg(%1)
          %3: f32[16] = exp(%2)
          return %3
        }""")
    assert memory.schedule == [0, 1, 2, 3]
    assert memory.offsets == {1: (0, 64), 2: (64, 64), 3: (0, 64)}
    assert (memory.arena_bytes, memory.naive_bytes) == (128, 192)


def test_outputs_stay_live_to_the_end_and_sizes_round_up_to_64_bytes():
    # %1 (an output) would die at step 1 otherwise, and %2 would take its place.
    memory = plan("""
        graph @f {
          %0: f32[3] = input() {name='x', index=0}
          %1: f32[3] = exp(%0)
          %2: f32[3] = neg(%0)
          %3: f32[3] = exp(%2)
          return %1, %3
        }""")
    assert memory.offsets == {1: (0, 12), 2: (64, 12), 3: (128, 12)}
    assert (memory.arena_bytes, memory.naive_bytes) == (192, 192)


def test_best_fit_takes_the_smallest_gap_that_holds_the_value():
    busy = [(0, 64, 0, 0), (128, 64, 0, 0), (320, 64, 0, 0)]   # gaps: 64 bytes at 64, 128 bytes at 192
    assert _best_fit(busy, 64) == 64
    assert _best_fit(busy, 128) == 192
    assert _best_fit(busy, 192) == 384
    assert _best_fit([], 64) == 0


def test_inputs_params_constants_and_assigned_values_live_outside_the_arena():
    memory = plan("""
        graph @f {
          %0: f32[4] = input() {name='x', index=0}
          %1: f32[4] = param() {name='p'}
          %2: f32[] = const() {value=array(2.0, f32)}
          %3: f32[4] = mul(%0, %2)
          %4: f32[4] = assign(%1, %3)
          %5: f32[4] = param() {name='q'}
          %7: f32[4] = fused(%5, %0) {kind='elementwise'}
            graph @region7 {
              %0: f32[4] = input() {name='in1', index=1}
              %5: f32[4] = input() {name='q', index=0}
              %6: f32[4] = sub(%5, %0)
              %7: f32[4] = assign(%5, %6)
              return %7
            }
          return %0
        }""")
    assert set(memory.offsets) == {3}


def test_readers_of_a_parameter_are_scheduled_before_its_assignment():
    # By ids alone the assign (%2) would run before the exp (%3) that must see the old p.
    memory = plan("""
        graph @f {
          %0: f32[4] = param() {name='p'}
          %1: f32[4] = input() {name='x', index=0}
          %2: f32[4] = assign(%0, %1)
          %3: f32[4] = exp(%0)
          return %3
        }""")
    assert memory.schedule == [0, 1, 3, 2]


def test_independent_chains_advance_level_by_level():
    # Two chains (a recurrent layer's batch blocks): by ids alone %1 -> %2 would run before %3 -> %4; level
    # by level their first steps run first, then their second ones, so kernels of both fall between the
    # same barriers.
    memory = plan("""
        graph @f {
          %0: f32[16] = input() {name='x', index=0}
          %1: f32[16] = exp(%0)
          %2: f32[16] = neg(%1)
          %3: f32[16] = tanh(%0)
          %4: f32[16] = neg(%3)
          %5: f32[16] = add(%2, %4)
          return %5
        }""")
    assert memory.schedule == [0, 1, 3, 2, 4, 5]


def test_assigning_a_parameter_twice_is_an_error():
    graph = parse_graph(ir("""
        graph @f {
          %0: f32[4] = param() {name='p'}
          %1: f32[4] = input() {name='x', index=0}
          %2: f32[4] = assign(%0, %1)
          %3: f32[4] = assign(%0, %1)
          return %1
        }"""))
    with pytest.raises(ValueError, match="'p' is assigned by both %2 and %3"):
        run_pass("plan-memory", graph)


def test_reading_a_parameter_after_its_assignment_is_an_error():
    graph = parse_graph(ir("""
        graph @f {
          %0: f32[4] = param() {name='p'}
          %1: f32[4] = input() {name='x', index=0}
          %2: f32[4] = assign(%0, %1)
          %3: f32[4] = add(%0, %2)
          return %3
        }"""))
    with pytest.raises(ValueError, match="%3 .add. reads parameter 'p' but depends on %2"):
        run_pass("plan-memory", graph)


def test_a_reshape_views_its_operand_which_lives_until_the_view_is_last_read():
    # %2 views %1, so %1 stays live through step 4 (which reads %2) and %3 cannot take its place;
    # %6, a reshape of the parameter, gets a slot of its own (the parameter is updated in place).
    memory = plan("""
        graph @f {
          %0: f32[16] = input() {name='x', index=0}
          %1: f32[16] = exp(%0)
          %2: f32[4,4] = reshape(%1) {shape=(4, 4)}
          %3: f32[16] = neg(%0)
          %4: f32[4,4] = exp(%2)
          %5: f32[16] = param() {name='p'}
          %6: f32[4,4] = reshape(%5) {shape=(4, 4)}
          return %3, %4, %6
        }""")
    assert memory.aliases == {2: (1, 0)}
    assert set(memory.offsets) == {1, 3, 4, 6}
    assert len({memory.offsets[i][0] for i in (1, 3, 4)}) == 3


@pytest.mark.parametrize("rows, placed", [((4, 4), True), ((3, 5), False)], ids=["aligned slabs", "unaligned"])
def test_a_concat_of_whole_aligned_slabs_computes_its_operands_in_place(rows, placed):
    # [a, 4] f32 slabs start 64-byte aligned when 4·a·4 bytes are a multiple of 64; only then are the
    # exps computed straight into the concat's buffer (as a pack's operands are)
    a, b = rows
    memory = plan(f"""
        graph @f {{
          %0: f32[{a},4] = input() {{name='x', index=0}}
          %1: f32[{b},4] = input() {{name='y', index=1}}
          %2: f32[{a},4] = exp(%0)
          %3: f32[{b},4] = exp(%1)
          %4: f32[{a + b},4] = concat(%2, %3) {{axis=0}}
          return %4
        }}""")
    assert memory.aliases == ({2: (4, 0), 3: (4, a * 16)} if placed else {})
