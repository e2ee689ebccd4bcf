from django.urls import path

from incentives import views

app_name = "incentives"
urlpatterns = [
    path("", views.recognition_home, name="home"),
    path("teams/<int:pk>/", views.team_recognition, name="team_recognition"),
    path("people/<int:pk>/", views.profile, name="profile"),
    path("kudos/new/", views.kudos_create, name="kudos_create"),
    path("kudos/<int:pk>/react/", views.kudos_react, name="kudos_react"),
    path("preferences/", views.preferences, name="preferences"),
]
