"""htmx helpers: a page renders whole for a plain request and as fragments for htmx.

- Navigation (hx-boost into #main): the page's content block, its <title> and the main nav
  (out of band, so the current page stays marked).
- A live part of a page re-fetching itself (hx-target="#part", where `part` is also a block
  name): only that block.
"""

from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Template
from starlette.responses import HTMLResponse


def is_htmx(request: Request) -> bool:
    """True when htmx sent the request (and is not restoring history, which wants a full page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _block(template: Template, name: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(context)))


def render(
    request: Request,
    templates: Jinja2Templates,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    navigation: bool = True,
    block: str | None = None,
) -> HTMLResponse:
    """The full page, or the fragment htmx asked for; both vary on HX-Request for caches.

    With navigation=False (an answer shown inside the current page, like a confirmation), htmx
    gets only the content block, without a new title or nav. `block` names the block htmx gets
    when it targets a part whose id is not a block name (one of many alike, like command-17).
    """
    template = templates.get_template(name)
    full_context = {"request": request, **context}
    if not is_htmx(request):
        html = template.render(full_context)
    elif not navigation:
        html = _block(template, "content", full_context)
    else:
        target = request.headers.get("HX-Target", "")
        if block is not None and target not in ("", "main"):
            html = _block(template, block, full_context)
        elif target != "content" and target in template.blocks:
            html = _block(template, target, full_context)
        else:
            base = templates.get_template("base.html")
            fragment_context = {**full_context, "oob": True}
            title = _block(template, "title", fragment_context).strip()
            html = (
                f"<title>{title} · {templates.env.globals['app_name']}</title>"
                + _block(template, "content", fragment_context)
                + _block(base, "nav", fragment_context)
            )
    return HTMLResponse(html, status_code=status_code, headers={"Vary": "HX-Request, HX-Target"})
