"""What the API shows of the library: items by id and a URL this server serves them at, never
an absolute server path."""

from __future__ import annotations

from typing import Any

from assistant.reply import Reply

MEDIA_ROUTE = "/media/"
ITEM_LISTS = ("citations", "results", "recommendations")


def media_url(item_id: str, uri: str) -> str | None:
    """The served URL of an item's file (None for text items, which have no file)."""
    return f"{MEDIA_ROUTE}{item_id}" if uri else None


def public_item(entry: dict[str, Any]) -> dict[str, Any]:
    """An item dict with its ``uri`` (a server path) replaced by its served ``url``."""
    shown = {k: v for k, v in entry.items() if k != "uri"}
    shown["url"] = media_url(str(entry.get("item_id", "")), str(entry.get("uri") or ""))
    return shown


def public_reply(reply: Reply) -> dict[str, Any]:
    """A turn's Reply as JSON for API clients (every item through ``public_item``)."""
    data = reply.to_dict()
    for key in ITEM_LISTS:
        data[key] = [public_item(entry) for entry in data[key]]
    return data
