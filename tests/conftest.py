from support.database import *  # noqa: F403
from support.fixtures import *  # noqa: F403
