"""Comments (on sources, spectra, GCN events) and annotations (on sources, spectra)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from .core import BaseClient
from .transport import api_path, as_list, drop_none, new_id

# The API names resources by their URL segment; accept the singular forms people type.
_COMMENT_TARGETS = {"sources": "sources", "source": "sources", "spectra": "spectra",
                    "spectrum": "spectra", "gcn_event": "gcn_event", "gcn_events": "gcn_event"}  # fmt: skip
_ANNOTATION_TARGETS = {
    "sources": "sources",
    "source": "sources",
    "spectra": "spectra",
    "spectrum": "spectra",
}


def _target(resource_type: str, allowed: dict[str, str], what: str) -> str:
    try:
        return allowed[str(resource_type).lower()]
    except KeyError:
        choices = sorted(set(allowed.values()))
        raise BadRequest(f"{what} can be on {choices}, not {resource_type!r} (not sent)") from None


class CommentsAPI(BaseClient):
    """``/api/{sources|spectra|gcn_event}/{id}/comments`` and ``/api/{sources|spectra}/{id}/annotations``."""

    def list_comments(self, resource_type: str, resource_id: Any) -> list[dict]:
        """Retrieve all comments on a source, spectrum or GCN event (``GET /api/{sources|spectra|gcn_event}/{id}/comments``)."""
        return self.get(
            api_path(_target(resource_type, _COMMENT_TARGETS, "comments"), resource_id, "comments")
        )

    def get_comment(self, resource_type: str, resource_id: Any, comment_id: int) -> dict:
        """Retrieve one comment (``GET /api/{sources|spectra|gcn_event}/{id}/comments/{comment_id}``)."""
        kind = _target(resource_type, _COMMENT_TARGETS, "comments")
        return self.get(api_path(kind, resource_id, "comments", comment_id))

    def post_comment(
        self,
        resource_type: str,
        resource_id: Any,
        text: str,
        *,
        group_ids: Iterable[int] | None = None,
        attachment: bytes | str | os.PathLike | None = None,
        attachment_name: str | None = None,
    ) -> int:
        """Post a comment (``POST /api/{sources|spectra|gcn_event}/{id}/comments``); return its id.

        ``attachment``: bytes (then give ``attachment_name``) or a file path; it is sent
        base64-encoded as the API expects. ``group_ids`` default to all the user's groups.
        """
        kind = _target(resource_type, _COMMENT_TARGETS, "comments")
        body: dict[str, Any] = drop_none({"text": text, "group_ids": as_list(group_ids)})
        if attachment is not None:
            body["attachment"] = _attachment(attachment, attachment_name)
        return new_id(self.post(api_path(kind, resource_id, "comments"), body), "comment_id")

    def update_comment(
        self, resource_type: str, resource_id: Any, comment_id: int, **fields: Any
    ) -> Any:
        """Update a comment (``PUT /api/{sources|spectra|gcn_event}/{id}/comments/{comment_id}``), e.g. ``text="..."``."""
        kind = _target(resource_type, _COMMENT_TARGETS, "comments")
        return self.put(api_path(kind, resource_id, "comments", comment_id), fields)

    def delete_comment(self, resource_type: str, resource_id: Any, comment_id: int) -> Any:
        """Delete a comment (``DELETE /api/{sources|spectra|gcn_event}/{id}/comments/{comment_id}``)."""
        kind = _target(resource_type, _COMMENT_TARGETS, "comments")
        return self.delete(api_path(kind, resource_id, "comments", comment_id))

    def get_comment_attachment(
        self, resource_type: str, resource_id: Any, comment_id: int
    ) -> bytes:
        """Download a comment's attachment (``GET /api/{sources|spectra|gcn_event}/{id}/comments/{comment_id}/attachment``) as bytes."""
        kind = _target(resource_type, _COMMENT_TARGETS, "comments")
        return self.get_bytes(
            api_path(kind, resource_id, "comments", comment_id, "attachment"), {"download": True}
        )

    def list_annotations(self, resource_type: str, resource_id: Any) -> list[dict]:
        """Retrieve all annotations on a source or spectrum (``GET /api/{sources|spectra}/{id}/annotations``)."""
        kind = _target(resource_type, _ANNOTATION_TARGETS, "annotations")
        return self.get(api_path(kind, resource_id, "annotations"))

    def get_annotation(self, resource_type: str, resource_id: Any, annotation_id: int) -> dict:
        """Retrieve one annotation (``GET /api/{sources|spectra}/{id}/annotations/{annotation_id}``)."""
        kind = _target(resource_type, _ANNOTATION_TARGETS, "annotations")
        return self.get(api_path(kind, resource_id, "annotations", annotation_id))


def _attachment(attachment: bytes | str | os.PathLike, name: str | None) -> dict[str, str]:
    if isinstance(attachment, bytes | bytearray):
        if not name:
            raise BadRequest("an attachment given as bytes needs attachment_name (not sent)")
        data = bytes(attachment)
    else:
        path = Path(attachment).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadRequest(
                f"cannot read the attachment {path}: {exc.strerror} (not sent)"
            ) from exc
        name = name or path.name
    return {"body": base64.b64encode(data).decode("ascii"), "name": name}
