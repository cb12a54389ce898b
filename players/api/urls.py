from django.urls import path

from . import consents, persons, views

# The two hot paths first (a game backend's payment, a player's lookup): Django tries
# the patterns in order, and no other pattern matches what these two match.
urlpatterns = [
    path("payments/", views.PaymentView.as_view(), name="api-payments"),
    path("players/<str:account_id>/", views.PlayerDetailView.as_view(), name="api-player"),
    path("payments/batch/", views.PaymentBatchView.as_view(), name="api-payments-batch"),
    path("logins/batch/", views.LoginBatchView.as_view(), name="api-logins-batch"),
    path("health/", views.HealthView.as_view(), name="api-health"),
    path("players/", views.PlayerListView.as_view(), name="api-players"),
    path("surveys/answer/", views.SurveyAnswerView.as_view(), name="api-survey-answer"),
    path("players/<str:account_id>/consents/", consents.PlayerConsentsView.as_view(), name="api-player-consents"),
    path("players/<str:account_id>/person/", persons.PlayerPersonView.as_view(), name="api-player-person"),
]
