"""The console's create and edit forms (apps.console.forms.base says how a form meets the API)."""

from apps.console.forms.base import ApiForm, flat
from apps.console.forms.costs import BudgetForm, ReportScheduleForm
from apps.console.forms.inventory import (
    ClusterForm,
    MachineForm,
    MachineImportForm,
    MemberForm,
    PoolAdminForm,
    PoolForm,
)
from apps.console.forms.providers import ProviderForm, RegistryForm, TemplateForm
from apps.console.forms.scaling import PolicyForm, ScheduleForm

__all__ = [
    "ApiForm",
    "BudgetForm",
    "ClusterForm",
    "MachineForm",
    "MachineImportForm",
    "MemberForm",
    "PolicyForm",
    "PoolAdminForm",
    "PoolForm",
    "ProviderForm",
    "RegistryForm",
    "ReportScheduleForm",
    "ScheduleForm",
    "TemplateForm",
    "flat",
]
