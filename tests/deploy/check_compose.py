#!/usr/bin/env python3
"""Checks compose.yaml without a Docker engine.

1. Debian's docker-compose validates the file and resolves it (`docker-compose config`).
2. Every long-running payorch service's binary is run with `--check-config` and exactly the
   environment compose gives it: a setting compose passes that the binary rejects (a typo in a
   variable name, a bad value) fails here instead of in production.
3. The postgres service reads deploy/postgresql.conf (the file the benchmarks run with), and
   every setting in it is one this PostgreSQL knows (`postgres --describe-config`): a misspelt
   setting would stop the production server from starting.

Usage: check_compose.py REPO_DIR BIN_DIR
"""
import glob
import os
import re
import subprocess
import sys

import yaml

# Services whose container runs a long-lived payorch binary that supports --check-config.
# `migrate` is a one-shot `payorch-admin migrate`; its only setting is the database URL, which
# the ingress and workers check too.
LONG_RUNNING = {"payorch-ingress", "payorch-worker", "payorch-sandbox-gateway"}


def bind_mounts(service):
    """(container path, host path) of each file or folder bind-mounted from the host, in either
    form docker-compose resolves to: "HOST:CONTAINER[:MODE]" or a mapping."""
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                yield volume["target"], volume["source"]
            continue
        parts = str(volume).split(":")
        if len(parts) >= 2 and parts[0].startswith("/"):
            yield parts[1], parts[0]


def check_postgres(repo, service):
    """Failures of check 3 (see the module's docstring)."""
    command = service.get("command") or []
    config_file = next((arg.split("=", 1)[1] for arg in command
                        if str(arg).startswith("config_file=")), None)
    if config_file is None:
        return ["postgres: no -c config_file=... in its command"]
    expected = os.path.realpath(os.path.join(repo, "deploy", "postgresql.conf"))
    mounted = dict(bind_mounts(service)).get(config_file)
    if mounted is None or os.path.realpath(mounted) != expected:
        return [f"postgres: {config_file} is not bind-mounted from deploy/postgresql.conf"]
    servers = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not servers:
        return ["postgres: no PostgreSQL server binary to check deploy/postgresql.conf with"]
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    described = subprocess.run([*run_as, servers[-1], "--describe-config"], capture_output=True,
                               text=True, timeout=30, check=True)
    known = {line.split("\t", 1)[0] for line in described.stdout.splitlines()}
    failures, settings = [], 0
    with open(expected, encoding="utf-8") as conf:
        for number, line in enumerate(conf, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            match = re.fullmatch(r"([a-z_.]+)\s*=\s*\S.*", line)
            if not match:
                failures.append(f"deploy/postgresql.conf:{number}: not `name = value`: {line}")
            elif match.group(1) not in known:
                failures.append(f"deploy/postgresql.conf:{number}: unknown setting {match.group(1)}")
            settings += 1
    print(f"postgres: deploy/postgresql.conf, {settings} settings: "
          f"{'ok' if not failures else 'FAILED'}")
    return failures


def main() -> int:
    repo, bin_dir = sys.argv[1], sys.argv[2]
    resolved = subprocess.run(
        ["docker-compose", "--project-directory", repo, "-f", os.path.join(repo, "compose.yaml"),
         "config"],
        capture_output=True, text=True, check=False)
    if resolved.returncode != 0:
        print("docker-compose config failed:\n" + resolved.stderr)
        return 1
    config = yaml.safe_load(resolved.stdout)
    checked, failures = 0, []
    failures += check_postgres(repo, config["services"]["postgres"])
    for name, service in sorted(config["services"].items()):
        command = service.get("command") or []
        if not command or command[0] not in LONG_RUNNING:
            continue
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        # Only what compose sets, plus PATH: nothing from this machine may leak in. A setting
        # that names a file bind-mounted from the repository (the workers' adapters file) is
        # pointed at that file here, so the binary validates the file the container will read.
        mounts = dict(bind_mounts(service))
        env = {"PATH": "/usr/bin:/bin"}
        env.update({key: mounts.get(str(value), str(value)) for key, value in environment.items()})
        run = subprocess.run([os.path.join(bin_dir, command[0]), *command[1:], "--check-config"],
                             env=env, capture_output=True, text=True, timeout=30, check=False)
        checked += 1
        status = "ok" if run.returncode == 0 else f"exit {run.returncode}"
        print(f"{name}: {command[0]} --check-config: {status}")
        if run.returncode != 0:
            failures.append(f"{name}: {run.stdout}{run.stderr}")
    if checked != len(LONG_RUNNING):
        failures.append(f"expected {len(LONG_RUNNING)} long-running services, checked {checked}")
    for failure in failures:
        print("FAILED " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
