"""Simple generated dish pictures for the demo (no downloads): a plate seen from above whose
food is coloured by what the recipe holds, and the dish name. Real canteens upload photos."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .choices import FoodGroup

FONT_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
]

# (base colour, speckle colour) of each food group on the plate.
GROUP_COLOURS = {
    FoodGroup.CEREAL: ((246, 240, 222), (232, 220, 190)),
    FoodGroup.VEGETABLE: ((76, 150, 60), (150, 200, 90)),
    FoodGroup.FRUIT: ((235, 120, 60), (250, 200, 80)),
    FoodGroup.MEAT: ((150, 70, 40), (190, 110, 60)),
    FoodGroup.AQUATIC: ((235, 170, 130), (250, 220, 200)),
    FoodGroup.EGG: ((250, 205, 60), (255, 235, 140)),
    FoodGroup.DAIRY: ((250, 250, 245), (235, 235, 230)),
    FoodGroup.SOY_NUT: ((240, 225, 180), (200, 160, 100)),
}
# Ingredients whose colour is not their group's.
INGREDIENT_COLOURS = {
    "SR11529": ((210, 50, 40), (240, 90, 70)),  # tomato
    "SR11124": ((240, 130, 40), (250, 170, 90)),  # carrot
    "SR11422": ((240, 150, 40), (250, 190, 100)),  # pumpkin
    "SR11209": ((110, 60, 120), (150, 100, 160)),  # eggplant
    "SR11507": ((220, 120, 50), (240, 160, 90)),  # sweet potato
    "SR11352": ((235, 215, 150), (245, 230, 180)),  # potato
    "SR11167": ((250, 215, 70), (255, 235, 130)),  # sweet corn
    "SR16126": ((248, 244, 230), (235, 230, 210)),  # tofu
}
SIZE = (480, 360)


def colour_parts(lines) -> dict[str, float]:
    """(ingredient, grams) pairs → {colour key: grams} for render_dish_photo."""
    parts: dict[str, float] = {}
    for ingredient, grams in lines:
        key = ingredient.code if ingredient.code in INGREDIENT_COLOURS else ingredient.food_group
        parts[key] = parts.get(key, 0.0) + float(grams)
    return parts


def _font(size: int) -> ImageFont.ImageFont:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default()


def render_dish_photo(name: str, groups: dict[str, float]) -> bytes:
    """A 480×360 JPEG of a dish: `groups` maps a colour key (food group or ingredient code, see
    colour_parts) → grams in one portion."""
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    rng = random.Random(seed)
    image = Image.new("RGB", SIZE, (60, 48, 40))
    draw = ImageDraw.Draw(image)
    # A wooden table: a few darker stripes.
    for y in range(0, SIZE[1], 18):
        shade = 52 + rng.randint(-6, 6)
        draw.rectangle([0, y, SIZE[0], y + 9], fill=(shade + 18, shade + 6, shade - 4))
    cx, cy, r = SIZE[0] // 2, SIZE[1] // 2 - 14, 150
    draw.ellipse([cx - r - 6, cy - r + 4, cx + r + 6, cy + r + 14], fill=(30, 24, 20))  # shadow
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(250, 250, 248), outline=(220, 220, 215), width=4)
    draw.ellipse([cx - r + 26, cy - r + 26, cx + r - 26, cy + r - 26], outline=(232, 232, 228), width=3)
    palette = {**GROUP_COLOURS, **INGREDIENT_COLOURS}
    food = {g: w for g, w in groups.items() if g in palette and w > 0}
    total = sum(food.values()) or 1
    inner = r - 40
    # Heaps of food, sized by their weight in the portion.
    for group, grams in sorted(food.items(), key=lambda kv: -kv[1]):
        base, speck = palette[group]
        share = grams / total
        heap = max(28, int(inner * (0.45 + 0.55 * share)))
        hx = cx + rng.randint(-inner // 3, inner // 3)
        hy = cy + rng.randint(-inner // 3, inner // 3)
        draw.ellipse([hx - heap, hy - int(heap * 0.8), hx + heap, hy + int(heap * 0.8)], fill=base)
        for _ in range(int(40 + 120 * share)):
            px = hx + rng.randint(-heap + 8, heap - 8)
            py = hy + rng.randint(-int(heap * 0.7), int(heap * 0.7))
            dot = rng.randint(3, 8)
            draw.ellipse([px - dot, py - dot, px + dot, py + dot], fill=speck)
    image = image.filter(ImageFilter.SMOOTH)
    draw = ImageDraw.Draw(image)
    font = _font(40)
    box = draw.textbbox((0, 0), name, font=font)
    width = box[2] - box[0]
    draw.rectangle([0, SIZE[1] - 62, SIZE[0], SIZE[1]], fill=(0, 0, 0))
    draw.text(((SIZE[0] - width) // 2, SIZE[1] - 58), name, font=font, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=78, optimize=True)
    return out.getvalue()
