"""The "Described by crossmedia" panel: the results of a turn that have a generated description
(no human caption), labelled as generated, each correctable. A saved correction becomes the
item's caption and a training pair (retrieval.corrections); the panel then drops the item.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from retrieval.corrections import correct_caption
from retrieval.describe import generated_description
from retrieval.library import Library
from ui.security.identity import Identity
from ui.security.messages import sentence_for

LABEL = "Described by crossmedia"
NOT_ALLOWED = (
    "Only a signed-in user can correct descriptions on this server (they change what everyone "
    'sees); the library\'s owner can also run: crossmedia correct ITEM_ID "text"'
)


def described_choices(library: Library, picks: list) -> list[tuple[str, str]]:
    """(label, item id) of the results (``[result number, item id]`` pairs) that have no
    caption but a generated description, in result order."""
    ids = [str(item_id) for _, item_id in picks or []]
    items = library.index.get_many(ids)
    choices = []
    for number, item_id in picks or []:
        item = items.get(item_id)
        described = generated_description(item.metadata) if item and not item.caption else ""
        if described:
            choices.append((f"[{number}] {LABEL}: {described}", item_id))
    return choices


class DescribedPanel:
    """The panel's components and handlers, over one library."""

    def __init__(self, library: Library, identity: Identity):
        self.library = library
        self.identity = identity

    def build(self) -> None:
        """Place the panel (hidden until a turn finds a described picture)."""
        with gr.Accordion(LABEL, open=False, visible=False, elem_id="described") as self.box:
            self.choice = gr.Radio(choices=[], label="Pictures without a caption", type="value")
            self.text = gr.Textbox(
                label="Correct the description", placeholder="What the picture really shows"
            )
            self.save = gr.Button("Save correction", size="sm")
            self.note = gr.Markdown()

    def wire(self, turns: list, result_picks: gr.JSON) -> None:
        """Refresh after every turn; fill the text box from a chosen description; save."""
        for turn in turns:
            turn.then(self.show, result_picks, [self.box, self.choice], api_visibility="private")
        self.choice.change(self.pick, self.choice, self.text, api_visibility="private")
        self.save.click(
            self.correct,
            [self.choice, self.text, result_picks],
            [self.box, self.choice, self.text, self.note],
            api_visibility="private",
        )

    def show(self, picks: list) -> tuple[Any, Any]:
        choices = described_choices(self.library, picks)
        return gr.Accordion(visible=bool(choices)), gr.Radio(choices=choices, value=None)

    def pick(self, item_id: str | None) -> str:
        item = self.library.index.get(item_id) if item_id else None
        return str(item.metadata.get("description", "")) if item else ""

    def correct(
        self, item_id: str | None, text: str, picks: list, request: gr.Request
    ) -> tuple[Any, ...]:
        """Save the correction of the chosen picture (a change every user sees, so only for
        a signed-in user, or anyone on a server that serves this machine alone); the note says
        what happened."""
        if not item_id:
            return gr.skip(), gr.skip(), gr.skip(), "Choose a picture first."
        if not self.identity.may_change_library(request):
            return gr.skip(), gr.skip(), gr.skip(), NOT_ALLOWED
        try:
            done = correct_caption(
                self.library.index,
                self.library.encoder,
                item_id,
                text,
                self.library.config.data_dir,
            )
        except Exception as exc:  # a sentence for the person; the log has the details
            return gr.skip(), gr.skip(), gr.skip(), sentence_for(exc, "saving a correction")
        box, choice = self.show(picks)
        note = f"Saved: the caption is now “{done.item.caption}” (kept to improve search)."
        return box, choice, "", note
