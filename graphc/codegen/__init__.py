"""Native code generation with llvmlite (DESIGN.md §5); see docs/codegen.md.

* machine   — host target machine, O3 pipeline, JIT loading, object-code cache.
* parallel  — work split, the IR barrier, the native thread runner.
* vecmath   — vectorized float32 exp / log.
* kernels/  — parameterized kernel emitters (matmul, conv2d, pooling, elementwise, reductions,
  softmax cross-entropy) following the contract in kernels/contract.py.
"""
