"""The Gradio chat app: a chat with text, image upload and microphone; streamed answers that
carry their cited pictures and sounds; a numbered results gallery (click one for "more like
this"); recommendation cards with like / dislike (ui/cards.py) that write to the interaction
store and refresh at once; a first screen with example prompts. Named API endpoints (``/chat``,
``/search``, ``/recommend``, ``/feedback``, ``/rate``, ``/clear``, ``/speak``) serve gradio_client
and @gradio/client. Every answer has a Listen button and may be read out by itself
(ui/speech.py).

Everything is served from this machine: no analytics, no web fonts, no CDN assets.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from assistant.chitchat import LibraryContents
from assistant.errors import SpeechError
from assistant.reply import Reply
from assistant.service import Assistant, display_name, quoted_name
from assistant.speech.tts import Speaker, wav_samples
from retrieval.errors import CrossmediaError
from retrieval.items import is_audio_path
from ui.cards import (
    activity_tracker,
    card_event,
    card_values,
    recommendation_cards,
    tracked_event,
)
from ui.chat_view import PAGE_CSS as CHAT_CSS
from ui.chat_view import chat_view
from ui.described import DescribedPanel
from ui.language import browser_languages, chosen_language, language_setting
from ui.public import public_item, public_reply
from ui.rendering import answer_markdown, cited_media, gallery_items, result_players
from ui.security.identity import Identity, new_anonymous_id
from ui.security.messages import api_endpoint, chat_warning, sentence_for
from ui.security.uploads import require_upload
from ui.speech import PAGE_CSS as SPEECH_CSS
from ui.speech import autoplay_setting, autoplay_value, listen_button, speech_player

log = logging.getLogger(__name__)

THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=["ui-monospace", "monospace"],
)  # system fonts: the default theme would fetch web fonts from the internet
GALLERY_COLUMNS = 3
START_RETRY_SECONDS = 15  # a refused page start is tried again this often
# Tux Paint stamps are cut-outs: show whole pictures (contain, not crop) on a neutral ground.
PAGE_CSS = (
    """
#results img { object-fit: contain !important; background: #f3f4f6; }
#results .grid-wrap { min-height: 0 !important; max-height: none !important; }  /* fits them */
/* The label and the names lay over the pictures (the first row's tops, every picture's
   bottom): the label takes its own line, and each name sits under its picture. */
#results [data-testid="block-label"] { position: relative; }
#results .thumbnail-item { display: flex; flex-direction: column; }
#results .thumbnail-item img { flex: 1 1 0; min-height: 0; }
#results .thumbnail-item .caption-label {
  position: static; max-width: 100%; border: none; border-radius: 0; text-align: center; }
@media (hover: none) {  /* a touch screen keeps the tapped spot "hovered": the new set's
                          item there looked chosen */
  #results .thumbnail-item:hover:not(.selected) {
    --ring-color: transparent; border-color: var(--border-color-primary); filter: none; }
}
@media (max-width: 640px) {  /* two wider columns on a phone, so the names fit */
  #results .grid-container { grid-template-columns: repeat(2, minmax(0, 1fr)) !important; }
}
#chat .cited img { object-fit: contain; background: #f3f4f6; border-radius: 6px;
                   height: 120px !important; width: auto !important; max-width: 100%; }
#chat .cited audio, #sounds audio { max-width: 100%; }
#sounds:not(:has(audio, video)) { display: none; }  /* no players: no empty space over the cards */
#chat .cited video, #sounds video { display: block; width: 320px; max-width: 100%; }
.evidence { color: var(--body-text-color-subdued); font-size: 0.85em; }
"""
    + SPEECH_CSS
    + CHAT_CSS
)
PICTURE_EXAMPLE = "More like this picture"
VOICE_EXAMPLE = "Ask aloud (a recording)"
EMPTY_MESSAGE = "The message is empty: type a question, add a picture or record one."


def results_gallery(pictures: list) -> Any:
    """The results gallery showing ``pictures`` with its preview closed, hidden while there are
    none (before the first question, after a clear, when only sounds were found) rather than an
    empty box above the sound players."""
    return gr.Gallery(pictures, selected_index=None, visible=bool(pictures))


def _chat_only(history: Any, box: Any = None) -> tuple[Any, ...]:
    """Turn outputs that change the chat (and the input box, if given) and leave the panels."""
    return history, gr.skip() if box is None else box, *(gr.skip(),) * 5


def _box(generating: bool) -> Any:
    """The message box while an answer is generated (emptied, a stop button instead of send)
    and after (send again; what was typed meanwhile stays)."""
    if generating:
        return gr.MultimodalTextbox(value=None, submit_btn=False, stop_btn=True)
    return gr.MultimodalTextbox(submit_btn=True, stop_btn=False)


class ChatApp:
    """The handlers behind the page and the API, over one shared Assistant. The user of every
    event comes from ``identity`` (login, proxy header, API key holder, or the browser's own
    anonymous id), never from a name typed into the page."""

    def __init__(self, assistant: Assistant, identity: Identity, speaker: Speaker | None = None):
        self.assistant = assistant
        self.identity = identity
        self.speaker = speaker  # None: no Listen buttons (espeak-ng is not installed)
        self.examples: list[dict] = []  # the first screen's example prompts (after page load)
        self.example_items: dict[int, str] = {}  # chip index -> library picture or recording

    def start(self, browser_id: str) -> tuple[str, str, Any, Any, Any]:
        """Page load: the browser's anonymous id (kept in its local storage, made on its first
        visit), a new chat session id, and the message box and the example prompts, shown only
        now so that no message leaves before the page knows who sends it; the start's retry
        timer stops."""
        browser_id = browser_id if (browser_id or "").startswith("anon-") else ""
        ready = gr.MultimodalTextbox(interactive=True)
        examples = gr.Chatbot(examples=self.examples or None)
        started = gr.Timer(active=False)
        return browser_id or new_anonymous_id(), uuid.uuid4().hex, ready, examples, started

    def start_again(self, browser_id: str, session: str) -> tuple[Any, ...]:
        """The retry timer's tick: the page start once more where it was refused (a page
        opened while its client is past the rate limit), nothing where it already ran."""
        if session:
            return (*(gr.skip(),) * 4, gr.Timer(active=False))
        return self.start(browser_id)

    def _answer(self, reply: Reply, fresh: bool) -> str:
        """An answer as the chat shows it, with its Listen button (``fresh``: just generated
        on this page, so the autoplay setting applies to it)."""
        return answer_markdown(reply, self._listen(reply, fresh))

    def _listen(self, reply: Reply, fresh: bool) -> str:
        """The Listen button of an answer: its text registered with the speaker, which
        synthesises it only when the button is pressed (or the answer is read out by itself)."""
        if self.speaker is None:
            return ""
        try:
            key = self.speaker.register(reply.answer, reply.language)
        except SpeechError as exc:  # nothing to say (an answer of citations only)
            log.info("no Listen button: %s", exc)
            return ""
        return listen_button(key, asked_aloud=reply.transcript is not None, fresh=fresh)

    # -- the chat --------------------------------------------------------------------------

    def respond(
        self,
        message: dict | None,
        history: list[dict],
        browser_id: str,
        session: str,
        language: str = "",
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Submit handler: echo the message, stream the answer, then fill the panels. The input
        box is cleared at once so a recording is never sent twice. Only uploaded files are
        read; anything else is refused in the chat."""
        message = message or {}
        text = (message.get("text") or "").strip()
        files = [_file_path(f) for f in message.get("files") or []]
        if not text and not files:  # a notice apart from the chat, not a bubble in it
            gr.Warning(EMPTY_MESSAGE)
            yield _chat_only(gr.skip())  # everything on the page stays as it was
            return
        yield from self._turn(history, text, files, browser_id, session, request, language=language)

    def _turn(
        self,
        history: list[dict],
        text: str,
        files: list[str],
        browser_id: str,
        session: str,
        request: gr.Request | None,
        about: str | None = None,
        recording: str | None = None,
        language: str = "",
    ) -> Iterator[tuple[Any, ...]]:
        """One turn in the chat. ``files`` come from the page and must be uploads; ``about`` and
        ``recording`` (a library item, a library recording) are chosen by the server;
        ``language``: the one the user chose ("": told by what they say)."""
        history = [*history]
        for f in files:
            history.append({"role": "user", "content": {"path": f}})
        if text:
            history.append({"role": "user", "content": text})
        history.append({"role": "assistant", "content": "…"})
        session = session or uuid.uuid4().hex  # a page that never loaded fully
        yield (history, _box(generating=True), *(gr.skip(),) * 3, session, gr.skip())
        streamed = ""
        try:
            user = self.identity.for_page(request, browser_id)
            files = [str(require_upload(f)) for f in files]
            audio = recording or next((f for f in files if is_audio_path(Path(f))), None)
            images = [f for f in files if f != audio]
            turn = self.assistant.stream_turn(
                user, session, text, images, audio, about, language or None, _read_by(request)
            )
            for update in turn:
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
                    history[-1] = {"role": "assistant", "content": self._answer(reply, fresh=True)}
                    if reply.query_kind == "chat":  # small talk: results and cards stay
                        yield _chat_only(history, _box(generating=False))
                        continue
                    pictures, picks = gallery_items(reply.results)
                    yield (
                        history,
                        _box(generating=False),
                        results_gallery(pictures),
                        picks,
                        card_values(reply.recommendations),
                        gr.skip(),
                        result_players(reply.results),
                    )
        except Exception as exc:  # a message in the chat; a traceback only for the unexpected
            history[-1] = {"role": "assistant", "content": chat_warning(exc, "a chat turn")}
            yield _chat_only(history, _box(generating=False))

    def _record(self, item_id: str, kind: str, browser_id: str, request: gr.Request | None) -> None:
        """Record a click or play (a result, recommendation or citation opened, a sound
        played) as the page's user."""
        try:
            self.assistant.feedback(self.identity.for_page(request, browser_id), item_id, kind)
        except Exception as exc:  # the page goes on; the log says why nothing was recorded
            sentence_for(exc, f"recording a {kind}")

    def track_activity(
        self, event: gr.EventData, browser_id: str, request: gr.Request | None = None
    ) -> None:
        """The tracker's report: a citation link opened or a sound played."""
        try:
            item_id, kind = tracked_event(event)
        except ValueError as exc:
            log.info("ignored page activity: %s", exc)
            return
        self._record(item_id, kind, browser_id, request)

    def more_like(
        self,
        event: gr.SelectData,
        picks: list[tuple[int, str]],
        history: list[dict],
        browser_id: str,
        session: str,
        language: str = "",
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Result click: a click event, then more like the clicked result (by its number among
        the results, which the thumbnail's place in the gallery is not when sounds were found)."""
        number, item_id = picks[event.index]
        self._record(item_id, "click", browser_id, request)
        text = f"more like number {number}"
        yield from self._turn(history, text, [], browser_id, session, request, language=language)

    def open_recommendation(
        self,
        event: gr.EventData,
        history: list[dict],
        browser_id: str,
        session: str,
        language: str = "",
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """A recommendation card opened (its picture, or "More like this"): a click event, then
        a turn about that item."""
        try:
            item_id, _ = card_event(event)
        except ValueError as exc:
            log.info("ignored card event: %s", exc)
            return
        self._record(item_id, "click", browser_id, request)
        item = self.assistant.library.index.get(item_id)
        text = f"More like {quoted_name(item)}" if item else ""
        yield from self._turn(
            history, text, [], browser_id, session, request, about=item_id, language=language
        )

    def example(
        self,
        event: gr.SelectData,
        history: list[dict],
        browser_id: str,
        session: str,
        language: str = "",
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """An example prompt of the first screen, asked as if typed; the picture and voice
        examples (library items chosen by the server, never by the page) ask for more like that
        picture, or with that recording."""
        item_id = self.example_items.get(event.index)
        item = self.assistant.library.index.get(item_id) if item_id else None
        if item is not None:  # shown as the user's message: the picture, or a player
            media = cited_media(None, item.id, display_name(item), item.uri, item.modality)
            spoken = item.modality == "audio"
            label = VOICE_EXAMPLE if spoken else PICTURE_EXAMPLE
            shown = [*history, {"role": "user", "content": f"{media}<br>{label}"}]
            yield from self._turn(
                shown, "", [], browser_id, session, request,
                about=None if spoken else item.id, recording=item.uri if spoken else None,
                language=language,
            )  # fmt: skip
            return
        value = event.value if isinstance(event.value, dict) else {"text": str(event.value)}
        text = value.get("text", "")
        yield from self._turn(history, text, [], browser_id, session, request, language=language)

    def stopped(self) -> Any:
        """The stop button: the answer stops where it was; the box is ready again."""
        return _box(generating=False)

    # -- recommendations -------------------------------------------------------------------

    def rate_card(
        self,
        event: gr.EventData,
        browser_id: str,
        session: str = "",
        language: str = "",
        request: gr.Request | None = None,
    ) -> tuple[Any, str]:
        """Like / dislike on a recommendation card: recorded, then the cards are refreshed (a
        like counts at once; none named like a result of the page's ``session`` on screen;
        recordings in the person's chosen ``language`` first) and a note names the item."""
        try:
            item_id, kind = card_event(event)
            user = self.identity.for_page(request, browser_id)
            self.assistant.feedback(user, item_id, kind)
            fresh = self.assistant.recommend(
                user, language=chosen_language(language) or None, session=session or None
            )
        except Exception as exc:
            return gr.skip(), chat_warning(exc, "a like or dislike")
        item = self.assistant.library.index.get(item_id)
        name = quoted_name(item) if item else "it"
        return card_values(fresh), f"Thanks — noted that you {kind}d {name}."

    def clear_chat(
        self, browser_id: str, session: str, request: gr.Request | None
    ) -> tuple[str, list, list, list, str]:
        """The chat was cleared (trash icon): the server forgets that conversation too, and
        the page starts a new session with empty results."""
        if session:
            try:
                self.assistant.forget(self.identity.for_page(request, browser_id), session)
            except CrossmediaError as exc:  # nothing to forget for an unknown visitor
                log.info("clear chat: %s", exc)
        return uuid.uuid4().hex, results_gallery([]), [], [], ""

    # -- saved conversations -------------------------------------------------------------

    def list_conversations(self, browser_id: str, request: gr.Request | None) -> Any:
        """The side list: this user's saved conversations, most recent first."""
        try:
            user = self.identity.for_page(request, browser_id)
            saved = self.assistant.conversations(user)
        except Exception as exc:  # the chat still works; the log says why the list did not
            sentence_for(exc, "listing conversations")
            return gr.skip()
        choices = [(f"{c.title} ({c.turns} turn{'s' * (c.turns != 1)})", c.session) for c in saved]
        return gr.Radio(choices=choices, value=None)

    def open_conversation(
        self, session: str | None, browser_id: str, request: gr.Request | None
    ) -> tuple[Any, ...]:
        """Reopen a saved conversation: its turns in the chat, its last results beside it,
        and its session, so follow-ups continue where it was left."""
        if not session:
            return (gr.skip(),) * 4
        try:
            user = self.identity.for_page(request, browser_id)
            turns = self.assistant.conversation(user, session)
        except Exception as exc:
            sentence_for(exc, "opening a conversation")
            return (gr.skip(),) * 4
        history: list[dict] = []
        last: Reply | None = None
        for turn in turns:
            last = Reply.from_dict(turn.reply)
            history.append({"role": "user", "content": turn.question})
            history.append({"role": "assistant", "content": self._answer(last, fresh=False)})
        pictures, picks = gallery_items(last.results) if last else ([], [])
        return history, session, results_gallery(pictures), picks

    def new_chat(self) -> tuple[Any, ...]:
        """A new conversation; the one on screen stays in the list."""
        return [], uuid.uuid4().hex, results_gallery([]), [], gr.Radio(value=None)

    # -- the API ---------------------------------------------------------------------------

    @api_endpoint("/clear")
    def api_clear(self, user: str, session: str, request: gr.Request) -> dict:
        """Forget a conversation (the chat's follow-ups no longer refer to it)."""
        who = self.identity.for_api(request, user)
        self.assistant.forget(who, session or "api")
        return {"cleared": True, "session": session or "api"}

    @api_endpoint("/chat")
    def api_chat(
        self,
        user: str,
        session: str,
        text: str,
        image: str | None,
        audio: str | None,
        request: gr.Request,
    ) -> dict:
        """One turn: the Reply as JSON (answer, citations, results, recommendations, ...).
        ``user`` may be empty for a logged-in caller; files must be uploads."""
        return self.api_chat_in(user, session, text, image, audio, "", request)

    @api_endpoint("/chat_in")
    def api_chat_in(
        self,
        user: str,
        session: str,
        text: str,
        image: str | None,
        audio: str | None,
        language: str,
        request: gr.Request,
    ) -> dict:
        """``/chat`` in the asker's ``language`` (as the page's "Your language" setting; ""
        tells it from what is said): a recording is heard in it, the question read in it, the
        answer given in it."""
        who = self.identity.for_api(request, user)
        images = [str(require_upload(image))] if image else []
        recording = str(require_upload(audio)) if audio else None
        reply = self.assistant.turn(
            who,
            session or "api",
            text,
            images,
            recording,
            language=language or None,
            user_languages=_read_by(request),
        )
        return public_reply(reply)

    @api_endpoint("/search")
    def api_search(self, text: str, k: float, request: gr.Request) -> list[dict]:
        """Items for a text query, best first."""
        self.identity.check_api_key(request)
        hits = self.assistant.library.search(text, k=_count(k, 100))
        return [
            public_item({"item_id": h.item_id, "caption": h.caption, "uri": h.uri,
                         "modality": h.modality, "score": h.score})
            for h in hits
        ]  # fmt: skip

    @api_endpoint("/recommend")
    def api_recommend(self, user: str, k: float, request: gr.Request) -> list[dict]:
        """Recommendations for the caller, each with its explanation."""
        who = self.identity.for_api(request, user)
        return [public_item(s.__dict__) for s in self.assistant.recommend(who, _count(k, 50))]

    @api_endpoint("/feedback")
    def api_feedback(self, user: str, item_id: str, kind: str, request: gr.Request) -> dict:
        """Record the caller's like, dislike, click, play or view of an item."""
        who = self.identity.for_api(request, user)
        event = self.assistant.feedback(who, item_id, kind)
        return {"user": event.user, "item": event.item, "kind": event.kind.value}

    @api_endpoint("/speak")
    def api_speak(self, text: str, language: str, request: gr.Request) -> tuple[int, np.ndarray]:
        """``text`` spoken in the voice of ``language`` (en, zh, es, fr, de, ru, ja): a WAV file.
        Citation markers and markup are not read out; a long text is cut with a note. Returned
        as samples, which Gradio writes into its own cache: the speech cache lives in the data
        folder, from which Gradio refuses to serve files."""
        self.identity.check_api_key(request)
        if self.speaker is None:
            raise SpeechError("this server cannot speak: espeak-ng is not installed on it")
        return wav_samples(self.speaker.speak(text or "", language or "en").path)

    @api_endpoint("/rate")
    def api_rate(self, user: str, item_id: str, rating: float, request: gr.Request) -> dict:
        """Record the caller's rating of an item (1 to 5; above 3 counts as liking it)."""
        who = self.identity.for_api(request, user)
        event = self.assistant.feedback(who, item_id, "rating", float(rating))
        return {"user": event.user, "item": event.item, "kind": "rating", "value": event.value}


def _count(k: float | None, most: int) -> int:
    """A result count from an API argument: 1 to ``most``."""
    try:
        return max(1, min(int(k or 10), most))
    except (TypeError, ValueError, OverflowError):
        raise gr.Error("k must be a number of results", print_exception=False) from None


def _file_path(entry: Any) -> str:
    """The path of a file entry of a multimodal message (a path, or a FileData dict)."""
    if isinstance(entry, dict):
        return str(entry.get("path") or "")
    return str(getattr(entry, "path", entry))


def welcome_text(assistant: Assistant) -> str:
    """The first screen: what the library holds and what can be asked."""
    held = LibraryContents(assistant.library.index.count_by_modality()).held()
    return (
        f"**Welcome!** This library holds {held}.\n\n"
        "Ask for something by text, drop a picture to find what looks like it, or press the "
        "microphone and ask aloud. Click a result for more like it; like what you enjoy and "
        "the recommendations follow. Try one of these:"
    )


def _examples(assistant: Assistant, handlers: ChatApp) -> list[dict]:
    """The first screen's example chips: questions this library answers, a picture of the
    library to search with and a recording to ask with (their indexes noted in
    ``handlers.example_items``)."""
    try:
        examples: list[dict] = [{"text": q} for q in assistant.example_questions(4)]
        picture = assistant.example_picture()
    except CrossmediaError as exc:  # an empty library: the welcome text still shows
        log.info("no example questions: %s", exc)
        return []
    said = assistant.example_recording()
    for item, label, shown in (
        (picture, PICTURE_EXAMPLE, display_name(picture) if picture else ""),
        (said, VOICE_EXAMPLE, str(said.metadata.get("transcript", "")).strip() if said else ""),
    ):
        if item is not None:
            handlers.example_items[len(examples)] = item.id
            examples.append({"text": label, "display_text": f"{label}: “{shown}”"})
    return examples


def build_app(
    assistant: Assistant,
    identity: Identity,
    secret: str,
    delete_cache: tuple[int, int] | None = None,
    speaker: Speaker | None = None,
) -> gr.Blocks:
    """The Blocks app over an Assistant (models already loaded by the caller). ``secret``
    encrypts the browser's anonymous id in its local storage; ``delete_cache`` is Gradio's
    (every, older than) seconds sweep of uploaded and generated files; ``speaker`` speaks the
    answers (served at ``/speech/<key>.wav`` by ui/server.py; None: no Listen buttons)."""
    handlers = ChatApp(assistant, identity, speaker)
    welcome = welcome_text(assistant)
    handlers.examples = _examples(assistant, handlers)
    with gr.Blocks(title="crossmedia", analytics_enabled=False, delete_cache=delete_cache) as demo:
        # Held in the page, not in gr.State: any gr.State makes Gradio's clients keep a
        # heartbeat stream open, and @gradio/client then never lets a Node script exit. Both are
        # the page's own (its user comes from the identity, never from these values).
        session = gr.Textbox("", visible=False, elem_id="session")
        browser_id = gr.BrowserState("", storage_key="crossmedia-user", secret=secret)
        result_picks = gr.JSON([], visible=False)  # each thumbnail's (result number, item id)
        gr.Markdown("## crossmedia — ask by text, picture or voice")
        with gr.Sidebar(open=False, elem_id="sidebar"):
            new_chat = gr.Button("New chat", elem_id="new-chat")
            saved = gr.Radio(choices=[], label="Your conversations", elem_id="conversations")
            speak_aloud = autoplay_setting()
            language = language_setting()
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat",
                    show_label=False,  # a floating label covered the top of the messages
                    height=460,
                    elem_id="chat",
                    placeholder=welcome,
                    autoscroll=False,  # chat_view shows each new answer from its first line
                )
                box = gr.MultimodalTextbox(
                    sources=["upload", "microphone"],
                    file_types=["image", "audio"],
                    file_count="multiple",
                    placeholder="Ask about the library, drop a picture, or record a question",
                    show_label=False,
                    elem_id="message",
                    stop_btn=False,  # shown while an answer is generated
                    interactive=False,  # enabled by the page load, once the user is known
                )
            with gr.Column(scale=2):
                results = gr.Gallery(
                    label="Results (click one for more like it)",
                    columns=GALLERY_COLUMNS,
                    height="auto",  # every result shows; a fixed box cut off the second row
                    elem_id="results",
                    visible=False,  # shown with the first pictures (results_gallery)
                )
                sounds = gr.HTML(elem_id="sounds")
                described = DescribedPanel(assistant.library, identity)
                described.build()  # results with generated descriptions, correctable
                cards = recommendation_cards()
                feedback_note = gr.Markdown(elem_id="feedback-note")
        tracker = activity_tracker()
        chat_view()
        player = speech_player()
        speak_choice = gr.BrowserState("", storage_key="crossmedia-speak", secret=secret)
        outputs = [chatbot, box, results, result_picks, cards, session, sounds]
        listed = {"fn": handlers.list_conversations, "inputs": [browser_id], "outputs": saved}
        # Every way a turn starts: (event, handler, what it reads besides the page's ids).
        starts = [
            (box.submit, handlers.respond, [box, chatbot]),
            (chatbot.example_select, handlers.example, [chatbot]),
            (results.select, handlers.more_like, [result_picks, chatbot]),
            (cards.select, handlers.open_recommendation, [chatbot]),
        ]
        # A turn shows its own progress (the "…" bubble, the stop button), and the page's
        # start-up none, so Gradio's status is pointed at the hidden session box: a refused
        # request (429 past the rate limit) then shows only its notice, not an "Error" cover
        # over the chat (which the Chatbot draws on any error, whatever show_progress says),
        # over every other output, or as a pill left on the page.
        quiet = {"api_visibility": "private", "show_progress_on": session}
        turns = [
            event(handler, [*reads, browser_id, session, language], outputs, **quiet)
            for event, handler, reads in starts
        ]
        saved.select(
            handlers.open_conversation,
            [saved, browser_id],
            [chatbot, session, results, result_picks],
            api_visibility="private",
        )
        new_chat.click(
            handlers.new_chat,
            None,
            [chatbot, session, results, result_picks, saved],
            api_visibility="private",
        )
        for turn in turns:
            turn.then(**listed, api_visibility="private")
        # the last like's thank-you goes when the person moves on (it stayed all session);
        # in the browser alone, no request
        for moved_on in [*(event for event, _, _ in starts), new_chat.click, chatbot.clear]:
            moved_on(None, None, feedback_note, js="() => ''", api_visibility="private")
        described.wire(turns, result_picks)
        box.stop(handlers.stopped, None, box, cancels=turns, api_visibility="private")
        rated = [cards, feedback_note]
        cards.click(
            handlers.rate_card, [browser_id, session, language], rated, api_visibility="private"
        )
        tracker.change(handlers.track_activity, browser_id, None, api_visibility="private")
        chatbot.clear(
            handlers.clear_chat,
            [browser_id, session],
            [session, results, result_picks, cards, sounds],
            api_visibility="private",
        ).then(**listed, api_visibility="private")
        _api_endpoints(handlers)
        # a page start refused (429: the client is past the rate limit, as after a reload in a
        # busy minute) is tried again every START_RETRY_SECONDS, so the box does not stay
        # disabled; each refusal's notice says how long is left
        retry = gr.Timer(START_RETRY_SECONDS)
        started = [browser_id, session, box, chatbot, retry]
        demo.load(handlers.start, browser_id, started, **quiet).then(**listed, **quiet)
        retry.tick(handlers.start_again, [browser_id, session], started, **quiet).then(
            **listed, **quiet
        )
        remembered = {"fn": _autoplay_twice, **quiet}
        demo.load(inputs=speak_choice, outputs=[speak_aloud, player], **remembered)
        speak_aloud.change(inputs=speak_aloud, outputs=[speak_choice, player], **remembered)
        language_choice = gr.BrowserState("", storage_key="crossmedia-language", secret=secret)
        demo.load(chosen_language, language_choice, language, **quiet)
        language.change(chosen_language, language, language_choice, api_visibility="private")
    return demo


def _read_by(request: gr.Request | None) -> tuple[str, ...]:
    """The languages the caller's browser asks pages in: a recording is told among them."""
    return browser_languages(request.headers if request is not None else None)


def _autoplay_twice(value: str | None) -> tuple[str, str]:
    """The autoplay setting for two components (the choice and the player, or the browser's
    memory of it and the player)."""
    chosen = autoplay_value(value)
    return chosen, chosen


def _api_endpoints(handlers: ChatApp) -> None:
    """Hidden components and named endpoints for gradio_client / @gradio/client."""
    with gr.Column(visible=False):
        user, session, text = gr.Textbox(), gr.Textbox(), gr.Textbox()
        image, audio = gr.Image(type="filepath"), gr.Audio(type="filepath")
        item, kind, k = gr.Textbox(), gr.Textbox(), gr.Number(value=10)
        rating, language = gr.Number(value=5), gr.Textbox()
        out = gr.JSON()
        asked = [user, session, text, image, audio]
        gr.Button().click(handlers.api_chat, asked, out, api_name="chat")
        gr.Button().click(handlers.api_chat_in, [*asked, language], out, api_name="chat_in")
        gr.Button().click(handlers.api_search, [text, k], out, api_name="search")
        gr.Button().click(handlers.api_recommend, [user, k], out, api_name="recommend")
        gr.Button().click(handlers.api_feedback, [user, item, kind], out, api_name="feedback")
        gr.Button().click(handlers.api_rate, [user, item, rating], out, api_name="rate")
        gr.Button().click(handlers.api_clear, [user, session], out, api_name="clear")
        language, spoken = gr.Textbox(value="en"), gr.Audio(type="filepath", format="wav")
        gr.Button().click(handlers.api_speak, [text, language], spoken, api_name="speak")
