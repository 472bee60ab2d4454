"""Glance v2 for the OpenStack emulator: version discovery, image list and detail."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from emulators.base import Request, Response
from emulators.openstack.catalog import (
    IMAGES,
)


class GlanceMixin:
    """Glance's part of the emulator: it answers on ``/image``."""

    def _image_versions(self, base: str) -> Response:
        versions = [
            {"id": version, "status": status, "links": [{"rel": "self", "href": f"{base}/image/v2/"}]}
            for version, status in (("v2.16", "CURRENT"), ("v2.9", "SUPPORTED"), ("v2.0", "SUPPORTED"))
        ]
        return Response.json(300, {"versions": versions})

    def _image(self, request: Request, path: str) -> Response:
        if path == "/images" and request.method == "GET":
            images = [self._image_view(image_id) for image_id in sorted(IMAGES)]
            for key in ("name", "status", "visibility"):
                if request.query.get(key):
                    images = [image for image in images if image[key] == request.query[key]]
            if request.query.get("marker"):
                ids = [image["id"] for image in images]
                if request.query["marker"] not in ids:
                    return Response(400, b"marker not found", {"Content-Type": "text/plain"})
                images = images[ids.index(request.query["marker"]) + 1 :]
            limit = int(request.query["limit"]) if request.query.get("limit", "").isdigit() else 25
            body: dict[str, Any] = {"images": images[:limit], "first": "/v2/images", "schema": "/v2/schemas/images"}
            if len(images) > limit:
                body["next"] = f"/v2/images?{urlencode({'limit': limit, 'marker': images[limit - 1]['id']})}"
            return Response.json(200, body)
        match = re.fullmatch(r"/images/([^/]+)", path)
        if match and request.method == "GET":
            if match.group(1) not in IMAGES:
                message = f"No image found with ID {match.group(1)}"
                return Response(404, message.encode(), {"Content-Type": "text/plain"})
            return Response.json(200, self._image_view(match.group(1)))
        return Response(404, b"The resource could not be found.", {"Content-Type": "text/plain"})

    def _image_view(self, image_id: str) -> dict:
        return {
            "id": image_id,
            "name": IMAGES[image_id],
            "status": "active",
            "visibility": "public",
            "protected": False,
            "os_hidden": False,
            "disk_format": "qcow2",
            "container_format": "bare",
            "size": 2147483648,
            "virtual_size": 10737418240,
            "min_disk": 10,
            "min_ram": 512,
            "owner": self.project_id,
            "tags": [],
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "self": f"/v2/images/{image_id}",
            "file": f"/v2/images/{image_id}/file",
            "schema": "/v2/schemas/image",
        }
