"""Hardware configuration: typed parameters (``hardware``) and sourced presets (``presets``)."""
from .hardware import HardwareConfig, parameter_table
from .presets import available_presets, config_to_dict, load_config, with_values

__all__ = ["HardwareConfig", "parameter_table", "available_presets", "config_to_dict",
           "load_config", "with_values"]
