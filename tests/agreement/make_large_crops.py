#!/usr/bin/python3
"""N deterministic large JPEGs cut at their native resolution (never rescaled: real camera pixels) from the
repository's largest photos, exif-orientation/Landscape_1.jpg and Portrait_1.jpg (1800x1200 upright): crops of 55-100%
of each side (660-1800 px), half mirrored, quality 80-95, mostly 4:2:0, some progressive. Every one is large enough
for libjpeg-turbo's DCT scaling (classify's default) with every bundled model, for the test that it classifies like a
full decode (tests/Classify.Cli.Tests/DctScaleAgreementTests.cs). Usage: make_large_crops.py OUT_DIR N"""
import os, random, sys
from PIL import Image, ImageOps

out, n = sys.argv[1], int(sys.argv[2])
here = os.path.dirname(os.path.abspath(__file__))
files = [os.path.join(here, "..", "images", "exif-orientation", f) for f in ("Landscape_1.jpg", "Portrait_1.jpg")]
photos = [ImageOps.exif_transpose(Image.open(f)).convert("RGB") for f in files]
rng = random.Random(20261207)
os.makedirs(out, exist_ok=True)
for i in range(n):
    im = photos[i % len(photos)]
    w, h = im.size
    cw, ch = int(w * rng.uniform(0.55, 1.0)), int(h * rng.uniform(0.55, 1.0))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    c = im.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        c = ImageOps.mirror(c)
    c.save(os.path.join(out, f"large{i:04d}.jpg"), quality=rng.randint(80, 95),
           subsampling=rng.choice([2, 2, 2, 1, 0]), progressive=rng.random() < 0.2)
