"""Console URLs: lists by what an ops engineer thinks about, detail pages, and the user's own choices."""

from django.urls import path

from apps.console import actions, budgets, editors, generic, i18n, inventory, lists, members, views
from apps.console.login import LoginView

app_name = "console"
urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("language/", i18n.set_language, name="language"),
    path("preferences/columns/<slug:table>/", generic.choose_columns, name="columns"),
    path("", lists.PoolList.as_view(), name="home"),
    path("clusters/", lists.ClusterList.as_view(), name="clusters"),
    path("clusters/<int:cluster_id>/", views.cluster_detail, name="cluster"),
    path("clusters/<int:cluster_id>/members/", members.member_add, name="member-add"),
    path("clusters/<int:cluster_id>/members/<str:username>/", members.member_change, name="member-change"),
    path("pools/", lists.PoolList.as_view(), name="pools"),
    path("pools/<int:pool_id>/", views.pool_detail, name="pool"),
    path("pools/<int:pool_id>/scale/", actions.pool_scale, name="pool-scale"),
    path("pools/<int:pool_id>/admins/", members.pool_admin_add, name="pool-admin-add"),
    path("pools/<int:pool_id>/admins/<str:username>/remove/", members.pool_admin_remove, name="pool-admin-remove"),
    path("pools/<int:pool_id>/scale/preview/", actions.pool_scale_preview, name="pool-scale-preview"),
    path("hosts/", lists.HostList.as_view(), name="hosts"),
    path("hosts/<int:host_id>/", views.host_detail, name="host"),
    path("hosts/<int:host_id>/initialize/", views.host_initialize, name="host-initialize"),
    path("jobs/", lists.JobList.as_view(), name="jobs"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/progress/", views.job_progress, name="job-progress"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("costs/", views.costs, name="costs"),
    path("providers/", lists.ProviderList.as_view(), name="providers"),
    path("templates/", lists.TemplateList.as_view(), name="templates"),
    path("physical-machines/", lists.MachineList.as_view(), name="physical-machines"),
    path("registries/", lists.RegistryList.as_view(), name="registries"),
    path("ssh-keys/", lists.SSHKeyList.as_view(), name="ssh-keys"),
    path("orphans/", lists.OrphanList.as_view(), name="orphans"),
    path("audit/", lists.AuditList.as_view(), name="audit"),
    # Actions behind a confirmation, budgets and reports, provider accounts.
    path("pools/<int:pool_id>/scale/confirm/", actions.pool_scale_confirm, name="pool-scale-confirm"),
    path("hosts/actions/", actions.hosts_action, name="hosts-action"),
    path("budgets/", budgets.BudgetList.as_view(), name="budgets"),
    path("budgets/<int:budget_id>/", budgets.budget_detail, name="budget"),
    path("reports/", budgets.ReportScheduleList.as_view(), name="report-schedules"),
    path("reports/<int:schedule_id>/", budgets.report_schedule_detail, name="report-schedule"),
    path("providers/<int:account_id>/", inventory.provider_detail, name="provider"),
]

#: Create, edit and delete pages: each through the API's own viewset (apps.console.edit, apps.console.editors).
EDITORS = (
    ("clusters", "cluster", editors.ClusterEdit, editors.ClusterDelete),
    ("pools", "pool", editors.PoolEdit, editors.PoolDelete),
    ("providers", "provider", editors.ProviderEdit, editors.ProviderDelete),
    ("templates", "template", editors.TemplateEdit, editors.TemplateDelete),
    ("physical-machines", "physical-machine", editors.MachineEdit, editors.MachineDelete),
    ("registries", "registry", editors.RegistryEdit, editors.RegistryDelete),
    ("budgets", "budget", editors.BudgetEdit, editors.BudgetDelete),
    ("cost-report-schedules", "cost-report-schedule", editors.ScheduleEdit, editors.ScheduleDelete),
    ("scaling-schedules", "scaling-schedule", editors.ScalingScheduleEdit, editors.ScalingScheduleDelete),
    ("scaling-policies", "scaling-policy", editors.ScalingPolicyEdit, editors.ScalingPolicyDelete),
)
urlpatterns += [
    path("physical-machines/import/", editors.MachineImport.as_view(), name="physical-machine-import"),
    path("scaling-schedules/<int:pk>/enable/", editors.ScalingScheduleEnable.as_view(), name="scaling-schedule-enable"),
    path("scaling-policies/<int:pk>/enable/", editors.ScalingPolicyEnable.as_view(), name="scaling-policy-enable"),
    path(
        "scaling-policies/<int:pk>/rotate-token/", editors.ScalingPolicyRotate.as_view(), name="scaling-policy-rotate"
    ),
]
for prefix, name, edit, delete in EDITORS:
    urlpatterns += [
        path(f"{prefix}/add/", edit.as_view(), name=f"{name}-add"),
        path(f"{prefix}/<int:pk>/edit/", edit.as_view(), name=f"{name}-edit"),
        path(f"{prefix}/<int:pk>/delete/", delete.as_view(), name=f"{name}-delete"),
    ]
