"""deploy/docker-compose.yml kept true: every Aisle service's command is one the current `aisle`
binary accepts (its subcommand and flags parse; `--help` is appended so nothing runs), and the
services that scale out (`--scale greenlight=N`, `--scale forecast=N`) give each member its own
stable instance id. Needs no Docker engine: the file is read, the binary is run."""

import os
import pathlib
import shlex
import subprocess

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
AISLE = os.environ.get("AISLE_BIN", str(ROOT / "target" / "debug" / "aisle"))
COMPOSE = ROOT / "deploy" / "docker-compose.yml"


def aisle_services():
    doc = yaml.safe_load(COMPOSE.read_text())
    for name, svc in doc["services"].items():
        if svc.get("image") != "aisle":
            continue
        entry = svc.get("entrypoint")
        if entry:
            # ["sh", "-c", "exec aisle ..."]: the shell line, `$$` being compose's `$`.
            assert entry[:2] == ["sh", "-c"], (name, entry)
            words = shlex.split(entry[2].replace("$$HOSTNAME", "host-1"))
            assert words[:2] == ["exec", "aisle"], (name, words)
            yield name, words[2:]
        else:
            yield name, list(svc["command"])


def test_every_aisle_service_command_parses():
    services = dict(aisle_services())
    for want in ["registry", "topics", "connect-inventory", "camera", "greenlight", "replay",
                 "forecast", "serve"]:
        assert want in services, f"{COMPOSE}: no `{want}` service"
    for name, args in services.items():
        out = subprocess.run([AISLE, *args, "--help"], capture_output=True, text=True)
        assert out.returncode == 0, f"service {name}: `aisle {' '.join(args)}`: {out.stderr}"


def test_scaled_services_have_an_instance_id_each():
    services = dict(aisle_services())
    for name in ["greenlight", "forecast"]:
        assert "--instance-id" in services[name], (name, services[name])
