"""Deployment files stay correct without Docker: parse them and check what they point at."""

import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
OUR_SERVICES = [
    name
    for name, spec in COMPOSE["services"].items()
    if spec.get("build") or "<<" in spec or spec.get("image") == "radlabel:latest"
]


def test_compose_has_the_production_services():
    services = COMPOSE["services"]
    assert {"postgres", "redis", "web", "worker-cpu", "worker-gpu", "beat", "orthanc"} <= set(
        services
    )
    assert services["orthanc"]["profiles"] == ["pacs"]
    assert services["seaweedfs"]["profiles"] == ["s3"]
    assert services["seaweedfs"]["command"][0] == "mini"
    devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert {"web", "worker-cpu", "worker-gpu", "beat", "migrate"} <= set(OUR_SERVICES)


@pytest.mark.parametrize("service", ["web", "worker-cpu", "worker-gpu", "beat", "migrate"])
def test_each_service_command_exists_in_the_project(service):
    command = COMPOSE["services"][service]["command"]
    program = command[0]
    if program == "gunicorn":
        module, attribute = command[1].split(":")
        check = f"import {module}; assert callable({module}.{attribute})"
    elif program == "celery":
        app = command[command.index("-A") + 1]
        queues = command[command.index("--queues") + 1] if "--queues" in command else ""
        check = (
            f"import {app}; from {app} import celery_app; "
            f"assert celery_app.main == 'radlabel'; assert {queues!r} in ('', 'cpu', 'gpu')"
        )
        assert command[command.index("-A") + 2] in ("worker", "beat")
    elif command[:2] == ["python", "manage.py"]:
        check = (
            "import django; django.setup(); from django.core.management import get_commands; "
            f"assert {command[2]!r} in get_commands()"
        )
    else:
        pytest.fail(f"unknown program {program} in {service}")
    subprocess.run(
        [sys.executable, "-c", check],
        cwd=ROOT,
        check=True,
        env={
            "DJANGO_SETTINGS_MODULE": "backend.settings.base",
            "PATH": "/usr/bin",
            "RADLABEL_VAR_DIR": "/tmp/radlabel-compose-check",
        },
    )


def test_dockerfile_builds_frontend_and_installs_requirements():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile
    assert "npm run build" in dockerfile
    assert "USER radlabel" in dockerfile


def test_every_setting_is_documented_in_env_example():
    read = set()
    for path in [ROOT / "backend/env.py", *(ROOT / "backend/settings").glob("*.py")]:
        read |= set(re.findall(r"env\.\w+\(\s*\"([A-Z_]+)\"", path.read_text()))
        read |= set(re.findall(r"local_secret\(\"\w+\", \"([A-Z_]+)\"\)", path.read_text()))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "no settings found"
    assert read <= documented, read - documented


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "backend.settings.base",
        "DJANGO_SECRET_KEY": "x7#kq" + "A9z" * 20,
        "RADLABEL_DEID_KEY": "d" * 50,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "DJANGO_ALLOWED_HOSTS": "radlabel.example.org",
        "RADLABEL_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_embedded_default_generates_an_untracked_secret(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "RADLABEL_VAR_DIR": str(tmp_path)}
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    run = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    env["DJANGO_SETTINGS_MODULE"] = "backend.settings.base"
    first = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    second = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    key = first.stdout.strip()
    assert len(key) >= 50 and key == second.stdout.strip()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout
    assert key not in "".join(
        (ROOT / f).read_text(errors="ignore")
        for f in tracked.split()
        if (ROOT / f).is_file() and (ROOT / f).stat().st_size < 10**6
    )


@pytest.fixture(scope="module")
def embedded_var(tmp_path_factory):
    """A var/ folder the embedded defaults (no DATABASE_URL) migrated into."""
    var = tmp_path_factory.mktemp("embedded") / "var"
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "backend.settings.base",
        "RADLABEL_VAR_DIR": str(var),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    return var


def test_embedded_var_folder_and_its_files_are_owner_only(embedded_var):
    assert stat.S_IMODE(embedded_var.stat().st_mode) == 0o700
    files = [p for p in embedded_var.rglob("*") if p.is_file()]
    assert {"radlabel.sqlite3", "secret_key", "deid_key"} <= {p.name for p in files}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in embedded_var.rglob("*"):
        if path.is_dir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_embedded_var_folder_made_before_is_tightened(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    (var / "radlabel.sqlite3").touch(mode=0o644)
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "backend.settings.base",
        "RADLABEL_VAR_DIR": str(var),
    }
    run = [sys.executable, "-c", "import django; django.setup()"]
    subprocess.run(run, cwd=ROOT, env=env, check=True)
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "radlabel.sqlite3").stat().st_mode) == 0o600


def test_embedded_sqlite_audit_trail_refuses_update_and_delete(embedded_var):
    database = sqlite3.connect(embedded_var / "radlabel.sqlite3")
    try:
        database.execute(
            "INSERT INTO annotator_auditevent (created_at, action, object_type, object_id)"
            " VALUES ('2026-01-01', 'x', 'y', '1')"
        )
        database.commit()
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            database.execute("UPDATE annotator_auditevent SET action = 'changed'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            database.execute("DELETE FROM annotator_auditevent")
        assert database.execute("SELECT action FROM annotator_auditevent").fetchall() == [("x",)]
    finally:
        database.close()


def test_embedded_processes_share_one_cache(tmp_path):
    """Sign-in throttles count across web processes: the embedded cache is on disk in var/."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "backend.settings.base",
        "RADLABEL_VAR_DIR": str(tmp_path / "var"),
    }
    setup = "import django; django.setup(); from django.core.cache import cache; "
    write = [sys.executable, "-c", setup + "cache.set('attempts', 7)"]
    read = [sys.executable, "-c", setup + "print(cache.get('attempts'))"]
    subprocess.run(write, cwd=ROOT, env=env, check=True)
    seen = subprocess.run(read, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    assert seen.stdout.strip() == "7"
    assert (tmp_path / "var" / "cache").is_dir()


def test_production_shares_the_cache_through_redis(tmp_path):
    assert COMPOSE["x-app"]["environment"]["CACHE_URL"].startswith("redis://")
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "backend.settings.base",
        "RADLABEL_VAR_DIR": str(tmp_path),
        "CACHE_URL": "redis://127.0.0.1:6379/9",
    }
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.CACHES['default']['BACKEND'])"
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    assert run.stdout.strip() == "django.core.cache.backends.redis.RedisCache"


def _runs_without_torch(code: str, var_dir: Path) -> None:
    """``code`` runs in a fresh web process (production settings) and never imports torch."""
    code = f"import sys, django; django.setup(); {code}; "
    code += "assert 'torch' not in sys.modules, 'torch was imported'"
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "backend.settings.base",
        "RADLABEL_VAR_DIR": str(var_dir),
    }
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


def test_the_web_process_never_imports_torch(tmp_path):
    _runs_without_torch(
        "import backend.wsgi, backend.urls, worker.tasks; "
        "from django.urls import get_resolver; get_resolver().url_patterns",
        tmp_path,
    )


def test_seeding_the_demo_never_imports_torch(tmp_path):
    """seed_demo runs in the web image: its command and the demo data it makes are torch-free."""
    _runs_without_torch(
        "import annotator.management.commands.seed_demo; "
        "from radlabel.demo.dicom import lesion_slices; "
        "assert lesion_slices(1, 1, seed=1, size=128)[0].masks.any()",
        tmp_path,
    )
