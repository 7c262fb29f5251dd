"""LeNet-5 as in MindSpore's tutorial (mindvision's lenet): [32, 1, 32, 32] images -> [32, 10] logits,
and its training step (forward, backward and Momentum update in one graph).

    python examples/lenet.py
    graphc dump examples/lenet.py:net --input x:f32[32,1,32,32]
    graphc dump examples/lenet.py:train_step --input images:f32[32,1,32,32] --input labels:i32[32] --stage autodiff
"""
import numpy as np

from graphc import Tensor, nn
from graphc.models import lenet

net = lenet(num_classes=10)
loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
train_step = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), optimizer)

if __name__ == "__main__":
    rng = np.random.default_rng(0)
    images = Tensor(rng.standard_normal((32, 1, 32, 32)).astype(np.float32))
    labels = Tensor(rng.integers(0, 10, 32).astype(np.int32))
    print("logits shape:", net(images).shape)
    print("loss after one training step:", train_step(images, labels))
