"""The gradient guides' shapes: GradOperation (first input, all inputs, weights, sens), the 2.x
functional grad with positions, weights and auxiliary outputs, stop_gradient, a second-order
gradient, and a Cell's gradients in GRAPH_MODE."""
import json

import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor, Parameter, ParameterTuple
from mindspore import dtype as mstype

ms.set_context(mode=ms.GRAPH_MODE)


class Net(nn.Cell):
    def __init__(self):
        super(Net, self).__init__()
        self.matmul = ops.MatMul()
        self.z = Parameter(Tensor(np.array([1.0], np.float32)), name='z')

    def construct(self, x, y):
        x = x * self.z
        return self.matmul(x, y)


class GradNet(nn.Cell):
    def __init__(self, net, get_by_list=False, **kwargs):
        super(GradNet, self).__init__()
        self.net = net
        self.params = ParameterTuple(net.trainable_params())
        self.get_by_list = get_by_list
        self.grad_op = ops.GradOperation(get_by_list=get_by_list, **kwargs)

    def construct(self, *args):
        if self.get_by_list:
            return self.grad_op(self.net, self.params)(*args)
        return self.grad_op(self.net)(*args)


x = Tensor([[0.8, 0.6, 0.2], [1.8, 1.3, 1.1]], dtype=mstype.float32)
y = Tensor([[0.11, 3.3, 1.1], [1.1, 0.2, 1.4], [1.1, 2.2, 0.3]], dtype=mstype.float32)
sens = Tensor([[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]], dtype=mstype.float32)
result = {
    "first_input": GradNet(Net())(x, y).asnumpy().tolist(),
    "all_inputs": [g.asnumpy().tolist() for g in GradNet(Net(), get_all=True)(x, y)],
    "weights": [g.asnumpy().tolist() for g in GradNet(Net(), get_by_list=True)(x, y)],
    "with_sens": GradNet(Net(), sens_param=True)(x, y, sens).asnumpy().tolist(),
}


def function(x, y, z):
    return ops.sum(x * y + z * z)


a = Tensor(np.array([1.0, 2.0, 3.0], np.float32))
b = Tensor(np.array([0.5, -1.0, 2.0], np.float32))
c = Tensor(np.array([2.0, 0.0, -1.0], np.float32))
ga, gc = ms.grad(function, grad_position=(0, 2))(a, b, c)
result["positions"] = [ga.asnumpy().tolist(), gc.asnumpy().tolist()]


def with_aux(x, y):
    out = x * x * y
    return ops.sum(out), ops.stop_gradient(out)


g, aux = ms.grad(with_aux, grad_position=0, has_aux=True)(a, b)
result["has_aux"] = [g.asnumpy().tolist(), aux[0].asnumpy().tolist()]


def cube(x):
    return ops.sum(x * x * x)


result["second_order"] = ms.grad(ms.grad(cube))(a).asnumpy().tolist()

net = nn.Dense(3, 2, weight_init="ones", bias_init="zeros")
loss_fn = nn.MSELoss()


def forward(x, y):
    return loss_fn(net(x), y)


value, grads = ms.value_and_grad(forward, None, net.trainable_params())(
    Tensor(np.array([[1.0, 2.0, 3.0]], np.float32)), Tensor(np.array([[1.0, -1.0]], np.float32)))
result["value_and_grad"] = [float(value.asnumpy())] + [gr.asnumpy().tolist() for gr in grads]
print("RESULT", json.dumps(result))
