"""The contract every platform keeps, checked over the registry: its facts declared, its settings,
its files (docs/adding-a-platform.md lists them), its fake, its fixtures, mappings that fit their
datasets. Then a toy platform made of nothing but those files is added and synced end to end, which
proves they are enough: no list of platforms anywhere else had to change."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import connectors
import sandbox
from connectors.base import ApiVersion, BaseConnector
from connectors.platform_settings import declared, read
from connectors.registry import connector_classes, platforms, platforms_feeding
from etl.schema import DATASETS
from sandbox.serve import demo_connections, has_sandbox

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_SETTINGS = {"API_BASE_URL", "TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET", "RESTATEMENT_DAYS"}


def documented_files() -> list[str]:
    """The file list of docs/adding-a-platform.md (its ```files block)."""
    text = (ROOT / "docs" / "adding-a-platform.md").read_text()
    block = re.search(r"```files\n(.*?)```", text, re.S)
    assert block, "docs/adding-a-platform.md has no ```files block"
    return block.group(1).split()


def expected_files(cls: type[BaseConnector]) -> list[str]:
    files: list[str] = []
    for pattern in documented_files():
        if "<stream>" in pattern:
            files += [pattern.replace("<stream>", s.name) for s in cls.streams]
        else:
            files.append(pattern)
    return [name.replace("<platform>", cls.platform) for name in files]


def contract_problems(cls: type[BaseConnector], root: Path, *, with_tests: bool = True) -> list[str]:
    """What a platform's connector class and files leave out of the contract (empty: none)."""
    problems = []
    for name in expected_files(cls):
        if name.startswith("tests/") and not with_tests:
            continue
        path = root / name
        if not (path.is_dir() and any(path.glob("test_*.py")) if name.endswith("/") else path.is_file()):
            problems.append(f"missing {name}")
    facts = {"display_name": cls.display_name, "account_id_help": cls.account_id_help}
    problems += [f"no {fact}" for fact, value in facts.items() if not value]
    if not cls.credential_specs:
        problems.append("no credential_specs")
    if not isinstance(cls.api_version(), ApiVersion):
        problems.append("api_version() is not an ApiVersion")
    settings = {s.name for s in declared().get(cls.platform, ())}
    problems += [f"no {name} setting" for name in sorted(REQUIRED_SETTINGS - settings)]
    for stream in cls.streams:
        dataset = DATASETS.get(stream.dataset)
        if dataset is None:
            problems.append(f"{stream.name}: no dataset {stream.dataset}")
            continue
        unknown = set(stream.mapping) - set(dataset.column_names)
        needed = {c.name for c in dataset.columns if c.required} if not stream.columns else set(dataset.key)
        problems += [f"{stream.name}: maps {c}, not a column of {dataset.name}" for c in sorted(unknown)]
        problems += [
            f"{stream.name}: does not map the required {c}" for c in sorted(needed - set(stream.mapping))
        ]
    if not has_sandbox(cls.platform) or not demo_connections(cls.platform):
        problems.append("no sandbox with DEMO_CONNECTIONS")
    return problems


@pytest.mark.embedded
@pytest.mark.parametrize("platform", platforms())
def test_every_platform_keeps_the_contract(platform: str) -> None:
    assert contract_problems(connector_classes()[platform], ROOT) == []


@pytest.mark.embedded
def test_a_platform_without_its_files_is_caught(tmp_path: Path) -> None:
    problems = contract_problems(connector_classes()["mailchimp"], tmp_path)
    assert "missing connectors/mailchimp/settings.py" in problems
    assert "missing fixtures/mailchimp/campaigns/expected.csv" in problems


# --------------------------------------------------------------------------- a toy platform

TOY_FILES = {
    "connectors/toy_mail/__init__.py": '"""Toy Mail: newsletters, for the contract test."""\n',
    "connectors/toy_mail/settings.py": """
from connectors.platform_settings import Setting

SETTINGS = (
    Setting("API_BASE_URL", "https://api.toymail.example", "The API host"),
    Setting("TOKEN_URL", "https://api.toymail.example/oauth/token", "OAuth token endpoint"),
    Setting("AUTHORIZE_URL", "https://api.toymail.example/oauth/authorize", "OAuth consent page"),
    Setting("CLIENT_ID", "", "Client id"),
    Setting("CLIENT_SECRET", "", "Client secret"),
    Setting("RESTATEMENT_DAYS", 5, "Days re-read every sync"),
)
""",
    "connectors/toy_mail/mapping.py": """
from connectors.base import Field

CAMPAIGNS = {
    "campaign_id": Field("id", required=True),
    "campaign_title": Field("title"),
    "send_time": Field("sent_at", "datetime"),
    "emails_sent": Field("sent", "int"),
    "unique_opens": Field("opens", "int"),
}
""",
    "connectors/toy_mail/connector.py": """
from datetime import date, timedelta
from typing import Any

from connectors.auth import OAuthSpec
from connectors.base import ApiVersion, BaseConnector, Option, StreamSpec, Window
from connectors.paginators import OffsetPaginator
from connectors.toy_mail import mapping


class Connector(BaseConnector):
    platform = "toy_mail"
    display_name = "Toy Mail"
    oauth = OAuthSpec(scopes=("read",))
    streams = (
        StreamSpec(
            "campaigns",
            "email_campaign",
            mapping.CAMPAIGNS,
            path="/v1/campaigns",
            records_path=("items",),
            paginator=lambda stream: OffsetPaginator(limit=2, records_path=stream.records_path, total_path=("total",)),
        ),
    )
    account_id_help = "The Toy Mail account number."
    credential_specs = {"refresh_token": Option("OAuth refresh token", secret=True)}

    @classmethod
    def api_version(cls) -> ApiVersion:
        return ApiVersion("v1", date(2030, 1, 1), "toy")

    def base_url(self) -> str:
        return str(self.setting("API_BASE_URL"))

    def check(self) -> str:
        return "Toy Mail"

    def stream_params(self, stream: StreamSpec, window: Window) -> dict[str, Any]:
        return {"since": window.start.isoformat(), "before": (window.end + timedelta(days=1)).isoformat()}
""",
    "sandbox/toy_mail/__init__.py": """
from sandbox.toy_mail.app import ToyMailSandbox, create_app
from sandbox.toy_mail.catalogue import DEMO_REFRESH_TOKEN

DEMO_CONNECTIONS = ({"account_id": "42", "credentials": {"refresh_token": DEMO_REFRESH_TOKEN}, "options": {}},)
__all__ = ["DEMO_CONNECTIONS", "ToyMailSandbox", "create_app"]
""",
    "sandbox/toy_mail/catalogue.py": """
from datetime import UTC, datetime, timedelta

DEMO_REFRESH_TOKEN = "toy-refresh"
CLIENT_ID, CLIENT_SECRET = "toy-client", "toy-secret"


def campaigns(today):
    start = datetime(today.year, today.month, today.day, 9, tzinfo=UTC)
    return [
        {"id": f"c{n}", "title": f"Issue {n}", "sent_at": (start - timedelta(days=n)).isoformat(),
         "sent": 1000 + n, "opens": 400 + n}
        for n in range(1, 6)
    ]
""",
    "sandbox/toy_mail/app.py": """
import secrets
from datetime import date

from sandbox.core import route, json_response
from sandbox.oauth import OAuthApi, OAuthSpec, Refusal, RefreshToken, bearer_token, TokenRefused
from sandbox.paging import page_of
from sandbox.toy_mail import catalogue

REFUSED = Refusal(400, "invalid_grant")


class ToyMailSandbox(OAuthApi):
    platform = "toy_mail"
    oauth = OAuthSpec(
        client_id=catalogue.CLIENT_ID,
        client_secret=catalogue.CLIENT_SECRET,
        authorize_path=r"^/oauth/authorize$",
        token_path=r"^/oauth/token$",
        new_code=lambda: secrets.token_hex(8),
        code_ttl=60,
        new_refresh_token=lambda: secrets.token_hex(8),
        refusals={situation: REFUSED for situation in ("missing_parameter", "unknown_client", "response_type",
                  "not_form", "no_grant_type", "grant_type", "client_authentication", "refresh_token", "code")},
    )

    def __init__(self):
        super().__init__()
        self.reset_state()

    def new_access_token(self):
        return secrets.token_hex(8)

    def seed_tokens(self):
        self.refresh[catalogue.DEMO_REFRESH_TOKEN] = RefreshToken("read")

    def env(self, base_url):
        return {"TOY_MAIL_API_BASE_URL": base_url, "TOY_MAIL_TOKEN_URL": base_url + "/oauth/token",
                "TOY_MAIL_CLIENT_ID": catalogue.CLIENT_ID, "TOY_MAIL_CLIENT_SECRET": catalogue.CLIENT_SECRET}

    def grant(self, request, record, refresh_token, *, new):
        return json_response(200, {"access_token": self.mint_access_token(), "expires_in": 3600,
                                   "refresh_token": refresh_token})

    @route("GET", r"^/v1/campaigns$")
    def campaigns(self, request):
        try:
            self.access_token_check(bearer_token(request))
        except TokenRefused:
            return json_response(401, {"error": "unauthorized"})
        since, before = request.arg("since") or "", request.arg("before") or ""
        chosen = [c for c in catalogue.campaigns(self.today()) if since <= c["sent_at"][:10] < before]
        page = page_of(chosen, int(request.arg("offset") or 0), int(request.arg("count") or 10))
        return json_response(200, {"items": page.items, "total": page.total})


def create_app(**options):
    return ToyMailSandbox(**options)
""",
    "fixtures/toy_mail/campaigns/page_1.json": json.dumps(
        [{"id": "c1", "title": "Issue 1", "sent_at": "2026-03-01T09:00:00+00:00", "sent": 1001, "opens": 401}]
    ),
    "fixtures/toy_mail/campaigns/expected.csv": "campaign_id,campaign_title,send_time,emails_sent,unique_opens\n"
    "c1,Issue 1,2026-03-01 09:00:00+00:00,1001,401\n",
}


@pytest.fixture
def toy_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Path]:
    """The toy platform's files in a folder of their own, found as the real ones are (the packages'
    search paths), and its settings read as the project's settings read them at start."""
    for name, text in TOY_FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    monkeypatch.setattr(connectors, "__path__", [*connectors.__path__, str(tmp_path / "connectors")])
    monkeypatch.setattr(sandbox, "__path__", [*sandbox.__path__, str(tmp_path / "sandbox")])
    connector_classes.cache_clear()
    for name, value in read(lambda n, d: d, lambda n, d: d).items():
        if name.startswith("TOY_MAIL_"):
            setattr(settings, name, value)
    yield tmp_path
    connector_classes.cache_clear()
    for module in [m for m in sys.modules if ".toy_mail" in m]:
        del sys.modules[module]


@pytest.mark.django_db(transaction=True)
def test_a_new_platform_needs_only_its_own_files(toy_platform: Path, sandboxes: Any) -> None:
    from connectors.models import Connection
    from dashboard.forms import ConnectForm
    from dashboard.management.commands.platform_settings import env_example
    from dashboard.selectors.common import platform_name
    from etl.models import EmailCampaign, SyncRun
    from tenancy.models import Organization
    from tests.sandboxes import run_sync

    written = sorted(str(p.relative_to(toy_platform)) for p in toy_platform.rglob("*") if p.is_file())
    cls = connector_classes()["toy_mail"]
    assert written == sorted(f for f in expected_files(cls) if not f.startswith("tests/"))  # its tests: this one
    assert contract_problems(cls, toy_platform, with_tests=False) == []

    # Every list of platforms knows it, though none was edited.
    assert "toy_mail" in platforms() and "toy_mail" in platforms_feeding("email_campaign")
    assert platform_name("toy_mail") == "Toy Mail"
    assert "# TOY_MAIL_RESTATEMENT_DAYS=" in env_example()
    form = ConnectForm(platform="toy_mail", with_credentials=True)
    assert form.fields["account_id"].help_text == "The Toy Mail account number."
    assert "credential_refresh_token" in form.fields

    # A whole sync through the pipeline, against its fake built from the shared sandbox helpers.
    organization = Organization.objects.create(name="Toy", slug="toy")
    connection = sandboxes.connect("toy_mail", organization)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    loaded = {
        (r.campaign_id, r.emails_sent, r.unique_opens)
        for r in EmailCampaign.objects.filter(connection=connection)
    }
    assert loaded == {(f"c{n}", 1000 + n, 400 + n) for n in range(1, 6)}
    assert run.rows["campaigns"]["loaded"] == 5
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.ACTIVE
