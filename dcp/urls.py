"""URL map: REST API v1, its schema and docs, the console."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from apps.accounts.api import MembershipViewSet, ObtainTokenView, PoolAdminViewSet, TokenViewSet, UserViewSet
from apps.accounts.lockouts_api import LockoutViewSet
from apps.configuration.api import InitRunViewSet, RegistryViewSet, SSHKeyViewSet
from apps.core.api.audit import AuditEntryViewSet
from apps.core.health import healthz
from apps.costs.api import CostViewSet, ExchangeRateViewSet, PriceViewSet
from apps.costs.budgets.api import BudgetViewSet
from apps.costs.reports.api import CostReportScheduleViewSet, CostReportViewSet
from apps.inventory.api import ClusterViewSet, HostViewSet, PhysicalMachineViewSet, ServicePoolViewSet
from apps.monitoring.views import metrics
from apps.providers.api import CloudAccountViewSet, MachineTemplateViewSet
from apps.provisioning.api import JobViewSet
from apps.provisioning.orphans_api import OrphanInstanceViewSet
from apps.scaling.api import (
    PolicyAlertsView,
    PolicyTriggerViewSet,
    ScalingPolicyViewSet,
    ScalingScheduleViewSet,
    ScheduleOccurrenceViewSet,
)

router = DefaultRouter()
router.register("providers", CloudAccountViewSet, basename="provider")
router.register("physical-machines", PhysicalMachineViewSet, basename="physicalmachine")
router.register("templates", MachineTemplateViewSet, basename="template")
router.register("clusters", ClusterViewSet, basename="cluster")
router.register(r"clusters/(?P<cluster_pk>[0-9]+)/members", MembershipViewSet, basename="member")
router.register("pools", ServicePoolViewSet, basename="pool")
router.register("jobs", JobViewSet, basename="job")
router.register("hosts", HostViewSet, basename="host")
router.register("orphans", OrphanInstanceViewSet, basename="orphan")
router.register("init-runs", InitRunViewSet, basename="initrun")
router.register("ssh-keys", SSHKeyViewSet, basename="sshkey")
router.register("registries", RegistryViewSet, basename="registry")
router.register("users", UserViewSet, basename="user")
router.register("tokens", TokenViewSet, basename="token")
router.register("lockouts", LockoutViewSet, basename="lockout")
router.register("audit", AuditEntryViewSet, basename="audit")
router.register("prices", PriceViewSet, basename="price")
router.register("exchange-rates", ExchangeRateViewSet, basename="exchangerate")
router.register("costs", CostViewSet, basename="cost")
router.register("budgets", BudgetViewSet, basename="budget")
router.register("cost-report-schedules", CostReportScheduleViewSet, basename="costreportschedule")
router.register("cost-reports", CostReportViewSet, basename="costreport")
router.register("scaling-schedules", ScalingScheduleViewSet, basename="scalingschedule")
router.register("scaling-occurrences", ScheduleOccurrenceViewSet, basename="scheduleoccurrence")
router.register("scaling-policies", ScalingPolicyViewSet, basename="scalingpolicy")
router.register("scaling-triggers", PolicyTriggerViewSet, basename="policytrigger")
router.register("pool-admins", PoolAdminViewSet, basename="pooladmin")

handler404 = "apps.core.api.exceptions.not_found"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("api/v1/scaling-policies/<int:pk>/alerts/", PolicyAlertsView.as_view(), name="scalingpolicy-alerts"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("apps.accounts.urls")),
    path("", include("apps.console.urls")),
]
