"""Recommendation cards and the page's activity tracker: two small HTML components of the chat.

A card shows a recommended item as a person expects: its picture (whole, on a neutral ground)
or a player for a sound, its name, the reason it was recommended, and like / dislike buttons on
the card itself. Clicking the picture (or "More like this" on a sound) starts a turn about the
item. Cards are real ``<button>`` elements, so Tab / Enter / Space work without a mouse.

The tracker reports what the server cannot see: a citation link opened in an answer and a sound
played anywhere on the page (answer, results, cards) become ``click`` and ``play`` events.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from assistant.reply import Suggestion
from assistant.service import display_name
from ui.public import MEDIA_ROUTE, media_url

CARD_ACTIONS = ("like", "dislike", "open")
TRACKED_KINDS = ("click", "play")

_CARDS_TEMPLATE = """
<div class="cards" role="list" aria-label="Recommended for you">
{{#each value}}
  <div class="card" role="listitem" data-item="{{item}}">
    {{#if picture}}
      <button class="picture" data-action="open" data-item="{{item}}"
              aria-label="More like {{name}}" title="More like {{name}}">
        <img src="{{picture}}" alt="{{name}}" loading="lazy">
      </button>
    {{/if}}
    {{#if sound}}
      <audio controls preload="none" src="{{sound}}" aria-label="Play {{name}}"></audio>
    {{/if}}
    {{#if video}}
      <video controls preload="metadata" playsinline src="{{video}}"
             aria-label="Play {{name}}"></video>
    {{/if}}
    <div class="name" title="{{name}}">{{name}}</div>
    <div class="because" title="{{because}}">{{because}}</div>
    <div class="actions">
      <button data-action="like" data-item="{{item}}" aria-label="Like {{name}}"
              >Like</button>
      <button data-action="dislike" data-item="{{item}}" aria-label="Dislike {{name}}"
              >Dislike</button>
      {{#unless picture}}
        <button data-action="open" data-item="{{item}}" aria-label="More like {{name}}"
                class="more">More like this</button>
      {{/unless}}
    </div>
  </div>
{{else}}
  <p class="empty">Recommendations appear here after your first question.</p>
{{/each}}
</div>
"""

_CARDS_CSS = """
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(112px, 1fr));
         gap: 8px; margin-top: 20px; }
.card { display: flex; flex-direction: column; gap: 4px; padding: 6px; min-width: 0;
        border: 1px solid var(--border-color-primary); border-radius: 8px;
        background: var(--background-fill-primary); }
.card .picture { padding: 0; border: 0; background: #f3f4f6; border-radius: 6px;
                 cursor: pointer; }
.card img { display: block; width: 100%; height: 84px; object-fit: contain; }
.card audio { width: 100%; height: 32px; }
.card video { width: 100%; height: 84px; background: #111; border-radius: 6px; }
.card .name, .card .because { overflow-wrap: anywhere; display: -webkit-box;
                              -webkit-box-orient: vertical; overflow: hidden; }
.card .name { font-weight: 600; font-size: 0.85rem; line-height: 1.2; -webkit-line-clamp: 2; }
.card .because { font-size: 0.75rem; line-height: 1.2; -webkit-line-clamp: 3;
                 color: var(--body-text-color-subdued); }
.card .actions { display: flex; gap: 4px; margin-top: auto; flex-wrap: wrap; }
.card .actions button { font-size: 0.75rem; margin: 0; padding: 2px 8px; border-radius: 6px;
                        border: 1px solid var(--border-color-primary); cursor: pointer;
                        background: var(--button-secondary-background-fill); }
.card button:focus-visible { outline: 2px solid var(--color-accent); outline-offset: 2px; }
.empty { grid-column: 1 / -1; color: var(--body-text-color-subdued); font-size: 0.85rem;
         margin: 0; }
"""

# Like / dislike are "click" events of the component; opening an item is its "select".
_CARDS_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const data = {item: button.dataset.item, action: button.dataset.action};
  trigger(data.action === 'open' ? 'select' : 'click', data);
});
"""

# Plays are caught in the capture phase (media events do not bubble); citation links are the
# answer's links to this server's media route.
_TRACKER_JS = f"""
const route = {MEDIA_ROUTE!r};
const itemOf = (url) => {{
  try {{
    const path = new URL(url, window.location.href).pathname;
    const at = path.lastIndexOf(route);
    return at < 0 ? '' : decodeURIComponent(path.slice(at + route.length));
  }} catch (e) {{ return ''; }}
}};
document.addEventListener('play', (event) => {{
  const media = ['AUDIO', 'VIDEO'].includes(event.target.tagName);
  const item = media ? itemOf(event.target.currentSrc) : '';
  if (item) trigger('change', {{item: item, kind: 'play'}});
}}, true);
document.addEventListener('click', (event) => {{
  const link = event.target.closest && event.target.closest('#chat a[href]');
  const item = link ? itemOf(link.getAttribute('href')) : '';
  if (item) trigger('change', {{item: item, kind: 'click'}});
}}, true);
"""


def card_values(suggestions: list[Suggestion]) -> list[dict[str, str]]:
    """What each card shows: the item id, its name, the reason, and its picture, sound or
    video URL."""
    cards = []
    for s in suggestions:
        url = media_url(s.item_id, s.uri) or ""
        cards.append(
            {
                "item": s.item_id,
                "name": display_name(s),
                "because": s.because,
                "picture": url if s.modality == "image" else "",
                "sound": url if s.modality == "audio" else "",
                "video": url if s.modality == "video" else "",
            }
        )
    return cards


def recommendation_cards() -> gr.HTML:
    """The "Recommended for you" panel (its value: ``card_values(...)``)."""
    return gr.HTML(
        [],
        html_template=_CARDS_TEMPLATE,
        css_template=_CARDS_CSS,
        js_on_load=_CARDS_JS,
        label="Recommended for you",
        show_label=True,
        container=True,
        elem_id="recommended",
    )


def activity_tracker() -> gr.HTML:
    """An invisible component that reports citation clicks and sound plays (its ``change``
    event carries ``item`` and ``kind``)."""
    return gr.HTML("", js_on_load=_TRACKER_JS, elem_id="activity", padding=False)


def card_event(event: gr.EventData) -> tuple[str, str]:
    """The (item id, action) a card button sent; anything else is refused."""
    item, action = _field(event, "item"), _field(event, "action")
    if action not in CARD_ACTIONS or not item:
        raise ValueError(f"not a card action: {action!r} on {item!r}")
    return item, action


def tracked_event(event: gr.EventData) -> tuple[str, str]:
    """The (item id, event kind) the tracker sent; anything else is refused."""
    item, kind = _field(event, "item"), _field(event, "kind")
    if kind not in TRACKED_KINDS or not item:
        raise ValueError(f"not a tracked event: {kind!r} on {item!r}")
    return item, kind


def _field(event: gr.EventData, name: str) -> str:
    data: Any = getattr(event, "_data", None) or {}
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""
