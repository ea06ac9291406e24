"""Where the chat shows a new answer: its first line in view, its cited media side by side.

Gradio's own autoscroll goes to the bottom of the chat, so an answer taller than the chat (one
citing three pictures) opened at its last picture, its words out of view above. Here the chat
is scrolled so that the newest answer starts at the top of the view when it does not fit,
and to the bottom when it does; pictures that load later scroll it again, until the person
scrolls the chat themselves (then it is theirs until the next question). When a question
starts below the chat (a result tapped on a phone, where the panels stack under it), the page
is brought back to the chat, unless the person scrolls the page.
"""

from __future__ import annotations

import gradio as gr

PAGE_CSS = """
#chat .cited { display: inline-block; vertical-align: top; max-width: 180px;
               margin: 0 12px 6px 0; }
#chat .cited:has(audio), #chat .cited:has(video) { display: block; max-width: 100%; }
#chat .cited + br { display: none; }
#chat .cited img { margin: 0 0 4px !important; }
#chat .cited img + br { display: none; }  /* the picture is a block: its name follows below */
/* The share / clear / copy buttons floated over the top of the scrolled messages (a long
   question's last words lay under them): they take their own strip above the messages. */
#chat .icon-button-wrapper.top-panel { position: static; display: flex;
  justify-content: flex-end; margin: 0 0 2px auto; width: fit-content; }
"""

# The chat block (#chat) stays while Gradio re-renders the messages inside it, so it is the
# one observed; the scrolling element (.bubble-wrap) is looked up at each change.
_SCROLL_JS = """
if (!window.crossmediaChatView) {
  window.crossmediaChatView = true;
  const MARGIN = 8;
  let asked = -1, theirs = false, pageTheirs = false, frame = 0;
  const settle = () => {
    frame = 0;
    const chat = document.getElementById('chat');
    const wrap = chat && chat.querySelector('.bubble-wrap');
    if (!wrap) return;
    const rows = wrap.querySelectorAll('div.message.bot, div.message.user');
    if (!rows.length) return;
    const questions = wrap.querySelectorAll('div.message.user').length;
    if (questions !== asked) { asked = questions; theirs = false; pageTheirs = false; }
    const box = chat.getBoundingClientRect();
    const onScreen = Math.min(box.bottom, window.innerHeight) - Math.max(box.top, 0);
    if (!pageTheirs && onScreen < box.height / 2) {
      chat.scrollIntoView({block: 'start'});  // a result tapped below the chat, on a phone
    }
    if (theirs) return;
    const newest = rows[rows.length - 1];
    const top = newest.getBoundingClientRect().top - wrap.getBoundingClientRect().top
      + wrap.scrollTop - MARGIN;
    wrap.scrollTop = Math.min(wrap.scrollHeight - wrap.clientHeight, Math.max(0, top));
  };
  const soon = () => { if (!frame) frame = requestAnimationFrame(settle); };
  const watch = () => {
    const chat = document.getElementById('chat');
    if (!chat) { setTimeout(watch, 200); return; }
    new MutationObserver(soon).observe(chat, {childList: true, subtree: true,
                                              characterData: true});
    chat.addEventListener('load', soon, true);  // a picture's height is known once it loads
    for (const kind of ['wheel', 'touchmove', 'keydown']) {
      chat.addEventListener(kind, () => { theirs = true; }, {passive: true});
    }
    for (const kind of ['wheel', 'touchmove']) {
      window.addEventListener(kind, () => { pageTheirs = true; }, {passive: true});
    }
  };
  watch();
}
"""


def chat_view() -> gr.HTML:
    """An invisible component that keeps each new answer's first line in view."""
    return gr.HTML("", js_on_load=_SCROLL_JS, elem_id="chat-view", padding=False)
