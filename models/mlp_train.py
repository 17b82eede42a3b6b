"""The Neuron custom-operator training sample's MLP (aws-neuron-samples,
torch-neuronx/training/customop_mlp), trained with the ReLU as a custom operator.

    class MLP(nn.Module):
        def __init__(self, input_size = 28 * 28, output_size = 10, layers = [120, 84]):
            self.fc1 = nn.Linear(input_size, layers[0])
            self.fc2 = nn.Linear(layers[0], layers[1])
            self.fc3 = nn.Linear(layers[1], output_size)

        def forward(self, x):
            f1 = self.fc1(x)
            r1 = my_ops.Relu.apply(f1)      # relu_forward; backward: relu_backward(grad, f1)
            f2 = self.fc2(r1)
            r2 = my_ops.Relu.apply(f2)
            f3 = self.fc3(r2)
            return torch.log_softmax(f3, dim=1)

    loss = F.nll_loss(output, label); loss.backward(); optimizer.step()   # SGD, lr 0.01

The custom operator is the sample's neuron/relu.cpp: relu_forward and relu_backward through
the element-wise accessor (kernels/relu_elementwise.py, kernels/relu_backward.py). Data: the
MNIST training split, 60,000 images in batches of 32 (1,875 batches, none short); timed like
the inference script: the last of 4 epochs, the clock restarted after 2 warm-up steps.

    from gpsimd_sim.workload.training import run_training
"""
from gpsimd_sim.workload import CustomOp, Linear, LogSoftmax, Model, Protocol
from gpsimd_sim.workload.training import Training

MODEL = Model(
    name="customop_mlp_train",
    input_size=28 * 28,
    layers=[
        Linear("fc1", 28 * 28, 120),
        CustomOp("relu1"),
        Linear("fc2", 120, 84),
        CustomOp("relu2"),
        Linear("fc3", 84, 10),
        LogSoftmax("log_softmax"),
    ],
)

TRAINING = Training(lr=0.01, classes=10)

PROTOCOL = Protocol(dataset_size=60_000, batch=32, warmup_steps=2)

FORWARD_KERNEL = "kernels/relu_elementwise.py"
BACKWARD_KERNEL = "kernels/relu_backward.py"
