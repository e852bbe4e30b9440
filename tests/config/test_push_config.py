"""The `push:` section: off by default, its callback URL, and the checks of its values."""

from __future__ import annotations

import pytest

from monitors import config as config_mod
from monitors.errors import ConfigError


def load(push: object) -> config_mod.Config:
    return config_mod.from_dict({"push": push}, "newsmon.yaml", env={})


def test_push_is_off_without_a_base_url_and_its_defaults_are_stated_once() -> None:
    push = config_mod.Config().push
    assert not push.enabled
    assert (push.lease, push.renew_before, push.safety_interval) == (86400.0, 3600.0, 3600.0)
    with pytest.raises(ValueError, match="push.base_url is not set"):
        push.callback_url("x")


def test_a_base_url_turns_push_on_and_names_each_callback() -> None:
    push = load({"base_url": "https://desk.example.org/", "lease": "2d"}).push
    assert push.enabled and push.lease == 2 * 86400
    assert push.callback_url("abc") == "https://desk.example.org/websub/abc"


@pytest.mark.parametrize(
    ("push", "reason"),
    [
        ({"base_url": "ftp://desk.example.org"}, "scheme 'ftp' is not allowed"),
        ({"lease": "1h", "renew_before": "2h"}, "renew_before (2h) must be shorter than"),
        ({"safety_interval": "soon"}, "not a duration"),
        ({"max_bytes": 0}, "greater than 0"),
        ({"base_ulr": "https://desk.example.org"}, "unknown key (did you mean base_url?)"),
    ],
)
def test_bad_push_settings_are_problems_with_their_key(push: object, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(push)
    [problem] = caught.value.problems
    assert problem.path.startswith("push") and reason in problem.reason
