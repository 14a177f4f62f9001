"""Exceptions raised by bfl-mock itself (not HTTP errors it serves).

MockServerError
├── SpecError         the OpenAPI document cannot drive the mock
├── SettingsError     a setting has a value the mock cannot use
└── ServerStartError  the live server did not come up
"""

from __future__ import annotations


class MockServerError(Exception):
    """Base class of every error bfl-mock raises on its own account."""


class SpecError(MockServerError):
    """The OpenAPI document lacks something the mock needs, or has a shape it cannot read."""


class SettingsError(MockServerError):
    """A setting (flag, environment variable or keyword) has an unusable value."""


class ServerStartError(MockServerError):
    """The live server failed to start listening."""
