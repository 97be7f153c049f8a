#!/usr/bin/python3
"""N deterministic ImageNet-sized JPEGs (shorter side 333-500, quality 75-95) cut from the repository's photos with
random crops, flips and scales, for the test that libjpeg-turbo's DCT-scaled decode classifies like ImageSharp's
full decode (tests/Classify.Cli.Tests/DecoderAgreementTests.cs). Usage: make_crops.py OUT_DIR N"""
import os, random, sys
from PIL import Image, ImageOps

out, n = sys.argv[1], int(sys.argv[2])
here = os.path.dirname(os.path.abspath(__file__))
images = os.path.join(here, "..", "images")
files = sorted(os.path.join(images, f) for f in os.listdir(images) if f.endswith((".png", ".jpg")))
files += sorted(os.path.join(images, "exif-orientation", f) for f in ("Landscape_1.jpg", "Portrait_1.jpg"))
photos = [ImageOps.exif_transpose(Image.open(f)).convert("RGB") for f in files]
rng = random.Random(20261201)
os.makedirs(out, exist_ok=True)
for i in range(n):
    im = photos[i % len(photos)]
    w, h = im.size
    cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    c = im.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        c = ImageOps.mirror(c)
    short = rng.randint(333, 500)
    s = short / min(c.size)
    c = c.resize((max(1, round(c.size[0] * s)), max(1, round(c.size[1] * s))), Image.BICUBIC)
    c.save(os.path.join(out, f"crop{i:04d}.jpg"), quality=rng.randint(75, 95),
           subsampling=rng.choice([0, 1, 2]), progressive=rng.random() < 0.3)
