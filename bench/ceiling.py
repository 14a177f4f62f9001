"""The ceiling: a bare Starlette app on the same uvicorn settings as the mock.

It does the least a server can do for each of the benchmark's requests: a submit
parses its JSON body and answers a constant, a poll answers a constant, a download
answers bytes already in memory. The constant is, by default, a body of the size
the mock answers; ``bench/run.py`` passes the mock's own answer for the row being
measured (``--answer``), so that both servers write the same bytes and the ratio
mock/ceiling measures only what the mock does to produce them.

    python bench/ceiling.py --port 8001 [--answer FILE --answer-type image/jpeg]
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
DEFAULT_ANSWER = (
    f'{{"id":"{TASK_ID}","polling_url":"http://127.0.0.1/v1/get_result?id={TASK_ID}",'
    '"cost":null,"input_mp":null,"output_mp":null}'
).encode()
JSON = "application/json"


def build(answer: bytes = DEFAULT_ANSWER, media_type: str = JSON) -> Starlette:
    async def submit(request: Request) -> Response:
        json.loads(await request.body())
        return Response(answer, media_type=media_type)

    async def constant(request: Request) -> Response:
        return Response(answer, media_type=media_type)

    return Starlette(
        routes=[
            Route("/v1/get_result", constant, methods=["GET"]),
            Route("/v1/{endpoint}", submit, methods=["POST"]),
            Route("/results/{shard}/{folder}/{blob}/{filename}", constant, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", type=Path, help="the bytes every request is answered with")
    parser.add_argument("--answer-type", default=JSON, help="their media type")
    args = parser.parse_args()
    answer = args.answer.read_bytes() if args.answer else DEFAULT_ANSWER
    # The mock's own uvicorn settings (loop, http, logging, headers), so that the
    # only difference between the two servers is the app.
    from mockserver.serving.server import listen, uvicorn_config
    from mockserver.settings import MockSettings

    settings = MockSettings(host=args.host, port=args.port)
    sock = listen(settings.host, settings.port)
    uvicorn.Server(uvicorn_config(build(answer, args.answer_type), settings)).run(sockets=[sock])


if __name__ == "__main__":
    main()
