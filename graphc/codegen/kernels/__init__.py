"""Kernel emitters: each adds LLVM functions to a given `ir.Module` and returns a `Kernel`
(contract.py) describing its phases, operands, scratch and FLOPs.

Families: matmul, conv (forward, input gradient), conv_filter (filter gradient), pool,
elementwise, reduce, softmax_xent. Building blocks: simd (vector vocabulary), loops, tile
(the register-blocked micro-kernel), amx (bfloat16 GEMMs on AMX tiles, for matmul's 1x1 convolution
forms and conv_amx's convolutions), staging (padded copies), epilogue (fused output hooks), launch (run one kernel on NumPy arrays).
"""
