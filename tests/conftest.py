from support.database import *  # noqa: F403
from support.fixtures import *  # noqa: F403
from support.mqtt import mosquitto, persistent_mosquitto  # noqa: F401
from support.vigil import camera_clip, vigil_factory  # noqa: F401
