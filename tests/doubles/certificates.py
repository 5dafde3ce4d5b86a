"""Test double: a site certificate written without running the measurements, signed by a test key.

`unchecked_certificate` states a tier outright: its checks are one passing
hardware-profile check and one passing check per certified boundary, stated,
not measured. It covers the site's record files by their real sha256 and is
signed by a fresh ed25519 key that it adds, for that site, to a trusted-keys
file (default: `trusted-keys.yaml` beside the results folder), so it grants its
tier exactly when that file is the one given (`--trusted-keys`). It exists so
leaderboard tests can show tiers, and is never written to results/.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from joulebench import SUITE_VERSION
from joulebench.certify.certificates import (
    certificate_path,
    raw_public_key_b64,
    sign_certificate,
    write_certificate,
)
from joulebench.formats import (
    Certificate,
    CertificationCheck,
    CertificationPlan,
    RecordDigest,
    RunRecord,
)


def keys_file_for(results_dir: Path) -> Path:
    return Path(results_dir).parent / "trusted-keys.yaml"


def trust_key(keys_file: Path, key: Ed25519PrivateKey, sites: list[str], key_name: str = "test-key") -> Path:
    """Add `key` to a trusted-keys file for `sites` (creating the file)."""
    keys_file = Path(keys_file)
    data = yaml.safe_load(keys_file.read_text()) if keys_file.exists() else {"schema_version": 1, "keys": []}
    names = {k["id"] for k in data["keys"]}
    name, n = key_name, 1
    while name in names:
        n += 1
        name = f"{key_name}-{n}"
    data["keys"].append({"id": name, "public_key": raw_public_key_b64(key.public_key()), "sites": list(sites),
                         "note": "test double"})
    keys_file.write_text(yaml.safe_dump(data, sort_keys=False))
    return keys_file


def stated_checks(boundaries: list[str]) -> list[CertificationCheck]:
    checks = [CertificationCheck(id="hardware-profile/site", kind="hardware-profile", subject="site", status="pass",
                                 detail="test double: stated, not measured")]
    checks += [CertificationCheck(id=f"meter-monotonic/test-meter:{b}", kind="meter-monotonic", subject=f"test-meter:{b}",
                                  boundary=b, status="pass", detail="test double: stated, not measured")
               for b in boundaries]
    return checks


def unchecked_certificate(results_dir: Path, record: RunRecord, tier: str, boundaries: list[str], *,
                          sign: bool = True, keys_file: Path | None = None,
                          key: Ed25519PrivateKey | None = None) -> Path:
    """Write results_dir/<site>/certificate.json at `tier`, covering the site's record files as they are now.

    Signed by `key` (default: a new one) which is added to `keys_file` for the site, unless sign=False.
    """
    folder = Path(results_dir) / record.site
    digests = [
        RecordDigest(path=path.name, run_id=path.stem, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(folder.glob("*.json"))
        if path.name != "certificate.json" and not path.name.startswith("_")
    ]
    certificate = Certificate(
        site=record.site,
        profile_id=record.profile.id,
        profile_hash=record.profile_hash,
        suite_version=SUITE_VERSION,
        created_at=datetime(2026, 1, 2, tzinfo=timezone.utc),
        tier=tier,
        tier_reasons=[f"test double: tier {tier} stated, not measured"],
        certified_boundaries=boundaries,
        standard_plan=True,
        plan=CertificationPlan(workloads=["wa", "wb", "wc"]),
        checks=stated_checks(boundaries),
        records=digests,
    )
    if sign:
        key = key or Ed25519PrivateKey.generate()
        certificate = sign_certificate(certificate, key)
        trust_key(keys_file or keys_file_for(results_dir), key, [record.site])
    path = certificate_path(results_dir, record.site)
    write_certificate(path, certificate)
    return path
