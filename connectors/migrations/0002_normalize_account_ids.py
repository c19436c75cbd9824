"""Store every account id in its canonical form, as ``connection_input_clean`` now does on entry.

Before it, ``add_connection`` and the connect form kept what was typed: `` 1001 `` (with spaces), or
a Google Ads id with hyphens. Left as they were, registering or reconnecting the same account
today (stored as ``1001``, ``1234567890``) would make a second connection whose rows count twice.

An id is trimmed (and a Google Ads id loses its hyphens and spaces) unless another connection of the
same organization and platform already has the canonical id: the two are then one account synced
twice, which a migration cannot merge safely. The non-canonical one is left as it is, paused, with a
status message naming the other; an admin deletes it (and so its rows) in the admin.

The rule is written out here, not imported, so this migration means the same thing later.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def canonical(platform: str, account_id: str) -> str:
    value = account_id.strip()
    if platform == "google_ads":
        value = value.replace("-", "").replace(" ", "")
    return value


def normalize_account_ids(apps: Any, schema_editor: Any) -> None:
    connection_model = apps.get_model("connectors", "Connection")
    for connection in connection_model.objects.order_by("pk"):
        wanted = canonical(connection.platform, connection.account_id)
        if wanted == connection.account_id:
            continue
        twin = (
            connection_model.objects.filter(
                organization_id=connection.organization_id, platform=connection.platform, account_id=wanted
            )
            .exclude(pk=connection.pk)
            .first()
        )
        if twin is None:
            connection.account_id = wanted
            connection.save(update_fields=["account_id"])
        else:
            connection.status = "paused"
            connection.status_message = (
                f"Paused: the same account as connection {twin.pk} ({twin.account_id}), whose rows would "
                "count twice. Delete this connection in the admin to remove its rows."
            )
            connection.save(update_fields=["status", "status_message"])


class Migration(migrations.Migration):
    dependencies = [("connectors", "0001_initial")]

    operations = [migrations.RunPython(normalize_account_ids, migrations.RunPython.noop)]
