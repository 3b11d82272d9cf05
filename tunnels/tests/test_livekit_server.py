"""LiveKitServerProcess with a stand-in `livekit-server`: a tiny Python script, written here into a
temp dir, that serves LiveKitHTTPDouble as a real child process (406 for a moment, then 200 OK).
That exercises the real subprocess start, readiness wait, exit reporting, stop and restart."""
import os
import signal
import stat
import sys
from pathlib import Path

import pytest

from tunnels import probes
from tunnels.livekit_server import LiveKitServerProcess, livekit_binary_find
from tunnels.tests.doubles.livekit import free_port

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the stand-in is a POSIX shebang script")

REPO = Path(__file__).resolve().parents[2]
KEY = "medcall"
SECRET = "medcall-livekit-secret-0123456789abcd"


@pytest.fixture
def standin(tmp_path):
    """Path of an executable named livekit-server that runs the LiveKit HTTP double."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "livekit-server"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from tunnels.tests.doubles.livekit import serve_cli\n"
        "sys.exit(serve_cli(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


@pytest.fixture
def make_process(tmp_path):
    created = []

    def make(binary, **kwargs):
        kwargs.setdefault("port", free_port())
        kwargs.setdefault("bind", "127.0.0.1")
        kwargs.setdefault("config", "")
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("api_secret", SECRET)
        kwargs.setdefault("start_timeout", 30)
        kwargs.setdefault("log_path", tmp_path / f"livekit-{len(created)}.log")
        process = LiveKitServerProcess(binary=str(binary), **kwargs)
        created.append(process)
        return process

    yield make
    for process in created:
        process.stop()


def test_it_starts_the_binary_waits_until_ready_and_stops_it(standin, make_process, monkeypatch):
    monkeypatch.setenv("LIVEKIT_DOUBLE_STARTING_FOR", "0.6")
    process = make_process(standin)

    result = process.start()

    assert result.state == probes.UP, result.message
    assert process.is_running() and process.poll_alive()
    assert result.details["pid"] == process.pid
    output = process.log_path.read_text()
    assert "'--dev'" in output and "'--bind', '127.0.0.1'" in output and f"'--port', '{process.port}'" in output
    assert SECRET not in output  # keys travel in LIVEKIT_KEYS, never on the command line
    assert process.poll().state == probes.UP

    process.stop()

    assert not process.is_running()
    after = process.poll()
    assert after.state == probes.DOWN
    assert probes.probe_livekit(url=process.url, api_key=KEY, api_secret=SECRET, timeout=0.5).state == probes.DOWN


def test_it_finds_livekit_server_on_path(standin, settings, monkeypatch):
    settings.LIVEKIT_BIN = ""
    monkeypatch.setenv("PATH", str(standin.parent))

    assert livekit_binary_find() == str(standin)
    settings.LIVEKIT_BIN = str(standin)
    assert livekit_binary_find() == str(standin.resolve())


def test_it_explains_a_missing_binary(make_process, tmp_path):
    missing = tmp_path / "nowhere" / "livekit-server"
    process = make_process(missing)

    result = process.start()

    assert result.state == probes.DOWN
    assert "LIVEKIT_BIN" in result.message
    assert str(missing) in result.message
    assert "LIVEKIT_AUTOSTART" in result.message
    assert "não foi encontrado" in result.message
    assert process.pid is None


def test_it_reports_exit_code_and_last_output_lines_without_secrets(standin, make_process, monkeypatch):
    monkeypatch.setenv("LIVEKIT_DOUBLE_EXIT", "3")
    monkeypatch.setenv(
        "LIVEKIT_DOUBLE_STDERR",
        f"API Secret: {SECRET}\nlisten tcp 127.0.0.1:7880: bind: address already in use",
    )
    process = make_process(standin)

    result = process.start()

    assert result.state == probes.DOWN
    assert result.details["exit_code"] == 3
    assert "3" in result.message
    assert "address already in use" in result.message
    assert SECRET not in result.message
    assert not process.is_running()


def test_it_gives_up_after_the_start_timeout_and_stops_the_child(standin, make_process, monkeypatch):
    monkeypatch.setenv("LIVEKIT_DOUBLE_STARTING_FOR", "600")  # stays at 406 "Not Ready"
    process = make_process(standin, start_timeout=4)

    result = process.start()

    assert result.state == probes.DOWN
    # "starting" once the stand-in listens; "down" if a loaded machine had not even bound the port yet.
    assert result.details["last_state"] in (probes.STARTING, probes.DOWN)
    assert result.details["pid"] is not None  # it was started, and did not exit on its own
    assert "LIVEKIT_START_TIMEOUT" in result.message
    assert not process.is_running()


def test_it_uses_a_config_file_and_reports_mismatched_keys_as_invalid_credentials(
    standin, make_process, monkeypatch, tmp_path
):
    config = tmp_path / "livekit.yaml"
    config.write_text("port: 7880\nkeys:\n  otherkey: other-secret-0123456789abcdef0123456\n", encoding="utf-8")
    # Our setting of the same name is a path; the real server would parse it as YAML, so it must not leak.
    monkeypatch.setenv("LIVEKIT_CONFIG", str(config))
    process = make_process(standin, config=str(config))

    result = process.start()

    assert result.state == probes.DEGRADED, result.message
    assert "credenciais do LiveKit inválidas" in result.message
    assert f"'--config', '{config}'" in process.log_path.read_text()
    assert process.is_running()  # the server is fine; the keys are what to fix


def test_it_restarts_a_crashed_server_on_the_next_supervisor_tick(standin, make_process):
    process = make_process(standin, restart_backoff=0)
    assert process.start().state == probes.UP
    first_pid = process.pid

    os.kill(first_pid, signal.SIGKILL)
    process._process.wait(timeout=10)
    result = process.supervise()

    assert result.state == probes.UP, result.message
    assert process.pid != first_pid
    assert process.failures == 0


def test_it_waits_out_the_backoff_before_restarting(standin, make_process):
    process = make_process(standin, restart_backoff=300)
    assert process.start().state == probes.UP
    os.kill(process.pid, signal.SIGKILL)
    process._process.wait(timeout=10)

    crashed = process.supervise()
    waiting = process.supervise()

    assert crashed.state == probes.DOWN
    assert crashed.details["exit_code"] == -signal.SIGKILL
    assert waiting.state == probes.DOWN
    assert waiting.details["failures"] == 1
    assert process.pid is None  # not restarted during the backoff
    assert process.restart().state == probes.UP  # an explicit restart does not wait
