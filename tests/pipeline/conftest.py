"""The production topology (gunicorn + Celery workers on PostgreSQL and Redis) from the reliability suite."""

from tests.reliability.conftest import (  # noqa: F401 (fixtures)
    llm,
    platform,
    platform_template,
    postgres_server,
    redis_server,
)
