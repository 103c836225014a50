"""``connection_pool``: the one pool every account's client calls through keeps as many
connections as the runtime asks for (more calls at once would each open one and drop
it afterwards), to Dropbox with certificates required, or to ``DROPBOX_BASE_URL``."""

from __future__ import annotations

import ssl

from app.configuration.environment import Settings
from app.dropbox.client import connection_pool
from app.dropbox.transport import BaseUrlAdapter

API = "https://api.dropboxapi.com/2/files/list_folder"


def _settings(**fields: str) -> Settings:
    return Settings(_env_file=None, dropbox_folder="/Photos", **fields)  # type: ignore[call-arg]


def test_a_pool_to_dropbox_keeps_the_connections_asked_for_and_requires_certificates() -> None:
    pool = connection_pool(_settings(), 40)
    kept = pool.get_adapter(API).poolmanager.connection_pool_kw
    assert kept["maxsize"] == 40
    assert kept["cert_reqs"] == ssl.CERT_REQUIRED and pool.verify is True
    pool.close()


def test_a_pool_to_another_server_keeps_the_connections_asked_for() -> None:
    pool = connection_pool(_settings(dropbox_base_url="http://127.0.0.1:9"), 40)
    adapter = pool.get_adapter(API)
    assert isinstance(adapter, BaseUrlAdapter)
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 40
    assert not pool.trust_env  # no proxy or CA bundle from the environment for a local server
    pool.close()
