"""The fuzz tests share the security tests' cast."""

from tests.security.conftest import live_world, world  # noqa: F401
