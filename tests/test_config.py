"""Config: every mistake is one message naming file, key and line; tokens only by env name."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal_tui.config import Config, Secrets, find_config_path, load_config, parse_config
from portal_tui.dashboards.registry import dashboard_names, default_ttls, ttl_of
from portal_tui.vocabulary.errors import ConfigError
from portal_tui.vocabulary.names import DashboardName

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"

GOOD = """
reporting_timezone = "Europe/London"

[[instances]]
name = "main"
base_url = "https://send.example.com/api/"
master_token_env = "BISON_MASTER"

[[clients]]
name = "Acme Corp"
monthly_kpi = 30
api_key_env = "ACME_TOKEN"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "portal.toml"
    path.write_text(text)
    return path


def test_good_config_loads_with_defaults(tmp_path: Path) -> None:
    env = {"BISON_MASTER": "m", "ACME_TOKEN": "a"}
    config = load_config(write(tmp_path, GOOD), secrets=Secrets(env))
    assert config.instances[0].base_url == "https://send.example.com/api"
    assert config.instances[0].concurrency == 5
    assert ttl_of(config, DashboardName.KPI) == 120
    assert ttl_of(config, DashboardName.INFRASTRUCTURE) == 600
    assert config.retry.attempts == 4
    assert config.clients_for("main")[0].name == "Acme Corp"
    assert str(config.zone) == "Europe/London"


def test_example_config_documents_a_valid_file() -> None:
    config = parse_config(EXAMPLE.read_text(), source=str(EXAMPLE), dashboard_ttls=default_ttls())
    assert isinstance(config, Config)
    assert config.instances and config.clients
    # [ttl] lists every registered dashboard, at its declared default
    assert config.ttl.model_extra == default_ttls()


def test_ttl_names_are_the_registrys() -> None:
    text = "[ttl]\nkpi = 60\nvolume = 90\n"
    config = parse_config(text, dashboard_ttls=default_ttls())
    assert ttl_of(config, DashboardName.KPI) == 60
    assert ttl_of(config, DashboardName.REVENUE) == 300  # Revenue's declared default
    assert [ttl_of(Config(), n) for n in dashboard_names()] == [120, 120, 300, 600]
    # Below the dashboards the config cannot know their names: who loads it passes them.
    assert parse_config("[ttl]\nspotlight = 5\n").ttl.seconds("spotlight", 1) == 5
    with pytest.raises(ConfigError) as info:
        parse_config("[ttl]\nspotlight = 5\n", dashboard_ttls=default_ttls())
    assert (info.value.key, info.value.line) == ("ttl.spotlight", 2)
    # a default TTL over a lowered max_staleness is refused too
    with pytest.raises(ConfigError, match="infrastructure TTL \\(600 s\\) is longer"):
        parse_config(
            "[ttl]\nmax_staleness = 300\nkpi = 60\nvolume = 60\nrevenue = 60\n",
            dashboard_ttls=default_ttls(),
        )


@pytest.mark.parametrize(
    ("text", "key", "line", "words"),
    [
        ("[ttl]\nkpi = 'soon'\n", "ttl.kpi", 2, "must be a number, not 'soon'"),
        ("[ttl]\nkpi = 10\nbogus = 1\n", "ttl.bogus", 3, "unknown key"),
        ("[[instances]]\nname='a'\nbase_url='ftp://x'\n", "instances.0.base_url", 3, "http"),
        (
            "[[instances]]\nname='a'\nbase_url='https://x/api'\n[[instances]]\nname='b'\nbase_url='https://y'\nconcurrency=0\n",
            "instances.1.concurrency",
            7,
            "greater than or equal",
        ),
        ("[[clients]]\nname='A'\nbilling_type='free'\n", "clients.0.billing_type", 3, "per_lead"),
        ("reporting_timezone = 'Mars/Olympus'\n", "reporting_timezone", 1, "unknown time zone"),
        (
            "[[clients]]\nname='A'\napi_key_env='sk_live_abc123 xyz'\n",
            "clients.0.api_key_env",
            3,
            "literal tokens are refused",
        ),
    ],
)
def test_bad_values_name_key_and_line(text: str, key: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="bad.toml", dashboard_ttls=default_ttls())
    err = info.value
    assert (err.key, err.line) == (key, line)
    assert words in str(err)
    assert str(err).startswith(f"bad.toml, line {line}: key '{key}'")


def test_toml_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[ttl]\nkpi = = 3\n", source="x.toml")
    assert info.value.line == 2
    assert "TOML syntax error" in str(info.value)


def test_missing_env_var_is_named_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD), secrets=Secrets({"BISON_MASTER": "m"}))
    assert "ACME_TOKEN is not set" in str(info.value)
    assert info.value.line == 12 and info.value.key == "api_key_env"


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="directory"):
        load_config(tmp_path)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(binary)


def test_client_naming_unknown_instance_is_refused() -> None:
    with pytest.raises(ConfigError, match="not configured"):
        parse_config(
            "[[instances]]\nname='a'\nbase_url='https://x'\n[[clients]]\nname='A'\ninstance='b'\n"
        )


def test_lookup_order(tmp_path: Path) -> None:
    explicit = tmp_path / "a.toml"
    assert find_config_path(str(explicit), env={"PORTAL_TUI_CONFIG": "b.toml"}) == explicit
    assert find_config_path(None, env={"PORTAL_TUI_CONFIG": "b.toml"}) == Path("b.toml")


def test_secrets_never_repr_the_token() -> None:
    secrets = Secrets({"T": "super-secret-value"})
    token = secrets.get("T")
    assert token is not None
    assert "super-secret-value" not in repr(token) and "super-secret-value" not in str(token)
    assert secrets.get("MISSING") is None


INSTANCE = "[[instances]]\nname = 'a'\nbase_url = 'https://h/api'\n"


@pytest.mark.parametrize(
    ("text", "key", "line", "words"),
    [
        ("[ttl]\nkpi = true\n", "ttl.kpi", 2, "must be a number, not true"),
        (INSTANCE + "concurrency = true\n", "instances.0.concurrency", 4, "not true"),
        (INSTANCE + "attempt_timeout = false\n", "instances.0.attempt_timeout", 4, "not false"),
        ("[[clients]]\nname = 'A'\nid = true\n", "clients.0.id", 3, "must be a number"),
        ("[retry]\nattempts = '5'\n", "retry.attempts", 2, "must be a number, not '5'"),
        ("auto_refresh = 1\n", "auto_refresh", 1, "must be true or false, not 1"),
        (INSTANCE + "verify_tls = 'no'\n", "instances.0.verify_tls", 4, "true or false"),
    ],
)
def test_types_are_strict_booleans_are_not_numbers(
    text: str, key: str, line: int, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="c.toml")
    message = str(info.value)
    assert message.startswith(f"c.toml, line {line}: key '{key}': ") and words in message


def test_numbers_and_switches_of_the_right_type_still_load() -> None:
    config = parse_config(INSTANCE + "concurrency = 3\nattempt_timeout = 2\nverify_tls = false\n")
    assert config.instances[0].concurrency == 3 and config.instances[0].attempt_timeout == 2.0
    assert config.instances[0].verify_tls is False


@pytest.mark.parametrize("depth", [200, 5_000, 100_000])
def test_deep_nesting_is_a_config_error_not_an_internal_error(tmp_path: Path, depth: int) -> None:
    path = write(tmp_path, "reporting_timezone = 'UTC'\nx = " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, check_env=False)
    message = str(info.value)
    assert message.startswith(f"{path}, line 2") and "\n" not in message
    assert "nested too deeply" in message or "unknown key" in message  # 200 levels parse


def test_a_config_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    import time

    from portal_tui.config.loading import MAX_CONFIG_BYTES

    # Valid TOML all through, so only the size can be what is refused.
    entry = "[[clients]]\nname = 'client'\nmonthly_kpi = 1000\n"
    path = write(tmp_path, entry * (MAX_CONFIG_BYTES // len(entry) + 1))
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="larger than 1024 KiB") as info:
        load_config(path, check_env=False)
    assert time.perf_counter() - started < 5  # not parsed: 10 MB took 52 s before
    assert str(info.value).startswith(str(path))
    path.write_text(entry * (MAX_CONFIG_BYTES // len(entry) - 1))  # just under: loads
    assert len(load_config(path, check_env=False).clients) > 10_000
