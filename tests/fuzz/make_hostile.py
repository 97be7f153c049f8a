#!/usr/bin/python3
"""Writes a deterministic corpus of hostile image files for scripts/ci/fuzz-test.sh.

    make_hostile.py OUT_DIR [--seed N] [--count N]

Seeds are the repository's photos (cut small, so 2,000 runs stay cheap) re-encoded with Debian's python3-pil in
every format classify reads; each hostile file is a seed with one mutation (truncation, bit flips, insertions,
deletions, corrupted lengths and CRCs, huge header dimensions), or a crafted file (decompression bombs, huge and
numerous ancillary chunks, animations, non-images), plus file-system oddities (a FIFO, a socket, a directory,
symlinks to devices, a name with a newline). The same seed gives the same bytes. It prints one line per file:
KIND<TAB>NAME, so failures can be traced to the mutation that made them.
"""
import io, os, random, socket, struct, sys, zlib
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHOTOS = [os.path.join(REPO, "tests", "images", p) for p in
          ("chelsea.png", "coffee.png", "rocket.jpg", "exif-orientation/Landscape_6.jpg")]


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_raw(width, height, rows_zlib, extra=b"", color=2):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra + png_chunk(b"IDAT", rows_zlib) + png_chunk(b"IEND", b"")


def zeros_zlib(total, level=9):
    c = zlib.compressobj(level)
    out, block = [], b"\0" * (1 << 20)
    while total > 0:
        n = min(total, len(block))
        out.append(c.compress(block[:n]))
        total -= n
    out.append(c.flush())
    return b"".join(out)


def seeds():
    out = {}
    for path in PHOTOS:
        im = Image.open(path).convert("RGB")
        im.thumbnail((96, 96))
        name = os.path.splitext(os.path.basename(path))[0]
        for fmt, kw in (("png", {}), ("jpg", {"quality": 85}), ("jpg-progressive", {"quality": 80, "progressive": True}),
                        ("gif", {}), ("bmp", {}), ("webp", {"quality": 80}), ("webp-lossless", {"lossless": True})):
            b = io.BytesIO()
            im.save(b, format={"jpg": "JPEG", "jpg-progressive": "JPEG", "webp-lossless": "WEBP"}.get(fmt, fmt.upper()), **kw)
            out[f"{name}.{fmt}"] = b.getvalue()
    # The EXIF photo as it is (camera metadata intact, full size), for mutations inside APP1.
    with open(PHOTOS[3], "rb") as f:
        out["Landscape_6.exif.jpg"] = f.read()
    return out


def ext(name):
    e = name.rsplit(".", 1)[1]
    return {"jpg-progressive": "jpg", "webp-lossless": "webp"}.get(e, e)


def mutate(rng, name, data):
    b = bytearray(data)
    kind = rng.choice(["truncate", "bitflip", "bitflip-many", "insert", "delete", "length", "crc", "zero-run", "dims"])
    if kind == "truncate":
        del b[rng.randrange(1, len(b)):]
    elif kind == "bitflip":
        i = rng.randrange(len(b)); b[i] ^= 1 << rng.randrange(8)
    elif kind == "bitflip-many":
        for _ in range(rng.randrange(2, 40)):
            i = rng.randrange(len(b)); b[i] ^= 1 << rng.randrange(8)
    elif kind == "insert":
        i = rng.randrange(len(b)); b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    elif kind == "delete":
        i = rng.randrange(len(b)); del b[i:i + rng.randrange(1, 64)]
    elif kind == "zero-run":
        i = rng.randrange(len(b)); n = rng.randrange(1, 512); b[i:i + n] = b"\0" * len(b[i:i + n])
    elif kind in ("length", "crc", "dims"):
        mutate_structure(rng, name, b, kind)
    return kind, bytes(b)


def mutate_structure(rng, name, b, kind):
    e = ext(name)
    big = rng.choice([0, 1, 0x7FFF, 0xFFFF, 65500, 0x7FFFFFFF, 0xFFFFFFFF])
    if e == "png":
        chunks, pos = [], 8
        while pos + 8 <= len(b):
            n = struct.unpack(">I", b[pos:pos + 4])[0]; chunks.append(pos); pos += 12 + n
        p = rng.choice(chunks)
        if kind == "length":
            b[p:p + 4] = struct.pack(">I", big)
        elif kind == "crc":
            n = struct.unpack(">I", b[p:p + 4])[0]; c = p + 8 + n
            b[c:c + 4] = bytes(x ^ 0xFF for x in b[c:c + 4])
        else:  # IHDR width/height, CRC recomputed so the decoder believes it
            off = rng.choice([16, 20]); b[off:off + 4] = struct.pack(">I", big & 0x7FFFFFFF)
            b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])) & 0xFFFFFFFF)
    elif e == "jpg":
        marks = [i for i in range(2, len(b) - 4) if b[i] == 0xFF and 0xC0 <= b[i + 1] <= 0xFE and b[i + 1] not in (0xD8, 0xD9) and not 0xD0 <= b[i + 1] <= 0xD7]
        sof = [i for i in marks if b[i + 1] in (0xC0, 0xC1, 0xC2)]
        if kind == "dims" and sof:
            i = sof[0] + 5 + rng.choice([0, 2]); b[i:i + 2] = struct.pack(">H", big & 0xFFFF)
        elif marks:
            i = rng.choice(marks) + 2; b[i:i + 2] = struct.pack(">H", big & 0xFFFF)
    elif e == "gif":
        off = rng.choice([6, 8]); b[off:off + 2] = struct.pack("<H", big & 0xFFFF)
    elif e == "bmp":
        off = rng.choice([2, 10, 18, 22, 28, 34]); b[off:off + 4] = struct.pack("<I", big)
    elif e == "webp":
        off = rng.choice([4, 16, 20, 24, 26]); b[off:off + 4] = struct.pack("<I", big)


def crafted(rng):
    """Files no mutation is likely to make: bombs, metadata floods, animations, non-images."""
    rows = lambda w, h, bpp=3: zeros_zlib((w * bpp + 1) * h)
    yield "bomb-png-13000sq", "png", png_raw(13000, 13000, rows(13000, 13000))
    yield "bomb-png-65535-wide", "png", png_raw(65535, 2730, rows(65535, 2730))
    yield "bomb-png-header-only-65535sq", "png", png_raw(65535, 65535, zeros_zlib(1000))
    yield "bomb-png-idat-short", "png", png_raw(4000, 4000, zeros_zlib(1000))
    small = zeros_zlib((16 * 3 + 1) * 16)
    yield "ztxt-1gib", "png", png_raw(16, 16, small, png_chunk(b"zTXt", b"Comment\0\0" + zeros_zlib(1 << 30)))
    yield "itxt-1gib", "png", png_raw(16, 16, small, png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\1\0\0\0" + zeros_zlib(1 << 30)))
    yield "iccp-bomb", "png", png_raw(16, 16, small, png_chunk(b"iCCP", b"icc\0\0" + zeros_zlib(256 << 20)))
    yield "text-chunks-5000", "png", png_raw(16, 16, small, b"".join(png_chunk(b"tEXt", b"k%d\0%s" % (i, b"v" * 200)) for i in range(5000)))
    yield "ztxt-chunks-2000", "png", png_raw(16, 16, small, b"".join(png_chunk(b"zTXt", b"k%d\0\0" % i + zeros_zlib(1 << 20)) for i in range(2000)))
    yield "exif-chunk-huge", "png", png_raw(16, 16, small, png_chunk(b"eXIf", b"MM\0*\0\0\0\x08\xff\xff" + b"\0" * (8 << 20)))
    yield "idat-crc-bad", "png", (lambda p: p[:-12 - 4] + bytes(x ^ 0xFF for x in p[-16:-12]) + p[-12:])(png_raw(16, 16, small))
    # JPEG: a frame header of 65500x65500, an APP1 of maximal size, thousands of segments.
    with open(PHOTOS[2], "rb") as f:
        jpeg = f.read()
    yield "jpeg-app-flood", "jpg", jpeg[:2] + (b"\xff\xe1\xff\xfe" + b"\0" * 65532) * 2000 + jpeg[2:]
    yield "jpeg-exif-loop", "jpg", jpeg[:2] + b"\xff\xe1\x00\x1eExif\0\0II*\0\x08\0\0\0\x01\0\x69\x87\x04\0\x01\0\0\0\x08\0\0\0" + jpeg[2:]
    yield "jpeg-two-images-mpo", "jpg", jpeg + jpeg
    yield "jpeg-eoi-only", "jpg", b"\xff\xd8\xff\xd9"
    # GIF with thousands of frames (only the first is decoded) and a header claiming 65535x65535.
    frames = [Image.new("P", (64, 64), i % 256) for i in range(3000)]
    b = io.BytesIO(); frames[0].save(b, format="GIF", save_all=True, append_images=frames[1:], duration=10); yield "gif-3000-frames", "gif", b.getvalue()
    b = io.BytesIO(); frames[0].save(b, format="WEBP", save_all=True, append_images=frames[1:200], duration=10, lossless=True); yield "webp-200-frames", "webp", b.getvalue()
    yield "gif-screen-65535", "gif", b"GIF89a\xff\xff\xff\xff\x00\x00\x00" + b"\x2c\0\0\0\0\xff\xff\xff\xff\x00\x08\x02\x4c\x01\x00\x3b"
    # Non-images and lies about the format.
    yield "empty", "jpg", b""
    yield "text", "png", b"this is not an image\n" * 10
    yield "random", "jpg", bytes(rng.randrange(256) for _ in range(4096))
    yield "elf", "png", b"\x7fELF" + bytes(1000)
    yield "tiff", "jpg", b"II*\0\x08\0\0\0" + bytes(200)
    yield "svg", "png", b'<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>'
    yield "png-signature-only", "png", b"\x89PNG\r\n\x1a\n"


def main():
    out = sys.argv[1]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    count = int(sys.argv[sys.argv.index("--count") + 1]) if "--count" in sys.argv else 2000
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    made = []

    def write(kind, name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        made.append((kind, name))

    base = seeds()
    for name, data in sorted(base.items()):
        write("seed", f"seed-{name}.{ext(name)}", data)
    for i, (kind, e, data) in enumerate(crafted(rng)):
        write(kind, f"crafted-{i:03d}-{kind}.{e}", data)
    # File-system oddities.
    def odd(kind, name, make):
        make(os.path.join(out, name)); made.append((kind, name))
    odd("fifo", "fifo.jpg", os.mkfifo)
    odd("socket", "socket.png", lambda p: socket.socket(socket.AF_UNIX).bind(p))
    odd("directory", "folder.jpg", os.mkdir)
    odd("dev-zero", "dev-zero.jpg", lambda p: os.symlink("/dev/zero", p))
    odd("dev-full", "dev-full.png", lambda p: os.symlink("/dev/full", p))
    odd("proc-file", "proc-status.png", lambda p: os.symlink("/proc/self/status", p))
    odd("dangling-link", "dangling.jpg", lambda p: os.symlink("no-such-file.jpg", p))
    odd("link-loop", "loop.jpg", lambda p: os.symlink("loop.jpg", p))
    write("newline-name", "new\nline.png", base["chelsea.png"])
    write("tab-and-quote-name", 'odd\t"name",x.jpg', base["rocket.jpg"])
    names = sorted(base)
    i = 0
    while len(made) < count:
        name = names[rng.randrange(len(names))]
        kind, data = mutate(rng, name, base[name])
        write(kind, f"m{i:05d}-{kind}-{name.replace('.', '-')}.{ext(name)}", data)
        i += 1
    for kind, name in made:
        print(f"{kind}\t{name!r}")


if __name__ == "__main__":
    main()
