"""Certificates on disk: write, sign (ed25519), verify, and the tier a certificate grants.

A certificate lives at results/<site>/certificate.json beside the run records
it used; each record is named by its file name and its sha256. The signature
covers the certificate's canonical JSON (sorted keys, no whitespace) without
the `signature` field, and carries the public key so anyone can check
integrity; `--public-key` pins who signed it.

A certificate *grants* its tier only when all of these hold (otherwise the
site is uncertified, and the reason says which failed):

- it verifies: the signature matches its content and every record it lists
  has the sha256 it states;
- it is signed by a key listed in the trusted-keys file (trusted-keys.yaml,
  kept in the repository and reviewed like code) for this site;
- it names the folder it lies in, follows the standard plan, records its
  checks (a passing hardware-profile check among them) and covers at least one
  record; its tier is one its certified boundaries support, and no check on a
  certified boundary (nor a site-wide one) failed.

The tier then counts only for the records it covers by hash; a record added
to the folder after signing is uncertified (`verify` lists it).

Make a key once per site, keep the private half private, and send the public
half for review into trusted-keys.yaml (`keygen` prints the entry):

    joulebench keygen --out ~/.config/joulebench/site.key   # also writes site.key.pub
    joulebench certify --profile P --site S --key ~/.config/joulebench/site.key
    joulebench verify results/S/certificate.json
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from joulebench.certify.tiers import coverage_tier, tier_rank
from joulebench.errors import InputError, JoulebenchError
from joulebench.files import (
    MAX_CERTIFICATE_BYTES,
    MAX_KEY_BYTES,
    MAX_RECORD_BYTES,
    load_json_model,
    load_yaml_model,
    read_bytes,
    write_bytes_atomic,
    write_text_atomic,
)
from joulebench.formats import (
    Certificate,
    CertificateSignature,
    TrustedKey,
    TrustedKeys,
)

CERTIFICATE_NAME = "certificate.json"
# The repository's trusted keys, shipped as package data (trusted-keys.yaml at the repository root links here).
TRUSTED_KEYS_FILE = Path(__file__).resolve().parent / "trusted-keys.yaml"


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


def load_certificate(path: Path, root: Path | None = None) -> Certificate:
    """A certificate file (inside `root`, links resolved, when given: a results folder's own)."""
    return load_json_model(Certificate, path, "certificate", max_bytes=MAX_CERTIFICATE_BYTES, root=root)


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
    if not path.name or str(path).endswith(("/", os.sep)) or path.is_dir():
        raise InputError(f"--out {path}: expected the path of a key file to create, not a folder")
    public_path = path.with_name(path.name + ".pub")
    for existing in (path, public_path):
        if existing.exists() or existing.is_symlink():
            raise InputError(f"{existing} exists; refusing to overwrite a key")
    if not path.parent.is_dir():
        raise InputError(f"--out {path}: the folder {path.parent} does not exist; create it first "
                         f"(e.g. mkdir -p {path.parent} && chmod 700 {path.parent})")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # Created private from the first byte: never a moment where others could read it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise InputError(f"--out {path}: cannot create the key file: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        write_bytes_atomic(public_path, public_pem)
    except BaseException:
        path.unlink(missing_ok=True)  # no private key without its public half
        raise
    return path, public_path


def raw_public_key_b64(public_key) -> str:
    """The raw public key in base64, as certificates and trusted-keys.yaml write it."""
    return base64.b64encode(_raw_public(public_key)).decode()


def load_private_key(path: Path):
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path).expanduser()
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{path}: key file not found (make one with `joulebench keygen --out {path}`)")
    data = read_bytes(path, "private key", max_bytes=MAX_KEY_BYTES)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InputError(f"{path}: not an unencrypted PEM private key (expected the file `joulebench keygen` wrote)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: expected an ed25519 key, got {type(key).__name__}")
    return key


def load_public_key(path: Path):
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = read_bytes(Path(path), "public key", max_bytes=MAX_KEY_BYTES)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InputError(f"{path}: not a PEM public key (expected the .pub file `joulebench keygen` wrote)") from None
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


# --------------------------------------------------------------------------- trusted keys


@dataclass
class Keyring:
    """The trusted keys as read from one file: raw public key (base64) -> entry."""

    path: Path
    sha256: str
    keys: dict[str, TrustedKey] = field(default_factory=dict)

    def entry(self, public_key_b64: str) -> TrustedKey | None:
        return self.keys.get(public_key_b64)


def load_trusted_keys(path: Path | None = None) -> Keyring:
    """The trusted-keys file (default: the repository's); every problem an InputError naming file and field."""
    path = Path(path) if path is not None else TRUSTED_KEYS_FILE
    data = read_bytes(path, "trusted-keys file", max_bytes=1024 * 1024)
    model = load_yaml_model(TrustedKeys, path)
    return Keyring(path, hashlib.sha256(data).hexdigest(), {k.public_key: k for k in model.keys})


def trusted_key_entry(public_key, key_name: str, site: str) -> str:
    """The lines to add to trusted-keys.yaml for a new site key."""
    return (f"  - id: {key_name}\n    public_key: {raw_public_key_b64(public_key)}\n    sites: [{site}]\n"
            f"    note: \"<who reviewed it, and when>\"\n")


# --------------------------------------------------------------------------- verification


@dataclass
class Verification:
    path: Path
    certificate: Certificate | None
    problems: list[str] = field(default_factory=list)  # integrity: signature, record hashes
    signed: bool = False
    key_id: str | None = None
    granted: str = "uncertified"  # the tier it grants, with the trusted keys
    reason: str = ""  # why that tier (and, when uncertified, what is missing)
    trusted_key: str | None = None  # the trusted key's id, when it is one
    covered: dict[str, tuple[str, str]] = field(default_factory=dict)  # file name -> (run_id, sha256)
    uncovered: list[str] = field(default_factory=list)  # record files in the folder it does not cover

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
    except ValueError:
        result.problems.append("signature block is malformed: expected a raw ed25519 public key and signature in base64")
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
        path = folder / digest.path
        if not path.exists() and not path.is_symlink():
            result.problems.append(f"record {digest.path} is missing")
            continue
        try:
            data = read_bytes(path, "run record", max_bytes=MAX_RECORD_BYTES, root=folder)
        except InputError as exc:
            result.problems.append(f"record {digest.path} cannot be checked: {str(exc).removeprefix(str(path) + ': ')}")
            continue
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest.sha256:
            result.problems.append(f"record {digest.path} has sha256 {actual[:16]}..., the certificate says {digest.sha256[:16]}...")
            continue
        result.covered[digest.path] = (digest.run_id, digest.sha256)


def record_names(folder: Path) -> list[str]:
    """The names of the run-record files in a site folder (as the record store finds them), sorted."""
    names = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return names
    for entry in entries:
        name = entry.name
        if name.endswith(".json") and name != CERTIFICATE_NAME and not name.startswith((".", "_")):
            names.append(name)
    return sorted(names)


def _grant(certificate: Certificate, folder: Path, result: Verification, keyring: Keyring) -> tuple[str, str]:
    """(tier granted, reason): the certificate's tier only when every condition in the module docstring holds."""
    if result.problems:
        return "uncertified", f"the certificate does not verify: {result.problems[0]}"
    sig = certificate.signature
    if sig is None:
        return "uncertified", f"the certificate is unsigned; only a certificate signed by a key in {keyring.path.name} grants a tier"
    entry = keyring.entry(sig.public_key)
    if entry is None:
        return "uncertified", f"signed by key {result.key_id}, which is not in the trusted keys ({keyring.path.name})"
    result.trusted_key = entry.id
    if certificate.site not in entry.sites:
        return "uncertified", (f"signed by trusted key {entry.id} ({result.key_id}), which may certify "
                               f"{', '.join(entry.sites[:5])}, not {certificate.site}")
    if certificate.site != folder.name:
        return "uncertified", f"the certificate names site {certificate.site} but lies in folder {folder.name}"
    if not certificate.standard_plan or certificate.plan.meets_standard():
        short = "; ".join(certificate.plan.meets_standard()) or "standard_plan is false"
        return "uncertified", f"not a standard certification ({short})"
    if not certificate.checks:
        return "uncertified", "the certificate records no checks"
    if not certificate.records:
        return "uncertified", "the certificate covers no run records"
    hardware = [c for c in certificate.checks if c.kind == "hardware-profile"]
    if not hardware or any(c.status != "pass" for c in hardware):
        return "uncertified", "no passing hardware-profile check: the machine was not shown to be its profile"
    site_failures = [c.id for c in certificate.checks if c.status == "fail" and c.boundary is None]
    if site_failures and certificate.tier != "uncertified":
        return "uncertified", f"site-wide check {site_failures[0]} failed, yet it claims tier {certificate.tier}"
    certified = set(certificate.certified_boundaries)
    for boundary in sorted(certified):
        on = [c for c in certificate.checks if c.boundary == boundary]
        if not any(c.status == "pass" for c in on):
            return "uncertified", f"certified boundary {boundary} has no passing check"
        failed = [c.id for c in on if c.status == "fail"]
        if failed:
            return "uncertified", f"certified boundary {boundary} has a failed check ({failed[0]})"
    supported = min((coverage_tier(kind, certified) for kind in ("gpu", "cpu")), key=tier_rank)
    if tier_rank(certificate.tier) < tier_rank(supported):
        return "uncertified", (f"it claims tier {certificate.tier}, but its certified boundaries "
                               f"({', '.join(sorted(certified)) or 'none'}) support at most {supported}")
    return certificate.tier, (f"signed by trusted key {entry.id} ({result.key_id}); covers "
                              f"{len(result.covered)} record(s) by sha256")


def verify_certificate(path: Path, trusted_public_key=None, keyring: Keyring | None = None,
                       root: Path | None = None) -> Verification:
    """Signature (where signed), every record's hash, the records it does not cover, and the tier it grants.

    Never raises on a mismatch; `keyring` defaults to the repository's trusted keys; with `root`, a
    certificate that is a link out of that folder is refused.
    """
    path = Path(path)
    if keyring is None:
        keyring = load_trusted_keys()
    try:
        certificate = load_certificate(path, root)
    except InputError as e:
        result = Verification(path, None, [str(e)])
        result.reason = "the certificate cannot be read"
        return result
    result = Verification(path, certificate)
    _check_signature(certificate, trusted_public_key, result)
    _check_records(certificate, path.parent, result)
    result.uncovered = [name for name in record_names(path.parent) if name not in {d.path for d in certificate.records}]
    result.granted, result.reason = _grant(certificate, path.parent, result, keyring)
    return result


def site_tiers(results_dir: Path, keyring: Keyring | None = None) -> dict[str, str]:
    """Each site folder under `results_dir` -> the tier its certificate grants ("A", "B", "C" or "uncertified").

    The tier a folder's certificate grants applies only to the records it
    covers; `joulebench.certify.trust.assess` gives each run its own.
    """
    tiers: dict[str, str] = {}
    root = Path(results_dir)
    if not root.is_dir():
        return tiers
    if keyring is None:
        keyring = load_trusted_keys()
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith((".", "_"))):
        path = folder / CERTIFICATE_NAME
        tier = "uncertified"
        if path.exists() or path.is_symlink():
            tier = verify_certificate(path, keyring=keyring, root=folder).granted
        tiers[folder.name] = tier
    return tiers
