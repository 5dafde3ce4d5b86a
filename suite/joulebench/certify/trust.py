"""The tier each run counts at: only what a certificate that verifies against a trusted key covers by hash.

`assess` reads every site folder's certificate, verifies it with the trusted
keys (joulebench.certify.certificates), and gives each run record its tier:

- the tier its folder's certificate grants, when that certificate covers the
  record's file by name and sha256 (of the very bytes that were validated),
  the record says the site its folder is named after, and it was run on the
  certified profile;
- "uncertified" otherwise, with the reason: no certificate, a certificate that
  grants nothing (and why), a record added or changed after signing, a record
  that claims a site it is not filed under.

The result travels in the score summary (`TrustSummary`), so the leaderboard
shows exactly what `joulebench verify` with the same trusted keys grants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from joulebench import records as records_store
from joulebench.certify.certificates import (
    Keyring,
    Verification,
    load_trusted_keys,
    verify_certificate,
)
from joulebench.formats import RunRecord, SiteTier, TrustSummary, UncertifiedRun


@dataclass
class Trust:
    summary: TrustSummary
    runs: dict[str, tuple[str, str]] = field(default_factory=dict)  # run_id -> (tier, reason)
    verifications: dict[str, Verification] = field(default_factory=dict)  # folder -> its certificate's check

    def tier_of(self, run_id: str) -> str:
        return self.runs.get(run_id, ("uncertified", ""))[0]

    def site_tier(self, site: str) -> str:
        for entry in self.summary.sites:
            if entry.site == site:
                return entry.tier
        return "uncertified"


def assess(runs_dir: Path, records: list[RunRecord], sources: dict[str, str], digests: dict[str, str],
           keyring: Keyring | None = None) -> Trust:
    """Each run's tier and reason; `sources` (run_id -> relative path) and `digests` (relative path -> sha256)
    are what `records.load_records` filled in while reading the very same files."""
    runs_dir = Path(runs_dir)
    keyring = keyring if keyring is not None else load_trusted_keys()
    verifications: dict[str, Verification] = {}
    if runs_dir.is_dir():
        for folder in records_store.site_folders(runs_dir):
            path = folder / records_store.CERTIFICATE_NAME
            if path.exists() or path.is_symlink():
                verifications[folder.name] = verify_certificate(path, keyring=keyring, root=folder)

    def folder_reason(name: str) -> tuple[str, str]:
        result = verifications.get(name)
        if result is None:
            return "uncertified", f"no certificate in {name}/"
        return result.granted, result.reason

    runs: dict[str, tuple[str, str]] = {}
    for record in records:
        rel = sources.get(record.run_id, "")
        parts = rel.split("/")
        if len(parts) != 2:
            runs[record.run_id] = ("uncertified", f"{rel or record.run_id}: not in a site folder (<runs>/<site>/<file>.json)")
            continue
        folder, name = parts
        tier, reason = folder_reason(folder)
        if record.site != folder:
            runs[record.run_id] = ("uncertified", f"{rel}: says site {record.site} but lies in folder {folder}/; "
                                                  "a certificate vouches only for its own folder")
            continue
        if tier == "uncertified":
            runs[record.run_id] = ("uncertified", reason)
            continue
        result = verifications[folder]
        covered = result.covered.get(name)
        if covered is None:
            runs[record.run_id] = ("uncertified", f"{rel}: not covered by the certificate (added after signing)")
        elif covered[1] != digests.get(rel):
            runs[record.run_id] = ("uncertified", f"{rel}: changed since the certificate hashed it")
        elif covered[0] != record.run_id:
            runs[record.run_id] = ("uncertified", f"{rel}: the certificate lists it as run {covered[0]}, not {record.run_id}")
        elif result.certificate is not None and record.profile_hash != result.certificate.profile_hash:
            runs[record.run_id] = ("uncertified", f"{rel}: run on profile {record.profile.id}, not the certified one")
        else:
            runs[record.run_id] = (tier, reason)

    by_site: dict[str, list[RunRecord]] = {}
    for record in records:
        by_site.setdefault(record.site, []).append(record)
    sites = []
    for site in sorted(set(by_site) | set(verifications)):
        tier, reason = folder_reason(site)
        mine = by_site.get(site, [])
        certified = [r for r in mine if runs[r.run_id][0] != "uncertified"]
        uncertified = []
        if tier != "uncertified":
            uncertified = [UncertifiedRun(run_id=r.run_id, reason=runs[r.run_id][1])
                           for r in sorted(mine, key=lambda r: r.run_id) if runs[r.run_id][0] == "uncertified"]
        result = verifications.get(site)
        sites.append(SiteTier(site=site, tier=tier, reason=reason, key_id=result.key_id if result else None,
                              certified_runs=len(certified), uncertified=uncertified))
    summary = TrustSummary(trusted_keys=keyring.path.name, trusted_keys_sha256=keyring.sha256, sites=sites)
    return Trust(summary, runs, verifications)


def filter_runs(records: list[RunRecord], trust: Trust, min_tier: str) -> tuple[list[RunRecord], dict[str, str]]:
    """The records counted at `min_tier` or better, and each site that lost runs -> why (its tier or reason)."""
    from joulebench.certify.tiers import at_least

    kept, excluded = [], {}
    for record in records:
        tier = trust.tier_of(record.run_id)
        if at_least(tier, min_tier):
            kept.append(record)
        else:
            excluded.setdefault(record.site, tier)
    return kept, excluded
