"""A tiny randomly initialised Hugging Face BertModel as a test fixture.

Writes tests/fixtures/tiny-bert/{model.safetensors,config.json,tokenizer.json}
and reference.json (mean-pooled, L2-normalised last hidden states of three
texts, and those of the first layer, computed with transformers on float32). The Rust loader must reproduce
them.

Usage: python scripts/reference/tiny_bert.py [--out tests/fixtures/tiny-bert]
"""
import argparse
import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel

TEXTS = [
    "скидка на кроссовки",
    "Новый сериал выходит в пятницу, смотрите на нашей платформе!",
    "hello world",
]

WORDS = (
    "скидка на кроссовки новый сериал выходит в пятницу смотрите нашей платформе "
    "hello world the new app track your spending кредит карта доставка пиццы"
).split()


def build_tokenizer():
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c for t in TEXTS + WORDS for c in t.lower() if not c.isspace()})
    vocab = specials + WORDS[:12] + chars + ["##" + c for c in chars]
    vocab = list(dict.fromkeys(vocab))
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return tok, len(vocab)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/tiny-bert")
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    tok, vocab = build_tokenizer()
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, hidden_act="gelu",
        initializer_range=0.3, pad_token_id=0,
    )
    model = BertModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():  # non-trivial layer norms, so they are tested too
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.copy_(torch.randn_like(p) * 0.2 + (1.0 if name.endswith("weight") else 0.0))
            elif name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.1)
    model.save_pretrained(out, safe_serialization=True)
    tok.save(str(out / "tokenizer.json"))

    rows = []
    for text in TEXTS:
        ids = tok.encode(text).ids
        with torch.no_grad():
            h = model(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                      output_hidden_states=True)
        pooled = lambda states: (states[0].mean(0) / states[0].mean(0).norm()).tolist()
        # hidden_states[0] is the embedding layer's output, [k] the k-th layer's.
        rows.append({"text": text, "ids": ids, "embedding": pooled(h.last_hidden_state),
                     "layer1": pooled(h.hidden_states[1])})
    (out / "reference.json").write_text(json.dumps({"texts": rows}, ensure_ascii=False, indent=1))
    for f in sorted(out.iterdir()):
        print(f.name, f.stat().st_size)


if __name__ == "__main__":
    main()
