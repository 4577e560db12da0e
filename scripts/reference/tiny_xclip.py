"""A tiny randomly initialised Hugging Face XCLIPModel as a test fixture.

Same structure as microsoft/xclip-base-patch32 (cross-frame message tokens,
multi-frame integration transformer, video-conditioned prompts), small widths.
Writes tests/fixtures/tiny-xclip/:
  model.safetensors, config.json                     (save_pretrained)
  vocab.json, merges.txt, tokenizer.json,
  tokenizer_config.json, special_tokens_map.json     (CLIPTokenizerFast.save_pretrained,
                                                      as in a real checkpoint folder)
  reference.json   the prompts' ids (slow CLIPTokenizer, padded to max length),
                   the rule generating the pixels, and the model's outputs.

Usage: python scripts/reference/tiny_xclip.py [--out tests/fixtures/tiny-xclip]
"""
import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import CLIPTokenizer, CLIPTokenizerFast, XCLIPConfig, XCLIPModel
from transformers.models.clip.tokenization_clip import bytes_to_unicode

PROMPTS = [
    "a photo of a cat",
    "a video of people playing football",
    "an ad for a new phone, 50% off!",
    # Longer than the 16 positions: truncated, the end token kept.
    "someone is cooking pasta in a small kitchen while a dog watches from the sofa",
]
# Words with a whole-word token; everything else is spelled from pieces.
WORDS = "a photo of cat video people playing football an ad for new phone cooking the dog".split()
CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.,!?'"

B, T = 2, 8


def pixel(i, t, b):
    """Pixel value at flat index i of the [B, T, 3, H, W] input, frame t, video b."""
    return math.sin(0.013 * i + 0.7 * t + 1.1 * b) * 1.8


def build_vocab(out):
    byte = bytes_to_unicode()
    chars = [byte[c] for c in CHARS.encode()]
    vocab = chars + [c + "</w>" for c in chars]
    merges = []
    for w in WORDS:
        toks = [byte[c] for c in w.encode()]
        toks[-1] += "</w>"
        while len(toks) > 1:
            pair = (toks[0], toks[1])
            if pair not in merges:
                merges.append(pair)
                vocab.append(pair[0] + pair[1])
            toks = [pair[0] + pair[1]] + toks[2:]
    vocab = list(dict.fromkeys(vocab)) + ["<|startoftext|>", "<|endoftext|>"]
    (out / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (out / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
    )
    return len(vocab)


def reinit(model):
    """Weights with non-trivial scale everywhere, so that any error shows."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.2 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
            elif isinstance(m, (nn.Linear, nn.Conv2d)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn_like(m.weight) / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn_like(m.bias))
            elif isinstance(m, nn.Embedding):
                m.weight.copy_(0.5 * torch.randn_like(m.weight))
        v = model.vision_model.embeddings
        v.class_embedding.copy_(0.5 * torch.randn_like(v.class_embedding))
        model.mit.position_embedding.copy_(0.3 * torch.randn_like(model.mit.position_embedding))
        p = model.prompts_visual_projection
        p.copy_(torch.randn_like(p) / math.sqrt(p.shape[0]))
        a = model.prompts_generator.alpha
        a.copy_(0.5 + 0.2 * torch.randn_like(a))


def floats(t):
    return [float(f"{x:.8g}") for x in t.detach().reshape(-1).tolist()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/tiny-xclip")
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        n_vocab = build_vocab(Path(tmp))
        fast = CLIPTokenizerFast(vocab_file=f"{tmp}/vocab.json", merges_file=f"{tmp}/merges.txt")
        fast.model_max_length = 16
        fast.save_pretrained(out)
    slow = CLIPTokenizer(vocab_file=str(out / "vocab.json"), merges_file=str(out / "merges.txt"))

    torch.manual_seed(0)
    cfg = XCLIPConfig(
        text_config=dict(
            vocab_size=n_vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=4, max_position_embeddings=16, hidden_act="quick_gelu",
            bos_token_id=n_vocab - 2, eos_token_id=n_vocab - 1, pad_token_id=n_vocab - 1,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            mit_hidden_size=32, mit_intermediate_size=64, mit_num_hidden_layers=1,
            mit_num_attention_heads=2, image_size=32, patch_size=8, num_frames=T,
            hidden_act="quick_gelu",
        ),
        projection_dim=32, prompt_layers=1, prompt_alpha=0.1, prompt_num_attention_heads=4,
    )
    cfg._attn_implementation = "eager"
    model = XCLIPModel(cfg).eval()
    reinit(model)
    model.save_pretrained(out, safe_serialization=True)

    enc = slow(PROMPTS, padding="max_length", max_length=16, truncation=True)
    fast_ids = fast(PROMPTS, padding="max_length", max_length=16, truncation=True)["input_ids"]
    assert fast_ids == enc["input_ids"], "fast and slow CLIP tokenizers disagree"
    ids = torch.tensor(enc["input_ids"])
    mask = torch.tensor(enc["attention_mask"])

    vc = cfg.vision_config
    shape = (B, T, 3, vc.image_size, vc.image_size)
    n = int(np.prod(shape))
    per_frame = n // (B * T)
    pix = np.array([pixel(i, (i // per_frame) % T, i // (per_frame * T)) for i in range(n)])
    pixel_values = torch.tensor(pix, dtype=torch.float32).reshape(shape)

    with torch.no_grad():
        o = model(input_ids=ids, attention_mask=mask, pixel_values=pixel_values)
        # get_video_features fails in this transformers version (the MIT is
        # called without return_dict); its value is the MIT's pooled output.
        video_features = o.mit_output.pooler_output
        text_features = model.get_text_features(input_ids=ids, attention_mask=mask)
        # The prompt generator's visual input, for locating a mismatch.
        hidden = o.vision_model_output.last_hidden_state[:, 1:, :]
        img = model.prompts_visual_layernorm(hidden) @ model.prompts_visual_projection
        img = img.view(B, T, -1, cfg.projection_dim).mean(1)

    ref = {
        "prompts": PROMPTS,
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "pixel_values": {
            "shape": list(shape),
            "rule": "x[i] = sin(0.013*i + 0.7*t + 1.1*b) * 1.8 over the flat [B,T,3,H,W] index i, "
                    "t = frame, b = video; computed in float64, stored as float32",
        },
        "video_embeds": {"shape": list(o.video_embeds.shape), "data": floats(o.video_embeds)},
        "text_embeds": {"shape": list(o.text_embeds.shape), "data": floats(o.text_embeds)},
        "logits_per_video": {"shape": list(o.logits_per_video.shape), "data": floats(o.logits_per_video)},
        "video_features": {"shape": list(video_features.shape), "data": floats(video_features)},
        "text_features": {"shape": list(text_features.shape), "data": floats(text_features)},
        "prompt_visual": {"shape": list(img.shape), "data": floats(img)},
    }
    (out / "reference.json").write_text(json.dumps(ref))
    print("logits_per_video", o.logits_per_video)
    for f in sorted(out.iterdir()):
        print(f.name, f.stat().st_size)


if __name__ == "__main__":
    main()
