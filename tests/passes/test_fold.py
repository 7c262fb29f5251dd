from passes_support import check_rewrite, check_unchanged


def test_folds_chains_of_constant_arithmetic_in_one_run():
    # 1 * 3 = 3 and 2 * -0.0 = -0.0; then neg gives [-3, 0.0]: both fold in one run.
    check_rewrite("fold", """
        graph @f {
          %0: f32[2] = input() {name='x', index=0}
          %1: f32[2] = const() {value=array([1.0, 2.0], f32)}
          %2: f32[2] = const() {value=array([3.0, -0.0], f32)}
          %3: f32[2] = mul(%1, %2)
          %4: f32[2] = neg(%3)
          %5: f32[2] = add(%0, %4)
          return %5
        }""", """
        graph @f {
          %0: f32[2] = input() {name='x', index=0}
          %1: f32[2] = const() {value=array([1.0, 2.0], f32)}
          %2: f32[2] = const() {value=array([3.0, -0.0], f32)}
          %3: f32[2] = const() {value=array([3.0, -0.0], f32)}
          %4: f32[2] = const() {value=array([-3.0, 0.0], f32)}
          %5: f32[2] = add(%0, %4)
          return %5
        }""")


def test_folds_shape_arithmetic_and_casts():
    check_rewrite("fold", """
        graph @f {
          %0: f32[2,3] = input() {name='x', index=0}
          %1: i32[6] = const() {value=array([1, 2, 3, 4, 5, 6], i32)}
          %2: i32[2,3] = reshape(%1) {shape=(2, 3)}
          %3: f32[2,3] = cast(%2) {dtype=f32}
          %4: f32[2,3] = mul(%0, %3)
          return %4
        }""", """
        graph @f {
          %0: f32[2,3] = input() {name='x', index=0}
          %1: i32[6] = const() {value=array([1, 2, 3, 4, 5, 6], i32)}
          %2: i32[2,3] = const() {value=array([[1, 2, 3], [4, 5, 6]], i32)}
          %3: f32[2,3] = const() {value=array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], f32)}
          %4: f32[2,3] = mul(%0, %3)
          return %4
        }""")


def test_division_by_zero_folds_to_the_ieee_values():
    check_rewrite("fold", """
        graph @f {
          %0: f32[3] = const() {value=array([1.0, -1.0, 0.0], f32)}
          %1: f32[] = const() {value=array(0.0, f32)}
          %2: f32[3] = div(%0, %1)
          return %2
        }""", """
        graph @f {
          %0: f32[3] = const() {value=array([1.0, -1.0, 0.0], f32)}
          %1: f32[] = const() {value=array(0.0, f32)}
          %2: f32[3] = const() {value=array([inf, -inf, nan], f32)}
          return %2
        }""")


def test_a_small_broadcast_of_a_constant_folds():
    check_rewrite("fold", """
        graph @f {
          %0: f32[] = const() {value=array(0.5, f32)}
          %1: f32[2,2] = broadcast_to(%0) {shape=(2, 2)}
          return %1
        }""", """
        graph @f {
          %0: f32[] = const() {value=array(0.5, f32)}
          %1: f32[2,2] = const() {value=array([[0.5, 0.5], [0.5, 0.5]], f32)}
          return %1
        }""")


def test_a_large_broadcast_of_a_scalar_stays_a_broadcast():
    # 32*6*28*28 elements would be a 600 kB constant made from one number.
    check_unchanged("fold", """
        graph @f {
          %0: f32[] = const() {value=array(0.5, f32)}
          %1: f32[32,6,28,28] = broadcast_to(%0) {shape=(32, 6, 28, 28)}
          return %1
        }""")


def test_inputs_params_and_assigns_never_fold():
    check_unchanged("fold", """
        graph @f {
          %0: f32[2] = input() {name='x', index=0}
          %1: f32[2] = param() {name='p'}
          %2: f32[2] = const() {value=array([1.0, 2.0], f32)}
          %3: f32[2] = assign(%1, %2)
          %4: f32[2] = add(%0, %1)
          return %4
        }""")
