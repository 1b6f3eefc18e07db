from tests.api.conftest import as_, tokens  # noqa: F401  (API persona clients)
from tests.web.conftest import compiled_messages, login  # noqa: F401  (signed-in browsers)
