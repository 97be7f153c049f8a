#!/usr/bin/python3
"""N deterministic large JPEGs cut at their native resolution (never rescaled: real camera pixels) from photos: crops of
55-100% of each side, half mirrored, quality 80-95, mostly 4:2:0 (some 4:2:2 / 4:4:4), some progressive.
Usage: make_large_crops.py OUT_DIR N [--seed S] [PHOTO...]

Without photos: the repository's largest, exif-orientation/Landscape_1.jpg and Portrait_1.jpg (1800x1200 upright, so
660-1800 px crops), seed 20261207: the corpus of the test that the default DCT-scaled decode classifies like a full
decode (tests/Classify.Cli.Tests/DctScaleAgreementTests.cs); every crop is large enough to be scaled with every
bundled model.

The README's larger corpus (Benchmarks: DCT scaling's agreement, the camera-photo timings): --seed 3030, N = 240, the
12 photographs among Debian's plasma-workspace-wallpapers 5.27 (BytheWater ColdRipple ColorfulCups DarkestHour
EveningGlow FallenLeaf Grey Kite OneStandsOut Path summer_1am Volna, the largest file of each: 2560x1600 to 5120x2880;
`apt-get download plasma-workspace-wallpapers`, `dpkg-deb -x`) and the two photos above."""
import os, random, sys
from PIL import Image, ImageOps
Image.MAX_IMAGE_PIXELS = None

args = sys.argv[1:]
seed = 20261207
if "--seed" in args:
    i = args.index("--seed")
    seed = int(args[i + 1])
    del args[i:i + 2]
out, n, files = args[0], int(args[1]), args[2:]
if not files:
    here = os.path.dirname(os.path.abspath(__file__))
    files = [os.path.join(here, "..", "images", "exif-orientation", f) for f in ("Landscape_1.jpg", "Portrait_1.jpg")]
files = sorted(files)
rng = random.Random(seed)
os.makedirs(out, exist_ok=True)
photos = {}
for i in range(n):
    f = files[i % len(files)]
    if f not in photos:
        photos[f] = ImageOps.exif_transpose(Image.open(f)).convert("RGB")
    im = photos[f]
    w, h = im.size
    cw, ch = int(w * rng.uniform(0.55, 1.0)), int(h * rng.uniform(0.55, 1.0))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    c = im.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        c = ImageOps.mirror(c)
    c.save(os.path.join(out, f"large{i:04d}.jpg"), quality=rng.randint(80, 95),
           subsampling=rng.choice([2, 2, 2, 1, 0]), progressive=rng.random() < 0.2)
