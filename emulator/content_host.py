"""Routes of Dropbox's content host: downloads, temporary links and thumbnails.

``files/download`` and ``files/get_thumbnail_v2`` are download-style: the argument comes
in the ``Dropbox-API-Arg`` header (or ``?arg=``), the result goes back in the
``Dropbox-API-Result`` header and the body is the file or the image.
``files/get_thumbnail_batch`` is an RPC on the content host: JSON in, JSON out, each
thumbnail base64-encoded, each file's refusal an entry of its own. ``/temp/<token>``
serves temporary links, with no auth, like ``dl.dropboxusercontent.com``.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import time
from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from emulator import args
from emulator.control import Emulator
from emulator.errors import AccountError, BadInput, nested, tagged
from emulator.model import FileMeta, JsonDict
from emulator.routing import account_of
from emulator.thumbnails import ThumbnailSpec

BATCH_LIMIT = 25  # "We allow up to 25 thumbnails in a single batch."
_HEADER = 'HTTP header "Dropbox-API-Arg"'


def _header_arguments(request: Request) -> JsonDict:
    raw = request.headers.get("dropbox-api-arg") or request.query_params.get("arg") or ""
    return args.parse_json(raw.encode())


async def _download(request: Request) -> Response:
    emu = account_of(request)
    emu.tokens.check_bearer(request.headers.get("authorization"))
    path = args.read_path(_header_arguments(request))
    with nested("path"):
        args.check_well_formed(path)
        meta = await run_in_threadpool(emu.downloadable_file, path)
    headers = {
        "Dropbox-API-Result": json.dumps(meta.to_json()),
        "Content-Length": str(meta.size),
    }
    return _file_response(meta, headers, "application/octet-stream")


async def _temp_link(request: Request) -> Response:
    link = account_of(request).resolve_link(request.path_params["token"])
    if link is None:
        return PlainTextResponse("Not found", status_code=404)
    if time.monotonic() >= link.expires_at:
        return PlainTextResponse("This link has expired.", status_code=410)
    media = mimetypes.guess_type(link.meta.name)[0] or "application/octet-stream"
    return _file_response(link.meta, {"Content-Length": str(link.meta.size)}, media)


def _file_response(meta: FileMeta, headers: dict[str, str], media: str) -> Response:
    def chunks() -> Iterator[bytes]:
        yield from meta.source.chunks()

    return StreamingResponse(chunks(), headers=headers, media_type=media)


async def _thumbnail_v2(request: Request) -> Response:
    """``ThumbnailV2Arg``: ``resource`` (path or link), ``format``, ``size``, ``mode``."""
    emu = account_of(request)
    emu.tokens.check_bearer(request.headers.get("authorization"))
    arguments = _header_arguments(request)
    path = _resource_path(arguments)
    spec = ThumbnailSpec.parse(arguments, _HEADER)
    meta, image = await run_in_threadpool(_thumbnail, emu, path, spec)
    result = json.dumps({"file_metadata": meta.to_json()})
    headers = {"Dropbox-API-Result": result, "Content-Length": str(len(image))}
    return Response(image, headers=headers, media_type="application/octet-stream")


def _resource_path(arguments: JsonDict) -> str:
    """The path of a ``PathOrLink``; a shared link is ``not_found``, as none exists here."""
    resource = arguments.get("resource")
    if not isinstance(resource, dict):
        raise BadInput(f'{_HEADER}: missing required field "resource"')
    if resource.get(".tag") == "link":
        raise AccountError("not_found")  # "The shared link does not exist."
    if resource.get(".tag") != "path":
        raise BadInput(f"{_HEADER}: resource: unknown tag {resource.get('.tag')!r}")
    return args.read_path(resource)


def _thumbnail(emu: Emulator, path: str, spec: ThumbnailSpec) -> tuple[FileMeta, bytes]:
    with nested("path"):
        args.check_well_formed(path)
        return emu.thumbnail(path, spec)


async def _thumbnail_batch(request: Request) -> Response:
    """``{"entries": [ThumbnailArg, ...]}`` (at most 25) -> one result entry per file."""
    emu = account_of(request)
    emu.tokens.check_bearer(request.headers.get("authorization"))
    entries = args.parse_json(await request.body()).get("entries")
    if not isinstance(entries, list):
        raise BadInput('request body: missing required field "entries"')
    if len(entries) > BATCH_LIMIT:
        raise AccountError("too_many_files")  # GetThumbnailBatchError
    wanted = [_batch_entry(entry, index) for index, entry in enumerate(entries)]
    results = await run_in_threadpool(lambda: [_batch_result(emu, *one) for one in wanted])
    return JSONResponse({"entries": results})


def _batch_entry(entry: object, index: int) -> tuple[str, ThumbnailSpec]:
    where = f"request body: entries: [{index}]"
    if not isinstance(entry, dict):
        raise BadInput(f"{where}: expected object")
    return args.read_path(entry), ThumbnailSpec.parse(entry, where)


def _batch_result(emu: Emulator, path: str, spec: ThumbnailSpec) -> JsonDict:
    try:
        meta, image = _thumbnail(emu, path, spec)
    except AccountError as refused:
        return {".tag": "failure", "failure": tagged(refused.tags)}
    thumbnail = base64.b64encode(image).decode()
    return {".tag": "success", "metadata": meta.to_json(), "thumbnail": thumbnail}


ROUTES = [
    Route("/2/files/download", _download, methods=["POST", "GET"]),
    Route("/2/files/get_thumbnail_v2", _thumbnail_v2, methods=["POST", "GET"]),
    Route("/2/files/get_thumbnail_batch", _thumbnail_batch, methods=["POST"]),
    Route("/temp/{token}", _temp_link, methods=["GET"]),
]
