"""How the chat shows items: the answer with its cited media, the results gallery's thumbnails,
and the players and notes beside it (HTML and Markdown that Gradio renders)."""

from __future__ import annotations

import html
from pathlib import Path

from PIL import Image

from assistant.reply import Reply, Result
from retrieval.errors import MediaError
from retrieval.images import load_image
from retrieval.video import format_moment
from ui.public import media_url

THUMBNAIL = (256, 256)


def gallery_items(
    items: list[Result],
) -> tuple[list[tuple[Image.Image, str]], list[tuple[int, str]]]:
    """(thumbnail, caption) pairs for a Gallery and, for each, its 1-based position among
    ``items`` and its item id. Thumbnails are rendered here by the safe loader (SVG included),
    so no library folder has to be exposed to the web server; items without a picture get a
    player beside the gallery (sounds) or are cited in the chat (texts), which is why a
    thumbnail's place is not its item's number."""
    shown, positions = [], []
    for number, item in enumerate(items, start=1):
        if item.modality != "image":
            continue
        try:
            picture = load_image(item.uri)
        except MediaError:
            continue  # moved or deleted since it was indexed
        picture.thumbnail(THUMBNAIL)
        name = item.caption or Path(item.uri).name
        shown.append((picture, f"[{number}] {name}"))
        positions.append((number, item.item_id))
    return shown, positions


def answer_markdown(reply: Reply, listen: str = "") -> str:
    """The answer as the chat shows it: citation numbers link to their items, the ``listen``
    button (if any) follows, and each cited item after it with its number: a picture as a
    thumbnail, a sound as a player."""
    answer = reply.answer
    for c in reply.citations:
        url = media_url(c.item_id, c.uri)
        if url:
            answer = answer.replace(f"[{c.number}]", f"[[{c.number}]]({url})")
    lines = [answer]
    if listen:
        lines += ["", listen]
    if reply.image_labels:
        lines.insert(0, f"*The picture looks like:* {', '.join(reply.image_labels)}\n")
    if reply.citations:
        lines.append("")
        lines += [cited_media(c.number, c.item_id, c.caption, c.uri, c.modality, c.moment)
                  for c in reply.citations]  # fmt: skip
    return "\n".join(lines)


def cited_media(
    number: int | None,
    item_id: str,
    caption: str,
    uri: str,
    modality: str,
    moment: float | None = None,
    evidence: str = "",
) -> str:
    """An item as the chat shows it: a picture, or a player for a sound or a video (a video
    starts at the moment it was found at), under its name (and its citation number, where it
    has one) and what matched in it."""
    url = media_url(item_id, uri)
    name = html.escape(caption.strip() or Path(uri).name or modality)
    label = f"[{number}] {name}" if number is not None else name
    if evidence:
        label += f" <span class='evidence'>{html.escape(evidence)}</span>"
    if url and modality == "image":
        return f'<span class="cited"><img src="{url}" alt="{name}" height="88"><br>{label}</span>'
    if url and modality == "audio":
        player = f'<audio controls preload="none" src="{url}" aria-label="{name}"></audio>'
        return f'<span class="cited">{label}<br>{player}</span>'
    if url and modality == "video":
        start = f"#t={moment:.1f}" if moment else ""
        at = f" from {format_moment(moment)}" if moment else ""
        player = (
            f'<video controls preload="metadata" playsinline src="{url}{start}" '
            f'aria-label="Play {name}{at}"></video>'
        )
        return f'<span class="cited">{label}<br>{player}</span>'
    return f"{label} ({modality})"


def result_players(results: list[Result]) -> str:
    """Beside the picture gallery: players for the sounds and videos among the results (a
    video starts at the moment it was found at), and what was read in or generated for the
    pictures, with their numbers (recommended sounds play on their cards)."""
    rows = []
    for number, r in enumerate(results, start=1):
        if r.modality in ("audio", "video") and r.uri:
            rows.append(
                cited_media(number, r.item_id, r.caption, r.uri, r.modality, r.moment, r.evidence)
            )
        elif r.modality == "image" and r.evidence:
            name = html.escape(r.caption.strip() or Path(r.uri).name)
            rows.append(
                f"[{number}] {name} <span class='evidence'>{html.escape(r.evidence)}</span>"
            )
    return "<div class='sounds'>" + "".join(f"<p>{r}</p>" for r in rows) + "</div>" if rows else ""
