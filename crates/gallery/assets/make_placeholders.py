"""Writes the bundled place images: one 2D floor plan and one 3D preview per seeded place.

They are simple generated pictures (sky/ground gradients, a plan grid), so the service ships images
without any third-party artwork. Run from this directory: python3 make_placeholders.py
"""
import struct
import zlib

W, H = 320, 180
PLACES = {
    "1": ((135, 206, 235), (76, 153, 0)),     # 초원: blue sky over a green meadow
    "2": ((240, 240, 235), (170, 150, 120)),  # 갤러리: white walls over a wooden floor
    "3": ((255, 190, 150), (120, 80, 60)),    # 교토: dusk sky over temple ground
}


def png(path, pixel):
    rows = b"".join(
        b"\x00" + bytes(c for x in range(W) for c in pixel(x, y)) for y in range(H)
    )

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", header))
        f.write(chunk(b"IDAT", zlib.compress(rows, 9)))
        f.write(chunk(b"IEND", b""))


def mix(a, b, t):
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b))


for place, (sky, ground) in PLACES.items():
    horizon = H * 3 // 5

    def view(x, y, sky=sky, ground=ground, horizon=horizon):
        if y < horizon:
            return mix((255, 255, 255), sky, y / horizon)
        return mix(ground, (30, 30, 30), (y - horizon) / (H - horizon) * 0.5)

    def plan(x, y, ground=ground):
        if x % 40 == 0 or y % 40 == 0:
            return (60, 60, 60)
        if 20 <= x < W - 20 and 20 <= y < H - 20:
            return mix(ground, (255, 255, 255), 0.6)
        return (255, 255, 255)

    png(f"places/{place}-3d.png", view)
    png(f"places/{place}-2d.png", plan)
