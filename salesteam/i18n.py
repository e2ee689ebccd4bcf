"""Each person reads the app, and the messages sent to them, in their own language.

A user's language is remembered when they log in (the browser's language or the one they chose before)
and when they switch languages; messages written for someone else, such as notifications, are rendered
in the recipient's language rather than in the language of whoever caused them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import translation

# A message for a recipient: a finished text, or a function that writes it in the active language.
Message = str | Callable[[], str]


def language_of(user) -> str:
    return getattr(user, "language", "") or settings.LANGUAGE_CODE


def render_for(user, message: Message) -> str:
    """The message in `user`'s language: a callable is called with that language active."""
    if not callable(message):
        return str(message)
    with translation.override(language_of(user)):
        return str(message())


def remember_language(user, language: str) -> None:
    """Stores `language` as the user's language if it is one of the installation's and has changed."""
    if language in dict(settings.LANGUAGES) and user.language != language:
        user.language = language
        get_user_model().objects.filter(pk=user.pk).update(language=language)


@receiver(user_logged_in)
def _remember_language_on_login(sender, request, user, **kwargs) -> None:
    if request is not None and getattr(request, "LANGUAGE_CODE", None):
        remember_language(user, translation.get_supported_language_variant(request.LANGUAGE_CODE))


def in_language_of(user):
    """A context manager that activates `user`'s language."""
    return translation.override(language_of(user))
