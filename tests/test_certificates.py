"""Certificates on disk: keygen, signing, `verify` catching tampering, and site_tiers."""

from __future__ import annotations

import json
import stat

import pytest

from joulebench.certify.certificates import (
    certificate_path,
    load_private_key,
    load_trusted_keys,
    sign_certificate,
    site_tiers,
    verify_certificate,
    write_certificate,
)
from joulebench.certify.checks import Timing, certify
from joulebench.cli import main
from joulebench.formats import CertificationPlan, HardwareProfile, WorkloadSpec
from tests.doubles.certificates import trust_key
from tests.test_catalog import VALID_PROFILE, VALID_WORKLOAD
from tests.test_certification import scripted_site


@pytest.fixture
def keys(tmp_path):
    """A site key made by `keygen`, trusted for lab-1 in tmp_path/trusted-keys.yaml."""
    key = tmp_path / "keys" / "site.key"
    key.parent.mkdir()
    assert main(["keygen", "--out", str(key)]) == 0
    trust_key(tmp_path / "trusted-keys.yaml", load_private_key(key), ["lab-1"])
    return key, key.with_name("site.key.pub")


def trusted(tmp_path):
    return load_trusted_keys(tmp_path / "trusted-keys.yaml")


@pytest.fixture
def certified(tmp_path):
    """A tier-A certificate of a scripted site, written under tmp_path/results/lab-1/."""
    profile = HardwareProfile.model_validate(VALID_PROFILE)
    specs = [WorkloadSpec.model_validate({**VALID_WORKLOAD, "id": n}) for n in ("wa", "wb", "wc")]
    results = tmp_path / "results"
    inputs, clock, _ = scripted_site(results, profile, specs)
    cert = certify(inputs, Timing(clock, clock.sleep))
    assert cert.tier == "A"
    return results, cert


def _write(results, cert, key=None):
    if key is not None:
        cert = sign_certificate(cert, load_private_key(key))
    path = certificate_path(results, cert.site)
    write_certificate(path, cert)
    return path


def test_keygen_writes_a_private_key_only_its_owner_can_read_and_refuses_to_overwrite(keys, capsys):
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert main(["keygen", "--out", str(private)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err


def test_a_signed_certificate_verifies(certified, keys, capsys, tmp_path):
    results, cert = certified
    path = _write(results, cert, keys[0])
    assert main(["verify", str(path), "--public-key", str(keys[1]), "--trusted-keys", str(tmp_path / "trusted-keys.yaml")]) == 0
    out = capsys.readouterr().out
    assert "claims tier A" in out and "granted: tier A" in out and "signature, trusted key and record hashes match" in out


def test_a_certificate_signed_by_a_key_nobody_trusts_grants_nothing(certified, keys, capsys):
    results, cert = certified
    path = _write(results, cert, keys[0])
    assert main(["verify", str(path), "--public-key", str(keys[1])]) == 5  # the repository's keys: not this one
    captured = capsys.readouterr()
    assert "granted: uncertified" in captured.out and "not in the trusted keys" in captured.out
    assert "claims tier A, but grants uncertified" in captured.err


def test_verify_catches_a_tampered_record(certified, keys, capsys):
    results, cert = certified
    path = _write(results, cert, keys[0])
    record = results / "lab-1" / cert.records[4].path
    data = json.loads(record.read_text())
    data["energy"][0]["energy_j"] *= 0.9  # a record "improved" after certification
    record.write_text(json.dumps(data))
    assert main(["verify", str(path)]) == 5
    err = capsys.readouterr().err
    assert cert.records[4].path in err and "sha256" in err


def test_verify_catches_a_missing_record(certified):
    results, cert = certified
    path = _write(results, cert)
    (results / "lab-1" / cert.records[0].path).unlink()
    result = verify_certificate(path)
    assert not result.ok and any("missing" in p for p in result.problems)


def test_verify_catches_a_tampered_certificate(certified, keys, capsys):
    results, cert = certified
    path = _write(results, cert, keys[0])
    data = json.loads(path.read_text())
    data["checks"][0]["value"] = 0.0
    data["tier_reasons"].append("edited")
    path.write_text(json.dumps(data))
    assert main(["verify", str(path)]) == 5
    assert "changed after signing" in capsys.readouterr().err


def test_verify_catches_a_record_hash_rewritten_in_a_signed_certificate(certified, keys, tmp_path):
    results, cert = certified
    path = _write(results, cert, keys[0])
    record = results / "lab-1" / cert.records[0].path
    record.write_text(record.read_text().replace('"repeat": 1', '"repeat": 1 '))
    import hashlib

    data = json.loads(path.read_text())
    data["records"][0]["sha256"] = hashlib.sha256(record.read_bytes()).hexdigest()  # hashes fixed up, signature not
    path.write_text(json.dumps(data))
    result = verify_certificate(path)
    assert result.problems == ["signature does not match the certificate's content (it was changed after signing)"]


def test_verify_refuses_a_certificate_signed_by_another_key(certified, keys, tmp_path, capsys):
    results, cert = certified
    other = tmp_path / "other.key"
    assert main(["keygen", "--out", str(other)]) == 0
    path = _write(results, cert, other)
    assert main(["verify", str(path), "--public-key", str(keys[1])]) == 5
    assert "not by the trusted key" in capsys.readouterr().err


def test_an_unsigned_certificate_grants_nothing(certified, capsys):
    results, cert = certified
    path = _write(results, cert)
    assert main(["verify", str(path)]) == 5
    captured = capsys.readouterr()
    assert "granted: uncertified" in captured.out and "unsigned" in captured.out
    assert verify_certificate(path).granted == "uncertified"


def test_a_record_path_cannot_leave_the_certificate_folder(certified):
    results, cert = certified
    bad = cert.model_dump(mode="json")
    bad["records"][0]["path"] = "../../etc/passwd"
    path = certificate_path(results, cert.site)
    path.write_text(json.dumps(bad))
    result = verify_certificate(path)
    assert any("field 'records.0.path'" in p for p in result.problems)
    assert result.granted == "uncertified"


def test_site_tiers_shows_only_verified_standard_certificates(certified, keys, tmp_path):
    results, cert = certified
    _write(results, cert, keys[0])
    (results / "no-cert-site").mkdir()
    assert site_tiers(results, trusted(tmp_path)) == {"lab-1": "A", "no-cert-site": "uncertified"}
    assert site_tiers(results) == {"lab-1": "uncertified", "no-cert-site": "uncertified"}  # the repository's keys

    short = cert.model_copy(update={"plan": CertificationPlan(idle_s=5.0), "standard_plan": False})
    _write(results, short, keys[0])
    assert site_tiers(results, trusted(tmp_path))["lab-1"] == "uncertified"

    _write(results, cert, keys[0])
    record = results / "lab-1" / cert.records[0].path
    record.write_text(record.read_text() + " ")
    assert site_tiers(results, trusted(tmp_path))["lab-1"] == "uncertified"


def test_site_tiers_of_a_missing_folder_is_empty(tmp_path):
    assert site_tiers(tmp_path / "nowhere") == {}


def test_verify_of_a_broken_file_is_an_input_error_naming_it(tmp_path, capsys):
    path = tmp_path / "certificate.json"
    path.write_text("{}")
    assert main(["verify", str(path)]) == 5
    assert str(path) in capsys.readouterr().err
