"""The same LeNet-5 training step in PyTorch (eager), for the benchmark when torch is installed:
the same layers, initial weights, loss (mean softmax cross-entropy) and Momentum update."""
import numpy as np
import torch
import torch.nn.functional as F


def train_step_fn(params: dict[str, np.ndarray], lr=0.01, momentum=0.9, threads=None):
    """A closure running one step on (images, labels); params are graphc's names and values."""
    if threads:
        torch.set_num_threads(threads)
    p = {name.split("backbone.")[1]: torch.tensor(value, requires_grad=True) for name, value in params.items()}
    # torch's SGD momentum (dampening 0, no nesterov) is v = u*v + g; p -= lr*v, MindSpore's Momentum
    optimizer = torch.optim.SGD(p.values(), lr=lr, momentum=momentum)

    def step(images: np.ndarray, labels: np.ndarray) -> float:
        loss = F.cross_entropy(logits(p, torch.from_numpy(images)), torch.from_numpy(labels).long())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def logits(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """LeNet-5's forward pass; p: the parameters by graphc's names without the `backbone.` prefix."""
    h = F.max_pool2d(F.relu(F.conv2d(x, p["conv1.weight"])), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p["conv2.weight"])), 2).flatten(1)
    h = F.relu(F.linear(h, p["fc1.weight"], p["fc1.bias"]))
    h = F.relu(F.linear(h, p["fc2.weight"], p["fc2.bias"]))
    return F.linear(h, p["fc3.weight"], p["fc3.bias"])
