"""A powercap sysfs tree written to disk, laid out as the Linux kernel lays it out.

The zones live under devices/virtual/powercap/<control type>/..., nested as
the kernel nests them (a dram subzone inside its package's directory), and
class/powercap/ holds one symlink per zone and control type, as
/sys/class/powercap does. Pass `tree.root` (the class/powercap directory) to
the RAPL code.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MAX_RANGE_UJ = 262_143_328_850  # what many Intel parts report


class FakePowercapTree:
    def __init__(self, base: Path):
        self.base = Path(base)
        self.root = self.base / "class" / "powercap"
        self.devices = self.base / "devices" / "virtual" / "powercap"
        self.root.mkdir(parents=True, exist_ok=True)

    def add_zone(
        self,
        zone: str,
        name: str,
        energy_uj: int = 0,
        max_energy_range_uj: int = DEFAULT_MAX_RANGE_UJ,
        enabled: int = 1,
    ) -> Path:
        """Add a zone such as "intel-rapl:0" or "intel-rapl:0:0" (its package must exist first)."""
        control_type, _, numbers = zone.partition(":")
        parts = numbers.split(":")
        control_dir = self.devices / control_type
        if not control_dir.exists():
            control_dir.mkdir(parents=True)
            (control_dir / "enabled").write_text("1\n")
            self._link(control_type, control_dir)
        directory = control_dir / f"{control_type}:{parts[0]}"
        if len(parts) == 2:
            directory = directory / zone
        directory.mkdir(parents=True)
        (directory / "name").write_text(f"{name}\n")
        (directory / "energy_uj").write_text(f"{energy_uj}\n")
        (directory / "max_energy_range_uj").write_text(f"{max_energy_range_uj}\n")
        (directory / "enabled").write_text(f"{enabled}\n")
        (directory / "constraint_0_name").write_text("long_term\n")
        (directory / "constraint_0_power_limit_uw").write_text("125000000\n")
        self._link(zone, directory)
        return directory

    def set_energy(self, zone: str, energy_uj: int) -> None:
        (self.root / zone / "energy_uj").write_text(f"{energy_uj}\n")

    def _link(self, name: str, target: Path) -> None:
        os.symlink(os.path.relpath(target, self.root), self.root / name)
