from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotator.throttles import login_throttled
from annotator.views import spa

handler404 = "annotator.exception_handlers.not_found"
handler500 = "annotator.exception_handlers.server_error"

urlpatterns = [
    path("admin/login/", login_throttled(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("annotator.urls")),
    path("", spa, name="spa"),
    re_path(r"^(?P<path>(login|projects)(/.*)?)$", spa, name="spa-route"),
]
