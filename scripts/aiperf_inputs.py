"""Inputs for an AIPerf run against `medocr serve` (docs/serve.md, "AIPerf"), offline.

Writes into OUT (default /tmp/aiperf):
- hfcache/: the built-in model's character vocabulary (models/builtin/tokenizer.json) as a
  Hugging Face tokenizer, in a Hugging Face cache layout under the repo id `local/medocr-tok`
  (AIPerf 0.13 with HF_HUB_OFFLINE=1 loads tokenizers by repo id only, not by folder);
- pages.jsonl: AIPerf `single_turn` entries, each a band of a bundled fax page (200 DPI in
  the PNG's pHYs) as a data URL. Bands without text are left out: the server rightly answers
  them with an empty completion, which AIPerf counts as a failed request;
- bands/: the same bands as PNG files with a manifest.jsonl, for `medocr bench --dataset`
  on identical inputs (the manifest's `text` is a placeholder: bench measures, it does not
  score).

Needs `pip install aiperf pillow` (transformers and tokenizers come with aiperf).
"""
import base64, glob, io, json, os, sys
from PIL import Image
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/aiperf"

# One token per character, as the model counts its output.
vocab = json.load(open(os.path.join(root, "models/builtin/tokenizer.json")))["tokens"]
tk = Tokenizer(models.WordLevel(vocab={t: i for i, t in enumerate(vocab)}, unk_token="<unk>"))
tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
tk.decoder = decoders.Fuse()
snapshot = os.path.join(out, "hfcache/models--local--medocr-tok/snapshots", "0" * 39 + "1")
os.makedirs(snapshot, exist_ok=True)
PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<pad>",
                        bos_token="<bos>", eos_token="<eos>").save_pretrained(snapshot)
os.makedirs(os.path.join(out, "hfcache/models--local--medocr-tok/refs"), exist_ok=True)
with open(os.path.join(out, "hfcache/models--local--medocr-tok/refs/main"), "w") as f:
    f.write("0" * 39 + "1")

pages = sorted(glob.glob(os.path.join(root, "datasets/printed/*-fax.png"))
               + glob.glob(os.path.join(root, "datasets/printed/*-fax/page-*.png")))
n = 0
os.makedirs(os.path.join(out, "bands"), exist_ok=True)
manifest = open(os.path.join(out, "bands/manifest.jsonl"), "w")
with open(os.path.join(out, "pages.jsonl"), "w") as f:
    for path in pages:
        page = Image.open(path)
        w, h = page.size
        for y0, y1 in [(0.05, 0.17), (0.30, 0.42), (0.55, 0.67)]:
            band = page.crop((0, int(h * y0), w, int(h * y1)))
            gray = band.convert("L")
            ink = sum(gray.histogram()[:128]) / (w * gray.size[1])
            if ink < 0.01:  # fax noise, no text (3 of the 24 bands)
                continue
            buf = io.BytesIO()
            band.save(buf, format="PNG", dpi=(200, 200))
            url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
            f.write(json.dumps({"text": "Transcribe this page.", "image": url}) + "\n")
            name = f"band-{n:02d}.png"
            with open(os.path.join(out, "bands", name), "wb") as png:
                png.write(buf.getvalue())
            manifest.write(json.dumps({"id": f"band-{n:02d}", "doc_type": "prescription",
                                       "source": name, "text": "-", "dpi": 200.0}) + "\n")
            n += 1
print(f"{n} pages in {out}/pages.jsonl; tokenizer local/medocr-tok in {out}/hfcache")
