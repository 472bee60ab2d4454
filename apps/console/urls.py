"""Console URLs."""

from django.urls import path

from apps.console import views
from apps.console.login import LoginView

app_name = "console"
urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("pools/<int:pool_id>/", views.pool_detail, name="pool"),
    path("pools/<int:pool_id>/scale/", views.pool_scale, name="pool-scale"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("hosts/<int:host_id>/", views.host_detail, name="host"),
    path("hosts/<int:host_id>/initialize/", views.host_initialize, name="host-initialize"),
]
