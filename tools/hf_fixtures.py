#!/usr/bin/env python3
"""Builds the Hugging Face TrOCR-family parity fixtures under tests/data/hf/ and measures
PyTorch CPU speed next to the Burn implementation (developers only, not CI).

    python3 -m venv /tmp/hfvenv
    /tmp/hfvenv/bin/pip install torch transformers tokenizers safetensors pillow
    /tmp/hfvenv/bin/python tools/hf_fixtures.py            # writes tests/data/hf/<name>/
    /tmp/hfvenv/bin/python tools/hf_fixtures.py --bench    # speed: PyTorch vs Burn, side by side

Each fixture is a tiny randomly initialised VisionEncoderDecoderModel (fixed seed) saved with
save_pretrained, plus a byte-level BPE tokenizer trained on Korean medical strings and a
preprocessor_config.json. Expected values are computed by the model *reloaded from the saved
folder* (so f16/bf16 fixtures are checked against the rounded weights, computed in f32):

- inputs/*.png       fixed grayscale line images
- expected.safetensors
    pixel_values     [n, 3, H, W]   the image processor's output for the PNGs (PIL backend)
    encoder_hidden   [n, S, D_enc]  the encoder's last hidden state (before enc_to_dec_proj)
    logits_step0     [n, vocab]     decoder logits after the decoder start token
    step_logits_0    [steps, vocab] raw logits of every greedy step of image 0
- expected.json      greedy token ids per image (start token and eos included, as
                     `generate` returns them), decoded texts, a tokenizer round trip
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors import safe_open
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    DeiTConfig,
    GenerationConfig,
    TrOCRConfig,
    ViTConfig,
    ViTImageProcessorPil,
    VisionEncoderDecoderConfig,
    VisionEncoderDecoderModel,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "hf"

KOREAN_MEDICAL = [
    "처방전", "의료기관 명칭: 서울내과의원", "환자 성명: 홍길동", "주민등록번호 800101-1******",
    "아모잘탄정 5/50mg 1정 1일 1회 30일", "메트포르민 500mg 1일 2회 식후 30분", "질병분류기호 I10 E11.9",
    "검사결과지", "WBC 5.7 10^3/uL (4.0-10.0)", "Hb 13.2 g/dL", "혈당 126 mg/dL H", "AST 32 U/L",
    "진단서", "병명: 본태성 고혈압", "발병일 2023-08-01", "입원 2023.08.03 퇴원 2023.08.10",
    "퇴원요약서", "주호소: 흉통 및 호흡곤란", "경과: 항생제 투여 후 호전됨", "의사 면허번호 12345",
    "아세트아미노펜 650mg 필요시 복용", "세프트리악손 1g 정맥주사 1일 1회", "혈압 130/85 mmHg 맥박 78회/분",
]
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def build_tokenizer(vocab_size: int) -> Tokenizer:
    """Byte-level BPE (RoBERTa-style specials <s>=0 <pad>=1 </s>=2 <unk>=3) on Korean text."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(KOREAN_MEDICAL * 4, trainer=trainer)
    return tok


def line_image(seed: int, width: int, height: int) -> Image.Image:
    """A deterministic grayscale 'text line': dark strokes and boxes on light paper with noise."""
    rng = np.random.default_rng(seed)
    img = Image.new("L", (width, height), 235)
    d = ImageDraw.Draw(img)
    x = 4
    while x < width - 8:
        w = int(rng.integers(4, 14))
        top = int(rng.integers(2, height // 3))
        bottom = int(rng.integers(2 * height // 3, height - 2))
        shade = int(rng.integers(0, 90))
        if rng.random() < 0.5:
            d.rectangle([x, top, x + w, bottom], outline=shade, width=2)
        else:
            d.line([x, bottom, x + w, top], fill=shade, width=2)
        x += w + int(rng.integers(2, 9))
    arr = np.asarray(img).astype(np.int16) + rng.integers(-12, 12, size=(height, width))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")


FIXTURES = [
    # ViT + TrOCR decoder: learned positions, layernorm_embedding, no embedding scale, gelu,
    # untied output projection (stored as its own tensor), f32, eos reached mid-sequence.
    dict(
        name="vit-learned-f32",
        seed=11,
        dtype=torch.float32,
        encoder=("vit", dict(image_size=[32, 96], patch_size=8, hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=4, intermediate_size=64, hidden_act="gelu")),
        decoder=dict(d_model=32, decoder_layers=2, decoder_attention_heads=4, decoder_ffn_dim=64,
                     max_position_embeddings=40, use_learned_position_embeddings=True,
                     layernorm_embedding=True, scale_embedding=False, activation_function="gelu",
                     tie_word_embeddings=False),
        processor=dict(size={"height": 32, "width": 96}, resample=2),
        max_length=24,
        eos_trick=True,
        images=[(1, 150, 40), (2, 90, 28)],
    ),
    # DeiT (CLS + distillation token) + TrOCR decoder: sinusoidal positions, scaled embeddings,
    # no layernorm_embedding, relu, cross_attention_hidden_size (encoder 24 wide, decoder 32),
    # f16 weights, bicubic resize with ImageNet mean/std; runs to max_length.
    dict(
        name="deit-sinusoidal-f16",
        seed=22,
        dtype=torch.float16,
        encoder=("deit", dict(image_size=48, patch_size=16, hidden_size=24, num_hidden_layers=2,
                              num_attention_heads=3, intermediate_size=48, hidden_act="gelu")),
        decoder=dict(d_model=32, decoder_layers=2, decoder_attention_heads=4, decoder_ffn_dim=48,
                     max_position_embeddings=32, use_learned_position_embeddings=False,
                     layernorm_embedding=False, scale_embedding=True, activation_function="relu",
                     cross_attention_hidden_size=24),
        processor=dict(size={"height": 48, "width": 48}, resample=3,
                       image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]),
        max_length=12,
        eos_trick=False,
        images=[(3, 120, 36), (4, 60, 60)],
    ),
    # ViT without qkv bias (encoder 24 wide) projected to a 32-wide decoder by enc_to_dec_proj,
    # tied output projection (not stored), tanh-GELU, bf16 weights.
    dict(
        name="vit-proj-bf16",
        seed=33,
        dtype=torch.bfloat16,
        encoder=("vit", dict(image_size=[16, 64], patch_size=8, hidden_size=24, num_hidden_layers=1,
                             num_attention_heads=2, intermediate_size=48, hidden_act="gelu_new",
                             qkv_bias=False)),
        decoder=dict(d_model=32, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64,
                     max_position_embeddings=24, use_learned_position_embeddings=True,
                     layernorm_embedding=True, scale_embedding=True, activation_function="gelu_new"),
        processor=dict(size={"height": 16, "width": 64}, resample=2),
        max_length=10,
        eos_trick=False,
        images=[(5, 200, 32)],
    ),
]


def make_model(spec, vocab_size: int) -> VisionEncoderDecoderModel:
    kind, enc_kw = spec["encoder"]
    enc = (ViTConfig if kind == "vit" else DeiTConfig)(**enc_kw)
    dec = TrOCRConfig(vocab_size=vocab_size, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                      decoder_start_token_id=2, **spec["decoder"])
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    cfg.decoder_start_token_id = 2
    cfg.pad_token_id = 1
    cfg.eos_token_id = 2
    torch.manual_seed(spec["seed"])
    model = VisionEncoderDecoderModel(cfg).eval()
    # Random init keeps LayerNorms at 1/0 and biases at 0: perturb every parameter so a
    # swapped gamma/beta or a missing bias changes the numbers.
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 1.0 if "embed_" in name else 0.3 if "norm" in name else 0.1
            p.add_(torch.randn_like(p) * scale)
        # Zero the output rows of specials and single bytes (all ids below the first merge,
        # eos included; the eos trick below moves a real row there): greedy decoding then
        # emits merged tokens, mostly whole Hangul syllables, so the decoded texts are
        # readable Korean rather than byte fragments.
        out_proj = model.decoder.get_output_embeddings().weight
        first_merge = len(SPECIALS) + 256
        out_proj[:first_merge] = 0.0
        # Louder cross-attention, so different images give different outputs.
        for name, p in model.named_parameters():
            if "encoder_attn.v_proj" in name or "encoder_attn.out_proj" in name:
                p.mul_(2.0)
    return model


def load_f32(folder) -> VisionEncoderDecoderModel:
    model = VisionEncoderDecoderModel.from_pretrained(folder, dtype=torch.float32).eval()
    pos = model.decoder.model.decoder.embed_positions
    if hasattr(pos, "get_embedding") and pos.weights.is_meta:
        # transformers 5 loads on the meta device, and the sinusoidal table is a plain
        # attribute (no weights): rebuild it as its constructor does.
        pos.weights = pos.get_embedding(pos.weights.shape[0], pos.embedding_dim, pos.padding_idx)
    return model


def greedy(model, pixel_values, gen_kw):
    out = model.generate(pixel_values=pixel_values, do_sample=False, num_beams=1,
                         output_logits=True, return_dict_in_generate=True, **gen_kw)
    ids = out.sequences[0].tolist()
    logits = torch.stack([l[0] for l in out.logits]) if out.logits else torch.zeros(0)
    return ids, logits


def write_fixture(spec, tok: Tokenizer):
    out = OUT / spec["name"]
    if out.exists():
        shutil.rmtree(out)
    (out / "inputs").mkdir(parents=True)
    model = make_model(spec, tok.get_vocab_size())
    gen_kw = dict(max_length=spec["max_length"])

    proc = ViTImageProcessorPil(do_resize=True, do_rescale=True, do_normalize=True,
                                **{k: v for k, v in spec["processor"].items()})
    images = []
    for i, (seed, w, h) in enumerate(spec["images"]):
        img = line_image(seed, w, h)
        img.save(out / "inputs" / f"{i}.png")
        images.append(img)
    pixel_values = proc([im.convert("RGB") for im in images], return_tensors="pt").pixel_values

    if spec["eos_trick"]:
        # Make eos appear mid-sequence: find the first token that greedy decoding emits at
        # step >= 2 and had not emitted before, then swap its output-projection row with
        # eos's. The earlier steps are unchanged, and that step now picks eos.
        ids, _ = greedy(model, pixel_values[:1], dict(max_length=spec["max_length"], eos_token_id=None))
        gen = ids[1:]
        k = next(i for i in range(2, len(gen)) if gen[i] not in gen[:i] and gen[i] != 2)
        t = gen[k]
        with torch.no_grad():
            w = model.decoder.output_projection.weight
            w[[t, 2]] = w[[2, t]].clone()

    model.to(spec["dtype"]).save_pretrained(out)
    gcfg = GenerationConfig(decoder_start_token_id=2, eos_token_id=2, pad_token_id=1, bos_token_id=0,
                            max_length=spec["max_length"])
    gcfg.save_pretrained(out)
    proc.save_pretrained(out)
    tok.save(str(out / "tokenizer.json"))

    # Reload what was written, in f32: the expected values come from the files.
    model = load_f32(out)
    with safe_open(out / "model.safetensors", "pt") as f:
        stored = {k: f.get_tensor(k).float() for k in f.keys()}
    sd = model.state_dict()
    for k, v in stored.items():
        if k in sd:
            assert torch.equal(sd[k], v), f"{k} reloaded differently"
    if "decoder.output_projection.weight" not in stored:
        assert torch.equal(model.decoder.output_projection.weight,
                           model.decoder.model.decoder.embed_tokens.weight), "projection not tied"

    with torch.no_grad():
        enc = model.encoder(pixel_values=pixel_values).last_hidden_state
        start = torch.full((pixel_values.shape[0], 1), 2, dtype=torch.long)
        logits0 = model(pixel_values=pixel_values, decoder_input_ids=start).logits[:, 0, :]
        greedy_ids, step_logits = [], None
        for i in range(pixel_values.shape[0]):
            ids, lg = greedy(model, pixel_values[i:i + 1], gen_kw)
            greedy_ids.append(ids)
            if i == 0:
                step_logits = lg
    save_file({
        "pixel_values": pixel_values.contiguous(),
        "encoder_hidden": enc.contiguous(),
        "logits_step0": logits0.contiguous(),
        "step_logits_0": step_logits.contiguous(),
    }, str(out / "expected.safetensors"))
    probe = "처방전 아모잘탄정 5/50mg 1일 1회"
    expected = {
        "greedy_ids": greedy_ids,
        "texts": [tok.decode(ids, skip_special_tokens=True) for ids in greedy_ids],
        "tokenizer_probe": {"text": probe, "ids": tok.encode(probe).ids},
        "dtype": str(spec["dtype"]).replace("torch.", ""),
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
    }
    (out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{spec['name']}: {sum(p.numel() for p in model.parameters())} params, {size / 1024:.0f} KiB, "
          f"greedy {[len(g) for g in greedy_ids]} tokens")


def bench(args):
    """Random base-sized and tiny models: encoder forward and N greedy steps (no early eos),
    PyTorch, then the Burn implementation (an ignored test of tests/hf_parity.rs) on the same
    folder, same threads."""
    torch.set_num_threads(args.threads)
    tok = build_tokenizer(400)
    tmp = Path(tempfile.mkdtemp(prefix="hf-bench-"))
    configs = {
        "tiny (fixture vit-learned-f32)": OUT / "vit-learned-f32",
        "base (ViT-B/16 384 + 6x512 decoder)": None,
    }
    for label, folder in configs.items():
        if folder is None:
            folder = tmp / "base"
            enc = ViTConfig(image_size=384, patch_size=16, hidden_size=768, num_hidden_layers=12,
                            num_attention_heads=12, intermediate_size=3072)
            dec = TrOCRConfig(vocab_size=32000, d_model=512, decoder_layers=6, decoder_attention_heads=8,
                              decoder_ffn_dim=2048, max_position_embeddings=512, pad_token_id=1,
                              bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
                              cross_attention_hidden_size=768)
            cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
            cfg.decoder_start_token_id, cfg.pad_token_id, cfg.eos_token_id = 2, 1, 2
            torch.manual_seed(0)
            VisionEncoderDecoderModel(cfg).eval().save_pretrained(folder)
            GenerationConfig(decoder_start_token_id=2, eos_token_id=2, pad_token_id=1,
                             max_length=args.steps + 1).save_pretrained(folder)
            ViTImageProcessorPil(size={"height": 384, "width": 384}).save_pretrained(folder)
            tok.save(str(folder / "tokenizer.json"))
        model = load_f32(folder)
        h, w = model.config.encoder.image_size if isinstance(model.config.encoder.image_size, list) \
            else (model.config.encoder.image_size,) * 2
        px = torch.randn(1, 3, h, w)
        with torch.no_grad():
            model.encoder(pixel_values=px)  # warm-up
            t = time.perf_counter()
            for _ in range(args.reps):
                model.encoder(pixel_values=px)
            enc_ms = (time.perf_counter() - t) / args.reps * 1e3
            model.generate(pixel_values=px, do_sample=False, num_beams=1, max_new_tokens=2,
                           min_new_tokens=2)
            t = time.perf_counter()
            for _ in range(args.reps):
                model.generate(pixel_values=px, do_sample=False, num_beams=1,
                               max_new_tokens=args.steps, min_new_tokens=args.steps)
            gen_ms = (time.perf_counter() - t) / args.reps * 1e3
        print(f"pytorch {label}: encoder {enc_ms:.1f} ms, encoder + {args.steps} greedy steps "
              f"{gen_ms:.1f} ms ({(gen_ms - enc_ms) / args.steps:.2f} ms/step), {args.threads} threads")
        env = dict(os.environ, MEDOCR_HF_BENCH_DIR=str(folder), MEDOCR_HF_BENCH_STEPS=str(args.steps),
                   MEDOCR_HF_BENCH_REPS=str(args.reps), RAYON_NUM_THREADS=str(args.threads))
        r = subprocess.run(["cargo", "test", "--release", "--test", "hf_parity", "--", "--ignored",
                            "--nocapture", "bench_speed"], cwd=ROOT, env=env, capture_output=True, text=True)
        lines = [l for l in r.stdout.splitlines() if l.startswith("burn ")]
        if r.returncode != 0 or not lines:
            sys.exit(f"burn bench failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        for l in lines:
            print(l.replace("burn ", f"burn {label}: ", 1))
    shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", action="store_true", help="measure speed instead of writing fixtures")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    if args.bench:
        bench(args)
        return
    tok = build_tokenizer(400)
    for spec in FIXTURES:
        write_fixture(spec, tok)


if __name__ == "__main__":
    main()
