"""The console's generic edit and delete pages, written once (as NetBox's ObjectEditView and ObjectDeleteView).

A page class declares the API's ``viewset`` (its queryset, permission checks,
serializer and the audited ``perform_create``/``perform_update``/``perform_destroy``)
and a Django ``form`` that turns the page's fields into the body the API takes.
The form reads and checks what a person typed (its errors are Django's, in the
reader's language); the API's serializer then checks the object as it does for
a script, and its errors are put next to the fields they name. Saving and
deleting are the viewset's own, so the console has no second code path: the
same rules, the same audit entries, and a refusal (403, or 404 for an object of
another cluster) changes nothing.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework import exceptions as drf_exceptions

from apps.console.forms.base import flat
from apps.console.generic import api_view
from apps.core.choices import Action
from apps.core.exceptions import ServiceError
from apps.inventory.models import Cluster
from apps.providers.drivers import ProviderError


def may_change(user, obj, action: str = Action.CHANGE) -> bool:
    """Whether restrict() lets the user change (or delete) this object (``action``: what changing it takes)."""
    return type(obj).objects.restrict(user, action).filter(pk=obj.pk).exists()


def may_add(user, model) -> bool:
    """Whether the user may create objects of this model somewhere.

    Global objects (no cluster) and clusters themselves are made by system
    administrators; a cluster's objects by the admins of at least one cluster
    (the new object's own cluster is checked again when it is saved).
    """
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if model._meta.label == Cluster._meta.label or getattr(model, "cluster_path", None) is None:
        return False
    return Cluster.objects.restrict(user, Action.CHANGE).exists()


def _message(value) -> str:
    """One message of the API, in the reader's language where the catalog has it."""
    text = str(value)
    return _(text) if text else text


class ObjectPage(LoginRequiredMixin, View):
    """What the edit and delete pages share: the declared viewset, the object by its id, the checks."""

    viewset = None
    title = ""
    section = ""
    #: URL name of the list the page goes back to (and to after a delete).
    list_url = ""
    #: What changing the object takes (as the viewset's write action): a pool's schedules take OPERATE.
    change_action = Action.CHANGE

    def visible(self, request, pk):
        """The object as the API would find it for this user: 404 when it does not exist or is not theirs to see."""
        view = api_view(self.viewset, request, action="retrieve", pk=pk)
        return get_object_or_404(view.get_queryset(), pk=pk)

    def check_change(self, request, obj) -> None:
        """403 unless the user's role allows changing obj."""
        if not may_change(request.user, obj, self.change_action):
            raise PermissionDenied(_("Your role does not allow changing this."))

    def done_url(self, obj) -> str:
        """Where to go after saving obj: its page, else the list."""
        return reverse(self.list_url)

    def back_url(self, obj) -> str:
        """Where Cancel leads: the object's page when it has one, else the list."""
        return self.done_url(obj) if obj is not None and obj.pk else reverse(self.list_url)


@method_decorator(sensitive_post_parameters(), name="dispatch")
class ObjectEditView(ObjectPage):
    """Create (no ``pk``) or edit an object through its form and the API's serializer and viewset.

    Its POST may carry credentials or passwords: Django's error reports leave every field of it out.
    """

    form = None
    template_name = "console/edit.html"

    def model(self):
        """The model the viewset serves."""
        return self.viewset.queryset.model

    def load(self, request, pk):
        """The object to edit (None for a new one), after the permission checks."""
        if pk is None:
            self.check_add(request)
            return None
        obj = self.visible(request, pk)
        self.check_change(request, obj)
        return obj

    def check_add(self, request) -> None:
        """403 unless the user may add objects of this model somewhere."""
        if not may_add(request.user, self.model()):
            raise PermissionDenied(_("Your role does not allow adding this."))

    def get(self, request, pk=None):
        """The new object's form, or the object's form filled from what the API shows of it (never its secrets)."""
        obj = self.load(request, pk)
        # A new object's cluster may come from the link on the cluster's page (?cluster=5).
        initial = {name: int(request.GET[name]) for name in self.form.prefill if request.GET.get(name, "").isdigit()}
        if obj is not None:
            view = api_view(self.viewset, request, action="retrieve", pk=pk)
            initial = self.form.from_api(view.get_serializer(obj).data)
        form = self.form(initial=initial, user=request.user, instance=obj)
        return self.render(request, form, obj)

    def post(self, request, pk=None):
        """Check the form, then the API's serializer; save through the viewset or show the errors by their fields."""
        obj = self.load(request, pk)
        form = self.form(request.POST, request.FILES, user=request.user, instance=obj)
        if not form.is_valid():
            return self.render(request, form, obj, status=400)
        saved = self.save(request, form, obj)
        if saved is None:
            return self.render(request, form, obj, status=400)
        return self.saved(request, saved, created=obj is None)

    def saved(self, request, obj, created: bool):
        """The answer once obj is saved: say so, and go to its page (or list)."""
        messages.success(request, _("%(object)s was saved.") % {"object": obj})
        return redirect(self.done_url(obj))

    def save(self, request, form, obj):
        """The saved object, or None with the API's errors added to the form (nothing saved then)."""
        action = "create" if obj is None else "partial_update"
        view = api_view(self.viewset, request, action=action, **({} if obj is None else {"pk": obj.pk}))
        serializer = view.get_serializer(obj, data=form.to_api(), partial=obj is not None)
        try:
            if not serializer.is_valid():
                form.take_errors(serializer.errors)
                return None
            (view.perform_create if obj is None else view.perform_update)(serializer)
        except drf_exceptions.PermissionDenied as exc:
            form.take_errors({form.scope_field: [_message(exc.detail)]})
            return None
        except drf_exceptions.ValidationError as exc:
            form.take_errors(exc.detail)
            return None
        except ServiceError as exc:
            form.take_errors({exc.field or "": [exc.message]})
            return None
        except ProviderError as exc:
            form.take_errors({"": [_("The provider said: %(message)s") % {"message": exc.message}]})
            return None
        except IntegrityError:
            form.take_errors({"": [_("This conflicts with an object that already exists or was changed meanwhile.")]})
            return None
        return serializer.instance

    def render(self, request, form, obj, status: int = 200):
        """The form page."""
        context = {
            "form": form,
            "object": obj,
            "title": self.title,
            "section": self.section,
            "cancel_url": self.back_url(obj),
            "delete_url": self.delete_url(request, obj),
        }
        return render(request, self.template_name, context, status=status)

    def delete_url(self, request, obj) -> str:
        """The object's delete page (named as its edit page, ``-delete`` for ``-edit``); none for a new one."""
        match = request.resolver_match
        if obj is None or match is None or not match.url_name.endswith("-edit"):
            return ""
        name = match.url_name.removesuffix("-edit") + "-delete"
        return reverse(f"{match.namespace}:{name}" if match.namespace else name, args=[obj.pk])


class ObjectDeleteView(ObjectPage):
    """Delete an object after a confirmation page, through the viewset's own (audited) delete."""

    template_name = "console/delete.html"

    def get(self, request, pk):
        """The confirmation page."""
        obj = self.visible(request, pk)
        self.check_change(request, obj)
        return self.render(request, obj)

    def post(self, request, pk):
        """Delete, or say why not (the object stays as it was)."""
        view = api_view(self.viewset, request, action="destroy", pk=pk)
        obj = get_object_or_404(view.get_queryset(), pk=pk)
        self.check_change(request, obj)
        name = str(obj)
        try:
            view.perform_destroy(obj)
        except ServiceError as exc:
            return self.render(request, obj, error=_message(exc.message), status=409)
        except (ProtectedError, RestrictedError) as exc:
            blockers = sorted({f"{item._meta.verbose_name} {item}" for item in list(exc.protected_objects)[:5]})
            error = _("It is still used by %(objects)s: remove or move those first.") % {"objects": ", ".join(blockers)}
            return self.render(request, obj, error=error, status=409)
        messages.success(request, _("%(object)s was deleted.") % {"object": name})
        return redirect(self.after_delete_url(obj))

    def after_delete_url(self, obj) -> str:
        """Where to go once the object is gone."""
        return reverse(self.list_url)

    def render(self, request, obj, error: str = "", status: int = 200):
        """The confirmation page, with the reason a delete was refused."""
        context = {
            "object": obj,
            "title": self.title,
            "section": self.section,
            "error": error,
            "cancel_url": self.back_url(obj),
        }
        return render(request, self.template_name, context, status=status)


class ObjectEnableView(ObjectPage):
    """Enable or disable an object (its ``enabled`` field) with one button, through the viewset's audited update."""

    http_method_names = ["post"]

    def post(self, request, pk):
        """Save ``enabled`` as posted (1 or 0), or say why not; back to the object's page."""
        obj = self.visible(request, pk)
        self.check_change(request, obj)
        view = api_view(self.viewset, request, action="partial_update", pk=obj.pk)
        serializer = view.get_serializer(obj, data={"enabled": request.POST.get("enabled") == "1"}, partial=True)
        try:
            serializer.is_valid(raise_exception=True)
            view.perform_update(serializer)
        except drf_exceptions.ValidationError as exc:
            messages.error(request, " ".join(flat(exc.detail)))
            return redirect(self.done_url(obj))
        text = _("%(object)s is enabled.") if obj.enabled else _("%(object)s is disabled.")
        messages.success(request, text % {"object": obj})
        return redirect(self.done_url(obj))
