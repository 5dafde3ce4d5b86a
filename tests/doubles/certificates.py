"""Test double: a site certificate written without running any check.

`unchecked_certificate` states a tier outright; no meter was measured and its
`checks` list is empty. It is valid for the schema and verifies (it covers the
site's record files by their real sha256), so `site_tiers` counts it; it exists
so leaderboard tests can show tiers, and is never written to results/.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from joulebench import SUITE_VERSION
from joulebench.certify.certificates import certificate_path, write_certificate
from joulebench.formats import Certificate, CertificationPlan, RecordDigest, RunRecord


def unchecked_certificate(results_dir: Path, record: RunRecord, tier: str, boundaries: list[str]) -> Path:
    """Write results_dir/<site>/certificate.json at `tier`, covering the site's record files as they are now."""
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
        checks=[],
        records=digests,
    )
    path = certificate_path(results_dir, record.site)
    write_certificate(path, certificate)
    return path
