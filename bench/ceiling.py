"""The ceiling: a bare Starlette app on the same uvicorn settings as the mock.

It does the least a server can do for each of the benchmark's requests: a POST
parses its JSON body and answers a constant, a poll answers a constant, and a
sample download answers the same bytes the mock serves, already in memory.
Whatever the mock does beyond this is what the ratio mock/ceiling measures.

    python bench/ceiling.py --port 8001 [--sample FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TASK_ID = "00000000-0000-4000-8000-000000000000"
# Bodies of the size the mock answers, as constants.
SUBMITTED = (
    f'{{"id":"{TASK_ID}","polling_url":"http://127.0.0.1/v1/get_result?id={TASK_ID}",'
    '"cost":null,"input_mp":null,"output_mp":null}'
).encode()
POLLED = (
    f'{{"id":"{TASK_ID}","status":"Pending","result":null,"progress":0.5,'
    '"details":null,"preview":null}'
).encode()


def build(sample: bytes, sample_type: str) -> Starlette:
    async def submit(request: Request) -> Response:
        json.loads(await request.body())
        return Response(SUBMITTED, media_type="application/json")

    async def poll(request: Request) -> Response:
        return Response(POLLED, media_type="application/json")

    async def download(request: Request) -> Response:
        return Response(sample, media_type=sample_type)

    return Starlette(
        routes=[
            Route("/v1/get_result", poll, methods=["GET"]),
            Route("/v1/{endpoint}", submit, methods=["POST"]),
            Route("/results/{shard}/{folder}/{blob}/{filename}", download, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sample", type=Path, help="bytes to answer a download with")
    parser.add_argument("--sample-type", default="image/jpeg")
    args = parser.parse_args()
    sample = args.sample.read_bytes() if args.sample else b""
    # The mock's own uvicorn settings (loop, http, logging, headers), so that the
    # only difference between the two servers is the app.
    from mockserver.server import listen, uvicorn_config
    from mockserver.settings import MockSettings

    settings = MockSettings(host=args.host, port=args.port)
    sock = listen(settings.host, settings.port)
    uvicorn.Server(uvicorn_config(build(sample, args.sample_type), settings)).run(sockets=[sock])


if __name__ == "__main__":
    main()
