"""Add a bias vector to every row of a matrix through TCM, one core: inputs of two shapes.

``t_in`` is [rows, cols], ``bias`` is [cols]. Each block of the bias is brought into TCM
once, then added to the same block of every row:

    torch::Tensor bias_add(const torch::Tensor& t_in, const torch::Tensor& bias) {
      size_t rows = t_in.size(0), cols = t_in.size(1);
      torch::Tensor t_out = torch::empty(t_in.sizes(), torch::kFloat);
      static constexpr size_t buffer_size = 1024;
      float *tcm_bias = (float*)torch::neuron::tcm_malloc(sizeof(float) * buffer_size);
      float *tcm_buffer = (float*)torch::neuron::tcm_malloc(sizeof(float) * buffer_size);
      if (tcm_bias != nullptr && tcm_buffer != nullptr) {
        auto t_in_tcm_acc = t_in.tcm_accessor();
        auto bias_tcm_acc = bias.tcm_accessor();
        auto t_out_tcm_acc = t_out.tcm_accessor();
        for (size_t c = 0; c < cols; c += buffer_size) {
          size_t n = (cols - c > buffer_size) ? buffer_size : cols - c;
          bias_tcm_acc.tensor_to_tcm<float>(tcm_bias, c, n);
          for (size_t r = 0; r < rows; r++) {
            t_in_tcm_acc.tensor_to_tcm<float>(tcm_buffer, r * cols + c, n);
            for (size_t j = 0; j < n; j++) {
              tcm_buffer[j] = tcm_buffer[j] + tcm_bias[j];
            }
            t_out_tcm_acc.tcm_to_tensor<float>(tcm_buffer, r * cols + c, n);
          }
        }
      }
      torch::neuron::tcm_free(tcm_bias);
      torch::neuron::tcm_free(tcm_buffer);
      return t_out;
    }

The output is made with ``empty``: every element is written. ``--shape ROWSxCOLS`` gives
``t_in``; ``bias`` then defaults to [COLS] (the ``inputs=`` rule), or give it with
``--input bias=COLS`` or ``--input bias=bias.npy``.
"""
import numpy as np

from gpsimd_sim.api import empty, float32, kernel, loop, sizeof, tcm_free, tcm_malloc

BUFFER_SIZE = 1024  # static constexpr size_t buffer_size = 1024;  (--buffer-size overrides)


def bias_add_shape(t_in, bias):
    """shape.cpp's twin: the output is t_in's shape; the bias must match its columns."""
    if len(t_in.shape) != 2:
        raise ValueError(f"t_in must be [rows, cols], got {list(t_in.shape)}")
    if tuple(bias.shape) != (t_in.shape[1],):
        raise ValueError(f"bias must be [{t_in.shape[1]}] (t_in's columns), got "
                         f"{list(bias.shape)}")
    return t_in.shape, np.float32


@loop
def add_block(tcm_buffer, tcm_bias, n):
    for j in range(n):
        tcm_buffer[j] = tcm_buffer[j] + tcm_bias[j]


@kernel(reference=lambda t_in, bias: (t_in + bias).astype(np.float32), shape=bias_add_shape,
        inputs=lambda shape: {"t_in": shape, "bias": shape[-1:]})
def bias_add(t_in, bias):
    rows, cols = t_in.size(0), t_in.size(1)
    t_out = empty(t_in.sizes(), float32)
    buffer_size = BUFFER_SIZE
    tcm_bias = tcm_malloc(sizeof(float32) * buffer_size, float32)
    tcm_buffer = tcm_malloc(sizeof(float32) * buffer_size, float32)
    if tcm_bias is not None and tcm_buffer is not None:
        t_in_tcm_acc = t_in.tcm_accessor()
        bias_tcm_acc = bias.tcm_accessor()
        t_out_tcm_acc = t_out.tcm_accessor()
        for c in range(0, cols, buffer_size):
            n = buffer_size if cols - c > buffer_size else cols - c
            bias_tcm_acc.tensor_to_tcm(tcm_bias, c, n)
            for r in range(rows):
                t_in_tcm_acc.tensor_to_tcm(tcm_buffer, r * cols + c, n)
                add_block(tcm_buffer, tcm_bias, n)
                t_out_tcm_acc.tcm_to_tensor(tcm_buffer, r * cols + c, n)
    tcm_free(tcm_bias)
    tcm_free(tcm_buffer)
    return t_out
