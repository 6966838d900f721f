"""Issue 13 with real `cds-service serve` processes: two instances sharing one PostgreSQL lose
and duplicate no feedback under 500 parallel posts from 20 clients, and the report counts what
they stored; a token accepted by one instance is refused by the other; a server killed with
SIGKILL in the middle of a stream of posts has every post it answered 200 after its restart,
and an intact database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text

from cds_service.feedback.store import identity
from cds_service.protocol import FeedbackItem
from cds_service.storage import Database, feedback, issued_cards
from tests.conftest import serve_dev
from tests.security.tokens import Signer, bearer, claims, write_jwks
from tests.storage.postgres import PostgresServer
from tests.storage.served import EXAMPLE_DATE, PATIENT_VIEW, withdrawal_request

FEEDBACK_PATH = f"/cds-services/{PATIENT_VIEW}/feedback"
KEY = "0123456789abcdef0123456789abcdef"
CARDS, POSTS, CLIENTS = 100, 500, 20
START = datetime(2026, 12, 2, 8, tzinfo=UTC)


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AZA_")} | env
    return subprocess.run(
        [sys.executable, "-m", "cds_service", *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def post_item(number: int, card: str) -> dict[str, Any]:
    at = (START + timedelta(seconds=number)).isoformat()
    if number % 3 == 0:
        return {
            "card": card,
            "outcome": "accepted",
            "outcomeTimestamp": at,
            "acceptedSuggestions": [{"id": "order-labs"}],
        }
    reason = {"reason": {"system": "https://aza.example/override", "code": f"r{number % 4}"}}
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": at, "overrideReason": reason}


def test_issue13_500_parallel_posts_two_instances_one_postgres(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.new_database()
    env = {
        "AZA_DATABASE_URL": url,
        "AZA_EVALUATION_DATE": EXAMPLE_DATE,
        "AZA_PATIENT_HASH_KEY": KEY,
    }
    refused = cli("serve", "--dev", env=env, cwd=tmp_path)
    assert refused.returncode == 1 and "cds-service migrate" in refused.stderr
    migrated = cli("migrate", env={"AZA_DATABASE_URL": url}, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    with (
        serve_dev(tmp_path, capture=False, env=env) as (one, _),
        serve_dev(tmp_path, capture=False, env=env) as (two, _),
    ):
        instances = (one, two)
        with httpx.Client(timeout=30) as ehr:
            cards = []
            for number in range(CARDS):
                body = withdrawal_request(f"5c3b1e9a-0000-4000-8000-{number:012d}")
                answer = ehr.post(f"{instances[number % 2]}/cds-services/{PATIENT_VIEW}", json=body)
                assert answer.status_code == 200, answer.text
                [card] = answer.json()["cards"]
                cards.append(card["uuid"])
        items = [post_item(number, cards[number % CARDS]) for number in range(POSTS)]

        def client(number: int) -> list[int]:
            stored = []
            with httpx.Client(timeout=30) as http:
                for index in range(number, POSTS, CLIENTS):
                    body = {"feedback": [items[index]]}
                    answer = http.post(instances[index % 2] + FEEDBACK_PATH, json=body)
                    assert answer.status_code == 200, answer.text
                    stored.append(answer.json()["stored"])
                    if index % 5 == 0:  # the same item again, to the other instance
                        again = http.post(instances[(index + 1) % 2] + FEEDBACK_PATH, json=body)
                        assert again.json() == {"received": 1, "stored": 0}
            return stored

        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(client, range(CLIENTS)))
        elapsed = time.monotonic() - started
        print(
            f"\n{POSTS} feedback posts (+{POSTS // 5} resends), {CLIENTS} clients: {elapsed:.2f} s"
        )
        assert sum(sum(r) for r in results) == POSTS

    database = Database(url)
    stored_keys = set(
        database.run(lambda c: c.execute(select(feedback.c.item_key)).scalars().all())
    )
    expected = {identity(PATIENT_VIEW, FeedbackItem.model_validate(i)) for i in items}
    assert stored_keys == expected  # none lost, none duplicated (the key is the primary key)
    assert (
        database.run(lambda c: c.execute(select(func.count()).select_from(issued_cards)).scalar())
        == CARDS
    )
    database.dispose()

    report = cli("feedback-report", "--format", "json", env={"AZA_DATABASE_URL": url}, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    counts = json.loads(report.stdout)
    latest = {cards[k]: POSTS - CARDS + k for k in range(CARDS)}  # the last post of each card
    accepted = sum(1 for number in latest.values() if number % 3 == 0)
    assert counts["recommendations"] == [
        {
            "recommendation": "withdrawal-candidate",
            "issued": CARDS,
            "accepted": accepted,
            "overridden": CARDS - accepted,
            "ignored": 0,
        }
    ]
    reasons: dict[str, int] = {}
    for number in latest.values():
        if number % 3:
            reasons[f"r{number % 4}"] = reasons.get(f"r{number % 4}", 0) + 1
    assert {r["code"]: r["count"] for r in counts["override_reasons"]} == reasons
    assert counts["feedback_items"] == POSTS


def test_issue13_token_accepted_by_one_instance_refused_by_the_other(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    signer = Signer.es384(kid="ehr-1")
    keys = write_jwks(tmp_path / "jwks.json", signer)
    config = tmp_path / "aza.toml"
    config.write_text(
        'public_base_url = "https://cds.example.org"\n\n[[clients]]\nname = "ehr"\n'
        f'iss = "https://ehr.example.org"\njwks_file = "{keys}"\n'
        'fhir_servers = ["https://ehr.example.org/fhir"]\n'
    )
    url = postgres.new_database()
    env = {"AZA_DATABASE_URL": url, "AZA_CONFIG_FILE": str(config)}
    assert cli("migrate", env=env, cwd=tmp_path).returncode == 0
    audience = "https://cds.example.org/cds-services"
    with (
        serve_dev(tmp_path, args=(), env=env) as (one, _),
        serve_dev(tmp_path, args=(), env=env) as (two, _),
    ):
        token = {
            "Authorization": bearer(
                signer.token(claims(aud=audience, iss="https://ehr.example.org"))
            )
        }
        assert httpx.get(f"{one}/cds-services", headers=token).status_code == 200
        assert httpx.get(f"{two}/cds-services", headers=token).status_code == 401
        assert httpx.get(f"{one}/cds-services", headers=token).status_code == 401
        fresh = {
            "Authorization": bearer(
                signer.token(claims(aud=audience, iss="https://ehr.example.org"))
            )
        }
        assert httpx.get(f"{two}/cds-services", headers=fresh).status_code == 200


def test_issue13_kill_9_during_a_stream_of_posts_loses_nothing_answered(
    database_url: str, tmp_path: Path
) -> None:
    embedded = database_url.startswith("sqlite")
    # SQLite: the embedded default (sqlite:///aza-advisor.sqlite3 in the working directory).
    env = {} if embedded else {"AZA_DATABASE_URL": database_url}
    if not embedded:
        assert cli("migrate", env=env, cwd=tmp_path).returncode == 0
    answered: list[dict[str, Any]] = []
    stop = threading.Event()

    def stream(base: str, lane: int) -> None:
        number = 0
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                item = post_item(lane * 1_000_000 + number, f"card-{lane}-{number}")
                number += 1
                try:
                    answer = http.post(base + FEEDBACK_PATH, json={"feedback": [item]})
                except httpx.TransportError:
                    return  # the server is gone
                if answer.status_code == 200:
                    answered.append(item)

    with serve_dev(tmp_path, capture=False, env=env) as (base, process):
        lanes = [threading.Thread(target=stream, args=(base, lane)) for lane in range(4)]
        for lane in lanes:
            lane.start()
        deadline = time.monotonic() + 20
        while len(answered) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        stop.set()
        for lane in lanes:
            lane.join(timeout=15)
    assert len(answered) >= 300
    print(f"\nkilled with SIGKILL after {len(answered)} posts answered 200")

    with serve_dev(tmp_path, capture=False, env=env) as (base, _):  # the restart
        assert httpx.get(f"{base}/readyz").status_code == 200
        late = post_item(7, "after-restart")
        assert httpx.post(base + FEEDBACK_PATH, json={"feedback": [late]}).status_code == 200
    database = Database(database_url)
    stored = dict(
        database.run(lambda c: c.execute(select(feedback.c.item_key, feedback.c.item_json)).all())
    )
    for item in answered:
        model = FeedbackItem.model_validate(item)
        key = identity(PATIENT_VIEW, model)
        assert key in stored, item
        assert FeedbackItem.model_validate_json(stored[key]) == model
    if embedded:
        check = database.run(lambda c: c.execute(text("PRAGMA integrity_check")).scalar())
        assert check == "ok"
    database.dispose()
    if embedded:  # the embedded default, in the working directory
        assert (tmp_path / "aza-advisor.sqlite3").is_file()
