"""LeNet-5's data-parallel training step: forward, backward, one allreduce of every gradient (and
the loss) packed in one buffer, and the Momentum update, in one graph.

    graphc dump examples/lenet_data_parallel.py:train_step --input images:f32[32,1,32,32] --input labels:i32[32]
    graphc inspect examples/lenet_data_parallel.py:train_step --input images:f32[32,1,32,32] --input labels:i32[32]
    mpiexec -n 2 graphc inspect examples/lenet_data_parallel.py:train_step --input images:f32[16,1,32,32] \\
        --input labels:i32[16]

Run alone it is a job of one rank (the allreduce is then the identity); under mpiexec each rank
traces the step for the job's size.
"""
import graphc
from graphc import communication, nn
from graphc.models import lenet

communication.init()
graphc.set_auto_parallel_context(parallel_mode=graphc.ParallelMode.DATA_PARALLEL, gradients_mean=True)
net = lenet(num_classes=10)
loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
train_step = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), optimizer)
