"""A live platform set up as operators run it: JSON logs, a metrics token, fast presence."""

from collections.abc import Iterator

import pytest

from tests.support.live import LivePlatform, Platform

METRICS_TOKEN = "metrics-bearer-for-tests"


@pytest.fixture(scope="session")
def ops_platform() -> Iterator[LivePlatform]:
    platform = Platform(
        extra_env={
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "DEBUG",
            "HERALD_METRICS_TOKEN": METRICS_TOKEN,
            "HERALD_PRESENCE_INTERVAL": "0.2",
        }
    )
    server = platform.start_server()
    yield LivePlatform(platform, server)
    platform.close()
