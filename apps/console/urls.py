"""Console URLs."""

from django.contrib.auth import views as auth_views
from django.urls import path

from apps.console import views

app_name = "console"
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="console/login.html"), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("pools/<int:pool_id>/", views.pool_detail, name="pool"),
    path("pools/<int:pool_id>/scale/", views.pool_scale, name="pool-scale"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("hosts/<int:host_id>/", views.host_detail, name="host"),
    path("hosts/<int:host_id>/initialize/", views.host_initialize, name="host-initialize"),
]
