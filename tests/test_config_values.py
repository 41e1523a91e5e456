"""nan, inf and absurd numbers in config.toml are refused with the key named, never used."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokentray.settings import load_settings


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1.0", "1e300"])
def test_price_overrides_refuse_non_numbers(tmp_path: Path, value: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[pricing.models."claude-x"]\ninput = {value}\noutput = 15.0\n', encoding="utf-8"
    )
    loaded = load_settings(config)
    assert loaded.error is not None
    assert '"claude-x"' in loaded.error or "claude-x" in loaded.error
    assert ".input must be a non-negative number up to 10,000" in loaded.error
    assert not loaded.pricing.overrides


@pytest.mark.parametrize("value", ["nan", "inf", "-5.0", "1e12"])
def test_a_budget_that_is_not_a_sane_number_is_refused(tmp_path: Path, value: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[budget]\ndaily_usd = {value}\n", encoding="utf-8")
    settings = load_settings(config)
    assert settings.error is not None and "budget.daily_usd must be a number" in settings.error
    assert settings.daily_budget_usd == 20.0  # the default, not nan


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("threshold", "nan", "threshold must be more than 0"),
        ("threshold", "inf", "threshold must be more than 0"),
        ("threshold", "1e300", "threshold must be more than 0"),
        ("warning_share", "nan", "warning_share must be above 0"),
    ],
)
def test_alert_rules_refuse_numbers_that_would_switch_them_off(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    config = tmp_path / "config.toml"
    rule = {"id": "r1", "name": "Night", "kind": "total", "metric": "usd", "threshold": "10.0"}
    rule[field] = value
    lines = "\n".join(
        f"{k} = {v if k in ('threshold', 'warning_share') else repr(v)}" for k, v in rule.items()
    )
    config.write_text("[[alerts.rules]]\n" + lines.replace("'", '"') + "\n", encoding="utf-8")
    settings = load_settings(config)
    assert settings.error is not None and message in settings.error
    assert "'Night'" in settings.error


def test_the_config_file_is_private_and_old_modes_are_fixed(tmp_path: Path) -> None:
    import stat

    from tokentray.settings import Settings, save_settings

    path = tmp_path / "conf" / "config.toml"
    save_settings(Settings(daily_budget_usd=5.0), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)  # as older builds left it
    assert load_settings(path).daily_budget_usd == 5.0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_one_reader_keeps_what_is_usable(tmp_path: Path) -> None:
    """Broken price overrides do not throw away the budget and rules, and a broken budget
    does not throw away the price overrides: each part falls back on its own, one message."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[budget]\ndaily_usd = 7.5\n[pricing.models."m"]\ninput = -1.0\n', encoding="utf-8"
    )
    settings = load_settings(config)
    assert settings.daily_budget_usd == 7.5 and settings.pricing.overrides == ()
    assert settings.error is not None and "built-in prices" in settings.error
    assert not settings.file_unusable  # saving keeps the file (and its [pricing]) in place

    config.write_text(
        '[budget]\ndaily_usd = nan\n[pricing.models."m"]\ninput = 1.0\n', encoding="utf-8"
    )
    settings = load_settings(config)
    assert settings.daily_budget_usd == 20.0 and settings.file_unusable
    assert [o.model for o in settings.pricing.overrides] == ["m"]
    assert settings.error is not None and "budget.daily_usd" in settings.error
