"""`joulebench certify`, `verify` and `keygen`: a site's certificate, its check, and the key that signs it."""

from __future__ import annotations

import sys
from pathlib import Path

from joulebench.certify.certificates import (
    VerificationError,
    generate_key,
    load_public_key,
    load_trusted_keys,
    trusted_key_entry,
    verify_certificate,
)
from joulebench.certify.checks import (
    CERTIFICATION_WORKLOADS,
    CertificationInputs,
    CertificationMeters,
    certify,
)
from joulebench.cli import output
from joulebench.cli.arguments import identifier, positive_int, positive_seconds
from joulebench.errors import InputError
from joulebench.formats import CertificationPlan


def _certify_command(args) -> int:
    import sys

    from rich.console import Console

    from joulebench import catalog
    from joulebench.certify.certificates import (
        certificate_path,
        load_private_key,
        sign_certificate,
        write_certificate,
    )
    from joulebench.measure.environment import fingerprint
    from joulebench.measure.hardware import check_against_profile, detect_hardware
    from joulebench.measure.loads import default_load
    from joulebench.measure.meter_set import open_meters
    from joulebench.measure.runner import run_workload
    from joulebench.measure.window import RunContext

    console = Console(stderr=True)
    private_key = load_private_key(Path(args.key)) if args.key else None  # fail before an hour of measuring
    profile = catalog.get_profile(args.profile)
    track, default_ids = CERTIFICATION_WORKLOADS[profile.kind]
    workload_ids = args.workload or list(default_ids)
    specs = catalog.select_workloads(args.track or track, workload_ids)
    plan = CertificationPlan(
        probe_s=args.probe_seconds,
        idle_s=args.idle_seconds,
        step_baseline_s=args.step_seconds / 2,
        step_load_s=args.step_seconds,
        repeats=args.repeats,
        workloads=[s.id for s in specs],
    )
    hardware = detect_hardware()
    # A certificate vouches for the profile: a machine materially smaller than it fails the hardware check.
    hardware_check = check_against_profile(hardware, profile, certified=True)

    meter_set = open_meters(meters_config=Path(args.meters) if args.meters else None, action="certify a site")
    device = "cuda" if profile.kind == "gpu" and hardware.gpus else "cpu"
    ctx = RunContext(
        profile=profile,
        site=args.site,
        out_dir=Path(args.out),
        meters=meter_set,
        hardware=hardware,
        hardware_check=hardware_check,
        environment=fingerprint(hardware.gpu_driver),
        device=device,
    )
    load = default_load(profile.kind if device == "cuda" else "cpu")
    inputs = CertificationInputs(
        profile=profile,
        site=args.site,
        hardware=hardware,
        hardware_check=hardware_check,
        meters=CertificationMeters(meter_set.primary, meter_set.cross_checks),
        load=load,
        load_boundary="gpu" if device == "cuda" else "cpu",
        workloads=specs,
        run_windows=lambda spec, repeats: run_workload(spec, ctx, repeats),
        results_dir=Path(args.out),
        plan=plan,
    )
    for meter in meter_set.all():
        meter.start()
    try:
        certificate = certify(inputs, say=lambda line: console.print(output.clean(line), style="dim", markup=False,
                                                                     highlight=False))
    finally:
        meter_set.close()
    if private_key is not None:
        certificate = sign_certificate(certificate, private_key)
    path = certificate_path(Path(args.out), args.site)
    write_certificate(path, certificate)
    for check in certificate.checks:
        colour = {"pass": "green", "fail": "red", "skip": "yellow", "info": "blue"}[check.status]
        value = "" if check.value is None else f"{check.value:.4g} {check.unit}"
        console.print(f"[{colour}]{check.status:4}[/] ", end="")
        console.print(output.clean(f"{check.id}: {value} {check.threshold and f'({check.threshold})'}"), markup=False,
                      highlight=False)
    for reason in certificate.tier_reasons:
        console.print(output.clean(f"  {reason}"), markup=False, highlight=False)
    console.print(f"tier [bold]{certificate.tier}[/] -> {output.clean(path)}")
    sys.stdout.write(output.clean(path) + "\n")
    return 0


def register(subparsers) -> None:
    register_keys(subparsers)
    p = subparsers.add_parser("certify", help="measure this site's meters and write a (signed) certificate")
    p.add_argument("--profile", required=True, help="the declared hardware profile id")
    p.add_argument("--site", required=True, type=identifier, help="your site's id (lowercase)")
    p.add_argument("--meters", default=None, metavar="CONFIG", help="YAML file declaring external meters (BMC, smart plug)")
    p.add_argument("--key", default=None, metavar="KEY", help="ed25519 private key (PEM) to sign with; see `joulebench keygen`")
    p.add_argument("--out", default="results", help="results folder (records and certificate go to OUT/SITE/)")
    p.add_argument("--track", default=None, help="track of the certification workloads (default: gpu-v1 or cpu-v1)")
    p.add_argument("--workload", action="append", metavar="ID", help="certification workload (repeatable; default: three per kind)")
    p.add_argument("--repeats", type=positive_int, default=3, help="windows per certification workload")
    p.add_argument("--idle-seconds", type=positive_seconds, default=30.0, help="idle stability window (the standard is >= 30 s)")
    p.add_argument("--probe-seconds", type=positive_seconds, default=5.0, help="how long each meter is probed")
    p.add_argument("--step-seconds", type=positive_seconds, default=20.0, help="how long the load step's load runs")
    p.set_defaults(handler=_certify_command)


def _verify_command(args) -> int:
    trusted = load_public_key(Path(args.public_key)) if args.public_key else None
    keyring = load_trusted_keys(Path(args.trusted_keys) if args.trusted_keys else None)
    result = verify_certificate(Path(args.certificate), trusted, keyring)
    cert = result.certificate
    clean = output.clean
    if cert is not None:
        signed = f"signed by key {result.key_id}" if result.signed else "unsigned"
        sys.stdout.write(clean(f"{args.certificate}: site {cert.site}, profile {cert.profile_id}, claims tier {cert.tier}, "
                               f"covers {len(cert.records)} record(s), {signed}") + "\n")
        sys.stdout.write(clean(f"granted: {'tier ' + result.granted if result.granted != 'uncertified' else 'uncertified'} "
                               f"({result.reason}; trusted keys: {keyring.path})") + "\n")
    problems = list(result.problems)
    if result.uncovered:
        shown = ", ".join(result.uncovered[:20]) + (", ..." if len(result.uncovered) > 20 else "")
        sys.stdout.write(clean(f"not covered: {len(result.uncovered)} record file(s) in the folder, which count as "
                               f"uncertified: {shown}") + "\n")
        problems.append(f"{len(result.uncovered)} record file(s) in the folder are not covered by the certificate "
                        f"(added after signing?): {shown}")
    if cert is not None and result.granted != cert.tier and not result.problems:
        problems.append(f"it claims tier {cert.tier}, but grants {result.granted}: {result.reason}")
    if problems:
        raise VerificationError("verification failed:\n" + "\n".join(f"  - {p}" for p in problems[:20]))
    sys.stdout.write("OK: signature, trusted key and record hashes match; every record in the folder is covered\n"
                     if result.signed else "OK: record hashes match (no signature)\n")
    return 0


def _keygen_command(args) -> int:
    if args.out.endswith(("/", "\\")) or args.out in ("", ".", ".."):
        raise InputError(f"--out {args.out}: expected the path of a key file to create, not a folder")
    private, public = generate_key(Path(args.out))
    sys.stdout.write(output.clean(f"private key: {private} (keep it private)\npublic key:  {public} (publish it)") + "\n")
    if args.site:
        from joulebench.certify.certificates import load_private_key

        entry = trusted_key_entry(load_private_key(private).public_key(), args.site, args.site)
        sys.stdout.write("For its certificates to grant a tier, propose this entry for trusted-keys.yaml (reviewed like code):\n"
                         + entry)
    return 0


def register_keys(subparsers) -> None:
    v = subparsers.add_parser("verify", help="check a certificate's signature and its run records' hashes")
    v.add_argument("certificate", help="path to a certificate.json")
    v.add_argument("--public-key", default=None, metavar="PEM", help="require the signature to be by this key")
    v.add_argument("--trusted-keys", default=None, metavar="FILE",
                   help="the keys whose certificates grant tiers (default: the repository's trusted-keys.yaml)")
    v.set_defaults(handler=_verify_command)

    k = subparsers.add_parser("keygen", help="make an ed25519 key pair for signing certificates")
    k.add_argument("--out", required=True, metavar="KEY", help="private key path (its folder must exist); the public key goes to KEY.pub")
    k.add_argument("--site", type=identifier, default=None, help="print the trusted-keys.yaml entry for this site")
    k.set_defaults(handler=_keygen_command)
