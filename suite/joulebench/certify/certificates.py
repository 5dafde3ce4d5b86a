"""Certificates on disk: write, sign (ed25519), verify, and read a site's tier.

A certificate lives at results/<site>/certificate.json beside the run records
it used; each record is named by its path (relative to the certificate) and
its sha256. The signature covers the certificate's canonical JSON (sorted
keys, no whitespace) without the `signature` field, and carries the public key
so anyone can check integrity; `--public-key` pins who signed it.

Make a key once per site and keep the private half private:

    joulebench keygen --out ~/.config/joulebench/site.key   # also writes site.key.pub
    joulebench certify --profile P --site S --key ~/.config/joulebench/site.key
    joulebench verify results/S/certificate.json --public-key site.key.pub
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path


from joulebench.files import write_bytes_atomic, write_text_atomic
from joulebench.errors import InputError, JoulebenchError
from joulebench.formats import Certificate, CertificateSignature

CERTIFICATE_NAME = "certificate.json"


class VerificationError(JoulebenchError):
    """A certificate whose signature or record hashes do not match."""

    exit_code = 5


def certificate_path(results_dir: Path, site: str) -> Path:
    return Path(results_dir) / site / CERTIFICATE_NAME


def canonical_bytes(certificate: Certificate) -> bytes:
    payload = certificate.model_dump(mode="json", exclude={"signature"})
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def write_certificate(path: Path, certificate: Certificate) -> None:
    write_text_atomic(path, certificate.model_dump_json(indent=1) + "\n")


def load_certificate(path: Path) -> Certificate:
    from joulebench.files import load_json_model

    return load_json_model(Certificate, path, "certificate")


# --------------------------------------------------------------------------- keys


def _raw_public(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def generate_key(path: Path) -> tuple[Path, Path]:
    """A new ed25519 key: PKCS#8 PEM at `path` (mode 600) and the public key at `path`.pub."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path).expanduser()
    public_path = path.with_name(path.name + ".pub")
    for existing in (path, public_path):
        if existing.exists():
            raise InputError(f"{existing} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created private from the first byte: never a moment where others could read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    write_bytes_atomic(public_path, public_pem)
    return path, public_path


def load_private_key(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path).expanduser()
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise InputError(f"{path}: key file not found (make one with `joulebench keygen --out {path}`)") from None
    except (ValueError, TypeError) as e:
        raise InputError(f"{path}: not an unencrypted PEM private key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: expected an ed25519 key, got {type(key).__name__}")
    return key


def load_public_key(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except FileNotFoundError:
        raise InputError(f"{path}: public key file not found") from None
    except ValueError as e:
        raise InputError(f"{path}: not a PEM public key: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path}: expected an ed25519 public key, got {type(key).__name__}")
    return key


def sign_certificate(certificate: Certificate, private_key) -> Certificate:
    raw = _raw_public(private_key.public_key())
    unsigned = certificate.model_copy(update={"signature": None})
    signature = private_key.sign(canonical_bytes(unsigned))
    return unsigned.model_copy(
        update={
            "signature": CertificateSignature(
                algorithm="ed25519",
                public_key=base64.b64encode(raw).decode(),
                key_id=key_id(raw),
                value=base64.b64encode(signature).decode(),
            )
        }
    )


# --------------------------------------------------------------------------- verification


@dataclass
class Verification:
    path: Path
    certificate: Certificate | None
    problems: list[str] = field(default_factory=list)
    signed: bool = False
    key_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_signature(certificate: Certificate, trusted_public_key, result: Verification) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    sig = certificate.signature
    if sig is None:
        if trusted_public_key is not None:
            result.problems.append("certificate is unsigned, but a public key was given to check it against")
        return
    result.signed = True
    try:
        raw = base64.b64decode(sig.public_key, validate=True)
        value = base64.b64decode(sig.value, validate=True)
        embedded = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as e:
        result.problems.append(f"signature block is malformed: {e}")
        return
    result.key_id = key_id(raw)
    if sig.key_id != result.key_id:
        result.problems.append(f"signature key_id {sig.key_id} does not match its public key ({result.key_id})")
    if trusted_public_key is not None and _raw_public(trusted_public_key) != raw:
        result.problems.append(f"signed by key {result.key_id}, not by the trusted key {key_id(_raw_public(trusted_public_key))}")
    try:
        embedded.verify(value, canonical_bytes(certificate))
    except InvalidSignature:
        result.problems.append("signature does not match the certificate's content (it was changed after signing)")


def _check_records(certificate: Certificate, folder: Path, result: Verification) -> None:
    for digest in certificate.records:
        path = (folder / digest.path).resolve()
        if folder.resolve() not in path.parents:
            result.problems.append(f"record path {digest.path!r} leaves the certificate's folder")
            continue
        try:
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            result.problems.append(f"record {digest.path} is missing")
            continue
        if actual != digest.sha256:
            result.problems.append(f"record {digest.path} has sha256 {actual[:16]}..., the certificate says {digest.sha256[:16]}...")


def verify_certificate(path: Path, trusted_public_key=None) -> Verification:
    """Signature (where signed) and every record's hash; never raises on a mismatch."""
    path = Path(path)
    try:
        certificate = load_certificate(path)
    except InputError as e:
        return Verification(path, None, [str(e)])
    result = Verification(path, certificate)
    _check_signature(certificate, trusted_public_key, result)
    _check_records(certificate, path.parent, result)
    return result


def site_tiers(results_dir: Path) -> dict[str, str]:
    """Each site folder under `results_dir` -> its tier ("A", "B", "C" or "uncertified").

    A site counts as certified only when its certificate verifies (records
    unchanged, signature valid where signed), follows the standard plan and
    names the site folder it sits in; otherwise, and for sites with records but
    no certificate, "uncertified".
    """
    tiers: dict[str, str] = {}
    root = Path(results_dir)
    if not root.is_dir():
        return tiers
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        path = folder / CERTIFICATE_NAME
        tier = "uncertified"
        if path.exists():
            result = verify_certificate(path)
            cert = result.certificate
            if result.ok and cert is not None and cert.standard_plan and cert.site == folder.name:
                tier = cert.tier
        tiers[folder.name] = tier
    return tiers
