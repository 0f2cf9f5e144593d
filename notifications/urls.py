"""Dashboard pages (the REST API and sign-in pages are routed in config/urls.py)."""

from django.urls import path

from accounts import views as account_views
from notifications import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("notifications/<int:notification_id>/read/", views.mark_read, name="mark-read"),
    path("notifications/read-all/", views.mark_all_read, name="mark-all-read"),
    path("channels/", views.channels, name="channels"),
    path("channels/<str:slug>/", views.channel_detail, name="channel"),
    path("channels/<str:slug>/subscription/", views.subscription, name="subscription"),
    path("publish/", views.publish, name="publish"),
    path("tokens/", account_views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", account_views.token_revoke, name="token-revoke"),
]
