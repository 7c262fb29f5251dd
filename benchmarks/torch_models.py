"""The zoo's networks and the recurrent classifiers in PyTorch (eager), for benchmarks/models.py when torch is installed: the same
layers, padding, attribute names and initial weights as graphc's (copied from a graphc network by
name), so the two frameworks run the same training step and their first outputs can be compared."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from graphc import nn as graphc_nn
from graphc.models import InvertedResidual, MobileNetV2, ResNet
from sequence_models import SequenceClassifier

# graphc's names where torch's differ; the recurrent weights (weight_ih_l0, ...) have the same names
TORCH_FIELD = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var",
               "embedding_table": "weight"}


def conv(graphc_conv) -> nn.Conv2d:
    """A graphc Conv2d with pad_mode 'pad' (or 'same' on a 1x1 kernel, which pads nothing)."""
    top, bottom, left, right = graphc_conv._pads
    assert top == bottom and left == right and (graphc_conv.pad_mode == "pad" or graphc_conv.kernel_size == (1, 1))
    return nn.Conv2d(graphc_conv.in_channels, graphc_conv.out_channels, graphc_conv.kernel_size,
                     graphc_conv.stride, (top, left), groups=graphc_conv.group, bias=graphc_conv.has_bias)


def batch_norm(graphc_bn) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(graphc_bn.num_features, eps=graphc_bn.eps, momentum=1 - graphc_bn.momentum)


class TorchBlock(nn.Module):
    """BasicBlock or Bottleneck: conv<i>/bn<i> pairs with ReLU between, shortcut, ReLU."""

    def __init__(self, block):
        super().__init__()
        for i in range(1, block.depth + 1):
            setattr(self, f"conv{i}", conv(getattr(block, f"conv{i}")))
            setattr(self, f"bn{i}", batch_norm(getattr(block, f"bn{i}")))
        self.depth = block.depth
        self.down_sample = None if block.down_sample is None else nn.Sequential(
            conv(block.down_sample[0]), batch_norm(block.down_sample[1]))

    def forward(self, x):
        out = x
        for i in range(1, self.depth + 1):
            out = getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(out))
            if i < self.depth:
                out = F.relu(out)
        return F.relu(out + (x if self.down_sample is None else self.down_sample(x)))


class TorchResNet(nn.Module):
    def __init__(self, net: ResNet):
        super().__init__()
        self.conv1, self.bn1 = conv(net.conv1), batch_norm(net.bn1)
        self.has_max_pool = net.max_pool is not None
        self.stages = net.stages
        for stage in range(1, net.stages + 1):
            setattr(self, f"layer{stage}", nn.Sequential(*map(TorchBlock, getattr(net, f"layer{stage}"))))
        self.classifier = nn.Linear(net.classifier.in_channels, net.classifier.out_channels)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.has_max_pool:       # MindSpore's 'same' pads the odd extra pixel at the bottom and right
            x = F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=float("-inf")), 3, 2)
        for stage in range(1, self.stages + 1):
            x = getattr(self, f"layer{stage}")(x)
        return self.classifier(x.mean(dim=(2, 3)))


class TorchInvertedResidual(nn.Module):
    def __init__(self, block: InvertedResidual):
        super().__init__()
        self.use_res_connect = block.use_res_connect
        self.layers = sequential(block.layers)

    def forward(self, x):
        return x + self.layers(x) if self.use_res_connect else self.layers(x)


class TorchMobileNetV2(nn.Module):
    def __init__(self, net: MobileNetV2):
        super().__init__()
        self.features = sequential(net.features)
        dropout, dense = net.classifier
        self.classifier = nn.Sequential(nn.Dropout(1 - dropout.keep_prob), nn.Linear(dense.in_channels,
                                                                                     dense.out_channels))

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


class TorchSequenceClassifier(nn.Module):
    def __init__(self, net: SequenceClassifier):
        super().__init__()
        self.bidirectional = net.bidirectional
        self.embedding = None if net.embedding is None else nn.Embedding(net.embedding.vocab_size,
                                                                         net.embedding.embedding_size)
        self.rnn = getattr(nn, net.kind)(net.rnn.input_size, net.rnn.hidden_size, batch_first=True,
                                         bidirectional=net.bidirectional)
        self.fc = nn.Linear(net.fc.in_channels, net.fc.out_channels)

    def forward(self, x):
        if self.embedding is not None:
            x = self.embedding(x.long())
        _, state = self.rnn(x)
        h_n = state[0] if isinstance(self.rnn, nn.LSTM) else state
        return self.fc(torch.cat([h_n[-2], h_n[-1]], dim=1) if self.bidirectional else h_n[-1])


def sequential(cells) -> nn.Sequential:
    mirror = {graphc_nn.Conv2d: conv, graphc_nn.BatchNorm2d: batch_norm, graphc_nn.ReLU6: lambda _: nn.ReLU6(),
              InvertedResidual: TorchInvertedResidual}
    return nn.Sequential(*(mirror[type(cell)](cell) for cell in cells))


def torch_model(net) -> nn.Module:
    """The PyTorch twin of a graphc ResNet, MobileNetV2 or SequenceClassifier, holding the same values."""
    twins = {ResNet: TorchResNet, MobileNetV2: TorchMobileNetV2, SequenceClassifier: TorchSequenceClassifier}
    model = next(twin(net) for kind, twin in twins.items() if isinstance(net, kind))
    state = {}
    for name, param in net.parameters_and_names():
        if name.endswith(".counter"):       # graphc's dropout counter: torch keeps its generator elsewhere
            continue
        prefix, field = name.rsplit(".", 1)
        state[f"{prefix}.{TORCH_FIELD.get(field, field)}"] = torch.from_numpy(np.array(param.asnumpy()))
    model.load_state_dict(state, strict=False)
    missing = set(model.state_dict()) - set(state)
    assert all(key.endswith("num_batches_tracked") for key in missing), sorted(missing)
    return model


def train_step_fn(net, lr=0.01, momentum=0.9, threads=None, autocast=False):
    """A closure running one Momentum step of the twin of `net` on (images, labels); returns the loss.
    autocast: the forward under torch.autocast('cpu', dtype=torch.bfloat16), as PyTorch users ask for
    mixed precision."""
    if threads:
        torch.set_num_threads(threads)
    model = torch_model(net).train()
    # torch's SGD momentum (dampening 0, no nesterov) is v = u*v + g; p -= lr*v, MindSpore's Momentum
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)

    def step(images: np.ndarray, labels: np.ndarray) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = F.cross_entropy(model(torch.from_numpy(images)), torch.from_numpy(labels).long())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def eval_logits(net, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch_model(net).eval()(torch.from_numpy(images)).numpy()
