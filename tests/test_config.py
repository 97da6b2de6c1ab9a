"""fastbp.show_config: the CPU model and the instruction sets it reports."""
import platform
import sys

import pytest

import fastbp
from fastbp import _config

X86 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz
flags\t\t: fpu sse sse2 pni ssse3 sse4_1 sse4_2 avx fma avx2 avx512f avx512bw

processor\t: 1
model name\t: another model, ignored
flags\t\t: fpu
"""

ARM = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes crc32 sve
CPU implementer\t: 0x41

Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""


def test_cpuinfo_of_an_x86_cpu():
    assert _config.parse_cpuinfo(X86) == (
        "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
        ["sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "fma", "avx2", "avx512f",
         "avx512bw"])


def test_cpuinfo_of_an_arm_cpu():
    assert _config.parse_cpuinfo(ARM) == ("Raspberry Pi 4 Model B Rev 1.4", ["asimd", "sve"])


def test_cpuinfo_without_model_or_flags():
    assert _config.parse_cpuinfo("processor : 0\n") == (None, [])


def test_show_config_prints_the_cpu_and_its_sets(capsys, monkeypatch):
    monkeypatch.setattr(_config, "cpu_info", lambda: ("Some CPU 3000", ["sse2", "avx2"]))
    fastbp.show_config()
    lines = capsys.readouterr().out.splitlines()
    assert "CPU: Some CPU 3000" in lines and "instruction sets: sse2 avx2" in lines


def test_show_config_degrades_without_cpu_details(capsys, monkeypatch):
    monkeypatch.setattr(_config, "cpu_info", lambda: (None, []))
    fastbp.show_config()
    lines = capsys.readouterr().out.splitlines()
    assert "CPU: unknown" in lines and "instruction sets: not reported" in lines
    assert lines[-1].startswith(f"kernel path: {fastbp.kernel_path()}")


def test_elsewhere_the_model_comes_from_platform(monkeypatch):
    monkeypatch.setattr(_config.os.path, "exists", lambda path: False)
    monkeypatch.setattr(_config.sys, "platform", "win32")
    monkeypatch.setattr(_config.platform, "processor", lambda: "Intel64 Family 6")
    assert _config.cpu_info() == ("Intel64 Family 6", [])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/cpuinfo")
def test_this_machine_reports_the_sets_its_kernel_path_needs():
    with open("/proc/cpuinfo") as f:
        expected = _config.parse_cpuinfo(f.read())
    model, sets = _config.cpu_info()
    assert (model, sets) == expected and model
    if "avx512" in fastbp.kernel_paths():
        assert {"avx512f", "avx2", "fma"} <= set(sets)
    elif platform.machine() == "x86_64":
        assert "sse2" in sets
