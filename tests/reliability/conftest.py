"""The reliability suite's world.

In-process (`line`): a sandbox channel on the emulator with an agent backed by a loopback model server,
processed by the real worker thread of tests/conftest.py's `celery_worker` (PostgreSQL and Redis in CI).

Out of process (`platform`): the production topology (gunicorn + a Celery worker subprocess) on a
throwaway PostgreSQL cluster and a throwaway Redis, which a test may kill, stop or flush, talking to the
emulator of this process as its Graph API. The cluster and a migrated, seeded template database are
made once per session; each test gets its own copy of the template and its own Redis.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass

import pytest

from agents_app.models import Agent
from channels_app.models import Channel
from tests.agents.llm_servers import FakeOpenAIServer
from tests.factories import AgentFactory, ChannelFactory, WorkspaceFactory
from tests.reliability import topology
from tests.reliability.meta import MetaSender
from tests.reliability.settle import wait_at_rest

LINE_APP_SECRET = "line-app-secret"
LINE_TOKEN = "line-access-token"


@pytest.fixture
def llm():
    with FakeOpenAIServer() as server:
        yield server


@dataclass
class Line:
    channel: Channel
    agent: Agent
    number: object
    emulator: object
    llm: FakeOpenAIServer
    meta: MetaSender
    webhook_path: str

    def customer(self, phone: str, name: str = "Customer"):
        return self.emulator.customer(self.number, name=name, phone=phone)


@pytest.fixture
def line(emulator, llm):
    """A WhatsApp line on the emulator whose agent answers every message through the loopback model."""
    workspace = WorkspaceFactory(name="Lucky Shrub")
    agent = AgentFactory(
        workspace=workspace,
        name="Echo",
        provider=Agent.Provider.OPENAI_COMPATIBLE,
        model="fake-model",
        api_key="sk-test",
        base_url=llm.base_url,
        debounce_seconds=0.3,
    )
    channel = ChannelFactory(workspace=workspace, provider=Channel.Provider.SANDBOX, agent=agent)
    webhook_path = f"/webhooks/whatsapp/{channel.public_id}/"
    number = emulator.provision(f"{emulator.url}{webhook_path}", app_secret=LINE_APP_SECRET, access_token=LINE_TOKEN)
    Channel.objects.filter(pk=channel.pk).update(
        phone_number_id=number.phone_number_id,
        waba_id=number.waba_id,
        meta_app_id=number.app.app_id,
        connection=Channel.Connection.SANDBOX,
        access_token=LINE_TOKEN,
        app_secret=LINE_APP_SECRET,
    )
    channel.refresh_from_db()
    meta = MetaSender(
        phone_number_id=number.phone_number_id,
        waba_id=number.waba_id,
        display_digits=number.display_digits,
        app_secret=LINE_APP_SECRET,
    )
    return Line(channel, agent, number, emulator, llm, meta, webhook_path)


# --- the production topology on throwaway servers ----------------------------------------------------

_database_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    server = topology.PostgresServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def platform_template(postgres_server):
    """A migrated database with the seeded workspace, agent, channel and API key, copied for each test."""
    postgres_server.admin('CREATE DATABASE "platform_template"')
    env = topology.platform_env(
        database_url=postgres_server.url("platform_template"), redis_url="", graph_url="http://127.0.0.1:9"
    )
    env["CELERY_TASK_ALWAYS_EAGER"] = "true"  # no broker while migrating and seeding
    topology.manage(env, "migrate", "--noinput", "-v", "0")
    return topology.seed_parse(topology.manage(env, "shell", "-c", topology.SEED))


@pytest.fixture
def redis_server():
    server = topology.RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class PlatformUnderTest:
    processes: topology.Platform
    postgres: topology.PostgresServer
    redis: topology.RedisServer
    db: str  # the database alias in this process
    seed: dict
    number: object
    emulator: object
    llm: FakeOpenAIServer
    meta: MetaSender

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/whatsapp/{self.seed['channel_public_id']}/"

    def customer(self, phone: str, name: str = "Customer"):
        return self.emulator.customer(self.number, name=name, phone=phone)

    def wait_at_rest(self, timeout: float = 120) -> None:
        """Let the platform finish what is in flight, its sweepers running as Celery beat would run them."""

        def beat() -> None:
            self.processes.supervise()
            self.processes.sweep()

        wait_at_rest(self.db, timeout=timeout, sweep=beat, diagnose=self.logs)

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.processes.log_tail(name)}" for name in ("worker", "web"))

    def reconnect(self) -> None:
        """Drop this process's connection to the platform's database (after the server restarted)."""
        from django.db import connections

        connections[self.db].close()


@pytest.fixture
def platform(emulator, llm, postgres_server, platform_template, redis_server):
    """The platform's processes on their own copy of the template database, with Graph at the emulator."""
    name = f"platform_{next(_database_names)}"
    postgres_server.admin(f'CREATE DATABASE "{name}" TEMPLATE "platform_template"')
    graph_url = emulator.graph_url.replace("localhost", "127.0.0.1")
    env = topology.platform_env(
        database_url=postgres_server.url(name), redis_url=redis_server.url(), graph_url=graph_url
    )
    processes = topology.Platform(env=env)
    with topology.database_alias("platform", postgres_server.url(name)) as alias:
        try:
            Agent.objects.using(alias).filter(pk=platform_template["agent_id"]).update(base_url=llm.base_url)
            number = emulator.provision(
                f"{processes.url}/webhooks/whatsapp/{platform_template['channel_public_id']}/",
                app_secret=topology.APP_SECRET,
                access_token=topology.ACCESS_TOKEN,
                phone_number_id=topology.PHONE_NUMBER_ID,
                waba_id=topology.WABA_ID,
                display_phone_number=topology.DISPLAY_PHONE_NUMBER,
            )
            meta = MetaSender(
                phone_number_id=number.phone_number_id,
                waba_id=number.waba_id,
                display_digits=number.display_digits,
                app_secret=topology.APP_SECRET,
            )
            processes.start()
            yield PlatformUnderTest(
                processes, postgres_server, redis_server, alias, platform_template, number, emulator, llm, meta
            )
        finally:
            processes.stop()
            if not postgres_server.running():
                postgres_server.start()  # a test that failed mid-outage leaves it stopped
            with contextlib.suppress(Exception):
                postgres_server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
