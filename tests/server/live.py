"""A real ``negotiation serve`` process on a free loopback port, for the HTTP tests.

``LiveServer.start`` runs the console script (port 0, the port it prints is
read back), waits for ``/healthz``, and ``stop`` sends SIGTERM (then SIGKILL
after a bound) to the whole process group, so no worker outlives a test.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import httpx

NEGOTIATION = str(Path(sys.executable).with_name("negotiation"))
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
WRITE_TOKEN = "w-" + "s3cret" * 4
READ_TOKEN = "r-" + "s3cret" * 4


def write_tokens(path: Path) -> Path:
    """A token file with a write token ``writer`` and a read token ``reader``."""
    path.write_text(f"# tokens for the tests\n{WRITE_TOKEN} write writer\n{READ_TOKEN} read reader\n", encoding="utf-8")
    return path


class LiveServer:
    """One ``negotiation serve`` process group."""

    def __init__(self, process: subprocess.Popen[str], url: str, log: list[str]) -> None:
        self.process = process
        self.url = url
        self.log = log

    @classmethod
    def start(
        cls,
        db: str,
        *args: str,
        tokens: Path | None = None,
        workers: int = 1,
        timeout: float = 60.0,
    ) -> LiveServer:
        command = [NEGOTIATION, "--db", db, "serve", "--port", "0", "--workers", str(workers), *args]
        if tokens is not None:
            command += ["--token-file", str(tokens)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        log: list[str] = []
        found: list[str] = []
        ready = threading.Event()

        def read(stream: IO[str]) -> None:
            for line in stream:
                log.append(line)
                match = LISTENING.search(line)
                if match and not found:
                    found.append(match.group(1))
                    ready.set()
            ready.set()

        assert process.stderr is not None
        threading.Thread(target=read, args=(process.stderr,), daemon=True).start()
        if not ready.wait(timeout) or not found:
            cls._kill(process)
            raise RuntimeError(f"server did not start: {''.join(log)[-2000:]}")
        server = cls(process, found[0], log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                    if workers == 1:
                        return server
                    # every worker must be up: several healthz answers in a row
                    if all(httpx.get(server.url + "/healthz", timeout=2).status_code == 200 for _ in range(4)):
                        time.sleep(0.5)
                        return server
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
        cls._kill(process)
        raise RuntimeError(f"server did not answer: {''.join(log)[-2000:]}")

    @staticmethod
    def _kill(process: subprocess.Popen[str]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def kill9(self) -> None:
        """SIGKILL the whole process group at once (parent and workers)."""
        self._kill(self.process)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the server; SIGKILL the group if it has not exited in time. Its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill(self.process)
        code = self.process.returncode
        # workers, if any were left behind
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return code

    def client(self, token: str | None = None, **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def access_lines(self) -> Sequence[str]:
        return [line for line in self.log if '"http.request"' in line]
