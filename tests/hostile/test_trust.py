"""Tiers that cannot be claimed: `verify`, `keygen` and `certify --key` on hostile certificates and keys, and
the three ways the issue found to claim a tier without certification, through the leaderboard.

A tier comes only from a certificate that verifies against a key in the
trusted-keys file, and only for the records it covers by hash. The
leaderboard shows, run by run, exactly what `verify` with the same keys grants.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from joulebench import SUITE_VERSION
from joulebench.certify.certificates import (
    certificate_path,
    load_trusted_keys,
    verify_certificate,
    write_certificate,
)
from joulebench.cli import main
from joulebench.formats import Certificate, CertificationPlan
from tests.doubles.certificates import trust_key, unchecked_certificate
from tests.doubles.records import make_record, write_records
from tests.hostile.harness import (
    Case,
    deep_json,
    fifo,
    link,
    parametrize,
    register,
    run_case,
    write,
)

WORKLOADS = [("resnet50-train", "vision", "train"), ("bert-infer", "language", "infer"), ("llama-gen", "language", "generate")]


def site_records(site: str, n_repeats: int = 2, run_prefix: str | None = None):
    records = []
    for workload_id, domain, task in WORKLOADS:
        for repeat in range(1, n_repeats + 1):
            record = make_record(workload_id, domain=domain, task=task, site=site, repeat=repeat,
                                 truth={"gpu": 1000.0 * repeat, "node": 1700.0 * repeat})
            if run_prefix:
                record = record.model_copy(update={"run_id": f"{run_prefix}.{record.run_id}"})
            records.append(record)
    return records


def certified_site(folder: Path, site: str = "lab-a", tier: str = "A", boundaries=("gpu", "node"), **kw) -> tuple[Path, Path]:
    """results/<site>/ with records and a certificate signed by a key trusted for the site; (certificate, keys file)."""
    results = folder / "results"
    records = site_records(site)
    write_records(results, records)
    keys = folder / "trusted-keys.yaml"
    cert = unchecked_certificate(results, records[0], tier, list(boundaries), keys_file=keys, **kw)
    return cert, keys


def verify(edit: Callable[[Path, Path], None] | None = None, at: str | None = None, **kw) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        cert, keys = certified_site(folder, **kw)
        if edit is not None:
            edit(cert, keys)
        if at is not None:
            cert = cert.parent.parent / at / cert.name
        return ["verify", str(cert), "--trusted-keys", str(keys)]

    return make


def edit_json(change: Callable[[dict], None]) -> Callable[[Path, Path], None]:
    def apply(cert: Path, keys: Path) -> None:
        data = json.loads(cert.read_text())
        change(data)
        cert.write_text(json.dumps(data))

    return apply


def resign(change: Callable[[Certificate], Certificate]) -> Callable[[Path, Path], None]:
    """Change the certificate and sign it again with a key trusted for lab-a (a trusted signer's own mistake)."""
    from joulebench.certify.certificates import load_certificate, sign_certificate

    def apply(cert: Path, keys: Path) -> None:
        key = Ed25519PrivateKey.generate()
        trust_key(keys, key, ["lab-a"], "resigner")
        write_certificate(cert, sign_certificate(change(load_certificate(cert)), key))

    return apply


def unsigned_claim(cert: Path, keys: Path) -> None:
    """The issue's first way: an unsigned certificate with no checks and no records that says tier A."""
    data = json.loads(cert.read_text())
    data.update(signature=None, checks=[], records=[])
    cert.write_text(json.dumps(data))


def untrusted_signature(cert: Path, keys: Path) -> None:
    from joulebench.certify.certificates import load_certificate, sign_certificate

    write_certificate(cert, sign_certificate(load_certificate(cert), Ed25519PrivateKey.generate()))


def move_to(other: str) -> Callable[[Path, Path], None]:
    def apply(cert: Path, keys: Path) -> None:
        target = cert.parent.parent / other
        target.mkdir()
        for path in cert.parent.iterdir():
            path.rename(target / path.name)

    return apply


def retarget_key(site: str) -> Callable[[Path, Path], None]:
    def apply(cert: Path, keys: Path) -> None:
        import yaml

        data = yaml.safe_load(keys.read_text())
        data["keys"][0]["sites"] = [site]
        keys.write_text(yaml.safe_dump(data))

    return apply


def added_record(cert: Path, keys: Path) -> None:
    extra = make_record("extra-train", site="lab-a", truth={"gpu": 10.0}).model_dump_json(indent=1)
    (cert.parent / "lab-a.extra.json").write_text(extra)


def changed_record(cert: Path, keys: Path) -> None:
    path = sorted(p for p in cert.parent.glob("*.json") if p.name != "certificate.json")[0]
    path.write_text(path.read_text().replace('"energy_j": 1000.0', '"energy_j": 999.0', 1))


def covered_record_to(kind: str) -> Callable[[Path, Path], None]:
    def apply(cert: Path, keys: Path) -> None:
        path = sorted(p for p in cert.parent.glob("*.json") if p.name != "certificate.json")[0]
        path.unlink()
        fifo(path) if kind == "fifo" else link(path, "/dev/zero")

    return apply


def symlinked_certificate(folder: Path) -> list[str]:
    """A signed, trusted certificate kept outside the folder, linked in: refused, never followed."""
    cert, keys = certified_site(folder)
    outside = folder / "outside-certificate.json"
    cert.rename(outside)
    link(cert, outside)
    return ["leaderboard", "build", "--runs", str(cert.parent.parent), "--out", str(folder / "site"),
            "--resamples", "20", "--trusted-keys", str(keys)]


def check_symlinked_certificate(folder: Path) -> None:
    page = next((folder / "site" / "sites").glob("lab-a-*.html")).read_text()
    assert "symbolic link out of" in page and "tier A" not in page.split("<main>")[1].split("Tier A:")[0]


def pem(folder: Path, private: bool, name: str) -> Path:
    key = Ed25519PrivateKey.generate()
    data = (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            if private else key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return write(folder / name, data)


def verify_file(make_path: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda folder: ["verify", str(make_path(folder))]


def with_public_key(make_path: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        cert, keys = certified_site(folder)
        return ["verify", str(cert), "--trusted-keys", str(keys), "--public-key", str(make_path(folder))]

    return make


def with_keys_file(content: str | bytes | None) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        cert, _ = certified_site(folder)
        path = folder / "other-keys.yaml"
        if content is not None:
            write(path, content)
        return ["verify", str(cert), "--trusted-keys", str(path)]

    return make


def certify(key: Callable[[Path], Path] | None, *extra: str) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        argv = ["certify", "--profile", "x86-cpu-server", "--site", "lab-a", "--out", str(folder / "results"), *extra]
        return argv + (["--key", str(key(folder))] if key is not None else [])

    return make


VERIFY = register("certificates (verify)", [
    Case("verify_unsigned_no_checks_no_records_claims_tier_a", verify(unsigned_claim), 5,
         ("claims tier A", "granted: uncertified", "unsigned")),
    Case("verify_signed_by_an_untrusted_key", verify(untrusted_signature), 5, ("not in the trusted keys",)),
    Case("verify_key_trusted_only_for_another_site", verify(retarget_key("lab-z")), 5, ("may certify lab-z, not lab-a",)),
    Case("verify_certificate_moved_to_another_sites_folder", verify(move_to("lab-b"), at="lab-b"), 5,
         ("names site lab-a but lies in folder lab-b",)),
    Case("verify_record_added_after_signing", verify(added_record), 5, ("not covered", "lab-a.extra.json")),
    Case("verify_record_changed_after_signing", verify(changed_record), 5, ("sha256",)),
    Case("verify_certificate_edited_after_signing", verify(edit_json(lambda d: d.update(tier_reasons=["edited"]))), 5,
         ("changed after signing",)),
    Case("verify_record_path_traversal", verify(edit_json(lambda d: d["records"][0].update(path="../../etc/passwd"))), 5,
         ("field 'records.0.path'",)),
    Case("verify_claims_a_with_only_the_gpu_certified", verify(resign(lambda c: c.model_copy(update={"certified_boundaries": ["gpu"]}))),
         5, ("support at most C",)),
    Case("verify_failed_check_on_a_certified_boundary", verify(resign(lambda c: c.model_copy(update={"checks": [
        *c.checks, c.checks[1].model_copy(update={"id": "idle-stability/x", "kind": "idle-stability", "status": "fail"})]}))),
         5, ("has a failed check",)),
    Case("verify_no_hardware_profile_check", verify(resign(lambda c: c.model_copy(update={"checks": c.checks[1:]}))), 5,
         ("hardware-profile",)),
    Case("verify_no_checks_at_all_signed", verify(resign(lambda c: c.model_copy(update={"checks": []}))), 5,
         ("records no checks",)),
    Case("verify_covers_no_records_signed", verify(resign(lambda c: c.model_copy(update={"records": []}))), 5,
         ("covers no run records", "not covered")),
    Case("verify_not_the_standard_plan", verify(resign(lambda c: c.model_copy(update={"plan": CertificationPlan(idle_s=5.0,
         workloads=["a", "b", "c"])}))), 5, ("not a standard certification",)),
    Case("verify_covered_record_replaced_by_a_symlink", verify(covered_record_to("link")), 5, ("symbolic link",)),
    Case("verify_covered_record_replaced_by_a_fifo", verify(covered_record_to("fifo")), 5, ("FIFO",), process=True),
    Case("verify_signature_value_garbage", verify(edit_json(lambda d: d["signature"].update(value="!!"))), 5,
         ("field 'signature.value'",)),
    Case("verify_binary_certificate", verify_file(lambda f: write(f / "certificate.json", b"\x00\xff" * 64)), 5,
         ("certificate.json",)),
    Case("verify_certificate_100000_deep", verify_file(lambda f: write(f / "certificate.json", deep_json(100_000))), 5,
         ("certificate.json",)),
    Case("verify_certificate_is_a_directory", verify_file(lambda f: (f / "c.json").mkdir() or f / "c.json"), 5,
         ("c.json", "is a folder")),
    Case("verify_certificate_is_a_fifo", verify_file(lambda f: fifo(f / "c.json")), 5, ("c.json", "FIFO"), process=True),
    Case("board_certificate_is_a_symlink_out_of_the_folder", symlinked_certificate, 0, ("wrote",), writes=True,
         check=lambda f, out, err: check_symlinked_certificate(f)),
    Case("verify_certificate_name_with_escape", verify_file(lambda f: f / "\x1b[31mcert.json"), 5, ("cert.json", "not found")),
    Case("verify_public_key_is_a_directory", with_public_key(lambda f: (f / "k.pub").mkdir() or f / "k.pub"), 2,
         ("k.pub", "is a folder")),
    Case("verify_public_key_binary", with_public_key(lambda f: write(f / "k.pub", b"\x00\x01" * 40)), 2,
         ("k.pub", "not a PEM public key")),
    Case("verify_public_key_is_a_private_key", with_public_key(lambda f: pem(f, True, "k.pub")), 2,
         ("k.pub", "not a PEM public key")),
    Case("verify_public_key_dev_zero", with_public_key(lambda f: link(f / "k.pub", "/dev/zero")), 2, ("k.pub", "is a device")),
    Case("verify_public_key_of_another_signer", with_public_key(lambda f: pem(f, False, "k.pub")), 5,
         ("not by the trusted key",)),
    Case("verify_trusted_keys_missing", with_keys_file(None), 2, ("other-keys.yaml", "not found")),
    Case("verify_trusted_keys_binary", with_keys_file(b"\x00" * 10), 2, ("other-keys.yaml", "binary data")),
    Case("verify_trusted_keys_alias_bomb", with_keys_file("a: &a [1,1]\nb: [*a, *a]\nkeys: []\n"), 2, ("alias",)),
    Case("verify_trusted_keys_unknown_field", with_keys_file("keys: []\nallow_all: true\n"), 2, ("field 'allow_all'",)),
])

KEYS = register("keys (keygen, certify --key)", [
    Case("keygen_out_in_a_missing_folder", lambda f: ["keygen", "--out", str(f / "no" / "such" / "site.key")], 2,
         ("does not exist",)),
    Case("keygen_out_an_existing_file", lambda f: ["keygen", "--out", str(write(f / "site.key", "keep me"))], 2,
         ("refusing to overwrite",)),
    Case("keygen_out_a_directory", lambda f: ["keygen", "--out", str((f / "d").mkdir() or f / "d")], 2, ("not a folder",)),
    Case("keygen_out_with_a_trailing_slash", lambda f: ["keygen", "--out", str(f) + "/newkey/"], 2, ("not a folder",)),
    Case("keygen_out_a_dangling_symlink", lambda f: ["keygen", "--out", str(link(f / "k", f / "elsewhere"))], 2,
         ("refusing to overwrite",)),
    Case("keygen_site_formula", lambda f: ["keygen", "--out", str(f / "k"), "--site", "=cmd|calc"], 2, ("--site",)),
    Case("certify_key_binary", certify(lambda f: write(f / "k.pem", b"\x00\xff" * 30)), 2, ("k.pem", "not an unencrypted PEM")),
    Case("certify_key_directory", certify(lambda f: (f / "k.pem").mkdir() or f / "k.pem"), 2, ("k.pem", "is a folder")),
    Case("certify_key_is_a_public_key", certify(lambda f: pem(f, False, "k.pem")), 2, ("k.pem", "not an unencrypted PEM")),
    Case("certify_key_missing", certify(lambda f: f / "none.pem"), 2, ("none.pem", "not found")),
    Case("certify_key_dev_zero", certify(lambda f: link(f / "k.pem", "/dev/zero")), 2, ("k.pem", "is a device")),
    Case("certify_idle_seconds_nan", certify(None, "--idle-seconds", "nan"), 2, ("--idle-seconds",)),
    Case("certify_probe_seconds_negative", certify(None, "--probe-seconds", "-1"), 2, ("--probe-seconds",)),
    Case("certify_profile_path_traversal", lambda f: ["certify", "--profile", "../../../../etc/passwd", "--site", "s",
                                                      "--key", str(pem(f, True, "k.pem"))], 2, ("unknown hardware profile",)),
    Case("certify_site_formula", certify(None, "--site", "=HYPERLINK(1)"), 2, ("--site",)),
])


@parametrize(VERIFY + KEYS)
def test_hostile_trust(case, tmp_path, capsys, monkeypatch):
    run_case(case, tmp_path, capsys, monkeypatch)


# --------------------------------------------------------------------------- the three ways, through the leaderboard


def build(runs: Path, out: Path, keys: Path | None, *extra: str) -> int:
    argv = ["leaderboard", "build", "--runs", str(runs), "--out", str(out), "--resamples", "20", *extra]
    return main(argv + (["--trusted-keys", str(keys)] if keys else []))


def runs_csv(site: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO((site / "data" / "runs.csv").read_text())))


def test_an_unsigned_certificate_with_no_checks_and_no_records_grants_no_tier(tmp_path):
    results = write_records(tmp_path / "results", site_records("lab-a"))
    record = site_records("lab-a")[0]
    write_certificate(certificate_path(results, "lab-a"), Certificate(
        site="lab-a", profile_id=record.profile.id, profile_hash=record.profile_hash, suite_version=SUITE_VERSION,
        created_at=datetime(2026, 1, 2, tzinfo=timezone.utc), tier="A", certified_boundaries=["gpu", "node"],
        standard_plan=True, plan=CertificationPlan(workloads=["a", "b", "c"]), checks=[], records=[]))
    assert build(results, tmp_path / "a", None, "--min-tier", "A") == 0
    index = (tmp_path / "a" / "index.html").read_text()
    assert "No runs yet" in index and "Left out: 6 runs from lab-a (uncertified)" in index
    assert build(results, tmp_path / "all", None) == 0
    page = next((tmp_path / "all" / "sites").glob("lab-a-*.html")).read_text()
    assert "Uncertified: the certificate is unsigned" in page
    assert {r["tier"] for r in runs_csv(tmp_path / "all")} == {"uncertified"}


def test_records_that_claim_a_certified_site_from_another_folder_do_not_inherit_its_tier(tmp_path):
    cert, keys = certified_site(tmp_path)
    results = cert.parent.parent
    # A folder without a certificate whose records say "site": "lab-a".
    for record in site_records("lab-a", run_prefix="forged"):
        write(results / "forged" / f"{record.run_id}.json", record.model_dump_json(indent=1))
    assert build(results, tmp_path / "a", keys, "--min-tier", "A") == 0
    rows = runs_csv(tmp_path / "a")
    assert len(rows) == 6 and not any(r["run_id"].startswith("forged.") for r in rows)
    assert build(results, tmp_path / "all", keys) == 0
    forged = [r for r in runs_csv(tmp_path / "all") if r["run_id"].startswith("forged.")]
    assert len(forged) == 6 and {r["tier"] for r in forged} == {"uncertified"}
    assert all("lies in folder forged/" in r["tier_reason"] for r in forged)
    page = next((tmp_path / "all" / "sites").glob("lab-a-*.html")).read_text()
    assert "6 run(s) of this site count as uncertified" in page


def test_a_record_added_after_signing_is_uncertified_and_verify_names_it(tmp_path, capsys):
    cert, keys = certified_site(tmp_path)
    added_record(cert, keys)
    results = cert.parent.parent
    assert main(["verify", str(cert), "--trusted-keys", str(keys)]) == 5
    captured = capsys.readouterr()
    assert "not covered: 1 record file(s)" in captured.out and "lab-a.extra.json" in captured.out
    assert build(results, tmp_path / "a", keys, "--min-tier", "A") == 0
    assert "lab-a.extra" not in {r["run_id"] for r in runs_csv(tmp_path / "a")}
    assert build(results, tmp_path / "all", keys) == 0
    extra = [r for r in runs_csv(tmp_path / "all") if "extra" in r["run_id"]]
    assert [r["tier"] for r in extra] == ["uncertified"] and "added after signing" in extra[0]["tier_reason"]


@pytest.mark.parametrize("scenario", ["intact", "unsigned", "untrusted", "added", "changed", "moved", "forged"])
def test_the_leaderboard_never_shows_a_tier_verify_would_not_grant(tmp_path, capsys, scenario):
    cert, keys = certified_site(tmp_path)
    edits = {"unsigned": unsigned_claim, "untrusted": untrusted_signature, "added": added_record,
             "changed": changed_record, "moved": move_to("lab-b")}
    if scenario in edits:
        edits[scenario](cert, keys)
    if scenario == "forged":
        for record in site_records("lab-a", run_prefix="forged"):
            write(cert.parent.parent / "forged" / f"{record.run_id}.json", record.model_dump_json(indent=1))
    results = cert.parent.parent
    assert build(results, tmp_path / "site", keys) == 0
    keyring = load_trusted_keys(keys)
    granted = {}
    for folder in sorted(p for p in results.iterdir() if p.is_dir()):
        path = folder / "certificate.json"
        result = verify_certificate(path, keyring=keyring) if path.exists() else None
        for record in folder.glob("*.json"):
            if record.name == "certificate.json":
                continue
            run_id = json.loads(record.read_text())["run_id"]
            covered = result is not None and record.name in result.covered and json.loads(record.read_text())["site"] == folder.name
            granted[run_id] = result.granted if covered else "uncertified"
    shown = {r["run_id"]: r["tier"] for r in runs_csv(tmp_path / "site")}
    assert shown == granted
    at_a = {rid for rid, tier in shown.items() if tier == "A"}
    expected = {"intact": 6, "unsigned": 0, "untrusted": 0, "added": 6, "changed": 0, "moved": 0, "forged": 6}[scenario]
    assert len(at_a) == expected and not any("extra" in rid or rid.startswith("forged.") for rid in at_a)
