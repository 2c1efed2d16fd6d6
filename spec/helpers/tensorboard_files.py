"""Reading a TensorBoard run back the way TensorBoard does, for chapter 12.

Everything goes through TensorBoard's own reader (``EventAccumulator``) and the files the
projector reads (``projector_config.pbtxt`` and the paths it names): a run is graded on
what a user would see in TensorBoard, whatever code wrote it.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

#: What TensorBoard keeps of each kind (0 = everything, not its default sample).
KEEP_ALL = {k: 0 for k in ("images", "scalars", "tensors", "graph")}


def read_events(logdir: Path):
    """TensorBoard's ``EventAccumulator`` over ``logdir``, every event kept."""
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance=KEEP_ALL)
    acc.Reload()
    return acc


def decoded_pixels(image_event) -> np.ndarray:
    """The (H, W, 3) uint8 pixels of a logged image, decoded from its PNG."""
    png = Image.open(io.BytesIO(image_event.encoded_image_string))
    assert png.format == "PNG", f"a logged image is stored as PNG, not {png.format}"
    return np.asarray(png.convert("RGB"))


def grid_tiles(grid: np.ndarray, side: int = 32, padding: int = 2) -> list[np.ndarray]:
    """The images of a ``make_grid`` picture, left to right then top to bottom: each
    ``side`` pixels square with ``padding`` pixels around it."""
    step = side + padding
    rows, cols = (grid.shape[0] - padding) // step, (grid.shape[1] - padding) // step
    return [
        grid[padding + r * step : padding + r * step + side,
             padding + c * step : padding + c * step + side]
        for r in range(rows)
        for c in range(cols)
    ]  # fmt: skip


def nearest_image(tile: np.ndarray, images: np.ndarray) -> tuple[int, int]:
    """(index, largest pixel difference) of the image among ``images`` (N, H, W, 3)
    closest to ``tile``."""
    distance = np.abs(images.astype(int) - tile.astype(int)).max(axis=(1, 2, 3))
    index = int(distance.argmin())
    return index, int(distance[index])


def logged_still_normalised(images: np.ndarray) -> np.ndarray:
    """What TensorBoard stores of uint8 images that were normalised to [-1, 1]
    (``Normalize((0.5,) * 3, (0.5,) * 3)``) and logged without un-normalising: each value
    times 255, clipped to [0, 255] — every pixel darker than mid-grey turns black."""
    normalised = images.astype(np.float32) / 255 * 2 - 1
    return (normalised * 255).clip(0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Embedding:
    """One embedding of a run, as the projector finds it."""

    tensors: list[list[str]]  # the rows of tensors.tsv, split at tabs
    metadata: list[str]  # metadata.tsv's lines
    sprite: np.ndarray | None  # the sprite's (H, W, 3) pixels
    single_image_dim: tuple[int, int] | None


def logged_embeddings(logdir: Path) -> list[Embedding]:
    """Every embedding ``projector_config.pbtxt`` in ``logdir`` names, read from the files
    it points to (paths relative to ``logdir``)."""
    config = logdir / "projector_config.pbtxt"
    if not config.exists():
        return []
    found = []
    for block in re.findall(r"embeddings\s*\{(.*?)\n\}", config.read_text(), re.S):

        def field(name: str, text: str = block) -> str | None:
            match = re.search(rf'{name}:\s*"([^"]*)"', text)
            return match.group(1) if match else None

        tensor_path, metadata_path = field("tensor_path"), field("metadata_path")
        sprite_path = field("image_path")
        dims = [int(d) for d in re.findall(r"single_image_dim:\s*(\d+)", block)]
        tensors = [r.split("\t") for r in (logdir / tensor_path).read_text().splitlines() if r]
        metadata = (logdir / metadata_path).read_text().splitlines() if metadata_path else []
        sprite = None
        if sprite_path:
            with Image.open(logdir / sprite_path) as picture:
                sprite = np.asarray(picture.convert("RGB"))
        found.append(
            Embedding(tensors, metadata, sprite, tuple(dims[:2]) if len(dims) >= 2 else None)
        )
    return found
