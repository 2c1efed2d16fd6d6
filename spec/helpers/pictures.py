"""Pictures a test shows on the learner's page: what was drawn or logged, as PNG.

``show(record_property, caption, png)`` attaches one to the running test (it travels with
the test's report, through xdist, to ``reports/spec.html``); ``png_of(pixels)`` and
``png_of_figure(fig)`` make the PNG.
"""

from __future__ import annotations

import base64
import io
import json

#: The ``record_property`` key the report plugin reads pictures from.
PICTURE_KEY = "spec_picture"


def show(record_property, caption: str, png: bytes) -> None:
    """Put ``png`` on the page under this test's claim, with ``caption``."""
    from PIL import Image

    width = Image.open(io.BytesIO(png)).width
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    shown = width * 2 if width < 300 else width  # a small picture at twice its size
    record_property(PICTURE_KEY, json.dumps({"caption": caption, "src": src, "width": shown}))


def png_of(pixels, max_side: int = 600) -> bytes:
    """An (H, W, 3) or (H, W) uint8 array as PNG bytes, shrunk to ``max_side`` pixels."""
    from PIL import Image

    picture = Image.fromarray(pixels)
    picture.thumbnail((max_side, max_side))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def loss_curve(steps, losses, title: str) -> bytes:
    """A small plot of logged losses against their steps, as PNG bytes."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 2.4))
    try:
        ax.plot(steps, losses, marker="o")
        ax.set(xlabel="mini-batch", ylabel="running loss", title=title)
        return png_of_figure(fig, dpi=80)
    finally:
        plt.close(fig)


def png_of_figure(fig, dpi: int = 60) -> bytes:
    """A matplotlib figure as PNG bytes (small: the page holds it inline)."""
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi, bbox_inches="tight")
    return out.getvalue()


def pictures_of(properties) -> list[dict[str, str]]:
    """The pictures among a report's ``user_properties``: [{"caption", "src"}]."""
    return [json.loads(value) for key, value in properties if key == PICTURE_KEY]
