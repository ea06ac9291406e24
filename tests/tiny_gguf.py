"""A tiny random Llama written as a GGUF file in a test: the packaged SmolLM2's tokenizer (copied
field by field from its GGUF) on one 64-wide layer, so llama.cpp loading and generation are
tested on a model made here, in well under a second."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WIDTH, FEED_FORWARD, HEADS, KV_HEADS = 64, 128, 4, 2


def _copy_tokenizer(reader, writer) -> None:
    import gguf

    for name, field in reader.fields.items():
        if not name.startswith("tokenizer."):
            continue
        kinds = field.types
        if kinds[0] == gguf.GGUFValueType.ARRAY:
            if kinds[-1] == gguf.GGUFValueType.STRING:
                values = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                values = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_array(name, values)
        elif kinds[0] == gguf.GGUFValueType.STRING:
            writer.add_string(name, bytes(field.parts[field.data[0]]).decode("utf-8"))
        elif kinds[0] == gguf.GGUFValueType.BOOL:
            writer.add_bool(name, bool(field.parts[field.data[0]][0]))
        else:
            writer.add_uint32(name, int(field.parts[field.data[0]][0]))


def write_tiny_llama(source_gguf: Path, target: Path, seed: int = 0) -> Path:
    """Write a 1-layer random Llama GGUF with ``source_gguf``'s tokenizer to ``target``."""
    import gguf

    reader = gguf.GGUFReader(str(source_gguf))
    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(target), "llama")
    writer.add_name("tiny-random-llama")
    writer.add_block_count(1)
    writer.add_context_length(512)
    writer.add_embedding_length(WIDTH)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(WIDTH // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    _copy_tokenizer(reader, writer)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    kv_width = WIDTH // HEADS * KV_HEADS
    writer.add_tensor("token_embd.weight", weights(vocab, WIDTH))
    writer.add_tensor("output_norm.weight", np.ones(WIDTH, np.float32))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(WIDTH, np.float32))
    writer.add_tensor("blk.0.attn_q.weight", weights(WIDTH, WIDTH))
    writer.add_tensor("blk.0.attn_k.weight", weights(kv_width, WIDTH))
    writer.add_tensor("blk.0.attn_v.weight", weights(kv_width, WIDTH))
    writer.add_tensor("blk.0.attn_output.weight", weights(WIDTH, WIDTH))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(WIDTH, np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", weights(FEED_FORWARD, WIDTH))
    writer.add_tensor("blk.0.ffn_up.weight", weights(FEED_FORWARD, WIDTH))
    writer.add_tensor("blk.0.ffn_down.weight", weights(WIDTH, FEED_FORWARD))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target
