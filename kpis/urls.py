from django.urls import path

from kpis import views

app_name = "kpis"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export.csv", views.export, name="export"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/start/", views.run_start, name="run_start"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
]
