"""The `web:` section: a token long enough, from the environment; an http(s) base URL."""

from __future__ import annotations

import pytest

from monitors import config as config_mod
from monitors.errors import ConfigError

TOKEN = "a-web-token-of-32-characters-xyz"


def test_web_defaults_listen_on_loopback() -> None:
    web = config_mod.from_dict({}, "t", env={}).web
    assert (web.host, web.port, web.base_url, web.token) == ("127.0.0.1", 8080, None, None)


def test_a_short_token_or_a_bad_base_url_is_a_config_problem() -> None:
    with pytest.raises(ConfigError, match="web.token: a web token needs at least 16"):
        config_mod.from_dict({"web": {"token": "secret"}}, "t", env={})
    with pytest.raises(ConfigError, match="web.base_url: scheme 'ftp'"):
        config_mod.from_dict({"web": {"base_url": "ftp://desk"}}, "t", env={})
    env = {"NEWSMON_WEB_TOKEN": TOKEN}
    loaded = config_mod.from_dict({"web": {"token": "${NEWSMON_WEB_TOKEN}"}}, "t", env=env)
    assert loaded.web.token == TOKEN
