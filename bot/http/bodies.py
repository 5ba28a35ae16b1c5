"""Reading a request body: whole, within the size limit and the time limit, inflated by us.

aiohttp's own decompression is off (``auto_decompress=False`` where the app is served): it inflates
a body in one go inside the parser, so a small gzip bomb (1 MB that inflates to 1 GiB) held the
event loop for seconds. Here a compressed body is inflated as it arrives, never producing more
than the limit: past it the answer is 413 at once, and no body costs more work than the limit's
worth of output. A body that does not arrive in time is 408.
"""

from __future__ import annotations

import asyncio
import zlib

from aiohttp import StreamReader, web

from .errors import ApiError

_GZIP = 16 + zlib.MAX_WBITS
_ENCODINGS = ("gzip", "x-gzip", "deflate", "identity")


def too_large(limit: int, what: str = "") -> ApiError:
    # The rest of the body is not read: the connection closes after the answer.
    return ApiError(413, "body_too_large", f"the body exceeds the limit of {limit} bytes{what}", close=True)


async def read_body(request: web.Request, limit: int, timeout: float) -> bytes:
    """The body, decoded from its Content-Encoding, at most ``limit`` bytes and within ``timeout``
    seconds; ApiError 413/408/415/400 otherwise."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
    if encoding not in _ENCODINGS:
        raise ApiError(415, "unsupported_encoding",
                       f"Content-Encoding {encoding[:40]!r} is not supported; use gzip, deflate or none",
                       supported=list(_ENCODINGS))
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    content = request.content
    if encoding == "identity" and content.is_eof():
        # An agent's event (a few hundred bytes) has arrived whole by the time the handler runs:
        # taken from the buffer in one call, no awaits.
        body = content.read_nowait()
        if len(body) > limit:
            raise too_large(limit)
        return body
    try:
        async with asyncio.timeout(timeout):
            return await _read(content, limit, encoding)
    except TimeoutError:
        raise ApiError(408, "request_timeout", f"the body did not arrive within {timeout:g} s", close=True) from None


async def _read(content: StreamReader, limit: int, encoding: str) -> bytes:
    received = 0
    out = bytearray()
    inflater: zlib._Decompress | None = None
    while chunk := await content.readany():
        received += len(chunk)
        if received > limit:
            raise too_large(limit)
        if encoding == "identity":
            out += chunk
            continue
        if inflater is None:
            inflater = zlib.decompressobj(_GZIP if encoding != "deflate" else _deflate_wbits(chunk))
        try:
            # Never more output than the limit allows, however much this chunk would inflate to.
            out += inflater.decompress(chunk, limit + 1 - len(out))
        except zlib.error as exc:
            raise ApiError(400, "malformed_body", f"the body could not be read: {encoding} data is corrupt ({exc})",
                           close=True) from None
        if len(out) > limit or inflater.unconsumed_tail:
            raise too_large(limit, " once inflated")
    if inflater is not None and not inflater.eof:
        raise ApiError(400, "malformed_body", f"the body could not be read: the {encoding} stream is cut short")
    return bytes(out)


def _deflate_wbits(first: bytes) -> int:
    """"deflate" should be a zlib stream (RFC 9110), but some clients send raw deflate: tell them
    apart by the zlib header (compression method 8 and a header checksum divisible by 31)."""
    if len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS
