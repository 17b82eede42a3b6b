"""The tutorial's inference MLP (aws-neuron-samples, torch-neuronx/inference/customop_mlp).

    class MLP(nn.Module):
        def __init__(self, input_size = 28 * 28, output_size = 10, layers = [4096, 2048]):
            self.fc1 = nn.Linear(input_size, layers[0])
            self.fc2 = nn.Linear(layers[0], layers[1])
            self.fc3 = nn.Linear(layers[1], output_size)

        def forward(self, x):
            f1 = self.fc1(x)
            r1 = my_ops.Relu.apply(f1)
            f2 = self.fc2(r1)
            r2 = my_ops.Relu.apply(f2)
            f3 = self.fc3(r2)
            return torch.log_softmax(f3, dim=1)

`python -m gpsimd_sim mlp --kernel kernels/relu_tcm.py` runs it with the ReLU kernel of your
choice; PROTOCOL is how inference.py timed it (batch 32, 2 warm-up steps, the last epoch).
"""
from gpsimd_sim.workload import CustomOp, Linear, LogSoftmax, Model, Protocol

MODEL = Model(
    name="customop_mlp",
    input_size=28 * 28,
    layers=[
        Linear("fc1", 28 * 28, 4096),
        CustomOp("relu1"),
        Linear("fc2", 4096, 2048),
        CustomOp("relu2"),
        Linear("fc3", 2048, 10),
        LogSoftmax("log_softmax"),
    ],
)

PROTOCOL = Protocol(dataset_size=10_000, batch=32, warmup_steps=2)
