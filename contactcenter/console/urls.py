"""The staff console's pages, under /admin/ (admin.site.admin_view: the admin's login and staff
check). The names are used by the admin's templates."""

from django.contrib import admin
from django.urls import path

from contactcenter.console import views

urlpatterns = [
    path("", admin.site.admin_view(views.dashboard), name="console-dashboard"),
    path("live/", admin.site.admin_view(views.dashboard_live), name="console-dashboard-live"),
]
