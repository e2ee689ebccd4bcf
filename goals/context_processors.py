from django.http import HttpRequest

from goals import selectors


def notifications(request: HttpRequest) -> dict:
    """The unread count for the bell in the navigation: one query, only for signed-in users."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": selectors.unread_count(user=user)}
