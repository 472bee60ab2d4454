"""What the engine keeps of a provider's answers about a batch's nodes: address, size, zone, id and name.

Answers differ in what they carry. ECS's RunInstances gives instance ids only; Nova hides a server's
addresses while it builds; a public address may be assigned after the create call. So each fact is taken
from whichever answer has it (the create, a probe of one booting instance, or a poll of the batch): a
fact an answer leaves out keeps what an earlier answer gave, and one it carries replaces it.
"""

from django.utils import timezone

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.drivers import Node

#: What an answer may say of a node that its host keeps, whichever answer it comes in.
NODE_FACTS = ("private_ip", "public_ip", "cpu", "memory_gb", "zone")
#: The fields take_node sets, written for a whole batch in one statement (bulk_set).
NODE_FIELDS = ("instance_id", *NODE_FACTS, "hostname", "hourly_price", "launched_at")


def node_facts(node: Node) -> dict:
    """The NODE_FACTS this answer carries; one it leaves out (None or blank) is not in the dict."""
    return {name: getattr(node, name) for name in NODE_FACTS if getattr(node, name) not in (None, "")}


def held_facts(host: Host) -> dict[str, str]:
    """The NODE_FACTS a host holds, as text (what a probe carries to tell news from what is known)."""
    return {name: str(getattr(host, name)) for name in NODE_FACTS if getattr(host, name) not in (None, "")}


def take_node(host: Host, node: Node, names_nodes: bool) -> bool:
    """Copy onto a host what one answer says of its node (the caller saves it); False when it says nothing new.

    The instance id (and, where the provider names nodes, the hostname) is taken from the answer that
    first matches the node to the host; the price only where the template sets none.
    """
    values = node_facts(node)
    if not host.instance_id:
        values["instance_id"] = node.id
        if names_nodes and node.name:
            values["hostname"] = node.name
    if node.hourly_price is not None and not host.template.hourly_price:
        values["hourly_price"] = node.hourly_price
    values.update(_launch(host, node))
    changed = {name: value for name, value in values.items() if getattr(host, name) != value}
    for name, value in changed.items():
        setattr(host, name, value)
    if changed:
        host.updated_at = timezone.now()
    return bool(changed)


def _launch(host: Host, node: Node) -> dict:
    """When the host's instance launched, where this answer tells more than the host holds.

    A host's cost runs from its instance's launch (apps.costs.accrual). The provider's own launch time is
    the truth; until an answer gives one, the time DCP first saw the instance exist stands in. That is
    never earlier than the real launch, so an answer's launch time is taken whenever it is earlier than
    what the host holds (ECS's create answer has none; the describe after it has CreationTime).
    """
    if node.launched_at is not None and (host.launched_at is None or node.launched_at < host.launched_at):
        return {"launched_at": node.launched_at}
    if host.launched_at is None:
        return {"launched_at": timezone.now()}
    return {}


def keep_probed(token: str, probe: dict, node: Node) -> None:
    """Write what a probe's answer says of its booting instance that its host lacks: one UPDATE if news, else none.

    ``probe["seen"]`` travels with the probe from one look to the next: what the host already holds, so a
    probe that learns nothing new costs the database nothing.
    """
    seen = probe.setdefault("seen", {})
    news = {name: value for name, value in node_facts(node).items() if seen.get(name) != str(value)}
    if not news:
        return
    Host.objects.filter(batch_token=token, instance_id=node.id, status=HostStatus.CREATING).update(
        **news, updated_at=timezone.now()
    )
    seen.update({name: str(value) for name, value in news.items()})
