from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from salesteam.selectors import SCOPE_CACHE

# No inline scripts or styles: every script and stylesheet is served from our own static files.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class ContentSecurityPolicyMiddleware:
    """Adds a strict Content-Security-Policy header to every HTML response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/docs/"):
            # Swagger UI ships inline bootstrapping code.
            return response
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response


class RequestScopeCacheMiddleware:
    """Gives the user making a request an empty cache for the lists of their teams, so that the
    selectors of one page look them up once (salesteam.selectors.SCOPE_CACHE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            setattr(user, SCOPE_CACHE, {})
        return self.get_response(request)
