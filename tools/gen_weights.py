#!/usr/bin/python3
"""gen_weights.py - write a full-size CLIP model folder with random weights.

The real openai/clip-vit-base-patch32 weights cannot be downloaded on the
build machines, but speed and memory depend only on the architecture, so
benchmarks run on random weights of the real shapes. The folder has the
Hugging Face layout clip_load reads: config.json, model.safetensors (F32 or
F16; tensor names, shapes and the int64 position_ids buffers exactly as
transformers' CLIPModel.save_pretrained writes them), and vocab.json,
merges.txt, preprocessor_config.json copied from a fixture model.

Usage:
  /usr/bin/python3 tools/gen_weights.py --out weights/random-b32 [--arch b32|b16|l14]
      [--dtype f32|f16] [--seed 0] [--fixture tests/fixtures/clip/models/tiny-p32]
  any dimension can be overridden: --vision-width 768 --vision-layers 12 ...

Weights are drawn N(0, 1/fan_in) (biases and layer norms near 0 and 1),
so activations stay in the range trained weights give and no denormals
or overflows distort timings. Needs numpy (Debian: python3-numpy).
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

ARCHS = {
    # vision width, layers, heads, mlp, patch, image; text width, layers, heads, mlp; projection
    "b32": dict(vw=768, vl=12, vh=12, vi=3072, patch=32, image=224, tw=512, tl=12, th=8, ti=2048, proj=512),
    "b16": dict(vw=768, vl=12, vh=12, vi=3072, patch=16, image=224, tw=512, tl=12, th=8, ti=2048, proj=512),
    "l14": dict(vw=1024, vl=24, vh=16, vi=4096, patch=14, image=224, tw=768, tl=12, th=12, ti=3072, proj=768),
}
VOCAB = 49408
POSITIONS = 77
SIDE_FILES = ("vocab.json", "merges.txt", "preprocessor_config.json")


def tensor_specs(a):
    """Yield (name, shape, kind) for every tensor of CLIPModel's state dict."""
    grid = a["image"] // a["patch"]
    vt = grid * grid + 1
    yield "logit_scale", (), "logit"
    yield "text_model.embeddings.position_embedding.weight", (POSITIONS, a["tw"]), "emb"
    yield "text_model.embeddings.position_ids", (1, POSITIONS), "pos_ids"
    yield "text_model.embeddings.token_embedding.weight", (VOCAB, a["tw"]), "emb"
    for prefix, w, layers, mlp in (("text_model", a["tw"], a["tl"], a["ti"]),
                                   ("vision_model", a["vw"], a["vl"], a["vi"])):
        for l in range(layers):
            p = f"{prefix}.encoder.layers.{l}."
            for ln in ("layer_norm1", "layer_norm2"):
                yield p + ln + ".bias", (w,), "bias"
                yield p + ln + ".weight", (w,), "ln"
            yield p + "mlp.fc1.bias", (mlp,), "bias"
            yield p + "mlp.fc1.weight", (mlp, w), "w"
            yield p + "mlp.fc2.bias", (w,), "bias"
            yield p + "mlp.fc2.weight", (w, mlp), "w"
            for proj in ("k_proj", "out_proj", "q_proj", "v_proj"):
                yield p + f"self_attn.{proj}.bias", (w,), "bias"
                yield p + f"self_attn.{proj}.weight", (w, w), "w"
        if prefix == "text_model":
            yield "text_model.final_layer_norm.bias", (w,), "bias"
            yield "text_model.final_layer_norm.weight", (w,), "ln"
    yield "text_projection.weight", (a["proj"], a["tw"]), "w"
    yield "vision_model.embeddings.class_embedding", (a["vw"],), "emb"
    yield "vision_model.embeddings.patch_embedding.weight", (a["vw"], 3, a["patch"], a["patch"]), "w"
    yield "vision_model.embeddings.position_embedding.weight", (vt, a["vw"]), "emb"
    yield "vision_model.embeddings.position_ids", (1, vt), "pos_ids"
    yield "vision_model.post_layernorm.bias", (a["vw"],), "bias"
    yield "vision_model.post_layernorm.weight", (a["vw"],), "ln"
    yield "vision_model.pre_layrnorm.bias", (a["vw"],), "bias"
    yield "vision_model.pre_layrnorm.weight", (a["vw"],), "ln"
    yield "visual_projection.weight", (a["proj"], a["vw"]), "w"


def make_tensor(rng, shape, kind, dtype):
    n = int(np.prod(shape)) if shape else 1
    if kind == "pos_ids":
        return np.arange(shape[1], dtype=np.int64).reshape(shape)
    if kind == "logit":
        return np.array(np.log(100.0), dtype=dtype).reshape(shape)
    if kind == "w":
        fan_in = int(np.prod(shape[1:]))
        x = rng.standard_normal(n, dtype=np.float32) * np.float32(1.0 / np.sqrt(fan_in))
    elif kind == "emb":
        x = rng.standard_normal(n, dtype=np.float32) * np.float32(0.02)
    elif kind == "ln":
        x = 1.0 + rng.standard_normal(n, dtype=np.float32) * np.float32(0.05)
    else:  # bias
        x = rng.standard_normal(n, dtype=np.float32) * np.float32(0.02)
    return x.astype(dtype).reshape(shape)


def config_json(a, dtype_name):
    text = {
        "model_type": "clip_text_model", "hidden_size": a["tw"], "intermediate_size": a["ti"],
        "num_attention_heads": a["th"], "num_hidden_layers": a["tl"],
        "max_position_embeddings": POSITIONS, "vocab_size": VOCAB, "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-05, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
        "projection_dim": a["proj"],
    }
    vision = {
        "model_type": "clip_vision_model", "hidden_size": a["vw"], "intermediate_size": a["vi"],
        "num_attention_heads": a["vh"], "num_hidden_layers": a["vl"], "image_size": a["image"],
        "patch_size": a["patch"], "num_channels": 3, "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-05, "projection_dim": a["proj"],
    }
    return {
        "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": a["proj"],
        "logit_scale_init_value": 2.6592, "torch_dtype": dtype_name,
        "text_config": text, "vision_config": vision,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--arch", choices=sorted(ARCHS), default="b32")
    ap.add_argument("--dtype", choices=("f32", "f16"), default="f32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fixture", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                      "fixtures", "clip", "models", "tiny-p32"))
    for key in ARCHS["b32"]:
        ap.add_argument("--" + {"vw": "vision-width", "vl": "vision-layers", "vh": "vision-heads",
                                "vi": "vision-mlp", "patch": "patch", "image": "image-size",
                                "tw": "text-width", "tl": "text-layers", "th": "text-heads",
                                "ti": "text-mlp", "proj": "projection"}[key],
                        dest=key, type=int)
    args = ap.parse_args()
    a = dict(ARCHS[args.arch])
    for key in a:
        if getattr(args, key) is not None:
            a[key] = getattr(args, key)
    for side in SIDE_FILES:
        if not os.path.exists(os.path.join(args.fixture, side)):
            sys.exit(f"gen_weights: {args.fixture}/{side} not found (use --fixture DIR)")

    dtype = np.float32 if args.dtype == "f32" else np.float16
    st_dtype = "F32" if args.dtype == "f32" else "F16"
    esize = np.dtype(dtype).itemsize
    specs = list(tensor_specs(a))
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, kind in specs:
        n = (int(np.prod(shape)) if shape else 1) * (8 if kind == "pos_ids" else esize)
        header[name] = {"dtype": "I64" if kind == "pos_ids" else st_dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)  # keep the data 8-byte aligned, as the library does

    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    tmp = os.path.join(args.out, "model.safetensors.tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for name, shape, kind in specs:
            f.write(make_tensor(rng, shape, kind, dtype).tobytes())
    os.replace(tmp, os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config_json(a, "float32" if args.dtype == "f32" else "float16"), f, indent=2)
    for side in SIDE_FILES:
        shutil.copyfile(os.path.join(args.fixture, side), os.path.join(args.out, side))
    print(f"gen_weights: wrote {args.out} ({args.arch}, {st_dtype}, "
          f"{os.path.getsize(os.path.join(args.out, 'model.safetensors')) / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
