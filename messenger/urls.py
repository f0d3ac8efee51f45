"""URL configuration: the REST API under /api/, admin, the schema and the browser client."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from filetransfer import api as files_api
from messages import api as messages_api
from messenger import views
from notifications import api as notifications_api
from orgsync import api as orgsync_api
from orgsync import api_oidc, signon_api
from rooms import api as rooms_api

api = [
    path("auth/token", orgsync_api.LoginApi.as_view(), name="token"),
    path("auth/token/refresh", orgsync_api.TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/oidc/login", api_oidc.OidcLoginApi.as_view(), name="oidc-login"),
    path("auth/oidc/callback", api_oidc.OidcCallbackApi.as_view(), name="oidc-callback"),
    path("auth/oidc/exchange", api_oidc.OidcExchangeApi.as_view(), name="oidc-exchange"),
    path("auth/erp", signon_api.ErpSignOnApi.as_view(), name="auth-erp"),
    path("auth/ws-ticket", signon_api.WsTicketApi.as_view(), name="auth-ws-ticket"),
    path("auth/logout", orgsync_api.LogoutApi.as_view(), name="logout"),
    path("me", orgsync_api.MeApi.as_view(), name="me"),
    path("me/password", orgsync_api.MePasswordApi.as_view(), name="me-password"),
    path("me/sessions", orgsync_api.MeSessionsApi.as_view(), name="me-sessions"),
    path("me/sessions/<int:session_id>", orgsync_api.MeSessionApi.as_view(), name="me-session"),
    path("me/picture", orgsync_api.MePictureApi.as_view(), name="me-picture"),
    path("org/tree", orgsync_api.OrgTreeApi.as_view(), name="org-tree"),
    path("users", orgsync_api.UserSearchApi.as_view(), name="users"),
    path("users/<str:user_id>", orgsync_api.UserDetailApi.as_view(), name="user"),
    path("users/<str:user_id>/picture", orgsync_api.UserPictureApi.as_view(), name="user-picture"),
    path("rooms", messages_api.RoomListCreateApi.as_view(), name="rooms"),
    path("rooms/<int:room_id>", rooms_api.RoomDetailApi.as_view(), name="room"),
    path("rooms/<int:room_id>/invite", messages_api.RoomInviteApi.as_view(), name="room-invite"),
    path("rooms/<int:room_id>/leave", messages_api.RoomLeaveApi.as_view(), name="room-leave"),
    path(
        "rooms/<int:room_id>/messages",
        messages_api.RoomMessagesApi.as_view(),
        name="room-messages",
    ),
    path("rooms/<int:room_id>/read", messages_api.RoomReadApi.as_view(), name="room-read"),
    path(
        "messages/<str:msg_id>/readers",
        messages_api.MessageReadersApi.as_view(),
        name="message-readers",
    ),
    path("messages/<str:msg_id>", messages_api.MessageDeleteApi.as_view(), name="message"),
    path(
        "messages/<str:msg_id>/cancel",
        messages_api.MessageCancelApi.as_view(),
        name="message-cancel",
    ),
    path("search", messages_api.SearchApi.as_view(), name="search"),
    path("rooms/<int:room_id>/files", files_api.RoomFilesApi.as_view(), name="room-files"),
    path("rooms/<int:room_id>/forward", files_api.RoomForwardApi.as_view(), name="room-forward"),
    path("files/<str:msg_id>", files_api.FileDownloadApi.as_view(), name="file"),
    path(
        "files/<str:msg_id>/thumbnail",
        files_api.FileThumbnailApi.as_view(),
        name="file-thumbnail",
    ),
    path(
        "link-previews/<str:token>/image",
        files_api.LinkPreviewImageApi.as_view(),
        name="link-preview-image",
    ),
    path(
        "push/subscriptions",
        notifications_api.PushSubscriptionsApi.as_view(),
        name="push-subscriptions",
    ),
    path(
        "push/vapid-public-key",
        notifications_api.VapidPublicKeyApi.as_view(),
        name="push-vapid-public-key",
    ),
    path("schema", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    # The split view loads its start-up script from a URL, so scripts stay 'self' only; Swagger
    # UI sets inline styles, which this page alone allows.
    path(
        "docs",
        csp_update({"style-src": [UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="schema", permission_classes=[AllowAny])
        ),
        name="docs",
    ),
    # Anything else under /api/ answers in the API's error shape, not Django's HTML page.
    re_path(r"^.*$", views.api_not_found),
]

urlpatterns = [
    path("", views.client, name="client"),
    path("demo/portal", views.portal_demo, name="portal-demo"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
]
