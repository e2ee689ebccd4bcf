from django.conf import settings
from django.http import HttpRequest


def salesteam(request: HttpRequest) -> dict:
    return {"REPORTING_CURRENCY": settings.REPORTING_CURRENCY}
