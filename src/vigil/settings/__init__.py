"""The configuration's models, in one package with one base: light to import (pydantic only),
and below every other layer, so storage and media may read their settings without importing
analytics, events or the API. `vigil.config` loads a file into them."""
