from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from goals.api import router as goals_router
from incentives.api import router as incentives_router
from incentives.bonus_api import router as bonuses_router
from kpis import leaderboard_views
from kpis.api import router as kpis_router
from salesteam import views
from salesteam.api import router

urlpatterns = [
    path("", views.home, name="home"),
    path("deals/", views.deal_list, name="deal_list"),
    path("deals/new/", views.deal_create, name="deal_create"),
    path("deals/pipeline/", views.pipeline, name="pipeline"),
    path("deals/<int:pk>/", views.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/edit/", views.deal_update, name="deal_update"),
    path("deals/<int:pk>/stage/", views.deal_stage, name="deal_stage"),
    path("imports/", views.import_list, name="import_list"),
    path("imports/new/", views.import_new, name="import_new"),
    path("imports/people/", views.people_import, name="people_import"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/errors.csv", views.import_errors_csv, name="import_errors_csv"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("kpis/", include("kpis.urls")),
    path("goals/", include("goals.urls")),
    path("recognition/", include("incentives.urls")),
    path("earnings/", include("incentives.bonus_urls")),
    path("leaderboards/", include(leaderboard_views.urls)),
    path("api/v1/", include(router.urls)),
    path("api/v1/", include(kpis_router.urls)),
    path("api/v1/", include(goals_router.urls)),
    path("api/v1/", include(incentives_router.urls)),
    path("api/v1/", include(bonuses_router.urls)),
    path("api/v1/auth/token/", obtain_auth_token, name="api_token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api_docs"),
]
