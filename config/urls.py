from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import api as accounts_api
from config import health
from notifications import api

api_v1 = [
    path("auth/token/", accounts_api.ObtainTokenView.as_view()),
    path("tokens/", accounts_api.TokenListView.as_view()),
    path("tokens/<int:token_id>/", accounts_api.TokenDetailView.as_view()),
    path("ws-tickets/", accounts_api.TicketView.as_view()),
    path("subscribers/", accounts_api.SubscriberCreateView.as_view()),
    path("subscribers/<str:username>/notifications/", api.DirectNotificationView.as_view()),
    path("channels/", api.ChannelListView.as_view()),
    path("channels/<str:slug>/", api.ChannelDetailView.as_view()),
    path("channels/<str:slug>/subscription/", api.SubscriptionView.as_view()),
    path("channels/<str:slug>/subscribers/", api.SubscribersView.as_view()),
    path("channels/<str:slug>/subscribers/<str:username>/", api.SubscriberDetailView.as_view()),
    path("channels/<str:slug>/events/", api.ChannelEventsView.as_view()),
    path("notifications/", api.InboxView.as_view()),
    path("notifications/unread-count/", api.UnreadCountView.as_view()),
    path("notifications/read-all/", api.MarkAllReadView.as_view()),
    path("notifications/<int:notification_id>/read/", api.MarkReadView.as_view()),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[]), name="docs"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("notifications.urls")),
]
