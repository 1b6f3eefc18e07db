"""Language selection: Simplified Chinese unless the user chose English.

Django's LocaleMiddleware lets the browser's Accept-Language header decide. Grassroots' pages are
Chinese by default for everyone (a township office's browser often says en-US), and switch
only when the user picks a language (the switcher in the header sets the language cookie). API
clients keep standard content negotiation through Accept-Language.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith("/api/"):
            super().process_request(request)
            return
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
