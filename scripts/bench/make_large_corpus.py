#!/usr/bin/python3
"""Large-photo corpus for the DCT-scaling agreement and the camera-photo timings (README, Benchmarks): N JPEGs cut at
native resolution (never rescaled) from the given photos: random crops of 55-100% of each side, half mirrored, quality
80-95, mostly 4:2:0 (some 4:2:2 / 4:4:4, some progressive). Usage: make_large_corpus.py OUT_DIR N PHOTO...
The README's corpus: the 12 photographs among Debian's plasma-workspace-wallpapers 5.27 (BytheWater ColdRipple
ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path summer_1am Volna, the largest file of
each: 2560x1600 to 5120x2880; `apt-get download plasma-workspace-wallpapers`, `dpkg-deb -x`) and
tests/images/exif-orientation/Landscape_1.jpg and Portrait_1.jpg; N = 240."""
import os, random, sys
from PIL import Image, ImageOps
Image.MAX_IMAGE_PIXELS = None
out, n, files = sys.argv[1], int(sys.argv[2]), sorted(sys.argv[3:])
rng = random.Random(3030)
os.makedirs(out, exist_ok=True)
for i in range(n):
    im = ImageOps.exif_transpose(Image.open(files[i % len(files)])).convert("RGB")
    w, h = im.size
    cw, ch = int(w * rng.uniform(0.55, 1.0)), int(h * rng.uniform(0.55, 1.0))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    c = im.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        c = ImageOps.mirror(c)
    c.save(os.path.join(out, f"large{i:04d}.jpg"), quality=rng.randint(80, 95),
           subsampling=rng.choice([2, 2, 2, 1, 0]), progressive=rng.random() < 0.2)
