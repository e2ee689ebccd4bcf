from django.urls import path

from incentives import bonus_views

app_name = "bonuses"
urlpatterns = [
    path("", bonus_views.my_earnings, name="my_earnings"),
    path("awards/<int:pk>/", bonus_views.statement, name="statement"),
    path("awards/<int:pk>/decide/", bonus_views.award_decide, name="award_decide"),
    path("awards/<int:pk>/questions/", bonus_views.award_question, name="award_question"),
    path("approvals/", bonus_views.approval_queue, name="approval_queue"),
    path("payroll/", bonus_views.payroll, name="payroll"),
    path("payroll/<int:pk>/", bonus_views.payroll_download, name="payroll_download"),
    path("plans/<int:pk>/simulate/", bonus_views.plan_simulate, name="plan_simulate"),
    path("plans/<int:pk>/contests/", bonus_views.contest_standings, name="contest_standings"),
]
