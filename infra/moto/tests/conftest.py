"""Fixtures: `harsh` is one moto for the session with `ORDERFLOW_HARSH_FILE` set; each test
writes the spec it needs (the server reads it again on change) and names its own tables and
queues. `plain` is one without the variable: moto as the project ran it before the harsh cloud.
"""

import pytest
from support import MotoServer


@pytest.fixture(scope="session")
def harsh(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("harsh"), spec="conflict_ms=0,item_wcu=0")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plain(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("plain"), spec=None)
    yield server
    server.stop()
