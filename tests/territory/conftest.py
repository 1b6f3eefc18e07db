from tests.web.conftest import compiled_messages, login  # noqa: F401  (signed-in browsers)
