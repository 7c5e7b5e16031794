"""Pictures for generated news, drawn from declared *visual concepts*.

A concept is a (colour, shape) pair — 3 colours × 4 shapes = 12 concepts, named ``red_disc``,
``blue_cross``, … An image (64×64 RGB by default) has a textured grey background and 1–3 objects,
each one concept at a random position and size; objects never overlap, and each comes with its
tight bounding box (the stand-in for the regions Mask R-CNN proposes in MM-Rec).

The background is grey (its channels differ by at most 36 levels) and the objects are saturated
(their colour's channel leads the other two by at least 110), so :func:`colour_pixels` finds an
object's pixels exactly: the generator's boxes can be checked against the pixels.
"""

from __future__ import annotations

import numpy as np

from .mind import Box

COLOURS: dict[str, tuple[int, int, int]] = {"red": (205, 40, 40), "green": (40, 185, 50), "blue": (45, 65, 215)}
SHAPES = ("disc", "square", "triangle", "cross")
CONCEPTS = tuple(f"{colour}_{shape}" for colour in COLOURS for shape in SHAPES)
_NOISE = 12  # ± uniform pixel noise, background and objects
_LEAD = 70  # how far a colour's channel must lead the others in colour_pixels


def concept_parts(concept: str) -> tuple[str, str]:
    """``"red_disc"`` → ``("red", "disc")``."""
    colour, _, shape = concept.partition("_")
    if colour not in COLOURS or shape not in SHAPES:
        raise ValueError(f"concept: expected one of {CONCEPTS}, got {concept!r}")
    return colour, shape


def shape_mask(shape: str, extent: int) -> np.ndarray:
    """``bool (extent, extent)``: the shape filling an ``extent``-pixel square."""
    centre = extent / 2
    yy, xx = np.mgrid[0:extent, 0:extent] + 0.5  # pixel centres
    if shape == "disc":
        return (xx - centre) ** 2 + (yy - centre) ** 2 <= centre**2
    if shape == "square":
        return np.ones((extent, extent), dtype=bool)
    if shape == "triangle":  # apex at the top, base at the bottom
        return np.abs(xx - centre) <= yy / 2
    if shape == "cross":  # a plus sign, arms one third of the extent thick
        return (np.abs(xx - centre) <= extent / 6) | (np.abs(yy - centre) <= extent / 6)
    raise ValueError(f"shape: expected one of {SHAPES}, got {shape!r}")


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """``float (size, size, 3)``: grey level + a slight tint + a wavy texture + pixel noise."""
    grey = rng.uniform(95, 165)
    tint = rng.uniform(-6, 6, size=3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    fx, fy = rng.uniform(1, 4, size=2)
    px, py = rng.uniform(0, 2 * np.pi, size=2)
    texture = 18 * np.sin(2 * np.pi * fx * xx + px) * np.sin(2 * np.pi * fy * yy + py)  # (size, size)
    noise = rng.integers(-_NOISE, _NOISE + 1, size=(size, size, 3))
    return grey + tint + texture[..., None] + noise


def _overlaps(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 <= b1 and b0 <= x1 and y0 <= c1 and c0 <= y1 for b0, c0, b1, c1 in others)  # 1-pixel gap kept


def render_image(concepts: list[str], rng: np.random.Generator, size: int = 64) -> tuple[np.ndarray, list[Box]]:
    """Draw ``concepts`` as non-overlapping objects: ``uint8 (size, size, 3)`` and one tight box each."""
    if size < 16:
        raise ValueError(f"size: expected at least 16 pixels, got {size}")
    image = _background(rng, size)
    smallest, largest = max(6, round(0.22 * size)), round(0.45 * size)
    placed: list[tuple[int, int, int, int]] = []
    boxes = []
    for concept in concepts:
        colour, shape = concept_parts(concept)
        for _ in range(200):
            extent = int(rng.integers(smallest, largest + 1))
            x0, y0 = (int(v) for v in rng.integers(0, size - extent + 1, size=2))
            if not _overlaps((x0, y0, x0 + extent, y0 + extent), placed):
                break
        else:
            raise RuntimeError(f"no room for {len(concepts)} objects in a {size}-pixel image")
        placed.append((x0, y0, x0 + extent, y0 + extent))
        mask = shape_mask(shape, extent)
        window = image[y0 : y0 + extent, x0 : x0 + extent]  # a view: painting it paints the image
        window[mask] = np.asarray(COLOURS[colour]) + rng.integers(-_NOISE, _NOISE + 1, size=(int(mask.sum()), 3))
        rows, cols = np.nonzero(mask)
        left, top, right, bottom = x0 + cols.min(), y0 + rows.min(), x0 + cols.max() + 1, y0 + rows.max() + 1
        boxes.append(Box(concept, int(left), int(top), int(right), int(bottom)))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), boxes


def colour_pixels(image: np.ndarray, colour: str) -> np.ndarray:
    """``bool (H, W)``: the pixels of ``image`` painted in ``colour`` (its channel leads by > 70)."""
    channel = list(COLOURS).index(colour)
    pixels = image.astype(np.int16)
    others = np.delete(pixels, channel, axis=2).max(axis=2)
    return pixels[..., channel] - others > _LEAD


def typical_concepts(categories: list[str]) -> dict[str, str]:
    """Each category's typical concept, spread over the concepts (distinct for up to 12 categories)."""
    return {c: CONCEPTS[(i * len(CONCEPTS)) // len(categories) % len(CONCEPTS)] for i, c in enumerate(categories)}


def choose_concepts(
    rng: np.random.Generator, typical: str, correlation: float, n_min: int = 1, n_max: int = 3
) -> list[str]:
    """``n_min``..``n_max`` distinct concepts, uniform at random, except that with probability
    ``correlation`` the first one is the category's ``typical`` concept: the picture says what the
    text does not, and only a little of what it does."""
    count = int(rng.integers(n_min, n_max + 1))
    chosen = [CONCEPTS[i] for i in rng.choice(len(CONCEPTS), size=count, replace=False)]
    if rng.random() < correlation and typical not in chosen:
        chosen[0] = typical
    return chosen
