#!/usr/bin/python3
"""The peers on large photos, one thread, CPU time per image (decode + resize to 224x224 + float tensor): OpenCV full
and with its DCT reduction to 1/4 and 1/8, Pillow full and with draft() (DCT scaling) to >= 448 and >= 224 px.
usage: peers_large.py DIR ROUNDS   (needs python3-opencv, python3-pil, python3-numpy)"""
import os, sys, time, statistics
import numpy as np, cv2
from PIL import Image
cv2.setNumThreads(1)
d = sys.argv[1]; rounds = int(sys.argv[2])
files = [os.path.join(d, f) for f in sorted(os.listdir(d))]
mean = np.array([0.485, 0.456, 0.406], np.float32) * 255; std = np.array([0.229, 0.224, 0.225], np.float32) * 255
def norm(a): return ((a.astype(np.float32) - mean) / std).transpose(2, 0, 1)
def cvf(flag):
    def f(p):
        im = cv2.imread(p, flag); im = cv2.resize(im, (224, 224), interpolation=cv2.INTER_AREA if flag == cv2.IMREAD_COLOR else cv2.INTER_LINEAR)
        return norm(im[:, :, ::-1])
    return f
def pil(draft):
    def f(p):
        im = Image.open(p)
        if draft: im.draft("RGB", draft)
        return norm(np.asarray(im.convert("RGB").resize((224, 224), Image.BILINEAR)))
    return f
anchors = [("opencv imread full + INTER_AREA", cvf(cv2.IMREAD_COLOR)), ("opencv IMREAD_REDUCED_COLOR_4 + bilinear", cvf(cv2.IMREAD_REDUCED_COLOR_4)),
           ("opencv IMREAD_REDUCED_COLOR_8 + bilinear", cvf(cv2.IMREAD_REDUCED_COLOR_8)), ("pillow full + antialiased bilinear", pil(None)),
           ("pillow draft(>=448) + antialiased bilinear", pil((448, 448))), ("pillow draft(>=224) + antialiased bilinear", pil((224, 224)))]
res = {n: [] for n, _ in anchors}
for _ in range(rounds):
    for n, fn in anchors:
        s = time.process_time()
        for p in files: fn(p)
        res[n].append((time.process_time() - s) * 1000 / len(files))
for n, _ in anchors: print(f"{n}: {statistics.median(res[n]):.1f} ms CPU/img (median of {rounds}, {len(files)} images, 1 thread)")
