"""Neural-network ops: conv2d, pooling, softmax, cross-entropy and their gradient ops (placeholder)."""
__all__: list[str] = []
