"""LeNet-5 as in MindSpore's tutorial (mindvision's lenet): [32, 1, 32, 32] images -> [32, 10] logits.

    python examples/lenet.py
    graphc dump examples/lenet.py:net --input x:f32[32,1,32,32]
"""
import numpy as np

from graphc import Tensor
from graphc.models import lenet

net = lenet(num_classes=10)

if __name__ == "__main__":
    images = Tensor(np.random.default_rng(0).standard_normal((32, 1, 32, 32)).astype(np.float32))
    print("logits shape:", net(images).shape)
