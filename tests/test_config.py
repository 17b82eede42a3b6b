"""Presets: every parameter typed, sourced, overridable, and malformed input refused."""
import json

import pytest

from gpsimd_sim.config import available_presets, config_to_dict, load_config, parameter_table
from gpsimd_sim.config.presets import preset_dir
from gpsimd_sim.errors import ConfigError


def test_trn1_and_inf2_presets_ship_with_the_package():
    assert {"trn1", "inf2"} <= set(available_presets())


@pytest.mark.parametrize("preset", ["trn1", "inf2"])
def test_every_parameter_has_a_unit_source_and_confidence(preset):
    config, provenance = load_config(preset, use_fitted=False)
    d = config_to_dict(config, provenance)
    for section, name, _type, unit, doc in parameter_table():
        entry = d[section][name]
        assert entry["unit"] and doc
        assert entry["source"]
        assert entry["confidence"] in ("H", "M", "L", "assumed", "fitted", "derived")


def test_documented_values_match_hardware_facts():
    config, _ = load_config("trn1", use_fitted=False)
    assert config.core.cores == 8
    assert config.core.clock_hz == 1.4e9
    assert config.core.simd_lanes_32bit == 16
    assert config.tcm.tcm_pool_bytes == 16 * 1024
    assert config.tcm.tcm_latency_cycles == 3


def test_set_overrides_a_parameter_by_bare_or_qualified_name():
    a, prov = load_config("trn1", ["dma_bytes_per_ns=54.4"])
    b, _ = load_config("trn1", ["dma.dma_bytes_per_ns=54.4"])
    assert a.dma.dma_bytes_per_ns == b.dma.dma_bytes_per_ns == 54.4
    assert prov["dma.dma_bytes_per_ns"]["confidence"] == "override"


def test_resolved_config_is_json_serialisable():
    config, provenance = load_config("trn1")
    json.dumps(config_to_dict(config, provenance))


@pytest.mark.parametrize("override, fragment", [
    ("nonsense=1", "unknown parameter 'nonsense'"),
    ("clock_hz", "expected key=value"),
    ("clock_hz=fast", "expected float"),
    ("clock_hz=0", "must be positive"),
    ("dma_fixed_ns=-5", "must not be negative"),
    ("cores=2.5", "expected an integer"),
    ("loop_vectorised=maybe", "expected true or false"),
    ("clock_hz=nan", "finite"),
])
def test_bad_override_is_one_clear_error(override, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        load_config("trn1", [override])


@pytest.mark.parametrize("override, name", [
    ("tensor_flops_per_ns=0", "tensor_flops_per_ns"),
    ("iteration_cycles=1e300", "iteration_cycles"),
    ("host_step_ns=1e300", "host_step_ns"),
    ("dma_total_bytes_per_ns=0", "dma_total_bytes_per_ns"),
    ("activation_bytes=0", "activation_bytes"),
])
def test_a_value_outside_what_the_model_is_meant_for_is_refused_by_name(override, name):
    with pytest.raises(ConfigError, match=f"{name}=.*outside what the model is meant for"):
        load_config("trn1", [override])


@pytest.mark.parametrize("preset", ["trn1", "inf2", "trn2"])
def test_every_numeric_parameter_has_a_plausible_range_its_preset_value_meets(preset):
    from gpsimd_sim.config.presets import _RANGES, _UNIT_RANGES
    config, _ = load_config(preset)
    ranged = {**_UNIT_RANGES(config), **_RANGES(config)}
    for section, name, type_name, _unit, _doc in parameter_table():
        if type_name in ("int", "float"):
            value, low, high = ranged[name]
            assert low <= value <= high, name


def test_unknown_preset_names_the_available_ones():
    with pytest.raises(ConfigError, match="available: .*trn1"):
        load_config("trn9")


@pytest.mark.parametrize("mutation, fragment", [
    (lambda t: t.replace('name = "trn1"', ""), "missing top-level 'name'"),
    (lambda t: t.replace("[dma]", "[dmx]"), r"unknown top-level key 'dmx'"),
    (lambda t: t.replace("dma_queues = {", "dma_queuez = {"), "unknown parameter 'dma_queuez'"),
    (lambda t: t.replace('fitted = "trn1"', "fitted = 3"), "'fitted' must name"),
    (lambda t: t.replace('name = "trn1"', 'name = "trn1"\nextends = "trn9"'), "unknown preset"),
    (lambda t: t.replace('confidence = "H" }', 'confidence = "sure" }', 1), "confidence must be"),
    (lambda t: t.replace("clock_hz = { value = 1.4e9,", "clock_hz = { valu = 1.4e9,"), "expected"),
    (lambda t: t + "\n[core.extra\n", "malformed TOML"),
    (lambda t: t.replace("[tcm]", "[tcm]\nbogus = { value = 1, source = \"x\", confidence = \"H\" }"),
     "unknown parameter 'bogus'"),
])
def test_malformed_preset_file_is_one_clear_error(tmp_path, mutation, fragment):
    text = (preset_dir() / "trn1.toml").read_text()
    path = tmp_path / "broken.toml"
    path.write_text(mutation(text))
    with pytest.raises(ConfigError, match=fragment) as info:
        load_config(str(path))
    assert "\n" not in str(info.value)


def test_a_preset_that_extends_another_states_only_what_differs(tmp_path):
    path = tmp_path / "fast_dma.toml"
    path.write_text('name = "fast_dma"\nextends = "trn1"\n[dma]\n'
                    'dma_fixed_ns = { value = 650, source = "what-if", confidence = "assumed" }\n')
    config, provenance = load_config(str(path))
    base, _ = load_config("trn1", use_fitted=False)
    assert config.name == "fast_dma" and config.dma.dma_fixed_ns == 650
    assert config.dma.dma_bytes_per_ns == base.dma.dma_bytes_per_ns
    assert provenance["dma.dma_fixed_ns"]["source"] == "what-if"


def test_a_parameter_left_out_takes_its_declared_default_with_its_provenance(tmp_path):
    config, provenance = load_config("trn1")
    assert config.tcm.stream_buffer_bytes == 4096
    assert provenance["tcm.stream_buffer_bytes"]["confidence"] == "H"
    assert "declared default" in provenance["tcm.stream_buffer_bytes"]["source"]


def test_a_users_preset_named_like_a_shipped_one_gets_no_fit_by_its_name(tmp_path):
    text = (preset_dir() / "trn1.toml").read_text().replace('fitted = "trn1"', "")
    path = tmp_path / "trn1.toml"
    path.write_text(text.replace("element_access_ns = { value = 242,",
                                 "element_access_ns = { value = 500,"))
    config, provenance = load_config(str(path))
    assert config.memory.element_access_ns == 500
    assert provenance["memory.element_access_ns"]["confidence"] != "fitted"


def test_presets_extending_each_other_in_a_circle_are_refused(tmp_path):
    (tmp_path / "a.toml").write_text('name = "a"\nextends = "./b.toml"\n')
    (tmp_path / "b.toml").write_text('name = "b"\nextends = "./a.toml"\n')
    with pytest.raises(ConfigError, match="circle"):
        load_config(str(tmp_path / "a.toml"))


def test_inf2_takes_trn1s_values_and_says_so():
    inf2, _ = load_config("inf2")
    trn1, _ = load_config("trn1")
    assert inf2.core == trn1.core and inf2.dma == trn1.dma
    assert "trn1" in inf2.caveat
