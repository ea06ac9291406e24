"""The Gradio chat app: a chat with text, image upload and microphone; streamed answers with
numbered citations; a results gallery (click one for "more like this"); recommendations with
like / dislike that write to the interaction store and refresh the panel. Named API endpoints
(``/chat``, ``/search``, ``/recommend``, ``/feedback``) serve gradio_client and @gradio/client.

Everything is served from this machine: no analytics, no web fonts, no CDN assets.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from assistant.reply import Reply, Result, Suggestion
from assistant.service import Assistant
from retrieval.errors import CrossmediaError, MediaError
from retrieval.images import load_image
from retrieval.items import is_audio_path

log = logging.getLogger(__name__)

THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=["ui-monospace", "monospace"],
)  # system fonts: the default theme would fetch web fonts from the internet
GALLERY_COLUMNS = 3
THUMBNAIL = (256, 256)


def _gallery(
    items: list[Result] | list[Suggestion],
) -> tuple[list[tuple[Image.Image, str]], list[int]]:
    """(thumbnail, caption) pairs for a Gallery and, for each, its 1-based position among
    ``items``. Thumbnails are rendered here by the safe loader (SVG included), so no library
    folder has to be exposed to the web server; items without a picture (sounds, texts) are
    listed in the chat instead, which is why a thumbnail's place is not its item's number."""
    shown, positions = [], []
    for number, item in enumerate(items, start=1):
        if item.modality != "image":
            continue
        try:
            picture = load_image(item.uri)
        except MediaError:
            continue  # moved or deleted since it was indexed
        picture.thumbnail(THUMBNAIL)
        score = f" · {item.score:.2f}" if isinstance(item, Result) else ""
        shown.append((picture, f"{item.caption}{score}"))
        positions.append(number)
    return shown, positions


def _chat_only(history: list[dict], box: Any = None) -> tuple[Any, ...]:
    """Outputs that change the chat (and the input box, if given) and leave the panels."""
    return history, gr.skip() if box is None else box, *(gr.skip(),) * 4


def _choices(suggestions: list[Suggestion]) -> list[tuple[str, str]]:
    return [(f"{s.caption} — {s.because}", s.item_id) for s in suggestions]


def _citations_markdown(reply: Reply) -> str:
    lines = [reply.answer]
    if reply.image_labels:
        lines.insert(0, f"*The picture looks like:* {', '.join(reply.image_labels)}\n")
    if reply.citations:
        lines.append("")
        lines += [f"[{c.number}] {c.caption} ({c.modality})" for c in reply.citations]
    return "\n".join(lines)


def _who(user: str, request: gr.Request | None) -> str:
    """The logged-in name when Gradio auth is on, else the name typed at the start."""
    name = getattr(request, "username", None) if request is not None else None
    return name or (user or "").strip() or "guest"


class ChatApp:
    """The handlers behind the page and the API, over one shared Assistant."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant

    # -- the chat --------------------------------------------------------------------------

    def respond(
        self,
        message: dict | None,
        history: list[dict],
        user: str,
        session: str,
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Submit handler: echo the message, stream the answer, then fill the panels. The input
        box is cleared at once so a recording is never sent twice."""
        user = _who(user, request)
        message = message or {}
        text = (message.get("text") or "").strip()
        files = [str(f) for f in message.get("files") or []]
        audio = next((f for f in files if is_audio_path(Path(f))), None)
        images = [f for f in files if f != audio]
        history = [*history]
        for f in files:
            history.append({"role": "user", "content": {"path": f}})
        if text:
            history.append({"role": "user", "content": text})
        history.append({"role": "assistant", "content": "…"})
        yield _chat_only(history, gr.MultimodalTextbox(value=None))
        streamed = ""
        try:
            for update in self.assistant.stream_turn(user, session, text, images, audio):
                if update.kind == "transcript":  # shown under the voice message
                    heard = {"role": "user", "content": f"*Heard:* “{update.value}”"}
                    history.insert(len(history) - 1, heard)
                    yield _chat_only(history)
                elif update.kind == "token":
                    streamed += update.value
                    history[-1] = {"role": "assistant", "content": streamed}
                    yield _chat_only(history)
                elif update.kind == "reply":
                    reply: Reply = update.value
                    history[-1] = {"role": "assistant", "content": _citations_markdown(reply)}
                    pictures, numbers = _gallery(reply.results)
                    yield (
                        history,
                        gr.skip(),
                        pictures,
                        numbers,
                        gr.Radio(choices=_choices(reply.recommendations), value=None),
                        _gallery(reply.recommendations)[0],
                    )
        except CrossmediaError as exc:  # bad input: a message in the chat, not a stack trace
            log.info("turn refused for %s: %s", user, exc)
            history[-1] = {"role": "assistant", "content": f"⚠️ {exc}"}
            yield _chat_only(history)

    def more_like(
        self,
        event: gr.SelectData,
        numbers: list[int],
        history: list[dict],
        user: str,
        session: str,
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Gallery click: ask for more like the clicked result (by its number among the
        results, which the thumbnail's place in the gallery is not when sounds were found)."""
        message = {"text": f"more like number {numbers[event.index]}", "files": []}
        yield from self.respond(message, history, user, session, request)

    # -- recommendations -------------------------------------------------------------------

    def rate(
        self, item_id: str | None, kind: str, user: str, request: gr.Request | None = None
    ) -> tuple[Any, Any, str]:
        """Like / dislike the chosen recommendation, then refresh the panel."""
        user = _who(user, request)
        if not item_id:
            return gr.skip(), gr.skip(), "Pick a recommendation first."
        self.assistant.feedback(user, item_id, kind)
        fresh = self.assistant.recommend(user)
        note = f"Thanks — noted that you {kind}d it."
        return gr.Radio(choices=_choices(fresh), value=None), _gallery(fresh)[0], note

    def like(self, item_id: str | None, user: str, request: gr.Request) -> tuple[Any, Any, str]:
        """Like button."""
        return self.rate(item_id, "like", user, request)

    def dislike(self, item_id: str | None, user: str, request: gr.Request) -> tuple[Any, Any, str]:
        """Dislike button."""
        return self.rate(item_id, "dislike", user, request)

    # -- the API ---------------------------------------------------------------------------

    def api_chat(
        self, user: str, session: str, text: str, image: str | None, audio: str | None
    ) -> dict:
        """One turn: the Reply as JSON (answer, citations, results, recommendations, ...)."""
        reply = self.assistant.turn(user, session or "api", text, [image] if image else (), audio)
        return reply.to_dict()

    def api_search(self, text: str, k: float) -> list[dict]:
        """Items for a text query, best first."""
        hits = self.assistant.library.search(text, k=max(1, min(int(k), 100)))
        return [
            {"item_id": h.item_id, "caption": h.caption, "uri": h.uri, "score": h.score}
            for h in hits
        ]

    def api_recommend(self, user: str, k: float) -> list[dict]:
        """Recommendations for a user, each with its explanation."""
        return [s.__dict__ for s in self.assistant.recommend(user, max(1, min(int(k), 50)))]

    def api_feedback(self, user: str, item_id: str, kind: str) -> dict:
        """Record a like, dislike, click or view."""
        event = self.assistant.feedback(user, item_id, kind)
        return {"user": event.user, "item": event.item, "kind": event.kind.value}


def build_app(assistant: Assistant) -> gr.Blocks:
    """The Blocks app over an Assistant (models already loaded by the caller)."""
    handlers = ChatApp(assistant)
    with gr.Blocks(title="crossmedia", analytics_enabled=False) as demo:
        session = gr.State("")
        result_numbers = gr.State([])  # each thumbnail's number among the turn's results
        gr.Markdown("## crossmedia — ask by text, picture or voice")
        with gr.Row():
            user = gr.Textbox(
                value="guest", label="Your name", scale=1, max_lines=1, elem_id="user-name"
            )
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=460, elem_id="chat")
                box = gr.MultimodalTextbox(
                    sources=["upload", "microphone"],
                    file_types=["image", "audio"],
                    file_count="multiple",
                    placeholder="Ask about the library, drop a picture, or record a question",
                    show_label=False,
                    elem_id="message",
                )
            with gr.Column(scale=2):
                results = gr.Gallery(
                    label="Results (click one for more like it)",
                    columns=GALLERY_COLUMNS,
                    height=260,
                    elem_id="results",
                )
                rec_pictures = gr.Gallery(
                    label="Recommended for you", columns=GALLERY_COLUMNS, height=160
                )
                recs = gr.Radio(choices=[], label="Recommendations", elem_id="recommendations")
                with gr.Row():
                    like = gr.Button("Like", elem_id="like")
                    dislike = gr.Button("Dislike", elem_id="dislike")
                feedback_note = gr.Markdown(elem_id="feedback-note")
        outputs = [chatbot, box, results, result_numbers, recs, rec_pictures]
        box.submit(
            handlers.respond, [box, chatbot, user, session], outputs, api_visibility="private"
        )
        results.select(
            handlers.more_like,
            [result_numbers, chatbot, user, session],
            outputs,
            api_visibility="private",
        )
        like.click(
            handlers.like,
            [recs, user],
            [recs, rec_pictures, feedback_note],
            api_visibility="private",
        )
        dislike.click(
            handlers.dislike,
            [recs, user],
            [recs, rec_pictures, feedback_note],
            api_visibility="private",
        )
        _api_endpoints(handlers)
        demo.load(lambda: uuid.uuid4().hex, None, session, api_visibility="private")
    return demo


def _api_endpoints(handlers: ChatApp) -> None:
    """Hidden components and named endpoints for gradio_client / @gradio/client."""
    with gr.Column(visible=False):
        user, session, text = gr.Textbox(), gr.Textbox(), gr.Textbox()
        image, audio = gr.Image(type="filepath"), gr.Audio(type="filepath")
        item, kind, k = gr.Textbox(), gr.Textbox(), gr.Number(value=10)
        out = gr.JSON()
        gr.Button().click(
            handlers.api_chat, [user, session, text, image, audio], out, api_name="chat"
        )
        gr.Button().click(handlers.api_search, [text, k], out, api_name="search")
        gr.Button().click(handlers.api_recommend, [user, k], out, api_name="recommend")
        gr.Button().click(handlers.api_feedback, [user, item, kind], out, api_name="feedback")
