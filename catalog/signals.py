"""Signals the catalog sends after a write commits; ``recommender`` connects receivers.

They carry ids, so one bulk import sends one signal, not one per row.
"""

from django.dispatch import Signal

# sender=<model class>, ids=list[int]
items_changed = Signal()
reviews_changed = Signal()
profiles_changed = Signal()


def send_on_commit(signal: Signal, sender: type, **kwargs: object) -> None:
    """Send ``signal`` once the current transaction commits (at once outside one)."""
    from django.db import transaction

    transaction.on_commit(lambda: signal.send(sender=sender, **kwargs))
