"""CLI test targets: the model zoo's LeNet-5, forward only and as a Momentum training step."""
from graphc import nn
from graphc.models import lenet


def train_step():
    net = lenet(num_classes=10)
    loss = nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
    return nn.TrainOneStepCell(loss, nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9))
