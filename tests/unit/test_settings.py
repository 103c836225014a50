"""Settings: every contract variable typed, bad values refused with a one-line reason."""

from __future__ import annotations

import pytest

from app.configuration.environment import Settings, load_settings
from app.configuration.file import check_credentials, load_config
from app.errors import ConfigError
from state.postgres.connection import where
from tests.conftest import MakeSettings


def test_defaults_follow_the_contract(make_settings: MakeSettings) -> None:
    settings = make_settings()
    assert settings.image_extensions == (".jpg", ".jpeg", ".png")
    assert settings.sidecar_extensions == (".txt",)
    assert settings.select_policy == "random"
    assert settings.lease_seconds == 900
    assert settings.sync_mode == "webhook"
    assert settings.reconcile_seconds == 900
    assert settings.dropbox_recursive is False


def test_extensions_parse_from_a_comma_list(make_settings: MakeSettings) -> None:
    settings = make_settings(image_extensions="JPG, .Png,heic", sidecar_extensions="txt,.json")
    assert settings.image_extensions == (".jpg", ".png", ".heic")
    assert settings.sidecar_extensions == (".txt", ".json")


def test_folder_is_normalised(make_settings: MakeSettings) -> None:
    assert make_settings(dropbox_folder="/Photos/queue/").dropbox_folder == "/Photos/queue"
    assert make_settings(dropbox_folder="").dropbox_folder == ""


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"select_policy": "sometimes"}, "SELECT_POLICY"),
        ({"lease_seconds": -5}, "LEASE_SECONDS"),
        ({"sync_mode": "carrier-pigeon"}, "SYNC_MODE"),
        ({"dropbox_folder": "Photos"}, "DROPBOX_FOLDER"),
        ({"dropbox_base_url": "ftp://x"}, "DROPBOX_BASE_URL"),
        ({"image_extensions": ""}, "IMAGE_EXTENSIONS"),
    ],
)
def test_bad_values_name_the_variable_in_one_line(
    overrides: dict[str, object], variable: str
) -> None:
    values: dict[str, object] = {"dropbox_folder": "/Photos", "_env_file": None}
    values.update(overrides)
    with pytest.raises(ConfigError) as caught:
        load_settings(**values)
    message = str(caught.value)
    assert message.startswith(variable + ":")
    assert "\n" not in message


def test_missing_folder_is_named() -> None:
    settings = load_settings(_env_file=None)
    with pytest.raises(ConfigError, match=r"^DROPBOX_FOLDER: is required"):
        load_config(settings, {})


def test_serve_refuses_missing_secrets(make_settings: MakeSettings) -> None:
    with pytest.raises(ConfigError, match="API_TOKEN"):
        make_settings(api_token=None).check_serve()
    with pytest.raises(ConfigError, match="DROPBOX_APP_SECRET"):
        make_settings(dropbox_app_secret=None).check_serve()
    make_settings(sync_mode="longpoll", dropbox_app_secret=None).check_serve()


def test_dropbox_credentials_are_required_where_a_library_uses_them(
    make_settings: MakeSettings,
) -> None:
    def check(settings: Settings) -> None:
        check_credentials(load_config(settings, {}), settings)

    with pytest.raises(ConfigError, match="DROPBOX_REFRESH_TOKEN"):
        check(make_settings(dropbox_access_token=None))
    with pytest.raises(ConfigError, match="DROPBOX_APP_KEY"):
        check(make_settings(dropbox_refresh_token="r", dropbox_app_key=None))
    check(make_settings())


def test_secrets_do_not_show_in_repr(make_settings: MakeSettings) -> None:
    settings = make_settings(dropbox_refresh_token="refresh-secret-value")
    text = repr(settings) + str(settings.model_dump())
    for secret in ("refresh-secret-value", "test-api-token", "test-app-secret"):
        assert secret not in text


def test_database_url_selects_postgresql_and_stays_secret(make_settings: MakeSettings) -> None:
    assert make_settings().database is None  # unset: SQLite in STATE_DIR
    assert make_settings(database_url="").database is None
    url = "postgresql://unposted:s3cret-pw@db.example:5432/unposted"
    settings = make_settings(database_url=url)
    assert settings.database == url
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in str(settings)
    assert where(url) == "db.example:5432/unposted"


def test_a_database_url_of_another_kind_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None, database_url="mysql://u:pw@h/db")
    assert str(refused.value).startswith("DATABASE_URL: ") and "pw" not in str(refused.value)
