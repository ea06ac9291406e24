"""The LLM factory's three routes, each on something real and small: a tiny causal LM saved in
the test (hub-model loader), a local OpenAI-compatible HTTP server (endpoint loader), and the
QA chain's parser on hand-made answers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from langchain_core.documents import Document

from assistant.answers import AnswerPlan, check_answer
from assistant.errors import LLMError
from assistant.llm import LLMSettings, _cut_at_stop, load_llm, packaged_gguf, parse_llm_setting
from assistant.qa import QAChain


def test_settings_parse_and_refuse_clearly():
    assert parse_llm_setting("packaged").provider == "packaged"
    hf = parse_llm_setting("hf:HuggingFaceTB/SmolLM2-360M-Instruct")
    assert (hf.provider, hf.model) == ("hf", "HuggingFaceTB/SmolLM2-360M-Instruct")
    endpoint = parse_llm_setting("openai:llama3@http://127.0.0.1:8080/v1", api_key="k")
    assert (endpoint.model, endpoint.base_url, endpoint.api_key) == (
        "llama3",
        "http://127.0.0.1:8080/v1",
        "k",
    )
    with pytest.raises(LLMError, match="bad LLM setting"):
        parse_llm_setting("gpt-9000")
    with pytest.raises(LLMError, match="base URL"):
        LLMSettings(provider="openai", model="x")


def test_stop_strings_cut_streamed_text():
    assert _cut_at_stop("", "a frog [1].\nQuestion", ["\n"]) == "a frog [1]."
    assert _cut_at_stop("a frog", " [1]", ["\n"]) == " [1]"
    assert _cut_at_stop("a frog\n", "more", ["\n"]) is None


@pytest.fixture(scope="module")
def tiny_causal_lm(tmp_path_factory, model_cache):
    """A 1-layer random Llama with the packaged SmolLM2 tokenizer, saved like a hub model."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf = packaged_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
    )
    folder = tmp_path_factory.mktemp("tiny-llm")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_hub_model_loader_generates_and_streams(tiny_causal_lm, tmp_path):
    llm = load_llm(
        LLMSettings(provider="hf", model=str(tiny_causal_lm), max_new_tokens=8), tmp_path
    )
    text = llm.invoke("Items:\n[1] A frog.\nQuestion: frog?\nAnswer:")
    assert isinstance(text, str)
    chunks = list(llm.stream("Hello"))
    assert all(isinstance(c, str) for c in chunks)
    with pytest.raises(LLMError, match="cannot load"):
        load_llm(LLMSettings(provider="hf", model=str(tmp_path / "missing")), tmp_path)


class _ChatServer(BaseHTTPRequestHandler):
    """Just enough of /v1/chat/completions, streaming or not; remembers what it was asked."""

    answer = "Yes, a frog [1] and a kite [9]."
    requests: ClassVar[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        base = {"id": "c1", "created": 0, "model": body["model"]}
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for word in self.answer.split(" "):
                delta = {"role": "assistant", "content": word + " "}
                chunk = {**base, "object": "chat.completion.chunk"}
                chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        message = {"role": "assistant", "content": self.answer}
        payload = {
            **base,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_openai_compatible_endpoint_answers_through_the_qa_chain(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        llm = load_llm(LLMSettings(provider="openai", model="local", base_url=url), tmp_path)
        docs = [
            Document(page_content="A green frog.", metadata={"score": 0.9, "modality": "image"}),
            Document(page_content="A red kite.", metadata={"score": 0.2, "modality": "image"}),
        ]
        chain = QAChain(llm)
        plan = AnswerPlan("confident", "text", "a frog", lead=[1])
        answer = chain.answer("Do you have a frog?", docs, plan)
        # "a kite [9]" cites an item that is not in the context: the template answers instead
        assert answer.grounding == "template" and answer.citations == [1]
        assert answer.text == "Yes, I have a green frog [1]." and "[9]" in answer.rejected
        prompt = _ChatServer.requests[-1]["messages"][-1]["content"]
        assert "[1] A green frog. (image)" in prompt and "Do you have a frog?" in prompt
        assert "items, in " not in prompt  # an English question: no language asked for
        _ChatServer.answer = "Yes, a green frog [1]."
        assert chain.answer("Do you have a frog?", docs, plan).grounding == "model"
        # a question in another language asks the model to answer in it (issue 15)
        french = AnswerPlan("confident", "text", "grenouille", lead=[1], language="fr")
        chain.answer("Avez-vous une grenouille ?", docs, french)
        prompt = _ChatServer.requests[-1]["messages"][-1]["content"]
        assert "using only the numbered library items, in French." in prompt
    finally:
        server.shutdown()


def test_the_check_keeps_grounded_answers_and_refuses_the_rest():
    docs = [
        Document(page_content=c, metadata={"score": sc})
        for c, sc in [("A badger.", 0.9), ("A brown bear.", 0.8), ("A bunch of grapes.", 0.2)]
    ]
    plan = AnswerPlan("confident", "text", "a badger", lead=[1], also=[2])
    question = "Do you have a badger?"
    kept = check_answer("Yes, a badger [1] and a brown bear [2].", plan, docs, question)
    assert kept == ("Yes, a badger [1] and a brown bear [2].", [1, 2])
    assert check_answer("Yes, a banana [1].", plan, docs, question) is None  # wrong words
    assert check_answer("A badger [3].", plan, docs, question) is None  # not in the plan
    assert check_answer("A badger [7].", plan, docs, question) is None  # not in the context
    assert check_answer("A badger [1] and a badger [1].", plan, docs, question) is None
    assert (
        check_answer("Badgers live in large underground setts [1].", plan, docs, question) is None
    )
    assert check_answer("Yes, I have them.", plan, docs, question) is None  # no citation
    closest = AnswerPlan("closest", "text", "a wolf", lead=[1])
    assert check_answer("Yes, a badger [1].", closest, docs, "a wolf") is None  # claims too much


def test_a_french_answer_keeps_the_space_before_its_semicolon():
    """French puts a space before ";", "!" and "?": the check took it out of a model's answer
    that began with the French opening ("« loup »; le plus proche est ...")."""
    docs = [
        Document(page_content="Un blaireau.", metadata={"score": 0.5, "caption_fr": "Un blaireau."})
    ]
    plan = AnswerPlan("closest", "text", "un loup", lead=[1], language="fr")
    question = "Avez-vous un loup ?"
    answer = "Je n'ai rien d'exactement comme « un loup » ; le plus proche est un blaireau [1]."
    assert check_answer(answer, plan, docs, question) == (answer, [1])
    spaced = check_answer(answer.replace(" ;", ";"), plan, docs, question)
    assert spaced is None or spaced[0] == answer  # refused, or given its French spacing
    english = AnswerPlan("confident", "text", "a badger", lead=[1])
    docs = [Document(page_content="A badger.", metadata={"score": 0.9})]
    kept = check_answer("Yes , a badger [1] !", english, docs, "Do you have a badger?")
    assert kept == ("Yes, a badger [1]!", [1])  # English keeps none


def test_an_uncaptioned_item_is_named_by_its_file_never_described():
    from assistant.answers import template_answer

    docs = [
        Document(page_content="", metadata={"score": 0.5, "modality": "image",
                                            "uri": "/photos/IMG_2031.jpg", "item_id": "a1"}),
    ]  # fmt: skip
    plan = AnswerPlan("closest", "text", "a badger", lead=[1])
    answer = template_answer(plan, docs)
    assert (
        answer
        == "I have nothing exactly like “a badger”; the closest is the picture IMG_2031.jpg [1]."
    )
    assert check_answer(answer, plan, docs, "Do you have a badger?") == (answer, [1])
