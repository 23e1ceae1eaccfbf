"""Static files (the Django admin's CSS and JS) served by the hub itself in every mode, like the dashboard's own
assets: `ocbridge serve --production` runs without DEBUG, where Django serves none, and an owner has no web server
in front to configure. Files come from the installed apps (no collectstatic step), cached by the browser a day."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


@require_GET
@cache_control(max_age=86400, public=True)
def static_file(request, path: str):
    if ".." in Path(path).parts or path.startswith("/"):
        raise Http404
    found = finders.find(path)
    if not found:
        raise Http404
    content_type, encoding = mimetypes.guess_type(found)
    response = FileResponse(open(found, "rb"), content_type=content_type or "application/octet-stream")
    if encoding:
        response["Content-Encoding"] = encoding
    return response
