"""Spoken answers in the chat: a Listen button under every answer, the page's one speech player,
and the "Speak answers aloud" setting.

The button is a link to its answer's audio (``/speech/<key>.wav``, a key the server made when
it rendered the answer; the page never sends text to be spoken), because the chat's HTML
sanitiser keeps a link's ``href``, ``class`` and ``title`` but drops ``data-*``, ``aria-*`` and
``value`` attributes; the page's script makes it a button (role, aria-label, aria-pressed, Space
key) and plays the audio in the page (without the script the link opens the WAV). The audio is
synthesised when first asked for (assistant/speech/tts.py) and cached. One player plays one
answer at a time: pressing Listen again, or another answer's Listen, stops it. An answer that
arrives while the page is open is spoken at once when the setting says so: by default when the
question was asked aloud (a voice message, the microphone), or for every answer, or never.
"""

from __future__ import annotations

import html
import uuid
from urllib.parse import urlencode

import gradio as gr

SPEECH_ROUTE = "/speech/"
AUTOPLAY_CHOICES = [
    ("When I ask aloud", "voice"),
    ("Every answer", "always"),
    ("Never", "never"),
]
AUTOPLAY_VALUES = tuple(value for _, value in AUTOPLAY_CHOICES)
DEFAULT_AUTOPLAY = "voice"
LISTEN = "▶ Listen"
LISTEN_LABEL = "Listen to this answer"

_PLAYER_TEMPLATE = '<div class="speech-setting" data-autoplay="{{value}}" hidden></div>'

# Media events do not bubble, and the chat re-renders its messages: the player lives outside
# the chat (one <audio> appended to the page), buttons are found by delegation, and each fresh
# answer (its ``turn``, set only on the answer just generated) is considered for autoplay once.
_PLAYER_JS = f"""
if (!window.crossmediaSpeech) {{
  const audio = document.createElement('audio');
  audio.id = 'speech-audio';
  audio.preload = 'none';
  document.body.appendChild(audio);
  window.crossmediaSpeech = audio;
  let current = null;
  const seen = new Set();
  const parts = (button) => {{
    const url = new URL(button.getAttribute('href'), window.location.href);
    const asked = url.searchParams.get('asked'), turn = url.searchParams.get('turn');
    url.search = '';
    return {{src: url.href, asked: asked, turn: turn}};
  }};
  const show = (button, playing) => {{
    button.textContent = playing ? '■ Stop' : {LISTEN!r};
    button.setAttribute('aria-pressed', playing ? 'true' : 'false');
    button.setAttribute('aria-label', playing ? 'Stop reading this answer' : {LISTEN_LABEL!r});
  }};
  const stop = () => {{
    audio.pause();
    if (current) show(current, false);
    current = null;
  }};
  const play = (button) => {{
    if (current && current !== button) show(current, false);
    current = button;
    const url = parts(button).src;
    if (audio.src !== url) audio.src = url; else audio.currentTime = 0;
    show(button, true);
    audio.play().catch(() => {{ if (current === button) stop(); }});
  }};
  audio.addEventListener('ended', stop);
  audio.addEventListener('error', () => {{
    if (current) {{ current.textContent = 'Cannot speak now'; current = null; }}
  }});
  document.addEventListener('click', (event) => {{
    const button = event.target.closest && event.target.closest('#chat a.speak');
    if (!button) return;
    event.preventDefault();
    event.stopPropagation();
    if (current === button && !audio.paused) stop(); else play(button);
  }}, true);
  document.addEventListener('keydown', (event) => {{
    const target = event.target.closest && event.target.closest('#chat a.speak');
    const button = event.key === ' ' && target;
    if (button) {{ event.preventDefault(); button.click(); }}
  }}, true);
  const policy = () => {{
    const setting = document.querySelector('#speech-player [data-autoplay]');
    return setting ? setting.dataset.autoplay : {DEFAULT_AUTOPLAY!r};
  }};
  const autoplay = () => {{
    for (const button of document.querySelectorAll('#chat a.speak')) {{
      if (!button.hasAttribute('role')) {{
        button.setAttribute('role', 'button');
        show(button, button === current);
      }}
      const {{asked, turn}} = parts(button);
      if (!turn || seen.has(turn)) continue;
      seen.add(turn);
      const mode = policy();
      if (mode === 'always' || (mode === 'voice' && asked === 'voice')) play(button);
    }}
  }};
  new MutationObserver(autoplay).observe(document.body, {{childList: true, subtree: true}});
  autoplay();
}}
"""

PAGE_CSS = """
#chat a.speak { display: inline-block; font-size: 0.8rem; line-height: 1.4; padding: 2px 10px;
                margin: 6px 0 2px; border: 1px solid var(--border-color-primary);
                border-radius: 999px; background: var(--button-secondary-background-fill);
                color: var(--body-text-color); text-decoration: none; cursor: pointer; }
#chat a.speak:hover { background: var(--button-secondary-background-fill-hover); }
#chat a.speak:focus-visible { outline: 2px solid var(--color-accent); outline-offset: 2px; }
#chat a.speak[aria-pressed="true"] { border-color: var(--color-accent); }
"""


def speech_url(key: str) -> str:
    """Where this server serves the audio of the answer registered under ``key``."""
    return f"{SPEECH_ROUTE}{key}.wav"


def listen_button(key: str, asked_aloud: bool, fresh: bool) -> str:
    """The Listen button of one answer. ``fresh``: the answer was just generated on this page,
    so it may be spoken at once (never an answer reopened from a saved conversation)."""
    query = {"asked": "voice" if asked_aloud else "text"}
    if fresh:
        query["turn"] = uuid.uuid4().hex
    value = html.escape(f"{speech_url(key)}?{urlencode(query)}")
    return f'<a class="speak" href="{value}" title="{LISTEN_LABEL}">{LISTEN}</a>'


def autoplay_value(value: str | None) -> str:
    """A stored setting, or the default for a missing or unknown one."""
    return value if value in AUTOPLAY_VALUES else DEFAULT_AUTOPLAY


def autoplay_setting() -> gr.Radio:
    """The "Speak answers aloud" choice."""
    return gr.Radio(
        AUTOPLAY_CHOICES,
        value=DEFAULT_AUTOPLAY,
        label="Speak answers aloud",
        info="Every answer has a Listen button; this says when one is read out by itself.",
        elem_id="speak-aloud",
    )


def speech_player() -> gr.HTML:
    """The page's speech player (invisible); its value is the autoplay setting."""
    return gr.HTML(
        DEFAULT_AUTOPLAY,
        html_template=_PLAYER_TEMPLATE,
        js_on_load=_PLAYER_JS,
        elem_id="speech-player",
        padding=False,
    )
