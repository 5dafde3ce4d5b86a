"""Test double: a synthetic RAPL energy source for one emulated node of the CI Slurm cluster.

NOT a meter and never truth outside tests. It *invents* a CPU package that
draws a constant WATTS, so the cluster tests know the true energy of any
interval exactly (watts x seconds) and can check joulebench's meters and
Slurm's accounting against it.

It must run inside a private mount namespace (tests/slurm/cluster.py starts it
with `unshare -m` after mounting a tmpfs on /dev/cpu/0 and an overlay on
/sys/class there), and it refuses to run otherwise, so it can never write to
the host's /dev or /sys. Inside that namespace it exposes one counter twice:

  /dev/cpu/0/msr                     what Slurm's acct_gather_energy/rapl plugin reads: a plain file
                                     read at MSR offsets (0x606 power unit: energy unit 2^-0 = 1 J;
                                     0x611 package energy status: a 32-bit counter of those units)
  /sys/class/powercap/intel-rapl:0/  what joulebench's RaplMeter reads: name "package-0", energy_uj
                                     (microjoules, wrapping at max_energy_range_uj), enabled

No DRAM domain is exposed (MSR 0x619 stays zero), so Slurm's package + DRAM sum
is the package alone, which joulebench meters as the `cpu` boundary.

Usage (inside the namespace): python synthetic_rapl.py WATTS [--period-s 0.005]
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
from pathlib import Path

MSR = Path("/dev/cpu/0/msr")
ZONE = Path("/sys/class/powercap/intel-rapl:0")
MAX_ENERGY_RANGE_UJ = 262_143_328_850
MSR_RAPL_POWER_UNIT = 0x606
MSR_PKG_ENERGY_STATUS = 0x611
MSR_SIZE = 0x700


def _mounted_here(path: Path, fstype: str) -> bool:
    """Whether `path` is a mount point of `fstype` in this process's mount namespace."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        separator = fields.index("-")
        if fields[4] == str(path) and fields[separator + 1] == fstype:
            return True
    return False


def refuse_outside_a_private_namespace() -> None:
    """The host's /dev/cpu/0 and /sys/class must never be written: only private mounts over them."""
    try:
        shared = os.readlink("/proc/1/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    except OSError:
        shared = False  # cannot compare (not root); the mount checks below still hold
    if shared:
        sys.exit("synthetic_rapl: refusing to run in the mount namespace of PID 1 (the host's)")
    if not _mounted_here(MSR.parent, "tmpfs"):
        sys.exit(f"synthetic_rapl: {MSR.parent} is not a private tmpfs here; refusing to write to it")
    if not _mounted_here(Path("/sys/class"), "overlay"):
        sys.exit("synthetic_rapl: /sys/class is not a private overlay here; refusing to write to it")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("watts", type=float)
    parser.add_argument("--period-s", type=float, default=0.005)
    args = parser.parse_args(argv)
    refuse_outside_a_private_namespace()
    try:
        os.nice(-10)  # keep up with the clock while the node's workload saturates the CPU
    except OSError:
        pass

    with open(MSR, "wb") as handle:
        handle.truncate(MSR_SIZE)
    fd = os.open(MSR, os.O_WRONLY)
    os.pwrite(fd, struct.pack("<Q", 0x3), MSR_RAPL_POWER_UNIT)  # power unit 1/8 W; energy unit 2^-0 J
    ZONE.mkdir(parents=True, exist_ok=True)
    for name, value in (("name", "package-0"), ("max_energy_range_uj", str(MAX_ENERGY_RANGE_UJ)), ("enabled", "1")):
        (ZONE / name).write_text(value + "\n")
    energy_file, scratch = ZONE / "energy_uj", ZONE / ".energy_uj.next"
    t0 = time.monotonic()
    while True:
        joules = (time.monotonic() - t0) * args.watts
        os.pwrite(fd, struct.pack("<Q", int(joules) & 0xFFFFFFFF), MSR_PKG_ENERGY_STATUS)
        scratch.write_text(f"{int(joules * 1e6) % MAX_ENERGY_RANGE_UJ}\n")
        os.replace(scratch, energy_file)  # readers see the old value or the new, never half
        time.sleep(args.period_s)


if __name__ == "__main__":
    sys.exit(main())
