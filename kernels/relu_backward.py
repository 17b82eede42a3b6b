"""ReLU's gradient through the element-wise accessor: the training sample's relu_backward
(training/customop_mlp/neuron/relu.cpp), two inputs.

    torch::Tensor relu_backward(const torch::Tensor& t_grad, const torch::Tensor& t_in) {
      torch::Tensor t_out = torch::zeros(t_in.sizes(), torch::kFloat);
      auto t_in_acc = t_in.accessor<float, 2>();
      auto t_grad_acc = t_grad.accessor<float, 2>();
      auto t_out_acc = t_out.accessor<float, 2>();
      auto shape = t_in.sizes();
      for (int i = 0; i < shape[0]; i++) {
        for (int j = 0; j < shape[1]; j++) {
          t_out_acc[i][j] = t_in_acc[i][j] > 0.0 ? t_grad_acc[i][j] : 0.0;
        }
      }
      return t_out;
    }

    python -m gpsimd_sim run kernels/relu_backward.py --shape 32x4096
"""
import numpy as np

from gpsimd_sim.api import float32, kernel, loop, zeros


def relu_backward_reference(t_grad, t_in):
    """The gradient flows where the forward input was positive."""
    return np.where(t_in > 0, t_grad, np.float32(0)).astype(np.float32)


@loop
def relu_grad_rows(t_in_acc, t_grad_acc, t_out_acc, rows, cols):
    for i in range(rows):
        for j in range(cols):
            t_out_acc[i][j] = t_grad_acc[i][j] if t_in_acc[i][j] > 0.0 else 0.0


@kernel(reference=relu_backward_reference)
def relu_backward(t_grad, t_in):
    t_out = zeros(t_in.sizes(), float32)
    t_in_acc = t_in.accessor(2)
    t_grad_acc = t_grad.accessor(2)
    t_out_acc = t_out.accessor(2)
    shape = t_in.sizes()
    relu_grad_rows(t_in_acc, t_grad_acc, t_out_acc, shape[0], shape[1])
    return t_out
