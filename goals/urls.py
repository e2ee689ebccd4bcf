from django.urls import path

from goals import views

app_name = "goals"
urlpatterns = [
    path("", views.goal_list, name="goal_list"),
    path("team/", views.team_goals, name="team_goals"),
    path("approvals/", views.approval_queue, name="approval_queue"),
    path("new/", views.goal_create, name="goal_create"),
    path("<int:pk>/", views.goal_detail, name="goal_detail"),
    path("<int:pk>/edit/", views.goal_update, name="goal_update"),
    path("<int:pk>/<slug:action>/", views.goal_action, name="goal_action"),
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/read/", views.notification_read, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
]
