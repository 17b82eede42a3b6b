// gpsimd_sim's <neuron/neuron-utils.hpp>: the multicore functions of the Neuron custom C++
// operator API (API reference: "The following functions are defined in
// neuron/neuron-utils.hpp"), written for the simulator.
#pragma once
#include <stdint.h>

#include <torch/torch.h>

// The id of the GPSIMD core running this kernel, in [0, get_cpu_count())
GS_INLINE uint32_t get_cpu_id() { return gs_cpu_id(); }

// The number of GPSIMD cores running this kernel (1 unless the library is multicore)
GS_INLINE uint32_t get_cpu_count() { return gs_cpu_count(); }
