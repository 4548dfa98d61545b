"""Webhook secrets sealed at rest: each stored secret is sealed with the first key of
KIPINA_NOTIFY_WEBHOOK_SECRET_KEYS (Fernet, services/notify/sealing.py) into ``sealed_secret``, and the clear
``secret`` column is dropped. A Python migration because sealing needs the configured key, which SQL does not have.
"""

from typing import Any

from yoyo import step

__depends__ = {"0102.people"}


def seal_existing_secrets(conn: Any) -> None:
    from services.notify.settings import NotifySettings

    box = NotifySettings().secret_box()
    cursor = conn.cursor()
    cursor.execute("SELECT id, secret FROM webhook_subscriptions WHERE sealed_secret IS NULL")
    for webhook_id, secret in cursor.fetchall():
        cursor.execute(
            "UPDATE webhook_subscriptions SET sealed_secret = %s WHERE id = %s", (box.seal(secret), webhook_id)
        )


steps = [
    step("ALTER TABLE webhook_subscriptions ADD COLUMN sealed_secret text"),
    step(seal_existing_secrets),
    step("ALTER TABLE webhook_subscriptions DROP COLUMN secret"),
    step("ALTER TABLE webhook_subscriptions ALTER COLUMN sealed_secret SET NOT NULL"),
]
