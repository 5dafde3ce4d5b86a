"""The meters file (`--meters CONFIG`): validation with file+field errors, and credentials kept out of it."""

from __future__ import annotations

import os

import pytest
import yaml

from joulebench.errors import InputError
from joulebench.measure.meters.config import load_meters_config, open_configured_meters
from tests.doubles.fake_shelly import FakeShelly


def write(tmp_path, data, name="meters.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def shelly(url="http://127.0.0.1:9", **extra):
    return {"id": "wall", "kind": "shelly", "url": url, **extra}


def test_a_valid_file_loads_with_defaults(tmp_path):
    path = write(tmp_path, {"meters": [
        {"id": "bmc", "kind": "redfish", "url": "https://bmc.example/", "credentials": {"username": "mon", "password_env": "BMC_PW"}},
        shelly(role="cross-check", poll_period_s="0.5 s"),
    ]})
    config = load_meters_config(path)
    bmc, wall = config.meters
    assert bmc.url == "https://bmc.example" and bmc.boundary == "node" and bmc.source == "auto"
    assert wall.poll_period_s == 0.5 and wall.role == "cross-check"


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        (shelly(credentials={"password": "hunter2"}), "meters.0.shelly.credentials", "refused"),
        (shelly(url="http://admin:hunter2@10.0.0.5"), "meters.0.shelly.url", "user:password@"),
        (shelly(url="ftp://plug"), "meters.0.shelly.url", "http://"),
        (shelly(chassis="1"), "meters.0.shelly.chassis", "unknown field"),
        ({"id": "x", "kind": "zigbee", "url": "http://p"}, "meters.0", "redfish"),
        (shelly(poll_period_s="1 ms"), "meters.0.shelly.poll_period_s", "unit"),
        (shelly(credentials={"password_env": "A", "password_file": "f"}), "meters.0.shelly.credentials", "not both"),
    ],
)
def test_bad_entries_name_the_file_and_the_field(tmp_path, entry, field, message):
    path = write(tmp_path, {"meters": [entry]})
    with pytest.raises(InputError) as info:
        load_meters_config(path)
    text = str(info.value)
    assert str(path) in text and f"field '{field}'" in text and message in text
    assert "hunter2" not in text


def test_two_primary_meters_on_one_boundary_are_refused(tmp_path):
    path = write(tmp_path, {"meters": [shelly(), {**shelly(), "id": "wall2"}]})
    with pytest.raises(InputError, match="more than one primary meter for boundary"):
        load_meters_config(path)


def test_a_missing_environment_variable_names_the_file_and_field(tmp_path):
    path = write(tmp_path, {"meters": [shelly(credentials={"password_env": "JB_TEST_UNSET"})]})
    with pytest.raises(InputError, match=r"meters\.0\.credentials\.password_env: environment variable JB_TEST_UNSET is not set"):
        open_configured_meters(path, environ={})


def test_a_password_file_others_can_read_is_refused(tmp_path):
    secret = tmp_path / "plug.secret"
    secret.write_text("hunter2\n")
    os.chmod(secret, 0o644)
    path = write(tmp_path, {"meters": [shelly(credentials={"password_file": "plug.secret"})]})
    with pytest.raises(InputError, match="chmod 600"):
        open_configured_meters(path, environ={})


def test_configured_meters_open_with_a_password_from_the_environment_or_a_file(tmp_path):
    with FakeShelly(password="env-Pa55") as first, FakeShelly(password="file-Pa55") as second:
        secret = tmp_path / "second.secret"
        secret.write_text("file-Pa55\n")
        os.chmod(secret, 0o600)
        path = write(tmp_path, {"meters": [
            shelly(first.url, credentials={"password_env": "JB_PLUG_PW"}),
            {**shelly(second.url, credentials={"password_file": str(secret)}), "id": "wall2", "role": "cross-check"},
        ]})
        found = open_configured_meters(path, environ={"JB_PLUG_PW": "env-Pa55"})
        try:
            assert [m.id for m in found.meters] == ["shelly:wall"]
            assert [m.id for m in found.cross_checks] == ["shelly:wall2"]
            assert first.authorized_requests >= 1 and second.authorized_requests >= 1
            shown = " ".join(found.looked_for) + str([m.describe() for m in found.meters + found.cross_checks])
            assert "Pa55" not in shown
        finally:
            found.close()


def test_schema_command_knows_the_meters_and_certificate_formats(capsys):
    from joulebench.cli import main

    assert main(["schema", "meters"]) == 0
    assert "RedfishMeterConfig" in capsys.readouterr().out
    assert main(["schema", "certificate"]) == 0
    assert "CertificationCheck" in capsys.readouterr().out
