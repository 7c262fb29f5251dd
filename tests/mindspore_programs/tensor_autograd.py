"""The 2.x tensor and autograd tutorials' shapes: constructors (data, NumPy, initializer), indexing,
arithmetic, concat/stack, then gradients of a logistic-regression function and of a Cell's
parameters, with binary_cross_entropy_with_logits."""
import json

import numpy as np
import mindspore
from mindspore import nn, ops, Tensor, Parameter
from mindspore.common.initializer import One, Normal

rng = np.random.default_rng(11)
result = {}
x_data = Tensor([1, 0, 1, 0])
x_np = Tensor(np.array([1, 0, 1, 0]))
x_from = Tensor.from_numpy(np.array([2.0, 3.0], np.float32))
tensor_init = Tensor(shape=(2, 2), dtype=mindspore.float32, init=One())
result["constructors"] = [x_data.asnumpy().tolist(), str(x_data.dtype), x_np.asnumpy().tolist(),
                          x_from.asnumpy().tolist(), tensor_init.asnumpy().tolist()]
ones = ops.ones_like(x_data)
zeros = ops.zeros_like(x_data)
result["like"] = [ones.asnumpy().tolist(), zeros.asnumpy().tolist()]
t = Tensor(np.array([[0, 1], [2, 3]]).astype(np.float32))
result["index"] = [t[1].asnumpy().tolist(), t[:, 0].asnumpy().tolist(), t[..., -1].asnumpy().tolist(),
                   t[0, 1].asnumpy().item()]
a = Tensor(np.array([1, 2, 3]), mindspore.float32)
b = Tensor(np.array([4, 5, 6]), mindspore.float32)
result["arith"] = [(a + b).asnumpy().tolist(), (a - b).asnumpy().tolist(), (a * b).asnumpy().tolist(),
                   (a / b).asnumpy().round(6).tolist(), (a % b).asnumpy().tolist(), (a // b).asnumpy().tolist()]
d1 = Tensor(np.array([[0, 1], [2, 3]]).astype(np.float32))
d2 = Tensor(np.array([[4, 5], [6, 7]]).astype(np.float32))
result["cat"] = ops.cat((d1, d2)).asnumpy().tolist()
result["stack"] = list(ops.stack([d1, d2]).shape)
result["dtype_promotion"] = str((Tensor(np.array([6.0])) * Tensor(np.array([2.0], np.float32))).dtype)

x = ops.ones(5, mindspore.float32)
y = ops.zeros(3, mindspore.float32)
w = Parameter(Tensor(rng.normal(size=(5, 3)), mindspore.float32), name='w')
b = Parameter(Tensor(rng.normal(size=(3,)), mindspore.float32), name='b')


def function(x, y, w, b):
    z = ops.matmul(x, w) + b
    return ops.binary_cross_entropy_with_logits(z, y, ops.ones_like(z), ops.ones_like(z))


result["loss"] = float(function(x, y, w, b).asnumpy())
grads = mindspore.grad(function, (2, 3))(x, y, w, b)
result["grads"] = [g.asnumpy().round(6).tolist() for g in grads]


def function_with_logits(x, y, w, b):
    z = ops.matmul(x, w) + b
    loss = ops.binary_cross_entropy_with_logits(z, y, ops.ones_like(z), ops.ones_like(z))
    return loss, z


grads, (z,) = mindspore.grad(function_with_logits, (2, 3), has_aux=True)(x, y, w, b)
result["aux_grads"] = [g.asnumpy().round(6).tolist() for g in grads] + [z.asnumpy().round(6).tolist()]


class Network(nn.Cell):
    def __init__(self):
        super().__init__()
        self.w = w
        self.b = b

    def construct(self, x):
        return ops.matmul(x, self.w) + self.b


model = Network()
loss_fn = nn.BCEWithLogitsLoss()


def forward_fn(x, y):
    return loss_fn(model(x), y)


loss, grads = mindspore.value_and_grad(forward_fn, None, weights=model.trainable_params())(x, y)
result["cell_grads"] = [float(loss.asnumpy())] + [g.asnumpy().round(6).tolist() for g in grads]
print("RESULT", json.dumps(result))
