import pytest

from support.assets import check_needs
from support.database import *  # noqa: F403
from support.fixtures import *  # noqa: F403
from support.mqtt import mosquitto, persistent_mosquitto  # noqa: F401
from support.vigil import camera_clip, vigil_factory  # noqa: F401


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    check_needs(item)
