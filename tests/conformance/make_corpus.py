#!/usr/bin/python3
"""Writes the decoding conformance corpus and its reference pixels (tests/Classify.Cli.Tests/DecodeConformanceTests.cs).

    make_corpus.py OUT_DIR

From the repository's photos, files as cameras, phones and the web make them: EXIF (every orientation, GPS,
maker-note-sized blobs, a thumbnail), XMP, ICC profiles, IPTC, MPO, progressive, arithmetic-coded, restart-marked,
grayscale, 4:4:4, CMYK and YCCK JPEG; 16-bit, interlaced, palette, grey+alpha and APNG PNG; animated GIF and WebP (lossy,
lossless, with alpha and EXIF); BMP 8/24/32-bit. Each file gets OUT_DIR/NAME.ref.ppm: its upright RGB pixels as
Debian's python3-pil (libjpeg-turbo, libpng, libwebp, giflib-free GIF) decodes them, with ImageOps.exif_transpose and
convert("RGB"), and a line in OUT_DIR/corpus.tsv: NAME<TAB>CLASS, where CLASS says which tolerance applies
(lossless: the same pixels up to 16-to-8-bit rounding; jpeg: another IDCT and chroma upsampling; cmyk: another
CMYK-to-RGB formula; corrupt: damaged on purpose, no reference, to be refused).
The YCCK file is written with libturbojpeg.so.0 (Debian's libturbojpeg0) through ctypes.
"""
import io, os, shutil, subprocess, sys
from PIL import Image, ImageChops, ImageCms, ImageOps

CONVERT = shutil.which("convert-im6.q16") or "convert"  # Debian's ImageMagick, not a wrapper earlier on PATH
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGES = os.path.join(REPO, "tests", "images")
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rows = []


def reference(path):
    im = Image.open(path)
    im.seek(0)
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I", "I;16", "I;16B"):
        # PIL's convert("RGB") clips 16-bit grey at 255 instead of scaling it: scale first (v / 257, rounded).
        im = im.point(lambda v: v / 257 + 0.5).convert("L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        # Alpha dropped, as convert("RGB") does: the colour channels as stored.
    return im.convert("RGB")


def add(name, cls, write):
    path = os.path.join(out, name)
    write(path)
    reference(path).save(path + ".ref.ppm")
    rows.append((name, cls))


chelsea = Image.open(os.path.join(IMAGES, "chelsea.png")).convert("RGB")
coffee = Image.open(os.path.join(IMAGES, "coffee.png")).convert("RGB")
srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_with(orientation, gps=True):
    e = Image.Exif()
    e[0x0112] = orientation
    e[0x010F] = "Camera Maker"
    e[0x0110] = "Model X"
    if gps:
        e[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    e[0x927C] = b"M" * 30000  # a maker-note-sized blob in IFD0 (PIL keeps it where it is put)
    return e.tobytes()


# Camera JPEGs: the MIT-licensed orientation photos as they are.
for kind in ("Landscape", "Portrait"):
    for i in range(9):
        name = f"{kind}_{i}.jpg"
        add(f"exif-{name}", "jpeg", lambda p, n=name: shutil.copy(os.path.join(IMAGES, "exif-orientation", n), p))

# JPEG flavours (PIL writes through libjpeg-turbo; cjpeg for what PIL cannot write).
add("jpeg-baseline-420.jpg", "jpeg", lambda p: chelsea.save(p, quality=90))
add("jpeg-progressive.jpg", "jpeg", lambda p: chelsea.save(p, quality=90, progressive=True))
add("jpeg-444.jpg", "jpeg", lambda p: chelsea.save(p, quality=92, subsampling=0))
add("jpeg-422-progressive.jpg", "jpeg", lambda p: coffee.save(p, quality=85, subsampling=1, progressive=True))
add("jpeg-grayscale.jpg", "jpeg", lambda p: chelsea.convert("L").save(p, quality=90))
add("jpeg-cmyk-adobe.jpg", "cmyk", lambda p: chelsea.convert("CMYK").save(p, quality=95))


def ycck(p):
    """YCCK (Adobe transform 2), as Photoshop writes CMYK photos: libjpeg-turbo's compressor turns CMYK input into
    YCCK; the samples are inverted first, as Adobe's CMYK is."""
    import ctypes
    tj = ctypes.CDLL("libturbojpeg.so.0")
    tj.tjInitCompress.restype = ctypes.c_void_p
    handle = ctypes.c_void_p(tj.tjInitCompress())
    im = ImageChops.invert(chelsea.convert("CMYK"))
    buf, size = ctypes.POINTER(ctypes.c_ubyte)(), ctypes.c_ulong(0)
    # tjCompress2(handle, src, width, pitch, height, TJPF_CMYK, &buf, &size, TJSAMP_420, quality, flags)
    if tj.tjCompress2(handle, im.tobytes(), im.width, 0, im.height, 11, ctypes.byref(buf), ctypes.byref(size), 2, 90, 0) != 0:
        raise RuntimeError("tjCompress2 failed")
    with open(p, "wb") as f:
        f.write(ctypes.string_at(buf, size.value))
    tj.tjFree(buf)
    tj.tjDestroy(handle)


add("jpeg-ycck-adobe.jpg", "cmyk", ycck)
for o in range(1, 9):
    add(f"jpeg-exif-gps-makernote-orientation-{o}.jpg", "jpeg", lambda p, o=o: coffee.save(p, quality=90, exif=exif_with(o)))
add("jpeg-icc.jpg", "jpeg", lambda p: chelsea.save(p, quality=90, icc_profile=srgb))
ppm = os.path.join(out, "src.ppm")
chelsea.save(ppm)
for flag, name in (("-arithmetic", "jpeg-arithmetic.jpg"), ("-restart 1", "jpeg-restart-markers.jpg"),
                   ("-progressive -sample 1x1", "jpeg-progressive-444.jpg"), ("-optimize -smooth 10", "jpeg-optimized.jpg")):
    add(name, "jpeg", lambda p, flag=flag: subprocess.run(["cjpeg", "-quality", "90", *flag.split(), "-outfile", p, ppm], check=True))
# XMP and IPTC as a camera or Lightroom writes them; exiftool edits in place.
def tagged(p):
    chelsea.save(p, quality=90, exif=exif_with(6))
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Title=A cat", "-XMP-dc:Subject=cat",
                    "-IPTC:Keywords=cat", "-IPTC:City=Helsinki", "-ThumbnailImage<=" + os.path.join(out, "thumb.jpg"), p], check=True)
chelsea.resize((160, 120)).save(os.path.join(out, "thumb.jpg"), quality=80)
add("jpeg-exif-xmp-iptc-thumbnail.jpg", "jpeg", tagged)
# MPO (a stereo/multi-picture JPEG, as phones write): the first picture is the one classified.
add("jpeg-mpo.jpg", "jpeg", lambda p: chelsea.save(p, format="MPO", save_all=True, append_images=[coffee.resize(chelsea.size)], quality=90))

# PNG flavours.
add("png-rgb.png", "lossless", lambda p: chelsea.save(p))
def png_with_metadata(p):
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    for i in range(50):
        info.add_text(f"Comment{i}", "x" * 1000, zip=i % 2 == 0)
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>" * 100)
    chelsea.save(p, icc_profile=srgb, exif=exif_with(3, gps=False), pnginfo=info)
add("png-icc-exif-text.png", "lossless", png_with_metadata)
add("png-exif-orientation-6.png", "lossless", lambda p: coffee.save(p, exif=exif_with(6, gps=False)))
add("png-palette.png", "lossless", lambda p: chelsea.quantize(200).save(p))
add("png-grey-alpha.png", "lossless", lambda p: chelsea.convert("LA").save(p))
add("png-rgba.png", "lossless", lambda p: chelsea.convert("RGBA").save(p))
add("png-interlaced-16bit.png", "lossless", lambda p: subprocess.run(
    [CONVERT, os.path.join(IMAGES, "coffee.png"), "-depth", "16", "-interlace", "PNG", "PNG48:" + p], check=True))
add("png-interlaced.png", "lossless", lambda p: subprocess.run(
    [CONVERT, os.path.join(IMAGES, "chelsea.png"), "-interlace", "PNG", "PNG24:" + p], check=True))
add("png-grey-16bit.png", "lossless", lambda p: subprocess.run(
    [CONVERT, os.path.join(IMAGES, "coffee.png"), "-colorspace", "Gray", "-depth", "16", p], check=True))
add("png-apng.png", "lossless", lambda p: chelsea.save(p, save_all=True, append_images=[coffee.resize(chelsea.size), chelsea.rotate(180)], duration=100))

# GIF, WebP, BMP.
frames = [chelsea.quantize(256), coffee.resize(chelsea.size).quantize(256), chelsea.rotate(180).quantize(256)]
add("gif-animated.gif", "lossless", lambda p: frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0))
add("gif-still.gif", "lossless", lambda p: frames[1].save(p))
add("webp-lossless.webp", "lossless", lambda p: chelsea.save(p, lossless=True))
add("webp-lossless-alpha.webp", "lossless", lambda p: chelsea.convert("RGBA").save(p, lossless=True))
add("webp-lossy.webp", "webp", lambda p: chelsea.save(p, quality=90))
add("webp-lossy-exif-icc.webp", "webp", lambda p: coffee.save(p, quality=90, exif=exif_with(8, gps=False), icc_profile=srgb))
add("webp-animated-lossless.webp", "lossless", lambda p: chelsea.save(p, save_all=True, append_images=[coffee.resize(chelsea.size)], lossless=True, duration=100))
add("webp-animated-lossy.webp", "webp", lambda p: chelsea.save(p, save_all=True, append_images=[coffee.resize(chelsea.size)], quality=90, duration=100))
add("bmp-24.bmp", "lossless", lambda p: chelsea.save(p))
add("bmp-8-palette.bmp", "lossless", lambda p: chelsea.quantize(256).save(p))
add("bmp-32.bmp", "lossless", lambda p: chelsea.convert("RGBA").save(p))

# Damaged files the decoders would fill in without a word: each must be refused as corrupt (no reference pixels).
def short_lzw_gif(p):
    """A GIF whose first frame's LZW data stops at 40 %, its sub-blocks and trailer intact."""
    b = io.BytesIO()
    frames[1].save(b, format="GIF")
    gif = b.getvalue()
    pos = 13 + (3 << ((gif[10] & 7) + 1) if gif[10] & 0x80 else 0)
    while gif[pos] == 0x21:  # extensions
        pos += 2
        while gif[pos]:
            pos += 1 + gif[pos]
        pos += 1
    pos += 10 + (3 << ((gif[pos + 9] & 7) + 1) if gif[pos + 9] & 0x80 else 0)
    head, data, q = gif[:pos + 1], b"", pos + 1
    while gif[q]:
        data += gif[q + 1:q + 1 + gif[q]]
        q += 1 + gif[q]
    data = data[:len(data) * 2 // 5]
    blocks = b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255))
    with open(p, "wb") as f:
        f.write(head + blocks + b"\0;")


def corrupt(name, write):
    write(os.path.join(out, name))
    rows.append((name, "corrupt"))


corrupt("corrupt-gif-short-lzw.gif", short_lzw_gif)

for f in ("src.ppm", "thumb.jpg"):
    os.remove(os.path.join(out, f))
with open(os.path.join(out, "corpus.tsv"), "w") as f:
    for name, cls in rows:
        f.write(f"{name}\t{cls}\n")
print(f"{len(rows)} files in {out}")
