"""The deployment files (Dockerfile, .dockerignore, docker-compose.yml), checked against the project.

No Docker engine is needed: `docker-compose config` validates and resolves the compose file, and
every command the containers run is looked up in the project itself (management commands, the
Celery app and its tasks, the WSGI application). The settings' production fail-fast checks are run
here too, because the compose file relies on them to stop a misconfigured deployment at start.
"""

import base64
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# PyYAML comes with drf-spectacular, a runtime dependency.
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

PROJECT_SERVICES = {"migrate", "web", "worker", "beat"}
ALL_SERVICES = {"postgres", "redis"} | PROJECT_SERVICES
ONE_SHOT_SERVICES = {"migrate"}

# Values that pass the production checks; used as the "rest valid" around each misconfiguration.
FERNET_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
VALID_PRODUCTION_ENV = {
    "DCP_ENV": "production",
    "SECRET_KEY": "k" * 40,
    "DCP_ENCRYPTION_KEY": FERNET_KEY,
    "DATABASE_URL": "postgres://dcp:dcp@127.0.0.1:5432/dcp",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/13",
    "ALLOWED_HOSTS": "dcp.example.com",
}
COMPOSE_SECRETS = {"SECRET_KEY": "compose-config-check-" + "s" * 40, "DCP_ENCRYPTION_KEY": FERNET_KEY}

SETUP_DJANGO = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'dcp.settings'; django.setup()"


def base_env() -> dict[str, str]:
    """A clean environment for subprocesses: the test run's own DCP variables must not leak in."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    return env


def run_compose_config(tmp_path: Path, variables: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `docker-compose config` on the project's compose file with exactly these variables."""
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail(
            "docker-compose is not installed; it validates docker-compose.yml without a Docker engine: "
            "apt-get install docker-compose"
        )
    # An empty env file, so a developer's .env (which may hold the secrets) does not change the result.
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    return subprocess.run(
        [compose, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config"],
        cwd=ROOT,
        env={**base_env(), **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_settings(tmp_path: Path, variables: dict[str, str], then: str = "") -> subprocess.CompletedProcess:
    """Load DCP's settings in a fresh interpreter with exactly these variables and a private data dir.

    ``then`` is Python run after the settings loaded (e.g. to print one of them).
    """
    data_dir = tmp_path / "data"
    return subprocess.run(
        [sys.executable, "-c", f"{SETUP_DJANGO}; {then}" if then else SETUP_DJANGO],
        cwd=ROOT,
        env={**base_env(), "DCP_DATA_DIR": str(data_dir), **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )


def error_line(stderr: str) -> str:
    """The exception line that ends a traceback (the source lines above it name variables too)."""
    lines = stderr.strip().splitlines()
    return lines[-1] if lines else ""


def parse_dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    """The variables that a list of ENV instructions leaves set."""
    env = {}
    for keyword, arguments in instructions:
        if keyword != "ENV":
            continue
        words = shlex.split(arguments)
        if "=" not in words[0]:
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            name, _, value = word.partition("=")
            env[name] = value
    return env


def dockerfile_cmd(instructions: list[tuple[str, str]], keyword: str = "CMD") -> list[str] | None:
    """The last CMD (or ENTRYPOINT) in exec form, or None when there is none."""
    found = [arguments for name, arguments in instructions if name == keyword]
    if not found:
        return None
    return json.loads(found[-1])


def healthcheck_argv(service: dict) -> list[str]:
    """The command a service's healthcheck runs, as argv."""
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if test[0] == "CMD-SHELL":
        # `docker-compose config` prints `$` escaped as `$$`; the shell inside the container sees one.
        return shlex.split(test[1].replace("$$", "$"))
    assert test[0] == "CMD", f"unexpected healthcheck form {test!r}"
    return list(test[1:])


def service_argv(service: dict) -> list[str]:
    """The command a service runs: its own, or the image's CMD."""
    command = service.get("command")
    if command is None:
        command = dockerfile_cmd(parse_dockerfile())
    if isinstance(command, str):
        command = shlex.split(command)
    return list(command)


def option_value(argv: list[str], *names: str) -> str | None:
    """The value given to a command-line option (`--opt value` or `--opt=value`), or None."""
    for index, word in enumerate(argv):
        for name in names:
            if word == name and index + 1 < len(argv):
                return argv[index + 1]
            if word.startswith(name + "=") and name.startswith("--"):
                return word.split("=", 1)[1]
    return None


def positional(argv: list[str], options_with_values: set[str]) -> list[str]:
    """Arguments that are not options nor option values."""
    found, skip = [], False
    for word in argv:
        if skip:
            skip = False
            continue
        if word in options_with_values:
            skip = True
            continue
        if word.startswith("-"):
            continue
        found.append(word)
    return found


def check_project_command(argv: list[str]) -> None:
    """Fail unless argv runs something that exists in the project: a management command, the Celery
    app with a real Celery subcommand, gunicorn on an importable WSGI application, or Python code
    that compiles."""
    assert argv, "empty command"
    program = argv[0]
    if program in {"python", "python3"} and argv[1:2] == ["-c"]:
        compile(argv[2], "<healthcheck>", "exec")
    elif program in {"python", "python3"}:
        from django.core.management import get_commands

        script = argv[1]
        assert script == "manage.py", f"{argv!r}: only manage.py is run with python"
        assert (ROOT / script).is_file(), f"{script} is missing from the project"
        subcommand = argv[2]
        assert subcommand in get_commands(), f"{argv!r}: {subcommand!r} is not a Django management command"
    elif program == "celery":
        from celery.app.utils import find_app
        from celery.bin.celery import celery as celery_cli

        import dcp.celery

        app_name = option_value(argv, "-A", "--app")
        assert app_name == "dcp", f"{argv!r}: celery must be given -A dcp"
        # Celery resolves -A exactly like this; it must land on the project's app.
        assert find_app(app_name) is dcp.celery.app
        words = positional(argv[1:], {"-A", "--app", "-b", "--broker", "--workdir"})
        assert words, f"{argv!r}: no celery subcommand"
        assert words[0] in celery_cli.commands, f"{argv!r}: {words[0]!r} is not a celery subcommand"
    elif program == "gunicorn":
        words = positional(argv[1:], {"--bind", "-b", "--workers", "-w", "--access-logfile", "--error-logfile"})
        assert len(words) == 1, f"{argv!r}: expected one WSGI application"
        module_name, _, attribute = words[0].partition(":")
        application = getattr(importlib.import_module(module_name), attribute or "application")
        assert callable(application), f"{words[0]} is not a WSGI callable"
    else:
        pytest.fail(f"{argv!r}: unknown program {program!r}; teach this test how to check it")


@pytest.fixture(scope="module")
def compose(tmp_path_factory) -> dict:
    """docker-compose.yml as docker-compose resolves it, with dummy secrets given."""
    result = run_compose_config(tmp_path_factory.mktemp("compose"), COMPOSE_SECRETS)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    config = yaml.safe_load(result.stdout)
    assert isinstance(config, dict) and isinstance(config.get("services"), dict), result.stdout
    return config


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions."""
    assert DOCKERFILE.is_file(), "Dockerfile is missing"
    return parse_dockerfile()


# docker-compose.yml


def test_compose_defines_every_service(compose):
    """The compose file validates and runs PostgreSQL, Redis, migrations, web, worker and beat."""
    missing = ALL_SERVICES - set(compose["services"])
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(ALL_SERVICES - ONE_SHOT_SERVICES))
def test_long_running_service_has_healthcheck(compose, name):
    """Every long-running service reports its health, so dependants and operators can wait on it."""
    service = compose["services"][name]
    healthcheck = service.get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
    assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}, f"{name}: healthcheck test {healthcheck['test']!r}"


def test_project_services_share_image_and_environment(compose):
    """migrate, web, worker and beat run one image built here, with one production environment."""
    services = compose["services"]
    images = {services[name].get("image") for name in PROJECT_SERVICES}
    assert len(images) == 1, f"project services use different images: {images}"
    for name in PROJECT_SERVICES:
        build = services[name].get("build")
        assert build, f"{name} does not build the project image"
        context = build if isinstance(build, str) else build["context"]
        assert Path(context).resolve() == ROOT, f"{name} builds from {context}"
    reference = services["migrate"]["environment"]
    for name in PROJECT_SERVICES:
        environment = services[name]["environment"]
        different = {key for key in reference if environment.get(key) != reference[key]}
        assert not different, f"{name} differs from migrate in {sorted(different)}"

    assert reference["DCP_ENV"] == "production"
    assert reference["DATABASE_URL"].startswith("postgres://") and "@postgres:" in reference["DATABASE_URL"]
    assert reference["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert reference["SECRET_KEY"] == COMPOSE_SECRETS["SECRET_KEY"]
    assert reference["DCP_ENCRYPTION_KEY"] == COMPOSE_SECRETS["DCP_ENCRYPTION_KEY"]
    assert "DCP_SECURE_COOKIES" in reference
    hosts = [host.strip() for host in reference["ALLOWED_HOSTS"].split(",")]
    assert "localhost" in hosts, "health checks send Host: localhost, so ALLOWED_HOSTS must include it"


def test_project_environment_passes_production_checks(compose, tmp_path):
    """The environment compose gives the containers is one the production settings accept."""
    environment = {key: str(value) for key, value in compose["services"]["web"]["environment"].items()}
    result = run_settings(tmp_path, environment)
    assert result.returncode == 0, result.stderr


def test_compose_passes_host_and_cookie_settings(tmp_path):
    """ALLOWED_HOSTS given to compose is added to localhost, and DCP_SECURE_COOKIES is passed through."""
    result = run_compose_config(
        tmp_path, {**COMPOSE_SECRETS, "ALLOWED_HOSTS": "dcp.example.com", "DCP_SECURE_COOKIES": "false"}
    )
    assert result.returncode == 0, result.stderr
    environment = yaml.safe_load(result.stdout)["services"]["web"]["environment"]
    hosts = [host.strip() for host in environment["ALLOWED_HOSTS"].split(",")]
    assert {"localhost", "dcp.example.com"} <= set(hosts)
    assert environment["DCP_SECURE_COOKIES"] == "false"


def test_services_start_in_order(compose):
    """Migrations wait for a healthy database; the rest wait for migrations to succeed and a healthy broker."""
    services = compose["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert str(services["migrate"].get("restart", "no")) == "no", "migrate is one-shot and must not restart"
    for name in PROJECT_SERVICES - ONE_SHOT_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
        assert depends_on["redis"]["condition"] == "service_healthy", name


def test_web_publishes_port_8000(compose):
    """The web server is reachable on port 8000 of the host."""
    ports = compose["services"]["web"].get("ports", [])
    targets = {str(port["target"]) if isinstance(port, dict) else str(port).rsplit(":", 1)[-1] for port in ports}
    assert "8000" in targets, ports


def test_postgres_data_on_named_volume(compose):
    """PostgreSQL keeps its data in a named volume, so recreating the container keeps the database."""
    volumes = compose["services"]["postgres"].get("volumes", [])
    named = set(compose.get("volumes") or {})
    sources = {
        (volume["source"], volume["target"]) if isinstance(volume, dict) else tuple(volume.split(":")[:2])
        for volume in volumes
    }
    assert any(source in named and target == "/var/lib/postgresql/data" for source, target in sources), volumes


@pytest.mark.parametrize(
    ("missing", "other"), [("SECRET_KEY", "DCP_ENCRYPTION_KEY"), ("DCP_ENCRYPTION_KEY", "SECRET_KEY")]
)
def test_compose_refuses_to_run_without_secret(tmp_path, missing, other):
    """Without a secret, compose stops with a message naming it and a command that makes a valid one."""
    result = run_compose_config(tmp_path, {other: COMPOSE_SECRETS[other]})
    assert result.returncode != 0, f"docker-compose config accepted a missing {missing}"
    # docker-compose 1.29 echoes the raw ${VAR:?message} templates beside the error; drop them so
    # only the message that was actually raised is left.
    message = re.sub(r"\$\{[^}]*\}", "", result.stderr)
    assert f"set {missing} to" in message, result.stderr
    assert f"set {other} to" not in message, result.stderr

    recipe = re.search(r"python3 -c '([^']*)'", message)
    assert recipe, f"the message for {missing} does not say how to make one: {result.stderr}"
    made = subprocess.run(
        [sys.executable, "-c", recipe.group(1)], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    accepted = run_settings(tmp_path, {**VALID_PRODUCTION_ENV, missing: made})
    assert accepted.returncode == 0, f"the recipe for {missing} makes a value settings refuse:\n{accepted.stderr}"


@pytest.mark.parametrize("name", sorted(PROJECT_SERVICES))
def test_service_command_exists_in_project(compose, name):
    """Each project service runs a command that exists: a management command, a Celery subcommand, the WSGI app."""
    check_project_command(service_argv(compose["services"][name]))


@pytest.mark.parametrize("name", sorted(PROJECT_SERVICES - ONE_SHOT_SERVICES))
def test_healthcheck_command_exists_in_project(compose, name):
    """Each project service's healthcheck runs a real command (or Python code that compiles)."""
    check_project_command(healthcheck_argv(compose["services"][name]))


def test_web_healthcheck_calls_healthz(compose):
    """The web healthcheck requests /healthz on the port gunicorn binds, and that URL is the health view."""
    from django.urls import resolve

    from apps.core.health import healthz

    web = compose["services"]["web"]
    code = healthcheck_argv(web)[-1]
    url = re.search(r"http://localhost:(\d+)(/[^'\"]*)", code)
    assert url, f"web healthcheck does not call http://localhost: {code}"
    bind = option_value(service_argv(web), "--bind", "-b")
    assert bind and bind.rsplit(":", 1)[-1] == url.group(1), f"gunicorn binds {bind}, healthcheck calls {url.group(0)}"
    assert resolve(url.group(2)).func is healthz


def routed_queues() -> set[str]:
    """The default queue and every queue a task is routed to: what DCP's workers must consume, together."""
    from django.conf import settings

    return {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {settings.CELERY_TASK_DEFAULT_QUEUE}


def plain_worker_queues() -> set[str]:
    """The queues `celery -A dcp worker` consumes when it is given no --queues."""
    from dcp.celery import app

    return set(app.amqp.queues.consume_from)


def test_plain_worker_consumes_every_routed_queue():
    """A worker started the ordinary Celery way, without --queues, consumes every queue DCP sends to."""
    missing = routed_queues() - plain_worker_queues()
    assert not missing, f"`celery -A dcp worker` does not consume {sorted(missing)}"


def test_worker_consumes_every_routed_queue(compose):
    """The compose worker listens on the default queue and every queue a task is routed to, and pings itself only."""
    worker = compose["services"]["worker"]
    given = option_value(service_argv(worker), "--queues", "-Q")
    queues = set(given.split(",")) if given else plain_worker_queues()
    needed = routed_queues()
    assert needed <= queues, f"no worker consumes {sorted(needed - queues)}"

    ping = healthcheck_argv(worker)
    assert "inspect" in ping and "ping" in ping
    assert option_value(ping, "--destination", "-d") == "celery@$HOSTNAME"


def test_beat_schedule_is_writable_and_checked(compose, dockerfile):
    """Beat keeps its schedule in the image's data directory, and its healthcheck watches that file."""
    beat = compose["services"]["beat"]
    schedule = option_value(service_argv(beat), "--schedule", "-s")
    assert schedule, "beat is not given --schedule"
    data_dir = dockerfile_env(dockerfile)["DCP_DATA_DIR"]
    assert str(Path(schedule).parent) == data_dir, f"{schedule} is not in the image's data dir {data_dir}"
    user = [args for keyword, args in dockerfile if keyword == "USER"][-1].split(":")[0]
    owned = [
        args
        for keyword, args in dockerfile
        if keyword == "RUN" and data_dir in args and (f"-o {user}" in args or f"chown {user}" in args)
    ]
    assert owned, f"the Dockerfile does not give {data_dir} to {user}, the user beat runs as"
    assert schedule in healthcheck_argv(beat)[-1], "beat's healthcheck does not look at its schedule file"


def test_routed_and_scheduled_tasks_are_registered():
    """Every task beat sends and every routed task name is a task the worker knows."""
    from django.conf import settings

    from dcp.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled, "CELERY_BEAT_SCHEDULE is empty"
    unknown = (scheduled | set(settings.CELERY_TASK_ROUTES)) - set(app.tasks)
    assert not unknown, f"tasks not registered on the Celery app: {sorted(unknown)}"


# Dockerfile and .dockerignore


def test_dockerfile_base_and_user(dockerfile):
    """The image is built on python:3.11-slim-bookworm and runs as a non-root user it creates."""
    bases = [args for keyword, args in dockerfile if keyword == "FROM"]
    assert bases == ["python:3.11-slim-bookworm"], bases
    users = [(index, args) for index, (keyword, args) in enumerate(dockerfile) if keyword == "USER"]
    assert users, "the Dockerfile never switches away from root"
    index, user = users[-1]
    assert user.split(":")[0] not in {"root", "0"}, f"the image runs as {user}"
    assert any(keyword == "RUN" and "useradd" in args and user in args for keyword, args in dockerfile[:index])
    cmd_index = next(i for i, (keyword, _) in enumerate(dockerfile) if keyword == "CMD")
    assert index < cmd_index


def test_dockerfile_installs_runtime_requirements_only(dockerfile):
    """Only requirements.txt is installed: test and lint tools stay out of the image."""
    runs = [args for keyword, args in dockerfile if keyword == "RUN"]
    assert any("pip install" in args and "-r requirements.txt" in args for args in runs), runs
    assert "requirements-dev" not in DOCKERFILE.read_text()


def test_emulators_stay_out_of_the_product():
    """The emulated clouds are equipment: moto is no runtime requirement, the image leaves them out,
    and product code reaches them only from the demo commands, which work without them."""
    requirements = (ROOT / "requirements.txt").read_text()
    assert "moto" not in requirements
    assert "moto" in (ROOT / "requirements-emulators.txt").read_text()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "emulators" in ignored
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "apps").rglob("*.py")
        if re.search(r"^\s*(from|import) emulators", path.read_text(), re.M)
    )
    assert importers == [
        "apps/core/management/commands/serve.py",
        "apps/inventory/management/commands/demo.py",
    ], importers


def test_dockerfile_references_existing_files(dockerfile):
    """Everything the Dockerfile copies or runs by name exists in the project."""
    for keyword, args in dockerfile:
        if keyword in {"COPY", "ADD"}:
            words = [word for word in shlex.split(args) if not word.startswith("--")]
            for source in words[:-1]:
                assert (ROOT / source).exists(), f"{keyword} {source}: not in the project"
        if keyword == "RUN":
            for name in re.findall(r"-r\s+(\S+)|python\s+(\S+\.py)", args):
                path = next(part for part in name if part)
                assert (ROOT / path).is_file(), f"RUN uses {path}, which is not in the project"


def test_dockerfile_cmd_runs_gunicorn(dockerfile, compose):
    """The default command serves dcp.wsgi:application with gunicorn on 0.0.0.0:8000, like compose's web."""
    cmd = dockerfile_cmd(dockerfile)
    assert cmd, "the Dockerfile has no exec-form CMD"
    assert cmd[0] == "gunicorn" and "dcp.wsgi:application" in cmd
    assert option_value(cmd, "--bind", "-b") == "0.0.0.0:8000"
    check_project_command(cmd)
    entrypoint = dockerfile_cmd(dockerfile, "ENTRYPOINT")
    if entrypoint is not None:
        check_project_command(entrypoint)
    assert service_argv(compose["services"]["web"]) == cmd


def test_build_context_excludes_local_state(dockerfile):
    """Neither the virtualenv nor the embedded data directory (with its secrets) gets into the image."""
    for keyword, args in dockerfile:
        if keyword in {"COPY", "ADD"}:
            sources = [os.path.normpath(word) for word in shlex.split(args)[:-1] if not word.startswith("--")]
            assert not {".venv", "var"} & set(sources), f"{keyword} {args}"
    assert DOCKERIGNORE.is_file(), ".dockerignore is missing, so COPY . would copy .venv and var"
    patterns = {
        line.strip().strip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    missing = {".venv", "var", ".git", ".env"} - patterns
    assert not missing, f".dockerignore does not exclude {sorted(missing)}"


def test_dockerfile_collectstatic_step_works(dockerfile, tmp_path):
    """The build's collectstatic step succeeds in the environment the Dockerfile gives it, and cleans up."""
    index, step = next(
        (index, args)
        for index, (keyword, args) in enumerate(dockerfile)
        if keyword == "RUN" and "collectstatic" in args
    )
    command = step.split("&&")[0]
    words = shlex.split(command)
    inline = dict(word.split("=", 1) for word in words if re.fullmatch(r"[A-Z_]+=.*", word))
    assert words[len(inline) :][:3] == ["python", "manage.py", "collectstatic"], command
    assert "--noinput" in words

    build_env = {**dockerfile_env(dockerfile[:index]), **inline}
    assert build_env.get("DCP_ENV", "embedded") == "embedded", "collectstatic must not need production secrets"
    build_data_dir = build_env["DCP_DATA_DIR"]
    assert f"rm -rf {build_data_dir}" in step, f"{build_data_dir} is left in the image"
    final_env = dockerfile_env(dockerfile)
    assert final_env["DCP_STATIC_ROOT"] == build_env["DCP_STATIC_ROOT"], "static files are collected elsewhere"
    assert final_env["DCP_ENV"] == "production"

    # The same step, with the image's directories moved under tmp_path.
    build_env["DCP_DATA_DIR"] = str(tmp_path / "build")
    build_env["DCP_STATIC_ROOT"] = str(tmp_path / "static")
    result = subprocess.run(
        [sys.executable, *words[len(inline) + 1 :]],
        cwd=ROOT,
        env={**base_env(), **build_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert any((tmp_path / "static").rglob("*.css")), "collectstatic collected no static files"


# Production settings fail fast, naming the variable.


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        pytest.param({"DCP_ENV": "production"}, "SECRET_KEY", id="nothing-set"),
        pytest.param({"SECRET_KEY": "short"}, "SECRET_KEY", id="secret-key-too-short"),
        pytest.param({"DCP_ENCRYPTION_KEY": "not-a-key"}, "DCP_ENCRYPTION_KEY", id="encryption-key-invalid"),
        pytest.param({"DCP_ENCRYPTION_KEY": ""}, "DCP_ENCRYPTION_KEY", id="encryption-key-missing"),
        pytest.param({"DATABASE_URL": "mysql://x"}, "DATABASE_URL", id="database-url-mysql"),
        pytest.param({"DATABASE_URL": ""}, "DATABASE_URL", id="database-url-missing"),
        pytest.param({"CELERY_BROKER_URL": "nope"}, "CELERY_BROKER_URL", id="broker-url-nope"),
        pytest.param({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS", id="allowed-hosts-missing"),
        pytest.param({"DCP_DEBUG": "maybe"}, "DCP_DEBUG", id="debug-maybe"),
        pytest.param({"DCP_ENV": "prod"}, "DCP_ENV", id="dcp-env-typo"),
        pytest.param({"DCP_PROBE_INTERVAL": "fast"}, "DCP_PROBE_INTERVAL", id="probe-interval-not-a-number"),
        pytest.param({"DCP_PROBE_INTERVAL": "-1"}, "DCP_PROBE_INTERVAL", id="probe-interval-negative"),
        pytest.param({"DCP_PROBE_RATE_SHARE": "inf"}, "DCP_PROBE_RATE_SHARE", id="probe-share-infinite"),
        pytest.param({"DCP_PROBE_RATE_SHARE": "nan"}, "DCP_PROBE_RATE_SHARE", id="probe-share-nan"),
        pytest.param({"DCP_AUTH_RATE": "lots"}, "DCP_AUTH_RATE", id="auth-rate-not-a-rate"),
        pytest.param({"DCP_AUTH_RATE": "30/week"}, "DCP_AUTH_RATE", id="auth-rate-unknown-period"),
        pytest.param({"DCP_TRUSTED_PROXIES": "-1"}, "DCP_TRUSTED_PROXIES", id="trusted-proxies-negative"),
        pytest.param({"DCP_LOGIN_LOCKOUT_FAILURES": "0"}, "DCP_LOGIN_LOCKOUT_FAILURES", id="lockout-failures-zero"),
        pytest.param({"DCP_LOGIN_LOCKOUT_SECONDS": "soon"}, "DCP_LOGIN_LOCKOUT_SECONDS", id="lockout-seconds-nan"),
        pytest.param({"DCP_CURRENCY": "usd$"}, "DCP_CURRENCY", id="currency-not-iso-4217"),
        pytest.param({"DCP_CURRENCY": "XYZ"}, "DCP_CURRENCY", id="currency-unknown"),
        pytest.param({"DCP_TIME_ZONE": "Mars/Olympus_Mons"}, "DCP_TIME_ZONE", id="time-zone-unknown"),
        pytest.param({"DCP_TIME_ZONE": "../etc/passwd"}, "DCP_TIME_ZONE", id="time-zone-path"),
        pytest.param({"DCP_METRICS_TOKEN": "short"}, "DCP_METRICS_TOKEN", id="metrics-token-too-short"),
        pytest.param({"DCP_LOG_FORMAT": "xml"}, "DCP_LOG_FORMAT", id="log-format-unknown"),
        pytest.param({"DCP_LANGUAGE": "fr"}, "DCP_LANGUAGE", id="language-not-spoken"),
    ],
)
def test_production_settings_fail_fast(tmp_path, variables, named):
    """Each misconfiguration stops the settings at import with a message naming the variable."""
    if variables == {"DCP_ENV": "production"}:
        environment = dict(variables)
    else:
        environment = {**VALID_PRODUCTION_ENV, **variables}
    environment = {key: value for key, value in environment.items() if value is not None}
    result = run_settings(tmp_path, environment)
    assert result.returncode != 0, f"settings accepted {variables}"
    line = error_line(result.stderr)
    assert line.startswith("django.core.exceptions.ImproperlyConfigured:"), result.stderr
    assert named in line, result.stderr
    # Production never falls back to generating a secret of its own.
    assert not (tmp_path / "data" / "secret_key").exists()
    assert not (tmp_path / "data" / "encryption_key").exists()


def test_production_settings_hide_url_password(tmp_path):
    """A rejected DATABASE_URL is named in the error without the password inside it."""
    result = run_settings(tmp_path, {**VALID_PRODUCTION_ENV, "DATABASE_URL": "mysql://dcp:hunter2-secret@db/dcp"})
    assert result.returncode != 0
    assert "DATABASE_URL" in error_line(result.stderr)
    assert "hunter2-secret" not in result.stderr


def test_production_settings_accept_valid_environment(tmp_path):
    """With every production variable valid, the settings load and generate no local secrets."""
    result = run_settings(tmp_path, VALID_PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "data" / "secret_key").exists()
    assert not (tmp_path / "data" / "encryption_key").exists()
