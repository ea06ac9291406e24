"""The Assistant: one chat turn from voice, image or text to a grounded, cited answer plus
personal recommendations. Used by the CLI and the UI alike; models load once and are shared by
every session. Nothing of a conversation lives only in this process: its turns are read from
and written to the database (assistant.history), so several app processes over one database
answer the turns of one conversation alike.

A turn: audio -> transcript; an image -> image vector and the labels the image tower sees; an
image with text -> one composed query vector (the encoder's fusion, else the mean); a follow-up
such as "more like the second one" -> that earlier result's vector; text -> its search phrase.
Then retrieval, the QA chain (assistant.qa), and recommendations with the query vector as session
context; every item shown is logged as a view.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from PIL import Image

from assistant.answers import evidence_phrase, example_names, plan_answer, plan_listed
from assistant.calibration import Calibration, load_or_calibrate
from assistant.chitchat import LibraryContents, chat_reply
from assistant.errors import TurnError
from assistant.history import ChatHistory, ConversationSummary, StoredTurn
from assistant.llm import LLMSettings, load_llm
from assistant.locales import LANGUAGES, phrases, question_language, quoted
from assistant.media_intent import wanted_modality
from assistant.memory import TurnRecord, results_on_screen
from assistant.qa import CitedAnswer, QAChain
from assistant.reply import Citation, Reply, Result, Suggestion
from assistant.retriever import LibraryRetriever
from assistant.router import (
    about_the_picture,
    category_of,
    describes_a_thing,
    listed_things,
    referenced_result,
    search_phrase,
)
from recsys.errors import StoreError
from recsys.events import Event, EventKind
from recsys.hybrid import BlendSettings, Recommendation
from recsys.service import LIVE_BLEND, RecommendationService
from recsys.signals import DEFAULT_SIGNALS, SignalWeights
from recsys.snapshots import SNAPSHOT_DIRNAME
from recsys.store import InteractionStore
from retrieval.describe import encode_and_label
from retrieval.encoders.base import l2_normalise
from retrieval.errors import EmptyQueryError
from retrieval.images import load_image
from retrieval.items import MediaItem, label_from_filename, translated_captions
from retrieval.library import Library, LibraryConfig
from retrieval.wordnet import default_wordnet

log = logging.getLogger(__name__)
MAX_ID_CHARS = 128
MAX_MESSAGE_CHARS = 2000  # a chat message; the LLM's context holds the question and 6 captions
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")  # an ISO 639 code, as Whisper names languages
MAX_USER_LANGUAGES = 8  # a browser's first few; the rest of a long list would be noise
HEARD_LANGUAGE_PROBABILITY = 0.5  # Whisper as sure as this of a language answers in it
# how many candidates recommendations are drawn from at most, looking past recordings said in
# other languages than the asker's
MAX_SUGGESTION_POOL = 240


@dataclass(frozen=True)
class AssistantConfig:
    """Everything an Assistant needs, built once at the edge (CLI, UI)."""

    library: LibraryConfig
    llm: LLMSettings = field(default_factory=LLMSettings)
    speech_engine: str = "faster-whisper"
    speech_model: str = "tiny.en"
    speech_compute_type: str = "int8"
    max_audio_seconds: float = 600.0
    k: int = 6
    recommendations: int = 5
    history_turns: int = 3
    blend: BlendSettings = LIVE_BLEND  # taste vs this session's likes vs the question
    signals: SignalWeights = DEFAULT_SIGNALS  # how much a like, click, play or view counts
    # what serves the chat's recommendations: ALS; "twotower" wins offline on MovieLens but
    # not in the live session simulator (docs/recsys.md)
    recommender_model: str = "als"
    # the interaction store and chat history: an SQLAlchemy URL (postgresql+psycopg://...)
    # shared by several app processes, else an SQLite file in the data directory
    database_url: str | None = None
    # where a fit job (`crossmedia recommend fit`) writes models for the recommender to serve;
    # None: the library's data directory / recsys-models (without one there, it fits itself)
    recommender_snapshots: Path | None = None


@dataclass
class TurnUpdate:
    """One step of a streamed turn: ``transcript`` (str), ``results`` (list[Result]), ``token``
    (str, answer text as generated) or ``reply`` (the final Reply)."""

    kind: str
    value: Any


@dataclass
class _Query:
    kind: str
    question: str
    search_text: str
    vector: np.ndarray
    exclude: tuple[str, ...] = ()
    labels: list[str] = field(default_factory=list)
    about: str = ""  # a follow-up: how the earlier item it takes is named
    english: str = ""  # a question in another language: its search text's dictionary English
    modality: str | None = None  # the kind of media asked for ("pictures of ..."), if any
    # a question in another language: items whose caption in it says its words, by how well
    word_match: dict[str, float] = field(default_factory=dict)
    things: list[str] = field(default_factory=list)  # a list asked for: each searched alone
    language: str = "en"  # the language its words are read in


class Assistant:
    """``turn(user, session, text=..., images=..., audio=...) -> Reply``; ``feedback`` records
    likes, dislikes and clicks; ``recommend`` serves the recommendations panel."""

    def __init__(
        self,
        config: AssistantConfig,
        library: Library | None = None,
        store: InteractionStore | None = None,
    ):
        self.config = config
        self.library = library or Library(config.library)
        self.retriever = LibraryRetriever(library=self.library, k=config.k)
        self.store = store or (
            InteractionStore(config.database_url)
            if config.database_url
            else InteractionStore.in_data_dir(config.library.data_dir)
        )
        self.history = ChatHistory.beside(self.store)
        self.wordnet = default_wordnet()  # which things are kinds of which ("any fruit?")
        self._qa: QAChain | None = None
        self._calibration: Calibration | None = None
        self._transcriber = None
        self._recommender: RecommendationService | None = None
        self._catalogue_size = -1
        self._lock = threading.Lock()

    # -- models --------------------------------------------------------------------------

    @property
    def qa(self) -> QAChain:
        """The QA chain (the LLM is loaded on first use, once)."""
        with self._lock:
            if self._qa is None:
                llm = load_llm(self.config.llm, self.config.library.cache_dir)
                self._qa = QAChain(llm)
            return self._qa

    def calibration(self) -> Calibration:
        """When a score means found, closest or not found, for this library and encoder
        (assistant.calibration; measured once, cached beside the index, redone on change)."""
        with self._lock:
            current = self._calibration
            if current is None or not current.fits(
                self.library.encoder.name, self.library.index.count()
            ):
                path = self.config.library.data_dir / "answer-calibration.json"
                self._calibration = load_or_calibrate(self.library, path)
            return self._calibration

    def transcriber(self, language: str = ""):
        """The speech model (loaded on first use, once). For a ``language`` other than English
        where the configured model hears only English (tiny.en, the default), the packaged
        multilingual Whisper, loaded on first use too."""
        with self._lock:
            if self._transcriber is None:
                from assistant.speech import load_transcriber

                self._transcriber = load_transcriber(
                    self.config.speech_engine,
                    self.config.speech_model,
                    self.config.speech_compute_type,
                    self.config.max_audio_seconds,
                )
            configured = self._transcriber
        if language in ("", "en") or not getattr(configured, "english_only", False):
            return configured
        from assistant.speech import load_transcriber
        from assistant.speech.faster import PACKAGED_MULTILINGUAL

        return load_transcriber(
            "faster-whisper",
            PACKAGED_MULTILINGUAL,
            self.config.speech_compute_type,
            self.config.max_audio_seconds,
        )

    def expected_languages(self) -> tuple[str, ...]:
        """The languages a recording is told among when neither the user's choice nor their
        browser's languages say (``_reads``): the answer languages and those the library's
        recordings are said in. Telling a one- or two-second phrase among Whisper's 99
        languages is mostly wrong (Spanish taken for Italian or Portuguese)."""
        return tuple(dict.fromkeys([*LANGUAGES, *self.library.spoken_languages()]))

    def warm_up(self, speech: bool = True) -> None:
        """Load every model now (a server does this at start, so no user waits for it)."""
        started = time.perf_counter()
        _ = self.qa
        self.calibration()
        if speech:
            self.transcriber()
        self.recommender()
        log.info("assistant ready in %.1f s", time.perf_counter() - started)

    def recommender(self) -> RecommendationService:
        """The recommender over the library's items, rebuilt when the library changed."""
        with self._lock:
            size = self.library.index.count()
            if self._recommender is None or size != self._catalogue_size:
                ids, vectors = self.library.index.vectors("content")
                self._recommender = RecommendationService(
                    self.store,
                    ids,
                    vectors,
                    model=self.config.recommender_model,
                    settings=self.config.blend,
                    signals=self.config.signals,
                    snapshots=self.config.recommender_snapshots
                    or self.config.library.data_dir / SNAPSHOT_DIRNAME,
                )
                self._catalogue_size = size
                log.info("recommender built over %d items", size)
            return self._recommender

    # -- a turn --------------------------------------------------------------------------

    def turn(
        self,
        user: str,
        session: str,
        text: str | None = None,
        images: Sequence[Image.Image | str | Path | bytes] = (),
        audio: str | Path | None = None,
        item: str | None = None,
        language: str | None = None,
        user_languages: Sequence[str] = (),
    ) -> Reply:
        """Answer one turn; see the module docstring for how each input is routed."""
        reply = None
        turn = self.stream_turn(user, session, text, images, audio, item, language, user_languages)
        for update in turn:
            if update.kind == "reply":
                reply = update.value
        assert isinstance(reply, Reply)
        return reply

    def stream_turn(
        self,
        user: str,
        session: str,
        text: str | None = None,
        images: Sequence[Image.Image | str | Path | bytes] = (),
        audio: str | Path | None = None,
        item: str | None = None,
        language: str | None = None,
        user_languages: Sequence[str] = (),
    ) -> Iterator[TurnUpdate]:
        """The turn as it happens: transcript, results, answer tokens, then the Reply.
        ``item``: the turn asks for more like this library item (a clicked picture).
        ``language``: the user's own (one of ``LANGUAGES``; None: told by what they say): a
        recording is heard in it, the question read in it and the answer given in it.
        ``user_languages``: where ``language`` is not given, the languages the user is known to
        read (their browser's, ISO 639 codes, most preferred first): a recording is told among
        them and English, by the multilingual Whisper where one of them is not English."""
        user, session = _identifier(user, "user"), _identifier(session, "session")
        if language and language not in LANGUAGES:
            raise TurnError(
                f"unknown language {language!r}: use one of {', '.join(LANGUAGES)}, or none to "
                "let the assistant tell"
            )
        if text and len(text) > MAX_MESSAGE_CHARS:
            raise TurnError(
                f"the message is {len(text):,} characters long; keep it under "
                f"{MAX_MESSAGE_CHARS:,} (ask one question at a time)"
            )
        timings: dict[str, float] = {}
        started = time.perf_counter()
        transcript = None
        spoken = language or ""  # the user's language, else the one Whisper is sure it heard
        if audio is not None:
            clock = time.perf_counter()
            reads = () if language else _reads(user_languages)
            # the user reads a language other than English: the multilingual model hears them
            transcriber = self.transcriber(spoken or next((c for c in reads if c != "en"), ""))
            listens = not language and not getattr(transcriber, "english_only", False)
            expected = reads or (self.expected_languages() if listens else ())
            heard = transcriber.transcribe(audio, language=language or None, expected=expected)
            timings["transcription"] = time.perf_counter() - clock
            transcript = heard.text.strip()
            spoken = spoken or heard_language(heard.language, heard.language_probability)
            yield TurnUpdate("transcript", transcript)
            if not transcript and not (text and text.strip()) and not images:
                raise TurnError("no speech was heard in the recording: try again, or type")
        text = " ".join(filter(None, [(text or "").strip(), transcript or ""]))
        small_talk = (
            chat_reply(text, self.contents) if text and not images and item is None else None
        )
        if small_talk is not None:
            yield from self._chat(user, session, text, small_talk, transcript, started)
            return
        if len(text) > MAX_MESSAGE_CHARS:
            raise TurnError(
                f"the recording holds {len(text):,} characters of speech; ask one question at a "
                f"time (under {MAX_MESSAGE_CHARS:,} characters)"
            )
        clock = time.perf_counter()
        previous = self._recent(user, session)  # read once: for follow-ups and the LLM's history
        query = (
            self._about_item(item, text, spoken or question_language(text))
            if item is not None
            else self._route(text, [_image(i) for i in images], previous, spoken)
        )
        timings["encoding"] = time.perf_counter() - clock

        clock = time.perf_counter()
        documents = self.retriever.from_vector(
            query.vector,
            exclude=query.exclude,
            prefer=query.modality,
            min_score=self.calibration().cuts_for(query.kind).plausible,
            word_match=query.word_match,
        )
        found, missing = [], []
        if query.things:  # "sheep, cows and a tractor": each thing on its own
            documents, found, missing = self._find_each(query.things, documents, query.language)
        timings["retrieval"] = time.perf_counter() - clock
        results = [_result(d) for d in documents]
        yield TurnUpdate("results", results)

        clock = time.perf_counter()
        history = [(t.question, t.answer) for t in previous]
        answer: CitedAnswer | None = None
        kind = "voice" if transcript and query.kind == "text" else query.kind
        language = spoken or question_language(text)
        if query.things:
            plan = plan_listed(found, missing, query.search_text, language)
        else:
            plan = plan_answer(
                kind,
                query.search_text,
                query.question,
                documents,
                self.calibration(),
                query.about,
                language,
                query.english,
                self.wordnet,
                query.modality,
            )
        for chunk in self.qa.stream(query.question, documents, plan, history):
            if isinstance(chunk, CitedAnswer):
                answer = chunk
            else:
                yield TurnUpdate("token", chunk)
        assert answer is not None
        timings["generation"] = time.perf_counter() - clock

        clock = time.perf_counter()
        # nothing close to a question the library could not answer: it steers no suggestion
        # (the nearest thing would be labelled "close to what you asked for")
        steer = query.vector if plan.grade != "none" else None
        suggestions = self._suggest(user, steer, [r.item_id for r in results], language=language)
        self._log_views(user, [*(r.item_id for r in results), *(s.item_id for s in suggestions)])
        timings["recommendation"] = time.perf_counter() - clock
        timings["total"] = time.perf_counter() - started

        reply = Reply(
            answer=answer.text,
            citations=[_citation(n, documents[n - 1]) for n in answer.citations],
            results=results,
            recommendations=suggestions,
            transcript=transcript,
            image_labels=query.labels,
            query_kind=kind,
            search_text=query.search_text,
            grounding=answer.grounding,
            language=language,
            timings={k: round(v, 4) for k, v in timings.items()},
        )
        self._save(user, session, text or _wordless(images, audio), reply)
        yield TurnUpdate("reply", reply)

    def _route(
        self,
        text: str,
        images: list[Image.Image],
        previous: list[TurnRecord],
        spoken: str = "",
    ) -> _Query:
        encoder = self.library.encoder
        if images:
            vectors, described = encode_and_label(encoder, images)
            labels = list(dict.fromkeys(name for row in described for name, _ in row[:2]))
            image_vector = l2_normalise(vectors.mean(axis=0))
            if text and about_the_picture(text):  # "what is this?": the picture is the query
                return _Query("image", text, ", ".join(labels), image_vector, labels=labels)
            if text:
                return _Query(
                    "composed", text, text, self._compose(image_vector, text), labels=labels
                )
            question = f"What do you have that looks like this picture of {' or '.join(labels)}?"
            return _Query("image", question, ", ".join(labels), image_vector, labels=labels)
        if not text:
            raise EmptyQueryError("the message is empty: type something, send a picture or speak")
        shown = results_on_screen(previous)
        item = referenced_result(text, shown)
        if item is not None:
            vector = self.library.index.vector_of(item)
            stored = self.library.index.get(item)
            if vector is not None and stored is not None:
                language = spoken or question_language(text)
                number = phrases(language).result_number.format(n=shown.index(item) + 1)
                about = quoted_name(stored, language) + number
                return _Query("follow_up", text, item, vector, exclude=(item,), about=about)
        language = spoken or question_language(text)
        phrase = search_phrase(text, language)
        broad = category_of(text) or describes_a_thing(phrase)  # "animals", "something to eat"
        kind = "category" if broad else "text"
        modality = wanted_modality(text, language)
        if language == "en":
            things = listed_things(phrase) if kind == "text" else []
            vector = self.library.query_vector(phrase)
            matched = self.library.text_match(phrase, "en")  # colours: "anything yellow?"
            return _Query(
                kind, text, phrase, vector, modality=modality, things=things, word_match=matched
            )
        vector, words, english = self._read_in(phrase, language)
        things = listed_things(phrase, language) if kind == "text" else []
        return _Query(
            kind, text, phrase, vector, english=english, modality=modality, word_match=words,
            things=things, language=language,
        )  # fmt: skip

    def _read_in(self, phrase: str, language: str) -> tuple[np.ndarray, dict[str, float], str]:
        """A search phrase in a language other than English: its vector, the items whose caption
        in that language says its words (by how well), and its dictionary English ("" if
        none)."""
        vector = self.library.query_vector(phrase, language=language)
        words = self.library.text_match(phrase, language)
        return vector, words, self.library.in_english(phrase, language) or ""

    def _find_each(
        self, things: list[str], whole: list[Document], language: str = "en"
    ) -> tuple[list[Document], list[int], list[str]]:
        """Each listed thing searched on its own (read in ``language``): the best match of each
        found one (graded as a text question is) first, then the rest of the whole question's
        results; the numbers of those matches, and the things nothing was found for."""
        chosen: list[Document] = []
        missing: list[str] = []
        for thing in things:
            if language == "en":
                vector, english = self.library.query_vector(thing), ""
                words = self.library.text_match(thing, "en")
            else:
                vector, words, english = self._read_in(thing, language)
            documents = self.retriever.from_vector(vector, word_match=words)
            plan = plan_answer(
                "text", thing, thing, documents, self.calibration(), "", language, english,
                self.wordnet,
            )  # fmt: skip
            if plan.grade != "confident":
                missing.append(thing)
                continue
            taken = {d.id for d in chosen}
            best = [documents[n - 1] for n in plan.lead if documents[n - 1].id not in taken]
            chosen += best[:1]  # none new: an earlier thing's match already answers it
        ids = {d.id for d in chosen}
        rest = [d for d in whole if d.id not in ids]
        merged = (chosen + rest)[: max(self.retriever.k, len(chosen))]
        return merged, list(range(1, len(chosen) + 1)), missing

    def _about_item(self, item_id: str, text: str, language: str) -> _Query:
        """A turn about one library item: more like it (the item itself is not a result),
        named in the answer's ``language``."""
        item = self.library.index.get(item_id)
        vector = self.library.index.vector_of(item_id)
        if item is None or vector is None:
            raise TurnError("that item is no longer in the library; ask about something else")
        question = text or f"More like {quoted_name(item)}"
        return _Query(
            "follow_up",
            question,
            item_id,
            vector,
            exclude=(item_id,),
            about=quoted_name(item, language),
        )

    def _chat(
        self, user: str, session: str, text: str, reply: str, transcript: str | None, started: float
    ) -> Iterator[TurnUpdate]:
        """A message that is not a search (thanks, hello, "what can you do?"): a short reply,
        no results, nothing logged as seen."""
        for piece in re.findall(r"\S+\s*", reply):
            yield TurnUpdate("token", piece)
        timings = {"total": round(time.perf_counter() - started, 4)}
        answer = Reply(
            reply, transcript=transcript, query_kind="chat", grounding="chat", timings=timings
        )
        self._save(user, session, text, answer)
        yield TurnUpdate("reply", answer)

    # -- conversations -------------------------------------------------------------------

    def _recent(self, user: str, session: str) -> list[TurnRecord]:
        """The session's last turns, read from the saved history: the truth whichever process
        answered them (no copy in this process could know of a turn another one answered)."""
        try:
            stored = self.history.recent(user, session, self.config.history_turns)
        except StoreError as exc:  # the turn is answered without its context
            log.warning("%s", exc)
            return []
        return [
            TurnRecord(
                t.question,
                t.answer,
                [r["item_id"] for r in t.reply.get("results", [])],
                small_talk=t.reply.get("query_kind") == "chat",
            )
            for t in stored
        ]

    def _save(self, user: str, session: str, question: str, reply: Reply) -> None:
        try:
            self.history.append(user, session, question, reply.to_dict())
        except StoreError as exc:  # the answer still reaches the user; the log says why
            log.warning("chat history not saved: %s", exc)

    def conversations(self, user: str, limit: int = 50) -> list[ConversationSummary]:
        """The user's saved conversations, most recently used first."""
        return self.history.conversations(_identifier(user, "user"), limit)

    def conversation(self, user: str, session: str) -> list[StoredTurn]:
        """One saved conversation's turns, oldest first (reopening it)."""
        return self.history.turns(_identifier(user, "user"), _identifier(session, "session"))

    def example_questions(self, count: int = 4, seed: int = 0) -> list[str]:
        """Questions this library answers with a confident match (the first screen's examples):
        about the subjects of some captioned items, checked by searching them."""
        from assistant.calibration import subject_of

        ids, _ = self.library.index.vectors("content")
        order = np.random.default_rng(seed).permutation(len(ids))[: 40 * count]
        items = self.library.index.get_many([ids[i] for i in order])
        subjects = dict.fromkeys(
            s for s in (subject_of(item.caption) for item in items.values()) if " " in s
        )
        questions: list[str] = []
        for subject in subjects:
            documents = self.retriever.from_vector(self.library.query_vector(subject))
            plan = plan_answer(
                "text", subject, subject, documents, self.calibration(), wordnet=self.wordnet
            )
            if plan.grade == "confident":
                questions.append(f"Do you have a picture of {subject}?")
            if len(questions) == count:
                break
        return questions

    def contents(self, examples: int = 3, candidates: int = 50) -> LibraryContents:
        """What the library holds, for replies about it: items per modality and the names of
        a few captioned ones (``example_names``, the first by id: the same few every time,
        spread over the library by the ids' hashes)."""
        counts = self.library.index.count_by_modality()
        ids = sorted(i for kind in counts for i in self.library.index.ids_of(kind, candidates))
        items = self.library.index.get_many(ids)
        captions = [items[i].caption for i in ids if i in items]
        return LibraryContents(counts, example_names(captions, examples))

    def example_picture(self, candidates: int = 200) -> MediaItem | None:
        """A captioned picture of the library to search with on the first screen (a raster
        file, so every browser shows it), or None when the library has none."""
        raster = (".png", ".jpg", ".jpeg", ".webp")
        return self._first_item(
            "image",
            candidates,
            lambda item: bool(item.caption.strip()) and Path(item.uri).suffix.lower() in raster,
        )

    def example_recording(self, most_words: int = 12, candidates: int = 200) -> MediaItem | None:
        """A short spoken recording of the library to ask with on the first screen (an audio
        item whose transcript has words, a dozen at most), or None when there is none."""
        return self._first_item(
            "audio",
            candidates,
            lambda item: (
                bool(item.metadata.get("is_speech"))
                and 0 < len(str(item.metadata.get("transcript", "")).split()) <= most_words
            ),
        )

    def _first_item(
        self, modality: str, candidates: int, fits: Callable[[MediaItem], bool]
    ) -> MediaItem | None:
        """The first item (by id) of ``modality`` among ``candidates`` of them that ``fits``."""
        ids = sorted(self.library.index.ids_of(modality, candidates))
        items = self.library.index.get_many(ids)
        return next((items[i] for i in ids if i in items and fits(items[i])), None)

    def forget(self, user: str, session: str) -> None:
        """Clear a conversation: its saved turns (follow-ups can no longer refer to them, in
        any process, now or after a restart)."""
        user, session = _identifier(user, "user"), _identifier(session, "session")
        self.history.delete(user, session)

    def _compose(self, image_vector: np.ndarray, text: str) -> np.ndarray:
        """An image plus a text modifier as one vector (the encoder's fusion, else the mean)."""
        text_vector = self.library.encoder.encode_texts([text])[0]
        fuse = getattr(self.library.encoder, "fuse", None)
        fused = fuse(image_vector[None, :], text_vector[None, :]) if fuse else None
        if fused is None:
            return l2_normalise(image_vector + text_vector)
        return np.asarray(fused[0], dtype=np.float32)

    # -- recommendations and feedback ----------------------------------------------------

    def recommend(
        self,
        user: str,
        k: int | None = None,
        session_vector: np.ndarray | None = None,
        exclude: Sequence[str] = (),
        language: str | None = None,
        session: str | None = None,
    ) -> list[Suggestion]:
        """Recommendations for a user (session vector: what the user is looking at now;
        ``exclude``: items not to recommend; ``language``: the user's, whose recordings come
        before those said in other languages; ``session``: the conversation on the user's
        screen, whose last results, read from its history, are excluded too)."""
        user = _identifier(user, "user")
        if session:
            on_screen = results_on_screen(self._recent(user, _identifier(session, "session")))
            exclude = [*exclude, *on_screen]
        return self._suggest(user, session_vector, exclude, k, language)

    def _suggest(
        self,
        user: str,
        vector: np.ndarray | None,
        exclude: Sequence[str],
        k: int | None = None,
        language: str | None = None,
    ) -> list[Suggestion]:
        k = self.config.recommendations if k is None else k
        if k <= 0 or self.library.index.count() == 0:
            return []
        # the names and files of the items on screen (the results) and of those the user just
        # acted on: a card named alike reads as the same one again
        known = self.library.index.get_many([*exclude, *self.recommender().acted_on(user)])
        shown = {key for item in known.values() for key in _names(item)}
        pool = 3 * k  # captions already listed are skipped
        while True:
            candidates = self.recommender().recommend(user, pool, session=vector, exclude=exclude)
            items = self.library.index.get_many([rec.item for rec in candidates])
            chosen = _named_once(candidates, items, shown, language, k)
            # a library of recordings in ten languages: look further for the asker's
            enough = len(chosen) == k and not any(said_elsewhere(i, language) for _, i in chosen)
            if enough or len(candidates) < pool or pool >= MAX_SUGGESTION_POOL:
                break
            pool *= 4
        out = []
        for rec, item in chosen:
            because = rec.because
            similar = self.library.index.get(rec.similar_to) if rec.similar_to else None
            if similar is not None:  # the recommender speaks in ids; people read captions
                because = because.replace(rec.similar_to, quoted_name(similar))
            name = item.caption or display_name(item)  # an uncaptioned item by its file name
            out.append(Suggestion(rec.item, name, item.uri, item.modality, rec.score, because))
        return out

    def feedback(self, user: str, item_id: str, kind: str, value: float = 1.0) -> Event:
        """Record a like, dislike, click, play, view or rating (``value``: 1 to 5) of a library
        item (unknown items refused)."""
        return self.recommender().feedback(_identifier(user, "user"), item_id, kind, value)

    def _log_views(self, user: str, item_ids: Sequence[str]) -> None:
        self.store.record(Event.create(user, i, EventKind.VIEW) for i in dict.fromkeys(item_ids))


def heard_language(language: str, probability: float) -> str:
    """The language a recording is answered in when Whisper is sure of it (a multilingual model
    that heard one of the answers' languages); "" leaves it to the transcript's words."""
    return language if language in LANGUAGES and probability >= HEARD_LANGUAGE_PROBABILITY else ""


def _reads(user_languages: Sequence[str]) -> tuple[str, ...]:
    """The languages a user reads (their first few ISO 639 codes, anything else left out) and
    English; () when none is given."""
    known = [code for code in user_languages if LANGUAGE_CODE.fullmatch(code)]
    return tuple(dict.fromkeys([*known[:MAX_USER_LANGUAGES], "en"])) if known else ()


def said_elsewhere(item: MediaItem, language: str | None) -> bool:
    """Whether ``item`` is a recording said in another language than ``language`` (a Tux Paint
    ``NAME_desc_ru.ogg`` for someone who asks in French); never without a ``language``."""
    said_in = str(item.metadata.get("spoken_language") or "")
    return bool(language and said_in and said_in != language)


def _named_once(
    candidates: Sequence[Recommendation],
    items: dict[str, MediaItem],
    shown: set[str],
    language: str | None,
    k: int,
) -> list[tuple[Recommendation, MediaItem]]:
    """Up to ``k`` candidates in their order, none named or filed like one ``shown`` or one
    before it; recordings said in another language than ``language`` only fill what is left."""
    stored = [(rec, items[rec.item]) for rec in candidates if rec.item in items]
    stored.sort(key=lambda pair: said_elsewhere(pair[1], language))  # stable: order kept
    seen, chosen = set(shown), []
    for rec, item in stored:
        keys = _names(item)
        if not keys & seen:
            seen |= keys
            chosen.append((rec, item))
            if len(chosen) == k:
                break
    return chosen


def _identifier(value: str, what: str) -> str:
    value = str(value or "").strip()
    if not value or len(value) > MAX_ID_CHARS:
        raise TurnError(f"a {what} id is needed (1 to {MAX_ID_CHARS} characters)")
    return value


def display_name(item: MediaItem | Suggestion) -> str:
    """How an item is named to people: its caption, else its file name, else its kind."""
    if item.caption.strip():
        return item.caption.strip().rstrip(".")
    return label_from_filename(Path(item.uri)) if item.uri else f"a {item.modality}"


def quoted_name(item: MediaItem | Suggestion, language: str = "en") -> str:
    """An item's name in quotation marks, as answers and notes show it (“A ‘Fuji’ apple”); in
    another language by its caption in that language where it has one (« Une grenouille »)."""
    translated = translated_captions(item.metadata) if isinstance(item, MediaItem) else {}
    if language in translated:
        return quoted(translated[language].rstrip("."), language)
    return quoted(display_name(item), language)


def _wordless(images: Sequence[Any], audio: Any) -> str:
    """How a turn without words is titled in the history."""
    return "(a picture)" if images else "(a recording)" if audio else "(more like this)"


def _names(item: MediaItem) -> set[str]:
    """What tells an item apart to a person: its name (caption, else file name) and its file."""
    return {_caption_key(item.caption or display_name(item)), item.uri} - {""}


def _caption_key(caption: str) -> str:
    """Captions that read the same to a person ("A donkey." / "a donkey") share a key."""
    return " ".join(caption.lower().strip().rstrip(".!").split())


def _image(source: Image.Image | str | Path | bytes) -> Image.Image:
    return source if isinstance(source, Image.Image) else load_image(source)


def _result(document: Document) -> Result:
    m = document.metadata
    return Result(
        m["item_id"], m["caption"], m["uri"], m["modality"], m["score"], m["matched"],
        m.get("moment"), evidence_phrase(document).lstrip(", "),
    )  # fmt: skip


def _citation(number: int, document: Document) -> Citation:
    m = document.metadata
    return Citation(
        number, m["item_id"], m["caption"], m["uri"], m["modality"], m["score"], m.get("moment")
    )
