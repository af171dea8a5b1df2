"""htmx helpers: render a page's named block as a fragment when the request comes from htmx."""

from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse


def is_htmx(request: Request) -> bool:
    """True when htmx sent the request (and is not restoring history, which wants a full page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    request: Request,
    templates: Jinja2Templates,
    name: str,
    context: dict[str, Any],
    *,
    block: str = "content",
    status_code: int = 200,
) -> HTMLResponse:
    """The full page, or only `block` of it for htmx; both vary on HX-Request for caches."""
    template = templates.get_template(name)
    full_context = {"request": request, **context}
    if is_htmx(request):
        render_block = template.blocks[block]
        html = "".join(render_block(template.new_context(full_context)))
    else:
        html = template.render(full_context)
    return HTMLResponse(html, status_code=status_code, headers={"Vary": "HX-Request"})
