import pytest

from passes_support import check_rewrite, check_unchanged


def graph(*lines: str, returns: str, x: str = "f32[2,3]") -> str:
    body = "\n".join(f"  {line}" for line in (f"%0: {x} = input() {{name='x', index=0}}",) + lines)
    return f"graph @f {{\n{body}\n  return {returns}\n}}"


REWRITES = {   # name: (nodes after the input %0, what they become, the returned value)
    "x * 1": (["%1: f32[] = const() {value=array(1.0, f32)}", "%2: f32[2,3] = mul(%0, %1)"],
              ["%1: f32[] = const() {value=array(1.0, f32)}"], "%2", "%0"),
    "1 * x (a broadcast of ones)": (
        ["%1: f32[] = const() {value=array(1.0, f32)}", "%2: f32[2,3] = broadcast_to(%1) {shape=(2, 3)}",
         "%3: f32[2,3] = mul(%2, %0)"],
        ["%1: f32[] = const() {value=array(1.0, f32)}", "%2: f32[2,3] = broadcast_to(%1) {shape=(2, 3)}"],
        "%3", "%0"),
    "x + (-0.0)": (["%1: f32[] = const() {value=array(-0.0, f32)}", "%2: f32[2,3] = add(%0, %1)"],
                   ["%1: f32[] = const() {value=array(-0.0, f32)}"], "%2", "%0"),
    "(-0.0) + x": (["%1: f32[3] = const() {value=array([-0.0, -0.0, -0.0], f32)}", "%2: f32[2,3] = add(%1, %0)"],
                   ["%1: f32[3] = const() {value=array([-0.0, -0.0, -0.0], f32)}"], "%2", "%0"),
    "x - (+0.0)": (["%1: f32[] = const() {value=array(0.0, f32)}", "%2: f32[2,3] = sub(%0, %1)"],
                   ["%1: f32[] = const() {value=array(0.0, f32)}"], "%2", "%0"),
    "x / 1": (["%1: f32[] = const() {value=array(1.0, f32)}", "%2: f32[2,3] = div(%0, %1)"],
              ["%1: f32[] = const() {value=array(1.0, f32)}"], "%2", "%0"),
    "neg(neg(x))": (["%1: f32[2,3] = neg(%0)", "%2: f32[2,3] = neg(%1)"], ["%1: f32[2,3] = neg(%0)"], "%2", "%0"),
    "reshape(reshape(x))": (["%1: f32[6] = reshape(%0) {shape=(6,)}", "%2: f32[3,2] = reshape(%1) {shape=(3, 2)}"],
                            ["%1: f32[6] = reshape(%0) {shape=(6,)}", "%2: f32[3,2] = reshape(%0) {shape=(3, 2)}"],
                            "%2", "%2"),
    "reshape back to x's shape": (["%1: f32[6] = reshape(%0) {shape=(6,)}", "%2: f32[2,3] = reshape(%1) {shape=(2, 3)}"],
                                  ["%1: f32[6] = reshape(%0) {shape=(6,)}"], "%2", "%0"),
    "reshape to the same shape": (["%1: f32[2,3] = reshape(%0) {shape=(2, -1)}"], [], "%1", "%0"),
    "transpose(transpose(x)) to identity": (
        ["%1: f32[3,2] = transpose(%0) {perm=(1, 0)}", "%2: f32[2,3] = transpose(%1) {perm=(1, 0)}"],
        ["%1: f32[3,2] = transpose(%0) {perm=(1, 0)}"], "%2", "%0"),
    "transpose of the identity": (["%1: f32[2,3] = transpose(%0) {perm=(0, 1)}"], [], "%1", "%0"),
    "broadcast_to the same shape": (["%1: f32[2,3] = broadcast_to(%0) {shape=(2, 3)}"], [], "%1", "%0"),
    "cast to the same dtype": (["%1: f32[2,3] = cast(%0) {dtype=f32}"], [], "%1", "%0"),
    "f32 -> f64 -> f32": (["%1: f64[2,3] = cast(%0) {dtype=f64}", "%2: f32[2,3] = cast(%1) {dtype=f32}"],
                          ["%1: f64[2,3] = cast(%0) {dtype=f64}"], "%2", "%0"),
    "f32 -> f64 -> bool": (["%1: f64[2,3] = cast(%0) {dtype=f64}", "%2: bool[2,3] = cast(%1) {dtype=bool}"],
                           ["%1: f64[2,3] = cast(%0) {dtype=f64}", "%2: bool[2,3] = cast(%0) {dtype=bool}"],
                           "%2", "%2"),
}


@pytest.mark.parametrize("name", REWRITES)
def test_rewrites_identities_that_are_exact(name):
    before, after, returned, returned_after = REWRITES[name]
    check_rewrite("simplify", graph(*before, returns=returned), graph(*after, returns=returned_after))


def test_composes_transposes():
    # y = transpose(x, (1, 2, 0)) has y[i,j,k] = x[k,i,j]; z = transpose(y, (0, 2, 1)) has
    # z[a,b,c] = y[a,c,b] = x[b,a,c], which is transpose(x, (1, 0, 2)).
    check_rewrite("simplify", """
        graph @f {
          %0: f32[2,3,4] = input() {name='x', index=0}
          %1: f32[3,4,2] = transpose(%0) {perm=(1, 2, 0)}
          %2: f32[3,2,4] = transpose(%1) {perm=(0, 2, 1)}
          return %2
        }""", """
        graph @f {
          %0: f32[2,3,4] = input() {name='x', index=0}
          %1: f32[3,4,2] = transpose(%0) {perm=(1, 2, 0)}
          %2: f32[3,2,4] = transpose(%0) {perm=(1, 0, 2)}
          return %2
        }""")


KEPT = {   # identities that are not exact, or would change the node's type
    "x + (+0.0) turns -0.0 into +0.0": ["%1: f32[] = const() {value=array(0.0, f32)}", "%2: f32[2,3] = add(%0, %1)"],
    "x - (-0.0) turns -0.0 into +0.0": ["%1: f32[] = const() {value=array(-0.0, f32)}", "%2: f32[2,3] = sub(%0, %1)"],
    "0 - x is not neg(x) at zero": ["%1: f32[] = const() {value=array(0.0, f32)}", "%2: f32[2,3] = sub(%1, %0)"],
    "1 / x": ["%1: f32[] = const() {value=array(1.0, f32)}", "%2: f32[2,3] = div(%1, %0)"],
    "not all ones": ["%1: f32[3] = const() {value=array([1.0, 1.0, 2.0], f32)}", "%2: f32[2,3] = mul(%0, %1)"],
    "x * 1 that broadcasts x": ["%1: f32[4,2,3] = const() {value=array(" + "[[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]"
                                + ", [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]" * 3 + "], f32)}",
                                "%2: f32[4,2,3] = mul(%0, %1)"],
    "f32 -> i32 -> f32 truncates": ["%1: i32[2,3] = cast(%0) {dtype=i32}", "%2: f32[2,3] = cast(%1) {dtype=f32}"],
    "f32 -> f64 -> i32: invalid float-to-int conversions are not portable":
        ["%1: f64[2,3] = cast(%0) {dtype=f64}", "%2: i32[2,3] = cast(%1) {dtype=i32}"],
    "a transpose that is not the identity": ["%1: f32[3,2] = transpose(%0) {perm=(1, 0)}"],
}


@pytest.mark.parametrize("name", KEPT)
def test_keeps_what_is_not_an_exact_identity(name):
    lines = KEPT[name]
    check_unchanged("simplify", graph(*lines, returns=lines[-1].split(":")[0]))


def test_keeps_a_round_trip_through_a_narrower_type():
    # f64 -> f32 rounds, so casting back to f64 does not give x.
    check_unchanged("simplify", graph("%1: f32[2,3] = cast(%0) {dtype=f32}", "%2: f64[2,3] = cast(%1) {dtype=f64}",
                                      returns="%2", x="f64[2,3]"))
