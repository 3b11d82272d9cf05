"""The `live_daphne` fixture: a real Daphne process that serves the test database."""
import http.cookiejar
import json
import re
import socket
import urllib.parse
import urllib.request

import pytest

from medcall.tests.live_daphne import LiveDaphne


def _opener():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar))


def test_it_serves_what_the_test_wrote_to_a_logged_in_doctor(live_daphne, alice, patient):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", live_daphne)
    browser = _opener()
    health = json.load(browser.open(live_daphne + "/healthz"))
    assert health["status"] == "ok" and health["checks"]["database"] == "ok"

    login_page = browser.open(live_daphne + "/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    form = urllib.parse.urlencode({"username": "alice", "password": "s3nha-forte-123", "csrfmiddlewaretoken": token})
    request = urllib.request.Request(live_daphne + "/accounts/login/", data=form.encode(), headers={"Referer": live_daphne + "/"})
    dashboard = browser.open(request)
    assert dashboard.geturl() == live_daphne + "/"

    patients_page = browser.open(live_daphne + "/patients/").read().decode()
    assert "Maria da Silva" in patients_page


def test_it_stops_the_server_and_frees_the_port(transactional_db, tmp_path):
    from django.db import connection

    from medcall.tests.celery_worker_process import database_url_for

    server = LiveDaphne(database_url=database_url_for(connection.settings_dict), log_path=tmp_path / "daphne.log")
    server.start()
    process, port = server.process, server.port
    server.stop()
    assert process.returncode is not None  # reaped: no zombie left behind
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_it_reports_a_server_that_cannot_start_with_its_log(tmp_path):
    server = LiveDaphne(
        database_url="sqlite:////nonexistent/x.sqlite3",
        log_path=tmp_path / "daphne.log",
        env={"DJANGO_SETTINGS_MODULE": "medcall.no_such_settings"},
    )
    with pytest.raises(RuntimeError) as exc:
        server.start()
    assert "exited with code" in str(exc.value)
    assert "no_such_settings" in str(exc.value)  # the log tail names the cause
    assert server.process is None
