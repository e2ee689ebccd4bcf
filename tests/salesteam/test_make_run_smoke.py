"""`make run`'s set-up on an empty directory (the committed files) leads to a working login.

Runs the same steps as the Makefile's `run` target (migrate, seed_demo, collectstatic) with the
existing virtualenv's packages and no DATABASE_URL/REDIS_URL, so the embedded defaults are used:
SQLite and the filesystem broker under VAR_DIR. Then starts the development server, asks for the
login page and logs in with a demo login.
"""

import http.cookiejar
import io
import os
import re
import socket
import subprocess
import sys
import sysconfig
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT = 60


def copy_tracked_files(target: Path) -> None:
    """Writes the committed tree into `target`, as a fresh clone has it.

    The committed tree rather than the working copy: uncommitted changes elsewhere in the checkout
    (a model without its migration yet) must not make a clean clone look broken, or the reverse.
    """
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")


def python_without_this_checkout(tmp_path: Path) -> str:
    """A virtualenv that sees the installed dependencies but not this checkout's editable install.

    The editable install would quietly import any module missing from the copy from the checkout.
    """
    venv_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv_dir)], check=True, timeout=60)
    python = str(venv_dir / "bin" / "python")
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    # A plain path line: the dependencies' own .pth files, the editable finder among them, are not run.
    Path(site_packages, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def log_in(base: str, username: str, *, next_path: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/accounts/login/", timeout=5) as response:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode()).group(1)
    form = {
        "username": username,
        "password": "demo-pass-2024",
        "csrfmiddlewaretoken": token,
        "next": next_path,
    }
    request = urllib.request.Request(
        f"{base}/accounts/login/",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Referer": f"{base}/accounts/login/"},
    )
    with opener.open(request, timeout=10) as response:
        assert response.status == 200
        assert response.geturl() == f"{base}{next_path}"
        return response.read().decode()


@pytest.mark.slow
def test_make_run_setup_on_an_empty_directory_serves_the_login_page(tmp_path):
    app_dir = tmp_path / "app"
    copy_tracked_files(app_dir)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")
        and not key.startswith("PYTEST")
    }
    env.update(VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="salesteam.settings")
    python = python_without_this_checkout(tmp_path)

    def manage(*args: str) -> None:
        result = subprocess.run(
            [python, "manage.py", *args],
            cwd=app_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"

    manage("migrate", "--noinput", "-v0")
    manage("seed_demo")
    manage("collectstatic", "--noinput", "-v0")
    assert (tmp_path / "var" / "salesteam.sqlite3").exists()
    assert (tmp_path / "var" / "broker" / "queue").is_dir()

    port = free_port()
    server = subprocess.Popen(
        [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=app_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        status, body = 0, ""
        while time.monotonic() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/accounts/login/")
                break
            except (ConnectionError, urllib.error.URLError):
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.3)

        assert status == 200
        assert 'name="username"' in body
        assert 'name="password"' in body
        assert 'name="csrfmiddlewaretoken"' in body

        # The demo login printed by seed_demo works and shows the seeded deals.
        assert "deals" in log_in(f"http://127.0.0.1:{port}", "rep.anna", next_path="/deals/")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
