#!/usr/bin/python3
"""bench_torch.py - PyTorch reference timing of CLIP on the same weights.

The peer that `vitrine bench embed` is compared with: the same model folder
(config.json + model.safetensors, e.g. from tools/gen_weights.py), the same
math (transformers' CLIPModel: pre-LN blocks, quick_gelu, causal text
attention, CLS / end-token pooling, projections), run by PyTorch on the CPU
with a fixed number of threads. transformers is not installable here, so the
forward pass is written out in plain torch below; --check verifies it
against a fixture's expected outputs first, so the timing is of a correct
model.

Prints lines in the format of `vitrine bench embed`:
  torch image batch=1: 280.1 ms/image
  torch image batch=8: 150.3 ms/image
  torch text: 55.0 ms/text
Each figure is the best of --runs timed runs after a warm-up.

Usage:
  /usr/bin/python3 tools/bench_torch.py --weights weights/random-b32 [--threads 2] [--runs 5]
  /usr/bin/python3 tools/bench_torch.py --check tests/fixtures/clip/models/tiny-p32
Needs Debian's python3-torch and python3-numpy.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "F64": np.float64}


def load_safetensors(path):
    """Return {name: float32 torch tensor} (BF16 widened, I64 skipped)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] == "I64":
            continue
        b, e = info["data_offsets"]
        raw = data[base + b:base + e]
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, DTYPES[info["dtype"]]).astype(np.float32)
        out[name] = torch.from_numpy(arr.copy().reshape(info["shape"]))
    return out


class Clip:
    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        self.v = cfg["vision_config"]
        self.t = cfg["text_config"]
        self.w = load_safetensors(os.path.join(folder, "model.safetensors"))
        self.logit_scale = float(self.w["logit_scale"].reshape(-1)[0].exp())

    def ln(self, x, prefix, eps):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w[prefix + ".weight"],
                                              self.w[prefix + ".bias"], eps)

    def lin(self, x, prefix, bias=True):
        return torch.nn.functional.linear(x, self.w[prefix + ".weight"],
                                          self.w[prefix + ".bias"] if bias else None)

    def blocks(self, x, prefix, c, causal):
        b, t, d = x.shape
        h = c["num_attention_heads"]
        hd = d // h
        eps = c.get("layer_norm_eps", 1e-5)
        mask = None
        if causal:
            mask = torch.full((t, t), float("-inf")).triu(1)
        for l in range(c["num_hidden_layers"]):
            p = f"{prefix}.encoder.layers.{l}"
            y = self.ln(x, p + ".layer_norm1", eps)
            q = self.lin(y, p + ".self_attn.q_proj") * hd ** -0.5
            k = self.lin(y, p + ".self_attn.k_proj")
            v = self.lin(y, p + ".self_attn.v_proj")
            q, k, v = (z.view(b, t, h, hd).transpose(1, 2) for z in (q, k, v))
            s = q @ k.transpose(-1, -2)
            if mask is not None:
                s = s + mask
            a = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
            x = x + self.lin(a, p + ".self_attn.out_proj")
            y = self.ln(x, p + ".layer_norm2", eps)
            y = self.lin(y, p + ".mlp.fc1")
            y = y * torch.sigmoid(1.702 * y)
            x = x + self.lin(y, p + ".mlp.fc2")
        return x

    def image(self, pixels):
        c = self.v
        eps = c.get("layer_norm_eps", 1e-5)
        pw = self.w["vision_model.embeddings.patch_embedding.weight"]
        x = torch.nn.functional.conv2d(pixels, pw, stride=c["patch_size"])
        x = x.flatten(2).transpose(1, 2)
        cls = self.w["vision_model.embeddings.class_embedding"].expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], 1) + self.w["vision_model.embeddings.position_embedding.weight"]
        x = self.ln(x, "vision_model.pre_layrnorm", eps)
        x = self.blocks(x, "vision_model", c, False)
        pooled = self.ln(x[:, 0], "vision_model.post_layernorm", eps)
        return self.lin(pooled, "visual_projection", bias=False)

    def text(self, ids):
        """ids: list of int lists (unpadded); each runs to its end token."""
        c = self.t
        eps = c.get("layer_norm_eps", 1e-5)
        outs = []
        for row in ids:
            t = torch.tensor([row])
            x = self.w["text_model.embeddings.token_embedding.weight"][t]
            x = x + self.w["text_model.embeddings.position_embedding.weight"][: len(row)]
            x = self.blocks(x, "text_model", c, True)
            x = self.ln(x, "text_model.final_layer_norm", eps)
            outs.append(x[0, int(np.argmax(row))])
        return self.lin(torch.stack(outs), "text_projection", bias=False)


def check(folder):
    """Compare with expected/<model>/outputs.json of the fixture folder."""
    name = os.path.basename(os.path.normpath(folder))
    root = os.path.join(folder, "..", "..")
    with open(os.path.join(root, "expected", name, "outputs.json")) as f:
        exp = json.load(f)
    m = Clip(folder)
    worst = 0.0
    with torch.no_grad():
        for img, e in exp["images"].items():
            px = np.fromfile(os.path.join(root, "expected", "pixels", img + ".f32"), np.float32)
            got = m.image(torch.from_numpy(px.reshape(1, 3, 224, 224)))[0].numpy()
            worst = max(worst, float(np.abs(got - np.array(e["image_embeds"])).max()))
        for t in exp["texts"]:
            got = m.text([t["input_ids"]])[0].numpy()
            worst = max(worst, float(np.abs(got - np.array(t["text_embeds"])).max()))
    print(f"check {name}: worst max |diff| {worst:.3g} over images and texts")
    return worst <= 1e-4


def best_of(fn, runs):
    fn()
    best = math.inf
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--check", metavar="FIXTURE_MODEL_DIR")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.check:
        sys.exit(0 if check(args.check) else 1)
    if not args.weights:
        ap.error("--weights or --check is required")
    m = Clip(args.weights)
    size = m.v.get("image_size", 224)
    g = torch.Generator().manual_seed(0)
    px8 = torch.rand((8, 3, size, size), generator=g) * 4 - 2
    ids = [[49406, 320, 1125, 539, 320, 2368, 49407]]  # "a photo of a cat"
    with torch.no_grad():
        t1 = best_of(lambda: m.image(px8[:1]), args.runs)
        t8 = best_of(lambda: m.image(px8), args.runs)
        tt = best_of(lambda: m.text(ids), args.runs * 4)
    print(f"torch image batch=1: {t1 * 1e3:.1f} ms/image")
    print(f"torch image batch=8: {t8 * 1e3 / 8:.1f} ms/image")
    print(f"torch text: {tt * 1e3:.1f} ms/text")
    print(f"torch: {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)


if __name__ == "__main__":
    main()
