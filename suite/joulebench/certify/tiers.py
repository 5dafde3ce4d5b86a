"""Certification tiers: what a site's meters can vouch for.

In the spirit of the EEHPC WG quality levels (how much of the machine is
metered, how finely) and MLPerf Power's rules (whole-system power at >= 1
sample/s from a meter outside the system under test). A tier is earned by
coverage (which boundaries have a meter that passed every check) and capped by
any failed check. This module is light (no torch, no meters) so the scorer and
the leaderboard can import it.
"""

from __future__ import annotations

from collections.abc import Iterable

from joulebench.formats import TIERS

TIER_DEFINITIONS_MD = """\
## Certification tiers

A site earns a tier from `joulebench certify`, which measures its meters
rather than trusting their data sheets, and records every check with its
value, its threshold and its verdict in a signed certificate.

**Tier A: the whole machine.** A node-level meter that sees the whole machine
(a BMC reporting chassis power over Redfish, a wall plug meter, a lab
analyzer) at one sample per second or faster, or with a cumulative energy
counter, *plus* component meters: the accelerator's energy counter on a GPU
machine, the CPU package counter on a CPU machine. Only tier A sites can score
estimators that claim the whole machine (CodeCarbon's total, a PUE-free
"node" estimate), because only they measure what those estimators claim.

**Tier B: every component.** Component meters for the GPU (an energy
counter), the CPU package and DRAM (RAPL), but nothing that sees the whole
machine: power supply losses, fans, disks, the network and the board are not
measured. Estimators are scored per component.

**Tier C: the accelerator counter only.** The GPU's own energy counter
(NVML), as on a cloud VM without RAPL or a BMC (on a CPU machine: the CPU
package counter only). Estimators are scored at the GPU boundary only.

**Uncertified.** The machine is not the hardware it declares, or no meter
passed its checks.

### What caps a tier

Each check concerns a boundary or the whole site. A failed check on a boundary
takes that boundary out of the certified set (the tier then follows from what
is left); a failed site-wide check caps the tier directly. The certificate
says which check capped it and why.

| check | measured | passes when |
| --- | --- | --- |
| hardware profile | detected GPUs, CPU, memory vs the declared profile | no mismatch (site-wide: else uncertified) |
| declared meters | the meters the profile declares vs those found | each is present |
| update period | time between changes of each meter's reading | <= 1 s (integrating meters), <= 2 s (counters) |
| read cost | median time one read takes | <= half the update period |
| resolution | the smallest step of each meter | <= 1% of a 10 s window's energy (or of its power) |
| monotonicity | successive counter reads | never decrease |
| idle stability | coefficient of variation of 1 s idle power over >= 30 s | CV <= 5% |
| load step | power after a GPU matmul (or CPU busy) loop starts | rises >= 10% within 2 s (components) or 5 s (node), settles to CV <= 5% |
| agreement | two meters on one boundary (NVML counter vs NVML power integration, two node meters) | within 3% |
| cross-boundary | node energy vs the sum of the GPU, CPU and DRAM energies inside it | node >= sum |
| repeatability | J/iteration of three certification workloads x three repeats | CV <= 2% for compute-bound ones (mean utilisation >= 80%) |
| clock | the external meter's own clock vs the host's | within 2 s |

A certificate counts on the leaderboard only when its plan meets the standard
(idle >= 30 s, >= 3 workloads x >= 3 repeats, no threshold looser than the
defaults), its run records match their sha256, and, where signed, its ed25519
signature verifies.
"""

COMPONENTS = ("gpu", "cpu", "dram")


def coverage_tier(kind: str, boundaries: Iterable[str]) -> str:
    """The best tier a set of certified boundaries supports on a gpu or cpu machine."""
    have = set(boundaries)
    lead = "gpu" if kind == "gpu" else "cpu"
    if "node" in have and lead in have:
        return "A"
    if kind == "gpu" and {"gpu", "cpu", "dram"} <= have:
        return "B"
    if kind == "cpu" and {"cpu", "dram"} <= have:
        return "B"
    if lead in have:
        return "C"
    return "uncertified"


def worse(a: str, b: str) -> str:
    """The lower of two tiers."""
    return a if TIERS.index(a) >= TIERS.index(b) else b


def tier_rank(tier: str) -> int:
    """0 for A, 1 for B, 2 for C, 3 for uncertified (sort ascending = best first)."""
    return TIERS.index(tier)


def at_least(tier: str, minimum: str) -> bool:
    """Whether `tier` is `minimum` or better (for filtering the leaderboard)."""
    return tier_rank(tier) <= tier_rank(minimum)
