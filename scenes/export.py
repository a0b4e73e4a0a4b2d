"""Offline HTML export of a pydeck scene.

pydeck's own ``to_html(offline=True)`` inlines the deck.gl bundle but its template still
links map-provider scripts and stylesheets from CDNs, which a closed campus network
cannot reach. :func:`offline_html` writes the same deck JSON into a template of ours that
loads nothing from the network: the bundle is inlined, there is no basemap
(``map_provider=None``), and the view may look below ground.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["deck_bundle_path", "deck_bundle", "offline_html"]


def deck_bundle_path() -> Path:
    """Path of the deck.gl bundle (``createDeck``/``updateDeck``) shipped inside pydeck."""
    import pydeck

    p = Path(pydeck.__file__).parent / "nbextension" / "static" / "index.js"
    if not p.exists():
        raise FileNotFoundError(f"pydeck's deck.gl bundle is missing at {p}; reinstall pydeck")
    return p


@lru_cache(maxsize=1)
def deck_bundle() -> str:
    # "</script" inside the bundle would end the inline <script> early.
    return deck_bundle_path().read_text(encoding="utf-8").replace("</script", "<\\/script")


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
html, body {{ margin: 0; padding: 0; height: 100%; overflow: hidden;
  font-family: system-ui, sans-serif; background: {background}; }}
#deck-container {{ position: absolute; inset: 0; }}
#legend {{ position: absolute; left: 12px; bottom: 12px; z-index: 2; background: #fffe;
  padding: 8px 10px; border-radius: 6px; font-size: 13px; max-width: 40vw; }}
#legend h1 {{ font-size: 15px; margin: 0 0 4px; }}
</style>
</head>
<body>
<div id="deck-container"></div>
<div id="legend"><h1>{title}</h1>{legend}</div>
<script>{bundle}</script>
<script>
const jsonInput = {deck_json};
window.xiaoanDeck = createDeck({{
  container: document.getElementById('deck-container'),
  jsonInput: jsonInput,
  tooltip: {tooltip},
  customLibraries: null,
  configuration: null,
}});
</script>
</body>
</html>
"""


def offline_html(
    deck: Any,
    title: str = "xiaoan scene",
    legend_html: str = "",
    background: str = "#10141a",
    tooltip: bool | dict[str, Any] = True,
) -> str:
    """A self-contained HTML page rendering ``deck`` with no network request.

    Parameters
    ----------
    deck
        A ``pydeck.Deck``; its ``map_provider`` should be ``None`` (no basemap tiles).
    title
        Page title, also shown in the legend box (escaped).
    legend_html
        Trusted HTML for the legend box (e.g. colour keys).
    """
    deck_json = deck.to_json() if hasattr(deck, "to_json") else json.dumps(deck)
    data = json.loads(deck_json)
    if data.get("mapProvider") not in (None, "none"):
        raise ValueError("an offline scene cannot use a basemap provider; set map_provider=None")
    return _TEMPLATE.format(
        title=html.escape(title),
        legend=legend_html,
        background=background,
        bundle=deck_bundle(),
        deck_json=json.dumps(data).replace("</", "<\\/"),
        tooltip=json.dumps(tooltip),
    )
