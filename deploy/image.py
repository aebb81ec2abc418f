"""`make image`: build the Docker image and run the bot in it, on a machine without an image registry.

1. Installs what is missing (as root, from Debian): `docker.io`, `debootstrap`, `docker-compose`.
2. Starts a private dockerd (no iptables, no bridge, vfs storage; data and socket in a temporary
   folder) and waits for its systemd-style READY notification.
3. Makes the base image: a Debian bookworm root filesystem (minbase + python3 + python3-venv)
   from the mirror apt's sources name, imported with `docker import`. The tarball is cached in
   ~/.cache/cvety-bot-image (CVETY_IMAGE_CACHE), so a second run skips debootstrap.
4. Builds the project's Dockerfile with BuildKit and that base as the BASE build argument
   (`--network host`; the machine's CA bundle as the build secret `pip_cert`, for pip).
5. Runs the image: `cvety-bot run` in demo mode against a fake Telegram Bot API
   (tests/fake_telegram.py) on 127.0.0.1, sends /start as the owner and waits for the greeting;
   `cvety-bot check` and `id -u` run in that container (docker exec); then it is stopped as a
   deploy does (SIGTERM) and must end cleanly.
6. Checks compose.yaml with `docker compose config` (Debian's docker-compose package when the
   plugin is missing).
7. Stops dockerd and deletes its folder (with `--save PATH` the image is first written to PATH,
   ready for `docker load` on the shop's server).

Every step prints its time; the total is printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
SUITE = "bookworm"
BASE_TAG = f"local/{SUITE}-python"
IMAGE = "cvety-bot:local"
FALLBACK_MIRROR = "http://deb.debian.org/debian"
TRIM = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/cache/apt",
    "var/lib/apt/lists",
)
OWNER = 42
GREETING = "Здравствуйте"  # the owner's /start screen
STOPPED = "Polling stopped"  # aiogram's line once no update is taken any more

T = TypeVar("T")
STARTED = time.monotonic()
TIMES: list[tuple[str, float]] = []


class Failed(Exception):
    """A step failed; the message says which and why."""


def say(message: str) -> None:
    print(f"[image {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    say(f"{name} …")
    began = time.monotonic()
    yield
    took = time.monotonic() - began
    TIMES.append((name, took))
    say(f"{name}: done in {took:.1f}s")


def sh(*args: str, env: dict[str, str] | None = None, quiet: bool = False, **kw: object) -> str:
    """Run a command; on failure raise Failed with its output's tail."""
    result = subprocess.run(
        args,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
        **kw,  # type: ignore[call-overload]
    )
    if not quiet and result.stdout.strip():
        print(result.stdout.rstrip(), flush=True)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-30:])
        raise Failed(f"`{' '.join(args[:4])} …` exited with {result.returncode}:\n{tail}")
    return str(result.stdout)


# ------------------------------------------------------------------------------------- tools


def ensure_tools(need_debootstrap: bool) -> None:
    missing = []
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        missing.append("docker.io")
    if need_debootstrap and shutil.which("debootstrap") is None:
        missing.append("debootstrap")
    if not compose_plugin() and shutil.which("docker-compose") is None:
        missing.append("docker-compose")  # to validate compose.yaml
    if not missing:
        return
    if os.geteuid() != 0:
        raise Failed(f"missing {', '.join(missing)} and not root: install them (apt-get install -y …)")
    with step(f"apt-get install {' '.join(missing)}"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        sh("apt-get", "update", "-qq", env=env, quiet=True)
        sh("apt-get", "install", "-y", "-qq", *missing, env=env, quiet=True)


def debian_mirror() -> str:
    """The Debian archive apt's sources name for SUITE (sources.list or deb822 .sources)."""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["apt-get", "indextargets", "--format", "$(TARGET_OF) $(RELEASE) $(REPO_URI)"],
            text=True,
            capture_output=True,
            check=True,
        ).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "deb" and parts[1] == SUITE:
                return parts[2].rstrip("/")
    return FALLBACK_MIRROR


def ca_bundle() -> Path | None:
    """The CA bundle pip uses on this machine (PIP_CERT, pip's `cert` setting, or OpenSSL's)."""
    candidates = [os.environ.get("PIP_CERT", "")]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        candidates.append(
            subprocess.run(
                [sys.executable, "-m", "pip", "config", "get", "global.cert"],
                text=True,
                capture_output=True,
                check=True,
            ).stdout.strip()
        )
    candidates.append(ssl.get_default_verify_paths().cafile or "")
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


# ------------------------------------------------------------------------------------ dockerd


class Dockerd:
    """A private docker daemon whose data, exec root and socket live in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "docker.sock"
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.socket}")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        notify_path = self.folder / "notify"
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(notify_path))
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        env["NOTIFY_SOCKET"] = str(notify_path)  # dockerd says READY=1 there once it serves its API
        with (self.folder / "dockerd.log").open("wb") as log:
            self.process = subprocess.Popen(
                [
                    "dockerd",
                    "--iptables=false",
                    "--ip6tables=false",
                    "--bridge=none",
                    "--storage-driver=vfs",
                    f"--data-root={self.folder / 'root'}",
                    f"--exec-root={self.folder / 'exec'}",
                    f"--pidfile={self.folder / 'docker.pid'}",
                    f"--host=unix://{self.socket}",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise Failed(f"dockerd exited with {self.process.returncode}:\n{self.log_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failed(f"dockerd not ready within {timeout:.0f}s:\n{self.log_tail()}")
                notify.settimeout(min(left, 1.0))  # wakes up now and then to see if dockerd died
                with contextlib.suppress(TimeoutError):
                    if b"READY=1" in notify.recv(4096):
                        return
        finally:
            notify.close()

    def log_tail(self, lines: int = 30) -> str:
        path = self.folder / "dockerd.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def docker(self, *args: str, quiet: bool = False) -> str:
        return sh("docker", *args, env=self.env, quiet=quiet)

    def stop(self, timeout: float = 60.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            say("dockerd did not stop on SIGTERM: killing it")
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)


def unmount_below(folder: Path) -> None:
    """Whatever dockerd left mounted below `folder` (after a crash), innermost first."""
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{folder}/")]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


# ---------------------------------------------------------------------------------- the image


def base_tarball(cache: Path, mirror: str, work: Path, fresh: bool) -> Path:
    tarball = cache / f"{SUITE}-minbase-python3.tar"
    if tarball.exists() and not fresh:
        say(f"base root filesystem from the cache: {tarball}")
        return tarball
    cache.mkdir(parents=True, exist_ok=True)
    rootfs = work / "rootfs"
    with step(f"debootstrap {SUITE} (minbase, python3, python3-venv) from {mirror}"):
        sh(
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv",
            SUITE,
            str(rootfs),
            mirror,
            quiet=True,
        )
        for junk in TRIM:  # less to copy: vfs copies the whole tree for every container and step
            for item in (rootfs / junk).glob("*"):
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item)
                else:
                    item.unlink()
        partial = tarball.with_suffix(".partial")
        sh("tar", "-C", str(rootfs), "-cf", str(partial), ".", quiet=True)
        partial.replace(tarball)
        shutil.rmtree(rootfs)
    return tarball


def buildkit_cli() -> str:
    """A docker CLI that builds with BuildKit: one with the buildx plugin, else docker.io's 20.10
    CLI (BuildKit built in). The legacy builder is 4x slower on vfs and has no build secrets."""
    docker = shutil.which("docker") or "docker"
    if subprocess.run([docker, "buildx", "version"], capture_output=True, check=False).returncode == 0:
        return docker
    for candidate in ("/usr/bin/docker", docker):
        version = subprocess.run(
            [candidate, "version", "--format={{.Client.Version}}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if version.split(".")[0].isdigit() and int(version.split(".")[0]) < 23:
            return candidate
    raise Failed("no docker CLI with BuildKit here: install docker-buildx (or docker.io's CLI)")


def build(daemon: Dockerd, base: str) -> None:
    args = ["build", "--progress=plain", "--network=host", f"--build-arg=BASE={base}", f"--tag={IMAGE}"]
    bundle = ca_bundle()
    if bundle is not None:
        args.append(f"--secret=id=pip_cert,src={bundle}")
    with step(f"docker build (BASE={base})"):
        sh(buildkit_cli(), *args, str(ROOT), env=dict(daemon.env, DOCKER_BUILDKIT="1"))


async def smoke(daemon: Dockerd, timeout: float) -> None:  # noqa: ASYNC109
    """The container answers /start through a fake Bot API, and stops cleanly on SIGTERM."""
    sys.path.insert(0, str(ROOT))
    from tests.fake_telegram import FakeTelegram

    async with FakeTelegram() as fake:
        env = {
            "BOT_TOKEN": fake.token,
            "TELEGRAM_API_URL": fake.base_url,
            "DEMO": "1",
            "OWNER_IDS": str(OWNER),
            "LOG_LEVEL": "INFO",
        }
        flags = [f"--env={k}={v}" for k, v in env.items()]

        name = f"cvety-bot-smoke-{os.getpid()}"
        with step("cvety-bot run in the container answers /start, check passes, stops on SIGTERM"):
            run = await docker_exec(daemon, "run", "--rm", f"--name={name}", "--network=host", *flags, IMAGE)
            lines: list[str] = []
            reader = asyncio.create_task(collect(run, lines))
            try:
                await first_of(fake.wait_for("getUpdates", timeout=timeout), run, lines)
                await fake.send_message(OWNER, "/start")
                reply = await first_of(
                    fake.wait_for_message(OWNER, text_contains=GREETING, timeout=timeout), run, lines
                )
                say(f"the bot answered: {reply['text'].splitlines()[0]!r}")
                check = await docker_exec(daemon, "exec", name, "cvety-bot", "check")
                out, _ = await asyncio.wait_for(check.communicate(), timeout)
                print(out.decode(errors="replace").rstrip(), flush=True)
                if check.returncode != 0:
                    raise Failed(f"`cvety-bot check` in the container exited with {check.returncode}")
                uid = await docker_exec(daemon, "exec", name, "id", "-u")
                out, _ = await asyncio.wait_for(uid.communicate(), timeout)
                if uid.returncode != 0 or out.strip() in (b"", b"0"):
                    raise Failed(f"the container runs as uid {out.decode().strip()!r}, not a user of its own")
                say(f"`cvety-bot check` passes in the container; it runs as uid {out.decode().strip()}")
                await docker_exec_ok(daemon, "stop", "--time=30", name)
                code = await asyncio.wait_for(run.wait(), timeout)
                await asyncio.wait_for(reader, timeout)
            finally:
                if run.returncode is None:
                    await docker_exec_ok(daemon, "rm", "--force", name)
                    await run.wait()
                reader.cancel()
            log = "\n".join(lines)
            if code != 0 or STOPPED not in log:
                raise Failed(f"the container did not stop cleanly (exit {code}):\n{log}")
            if fake.errors:
                raise Failed(f"the Bot API rejected calls: {[c.summary() for c in fake.errors]}")


async def docker_exec(daemon: Dockerd, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "docker",
        *args,
        env=daemon.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def docker_exec_ok(daemon: Dockerd, *args: str) -> None:
    process = await docker_exec(daemon, *args)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise Failed(f"docker {' '.join(args)}: {out.decode(errors='replace')}")


async def collect(process: asyncio.subprocess.Process, lines: list[str]) -> None:
    assert process.stdout is not None
    async for raw in process.stdout:
        lines.append(raw.decode(errors="replace").rstrip())


async def first_of(
    waiting: Coroutine[Any, Any, T], process: asyncio.subprocess.Process, lines: list[str]
) -> T:
    """What `waiting` gives, unless the container ends first (then fail with its log)."""
    task = asyncio.ensure_future(waiting)
    ended = asyncio.create_task(process.wait())
    try:
        await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            raise Failed(f"the container exited with {process.returncode}:\n" + "\n".join(lines))
        try:
            return task.result()
        except AssertionError as exc:  # the fake's timeout
            raise Failed(f"{exc}\ncontainer log:\n" + "\n".join(lines)) from None
    finally:
        task.cancel()
        ended.cancel()


def check_compose(work: Path) -> None:
    """`docker compose config` (or Debian's docker-compose), on a copy with an .env from the example."""
    tool = ["docker", "compose"] if compose_plugin() else ["docker-compose"]
    compose = ROOT / "compose.yaml"
    project = work / "compose-check"
    project.mkdir()
    shutil.copy(compose, project / "compose.yaml")
    example = (ROOT / ".env.example").read_text()
    (project / ".env").write_text(example + "\nPOSTGRES_PASSWORD=check-only\n")
    with step(f"{' '.join(tool)} config"):
        sh(*tool, "--project-directory", str(project), "-f", str(project / "compose.yaml"), "config", "-q")


def compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0


# --------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(prog="make image", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="build FROM this image instead of a debootstrapped Debian")
    parser.add_argument("--mirror", help="Debian archive for debootstrap (default: the one apt uses)")
    parser.add_argument("--fresh", action="store_true", help="ignore the cached base root filesystem")
    parser.add_argument("--save", type=Path, help="write the built image to this tar (docker load)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the bot")
    args = parser.parse_args()
    cache = Path(
        os.environ.get("CVETY_IMAGE_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cvety-bot-image"
    )

    try:
        if os.geteuid() != 0:
            raise Failed("make image starts its own dockerd: run it as root")
        ensure_tools(need_debootstrap=args.base is None)
        work = Path(tempfile.mkdtemp(prefix="cvety-image-"))
        daemon = Dockerd(work)
        try:
            with step("start a private dockerd"):
                daemon.start()
            base = args.base
            if base is None:
                tarball = base_tarball(cache, args.mirror or debian_mirror(), work, args.fresh)
                with step(f"docker import {BASE_TAG}"):
                    daemon.docker("import", str(tarball), BASE_TAG, quiet=True)
                base = BASE_TAG
            build(daemon, base)
            size = int(daemon.docker("image", "inspect", "--format={{.Size}}", IMAGE, quiet=True))
            say(f"{IMAGE}: {size / 1e6:.0f} MB")
            asyncio.run(smoke(daemon, args.timeout))
            check_compose(work)
            if args.save:
                with step(f"docker save {args.save}"):
                    daemon.docker("save", "--output", str(args.save), IMAGE)
        finally:
            with step("stop dockerd, remove its folder"):
                daemon.stop()
                unmount_below(work)
                shutil.rmtree(work, ignore_errors=True)
    except Failed as exc:
        say(f"FAILED: {exc}")
        return 1
    total = time.monotonic() - STARTED
    print("\nmake image: the image builds and the bot in it answers. Times:", flush=True)
    for name, took in TIMES:
        print(f"  {took:7.1f}s  {name}")
    print(f"  {total:7.1f}s  in all", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
