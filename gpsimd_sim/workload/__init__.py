"""Whole-model workloads: layers on the NeuronCore, custom operators on the simulated GPSIMD."""
from .model import CustomOp, Linear, LogSoftmax, Model
from .protocol import Protocol

__all__ = ["Model", "Linear", "CustomOp", "LogSoftmax", "Protocol"]
