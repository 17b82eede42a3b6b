"""ReLU through the stream accessors, one core: a read stream in, a write stream out.

No tutorial kernel uses streams; this is the tutorial's ReLU written with them, modelled on
the API reference's stream example (``tensor_add_compute``):

    torch::Tensor relu_forward(const torch::Tensor& t_in) {
      size_t num_elem = t_in.numel();
      torch::Tensor t_out = torch::empty(t_in.sizes(), torch::kFloat);

      auto t_in_rd_stm_acc = t_in.read_stream_accessor<float>();
      auto t_out_wr_stm_acc = t_out.write_stream_accessor<float>();
      for (size_t i = 0; i < num_elem; i++) {
        float value = t_in_rd_stm_acc.read();
        t_out_wr_stm_acc.write(value > 0.0 ? value : 0.0);
      }
      t_in_rd_stm_acc.close();
      t_out_wr_stm_acc.close();
      return t_out;
    }

The output is made with ``empty``, not ``zeros``: the write stream writes every element in
order, so the zero fill would be one more pass over device memory for nothing. It also makes
a missed element visible: ``empty`` leaves NaN, which the output check counts as wrong, where
``zeros`` would pass every negative input's element by luck.

The element loop is plain Python, as the C++ loop is plain C++ around the stream calls: each
``read()`` and ``write()`` is counted (one TCM load or store each, timed per buffer); the
compare around them is not (``docs/model.md``).
"""
from gpsimd_sim.api import empty, float32, kernel


@kernel(reference="relu")
def relu_forward(t_in):
    num_elem = t_in.numel()
    t_out = empty(t_in.sizes(), float32)

    t_in_rd_stm_acc = t_in.read_stream_accessor(float32)
    t_out_wr_stm_acc = t_out.write_stream_accessor(float32)
    for i in range(num_elem):
        value = t_in_rd_stm_acc.read()
        t_out_wr_stm_acc.write(value if value > 0.0 else 0.0)
    t_in_rd_stm_acc.close()
    t_out_wr_stm_acc.close()
    return t_out
