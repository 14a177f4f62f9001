"""Each endpoint of BFL's Oct 2026 spec answers with its own size, media, price and statuses.

The figures are the real API's where they are known (research/endpoints.md, cited per
case) and the documented choices of the endpoint table where they are not. No code in
the mock is written for one endpoint: these cases exercise the table's rows.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import urllib.parse
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image
from starlette.testclient import TestClient

from mockserver.clock import ManualClock
from mockserver.errors import SpecError
from mockserver.render.video import VideoRequest, render_video
from mockserver.settings import UrlInputs
from mockserver.spec.openapi import OperationKind
from mockserver.spec.reading import load_spec

from support import AUTH, OCT_SPEC, ClientFactory, png_base64

SPEC = load_spec(OCT_SPEC)
GENERATION = [op.path for op in SPEC.operations if op.kind is OperationKind.GENERATION]
WORKING = ("Pending", "Reasoning", "Generating")


@pytest.fixture
def oct(make_client: ClientFactory) -> TestClient:
    return make_client(spec=OCT_SPEC, polls_until_ready=3, credits=100_000.0)


def clip(width: int = 320, height: int = 192, seconds: float = 1.0, audio: bool = False) -> str:
    video = render_video(VideoRequest(width, height, seconds, seed=1, audio=audio))
    return base64.b64encode(video.data).decode()


def run(client: TestClient, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """Submit, then poll to the end: the submit answer and every poll's (status, body)."""
    submitted = client.post(path, json=body, headers=AUTH)
    assert submitted.status_code == 200, submitted.text
    polls = []
    for _ in range(10):
        poll = client.get(submitted.json()["polling_url"])
        polls.append((poll.status_code, poll.json()))
        if poll.json()["status"] not in WORKING:
            break
    return submitted.json(), polls


def task_of(client: TestClient, task_id: str) -> dict[str, Any]:
    """The task as the admin API shows it (its planned size and format)."""
    tasks = client.get("/_mock/tasks").json()
    found: dict[str, Any] = next(task for task in tasks if task["id"] == task_id)
    return found


def downloaded_image(client: TestClient, final: dict[str, Any]) -> Image.Image:
    response = client.get(final["result"]["sample"])
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


BODIES: dict[str, dict[str, Any]] = {
    "/v1/flux-pro-1.0-fill": {"image": png_base64(320, 240), "mask": png_base64(320, 240)},
    "/v1/flux-pro-1.0-expand": {"image": png_base64(320, 240)},
    "/v1/flux-pro-1.0-fill-finetuned": {"finetune_id": "f", "image": png_base64(320, 240)},
    "/v1/flux-pro-1.1-ultra-finetuned": {"finetune_id": "f"},
    "/v1/flux-tools/outpainting-v1": {"input_image": png_base64(320, 240), "width": 640,
                                      "height": 480},
    "/v1/flux-tools/erase-v1": {"image": png_base64(320, 240), "mask": png_base64(320, 240)},
    "/v1/flux-tools/deblur-v1": {"image": png_base64(320, 240)},
    "/v1/flux-tools/vto-v1": {"prompt": "x", "person": png_base64(320, 480),
                              "garment": png_base64(200, 200)},
    "/v1/flux-tools/vto-v2": {"prompt": "x", "person": png_base64(320, 480),
                              "garment": png_base64(200, 200)},
    "/v1/flux-3-video": {"mode": "t2v", "prompt": "a fox", "draft": True, "duration": 5},
    "/v1/flux-tools/video-upscale-v1": {"input_video": clip(), "upscale_factor": 1.5},
    "/v1/flux-tools/video-edit-v1": {"video": clip(), "prompt": "make it snow"},
}  # fmt: skip


@pytest.mark.parametrize("path", GENERATION)
def test_every_generation_endpoint_completes_submit_poll_and_download(
    oct: TestClient, path: str
) -> None:
    body = BODIES.get(path, {"prompt": "a red fox"})
    submitted, polls = run(oct, path, body)
    status, final = polls[-1]
    assert (status, final["status"]) == (200, "Ready"), final
    download = oct.get(final["result"]["sample"])
    assert download.status_code == 200
    planned = task_of(oct, submitted["id"])
    if download.headers["content-type"] == "video/mp4":
        with av.open(io.BytesIO(download.content)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (
                planned["width"],
                planned["height"],
            )
            assert stream.codec_context.name == "h264" and stream.average_rate == 24
    else:
        image = Image.open(io.BytesIO(download.content))
        assert image.size == (planned["width"], planned["height"])
        assert (
            image.format == {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[planned["output_format"]]
        )


@pytest.mark.parametrize(
    ("path", "statuses", "progress"),
    [
        ("/v1/flux-pro-1.1", ["Pending", "Pending", "Pending", "Ready"], [None, 1.0, None, None]),
        ("/v1/flux-2-pro", ["Pending", "Pending", "Pending", "Ready"], [None, None, None, None]),
        ("/v1/flux-3-image", ["Pending", "Reasoning", "Generating", "Ready"], [None] * 4),
    ],
)
def test_each_family_moves_through_its_own_statuses(
    oct: TestClient, path: str, statuses: list[str], progress: list[float | None]
) -> None:
    # FLUX.1: Pending with progress; FLUX.2: progress null; FLUX 3: Reasoning, Generating.
    _, polls = run(oct, path, {"prompt": "a fox"})
    assert [p["status"] for _, p in polls] == statuses
    assert [p["progress"] for _, p in polls] == progress


SIZES = [
    # Kontext: ~1 MP, the open-weights bucket nearest the input's shape (16:9 -> 1392x752).
    ("/v1/flux-kontext-pro", {"prompt": "x", "input_image": png_base64(1600, 900)}, (1392, 752)),
    ("/v1/flux-kontext-pro", {"prompt": "x"}, (1024, 1024)),
    ("/v1/flux-kontext-max", {"prompt": "x", "aspect_ratio": "21:9"}, (1568, 672)),
    # Fill, erase, deblur: the input's own size; expand adds the margins.
    ("/v1/flux-pro-1.0-fill", {"image": png_base64(640, 480)}, (640, 480)),
    ("/v1/flux-tools/erase-v1", {"image": png_base64(500, 300), "mask": png_base64(500, 300)},
     (500, 300)),
    ("/v1/flux-tools/deblur-v1", {"image": png_base64(700, 500)}, (700, 500)),
    ("/v1/flux-pro-1.0-expand", {"image": png_base64(640, 480), "left": 100, "right": 50,
                                 "top": 10, "bottom": 20}, (790, 510)),
    # Outpainting: the canvas; VTO: the person image (v1 scales a 4 MP one to ~1 MP).
    ("/v1/flux-tools/outpainting-v1", {"input_image": png_base64(320, 240), "width": 2000,
                                       "height": 1200}, (2000, 1200)),
    ("/v1/flux-tools/vto-v2", {"prompt": "x", "person": png_base64(800, 1200),
                               "garment": png_base64(100, 100)}, (800, 1200)),
    ("/v1/flux-tools/vto-v1", {"prompt": "x", "person": png_base64(2000, 2000),
                               "garment": png_base64(100, 100)}, (1024, 1024)),
    # FLUX.2: as asked; else the first input, scaled to 4 MP in multiples of 16; else 1024.
    ("/v1/flux-2-pro", {"prompt": "x", "width": 1920, "height": 1080}, (1920, 1080)),
    ("/v1/flux-2-pro", {"prompt": "x", "input_image": png_base64(3000, 2000)}, (2496, 1664)),
    ("/v1/flux-2-klein-4b", {"prompt": "x"}, (1024, 1024)),
    # Ultra: about 4 MiP at the aspect ratio, sides multiples of 64 (partner table).
    ("/v1/flux-pro-1.1-ultra", {"prompt": "x", "aspect_ratio": "21:9"}, (3136, 1344)),
    # Sides no schema bounds: capped so the other side keeps one step, then scaled to 4 MiP.
    ("/v1/flux-2-klein-9b", {"prompt": "x", "width": 64, "height": 10**309,
                             "output_format": "png"}, (32, 131_072)),
    ("/v1/flux-2-klein-9b", {"prompt": "x", "width": 10**20, "height": 10**20}, (2048, 2048)),
    # FLUX 3 image: the tier's area at the aspect ratio; auto follows the first reference.
    ("/v1/flux-3-image", {"prompt": "x", "resolution": "2k", "aspect_ratio": "16:9"},
     (2736, 1536)),
    ("/v1/flux-3-image", {"prompt": "x", "images": [png_base64(800, 400)]}, (1456, 720)),
    # FLUX 3 video: the published class x aspect table.
    ("/v1/flux-3-video", {"mode": "t2v", "prompt": "x", "resolution": "qhd",
                          "aspect_ratio": "9:16"}, (1440, 2560)),
    ("/v1/flux-3-video", {"mode": "i2v", "prompt": "x", "keyframes": png_base64(400, 400)},
     (960, 960)),
    # Video edit: above 720p scaled to 720p (1920x1088 -> 1248x704, docs); upscale x1.5.
    ("/v1/flux-tools/video-edit-v1", {"video": clip(1920, 1088), "prompt": "x"}, (1248, 704)),
    ("/v1/flux-tools/video-upscale-v1", {"input_video": clip(1280, 704), "upscale_factor": 1.5},
     (1920, 1056)),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "size"), SIZES)
def test_each_endpoint_sizes_its_output_by_its_own_rule(
    oct: TestClient, path: str, body: dict[str, Any], size: tuple[int, int]
) -> None:
    submitted = oct.post(path, json=body, headers=AUTH)
    assert submitted.status_code == 200, submitted.text
    planned = task_of(oct, submitted.json()["id"])
    assert (planned["width"], planned["height"]) == size


def test_an_edit_answers_an_image_of_the_inputs_shape_showing_the_input(oct: TestClient) -> None:
    red = png_base64(1600, 900, colour=(220, 20, 20))
    _, polls = run(oct, "/v1/flux-kontext-pro", {"prompt": "x", "input_image": red})
    image = downloaded_image(oct, polls[-1][1]).convert("RGB")
    assert image.size == (1392, 752)
    # The input fills the frame, tinted: the output is mostly red.
    r, g, b = image.resize((1, 1)).getpixel((0, 0))  # type: ignore[misc]
    assert r > 2 * g and r > 2 * b


COSTS = [
    # FLUX.2: dollars summed, then x100; each image's megapixels rounded up (endpoints.md 3).
    ("/v1/flux-2-pro", {"prompt": "x", "width": 1920, "height": 1080},
     {"cost": 4.5, "input_mp": 0.0, "output_mp": 1.98}),
    ("/v1/flux-2-pro", {"prompt": "x", "width": 256, "height": 256},
     {"cost": 3.0, "input_mp": 0.0, "output_mp": 0.06}),
    ("/v1/flux-2-max", {"prompt": "x"}, {"cost": 7.000000000000001, "input_mp": 0.0,
                                         "output_mp": 1.0}),
    ("/v1/flux-2-pro", {"prompt": "x", "input_image": png_base64(3000, 2000)},
     {"cost": 16.5, "input_mp": 5.72, "output_mp": 3.96}),
    ("/v1/flux-2-klein-4b", {"prompt": "x", "width": 256, "height": 256},
     {"cost": 1.4, "input_mp": 0.0, "output_mp": 0.06}),
    # FLUX 3 image: per resolution tier (release notes, Oct 2026).
    ("/v1/flux-3-image", {"prompt": "x"}, {"cost": 4.8, "input_mp": 0.0, "output_mp": 1.0}),
    ("/v1/flux-3-image", {"prompt": "x", "resolution": "4k"},
     {"cost": 60.7, "input_mp": 0.0, "output_mp": 16.0}),
    # Image tools: live submit echoes.
    ("/v1/flux-tools/erase-v1", {"image": png_base64(320, 240), "mask": png_base64(320, 240)},
     {"cost": 3.0, "input_mp": 0.15, "output_mp": 0.07}),
    ("/v1/flux-tools/outpainting-v1", {"input_image": png_base64(320, 240), "width": 1024,
                                       "height": 1024, "mode": "fast"},
     {"cost": 4.5, "input_mp": 0.07, "output_mp": 1.0}),
    # FLUX.1, Kontext and video: null on submit.
    ("/v1/flux-pro-1.1", {"prompt": "x"}, {"cost": None, "input_mp": None, "output_mp": None}),
    ("/v1/flux-kontext-pro", {"prompt": "x"}, {"cost": None, "input_mp": None,
                                               "output_mp": None}),
    ("/v1/flux-3-video", {"mode": "t2v", "prompt": "x"}, {"cost": None, "input_mp": None,
                                                         "output_mp": None}),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "cost"), COSTS)
def test_the_submit_answer_carries_each_endpoints_cost(
    oct: TestClient, path: str, body: dict[str, Any], cost: dict[str, Any]
) -> None:
    answer = oct.post(path, json=body, headers=AUTH).json()
    assert {key: answer[key] for key in cost} == cost
    assert list(answer) == ["id", "polling_url", "cost", "input_mp", "output_mp"]


@pytest.mark.parametrize(
    ("path", "body", "settled"),
    [
        # Per second of output: t2v hd 5 s 85, draft 30, v2v hd 5 s 205 (live LB).
        ("/v1/flux-3-video", {"mode": "t2v", "prompt": "x", "duration": 5}, 85.0),
        ("/v1/flux-3-video", {"mode": "t2v", "prompt": "x", "duration": 5, "draft": True}, 30.0),
        ("/v1/flux-3-video", {"mode": "v2v", "prompt": "x", "duration": 5,
                              "start_video": clip()}, 205.0),
        # Video edit: 3 per second of the source; upscale: per output MP x s, rounded up.
        ("/v1/flux-tools/video-edit-v1", {"video": clip(seconds=2.0), "prompt": "x"}, 6.0),
        ("/v1/flux-tools/video-upscale-v1", {"input_video": clip(1280, 704),
                                             "upscale_factor": 1.5, "creativity": 0}, 14.0),
    ],
)  # fmt: skip
def test_video_settles_its_cost_on_the_final_poll(
    oct: TestClient, path: str, body: dict[str, Any], settled: float
) -> None:
    before = oct.get("/v1/credits", headers=AUTH).json()["credits"]
    _, polls = run(oct, path, body)
    working, final = [p for _, p in polls[:-1]], polls[-1][1]
    assert all("cost" not in poll for poll in working)
    assert final["status"] == "Ready" and list(final)[-2:] == ["preview", "cost"]
    assert final["cost"] == settled
    assert oct.get("/v1/credits", headers=AUTH).json()["credits"] == before - settled


def test_images_do_not_add_a_settled_cost(oct: TestClient) -> None:
    _, polls = run(oct, "/v1/flux-2-pro", {"prompt": "x"})
    assert list(polls[-1][1]) == ["id", "status", "result", "progress", "details", "preview"]


@pytest.mark.parametrize(
    ("path", "body", "keys"),
    [
        ("/v1/flux-pro-1.1", {"prompt": "x"},
         ["sample", "prompt", "seed", "start_time", "end_time", "duration"]),
        ("/v1/flux-2-pro", {"prompt": "x"}, ["start_time", "prompt", "seed", "sample"]),
        ("/v1/flux-3-image", {"prompt": "x"}, ["sample", "prompt", "duration"]),
        ("/v1/flux-3-video", {"mode": "t2v", "prompt": "x"},
         ["sample", "prompt", "seed", "start_time"]),
        ("/v1/flux-3-video", {"mode": "t2v", "prompt": "x", "draft": True},
         ["sample", "prompt", "seed", "start_time", "draft_cache", "draft_caches"]),
        ("/v1/flux-tools/video-upscale-v1", {"input_video": clip()},
         ["sample", "duration", "prompt", "seed"]),
    ],
)  # fmt: skip
def test_each_family_answers_its_own_result_keys(
    oct: TestClient, path: str, body: dict[str, Any], keys: list[str]
) -> None:
    _, polls = run(oct, path, body)
    assert list(polls[-1][1]["result"]) == keys


@pytest.mark.parametrize(
    ("path", "body", "prompt"),
    [
        ("/v1/flux-pro-1.1", {"prompt": "a fox"}, "a fox"),
        ("/v1/flux-pro-1.1", {"prompt": "a fox", "prompt_upsampling": True}, "rewritten"),
        ("/v1/flux-2-pro", {"prompt": "a fox"}, "rewritten"),
        ("/v1/flux-2-pro", {"prompt": "a fox", "disable_pup": True}, "a fox"),
        ("/v1/flux-2-klein-9b", {"prompt": "a fox"}, "a fox"),
        ("/v1/flux-3-image", {"prompt": "a fox"}, "rewritten"),
        ("/v1/flux-tools/video-upscale-v1", {"input_video": clip(), "prompt": "a fox"},
         "Upscale and enhance: a fox"),
    ],
)  # fmt: skip
def test_result_prompt_is_rewritten_as_each_endpoint_rewrites_it(
    oct: TestClient, path: str, body: dict[str, Any], prompt: str
) -> None:
    _, polls = run(oct, path, body)
    rewritten = "a detailed photograph of a fox, natural light, sharp focus, rich colours"
    assert polls[-1][1]["result"]["prompt"] == (rewritten if prompt == "rewritten" else prompt)


def test_a_video_is_an_h264_mp4_of_the_asked_length_with_audio(oct: TestClient) -> None:
    body = {"mode": "t2v", "prompt": "a fox", "duration": 5, "aspect_ratio": "16:9"}
    _, polls = run(oct, "/v1/flux-3-video", body)
    download = oct.get(polls[-1][1]["result"]["sample"])
    assert download.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(download.content)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (1280, 704)
        assert video.frames == 120 and video.average_rate == 24
        assert [stream.codec_context.name for stream in container.streams.audio] == ["aac"]
    quiet = run(oct, "/v1/flux-3-video", {**body, "generate_audio": False})[1][-1][1]
    with av.open(io.BytesIO(oct.get(quiet["result"]["sample"]).content)) as container:
        assert not container.streams.audio


def test_a_draft_bundle_replays_at_full_quality(oct: TestClient) -> None:
    draft_body = {"mode": "t2v", "prompt": "a fox", "draft": True, "aspect_ratio": "9:16"}
    _, polls = run(oct, "/v1/flux-3-video", draft_body)
    result = polls[-1][1]["result"]
    assert result["draft_caches"] == [result["draft_cache"]]
    bundle = oct.get(result["draft_cache"])
    assert bundle.headers["content-type"] == "application/octet-stream"
    for cache in (base64.b64encode(bundle.content).decode(), result["draft_cache"]):
        enhanced = oct.post(
            "/v1/flux-3-video", json={"mode": "draft_enhance", "draft_cache": cache}, headers=AUTH
        ).json()
        planned = task_of(oct, enhanced["id"])
        # The draft's shape at the default fhd class, its prompt and its seed.
        assert (planned["width"], planned["height"]) == (1088, 1920)
        final = run_to_end(oct, enhanced["polling_url"])
        assert final["result"]["prompt"] == "a fox"
        assert final["result"]["seed"] == polls[-1][1]["result"]["seed"]
        assert final["cost"] == 29.0 * 5


def run_to_end(client: TestClient, polling_url: str) -> dict[str, Any]:
    for _ in range(10):
        body: dict[str, Any] = client.get(polling_url).json()
        if body["status"] not in WORKING:
            return body
    raise AssertionError("the task did not end")


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        # Broken base64, a PNG that is not one, a video that is not a video (endpoints.md 0).
        ("/v1/flux-kontext-pro", {"prompt": "x", "input_image": "not base64 at all!"}, 200,
         "Invalid or corrupted image input"),
        ("/v1/flux-kontext-pro", {"prompt": "x", "input_image": base64.b64encode(
            b"\x89PNG\r\n\x1a\nthen nothing").decode()}, 200, "Invalid or corrupted image input"),
        ("/v1/flux-tools/video-edit-v1", {"prompt": "x", "video": png_base64(320, 240)}, 422,
         "Invalid or corrupted image input"),
        ("/v1/flux-tools/video-upscale-v1", {"input_video": base64.b64encode(
            b"\x00\x00\x00\x18ftypmp42 truncated").decode()}, 422,
         "Invalid or corrupted image input"),
        ("/v1/flux-3-video", {"mode": "draft_enhance", "draft_cache": "AAAA"}, 422,
         "Invalid or corrupted image input"),
        # Video edit: a side under 160 px fails during processing (docs).
        ("/v1/flux-tools/video-edit-v1", {"prompt": "x", "video": clip(128, 96)}, 422,
         "Invalid or corrupted image input"),
    ],
)  # fmt: skip
def test_an_unusable_input_is_accepted_then_fails_as_on_the_real_api(
    oct: TestClient, path: str, body: dict[str, Any], status: int, error: str
) -> None:
    before = oct.get("/v1/credits", headers=AUTH).json()["credits"]
    _, polls = run(oct, path, body)
    code, final = polls[-1]
    assert (code, final["status"], final["details"], final["result"]) == (
        status,
        "Error",
        {"error": error},
        None,
    )
    assert oct.get("/v1/credits", headers=AUTH).json()["credits"] == before


def test_a_60_mb_body_holding_no_video_fails_as_any_unreadable_video(oct: TestClient) -> None:
    # A 45 MB file, 60 MB in base64: under the 50 MB input the docs allow, so read, then refused.
    body = {"input_video": base64.b64encode(bytes(45 * 2**20)).decode()}
    assert len(json.dumps(body)) > 60 * 2**20
    _, polls = run(oct, "/v1/flux-tools/video-upscale-v1", body)
    code, final = polls[-1]
    assert (code, final["status"], final["details"]) == (
        422,
        "Error",
        {"error": "Invalid or corrupted image input"},
    )


@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        ("/v1/flux-tools/outpainting-v1", {"input_image": png_base64(320, 240), "width": 3000,
         "height": 2000}, 422, "The output canvas (width x height) must be at most 4194304 pixels"),
        ("/v1/flux-tools/outpainting-v1", {"input_image": png_base64(800, 800), "width": 640,
         "height": 640}, 422, "The reference image extends beyond the canvas; set auto_crop to "
         "crop it"),
        ("/v1/flux-tools/deblur-v1", {"image": png_base64(2100, 2100)}, 422,
         "Maximum image area is 4 MP"),
        ("/v1/flux-tools/erase-v1", {"image": png_base64(320, 240), "mask": png_base64(100, 100)},
         422, "Mask dimensions must match the image dimensions"),
        ("/v1/flux-3-image", {"prompt": "x", "images": png_base64(100, 100)}, 422,
         "Reference images must be at least 256x256 pixels"),
        ("/v1/flux-3-video", {"mode": "t2v", "prompt": "x", "draft": True, "resolution": "fhd"},
         422, "draft renders hd only: send draft with resolution hd"),
        ("/v1/flux-kontext-pro", {"prompt": "x", "aspect_ratio": "1:5"}, 422,
         "aspect_ratio must be between 3:7 and 7:3"),
        ("/v1/flux-tools/video-edit-v1", {"prompt": "x", "video": clip(seconds=16.0)}, 422,
         "The source video is longer than 15 seconds"),
        # Sides no format can hold (no schema bounds FLUX.2's width and height).
        ("/v1/flux-2-pro", {"prompt": "x", "width": 64, "height": 20_000, "output_format":
         "webp"}, 422, "A webp image holds at most 16383 pixels a side, not 64x20000: ask for "
         "another size or output_format"),
        ("/v1/flux-2-klein-9b", {"prompt": "x", "width": 64, "height": 10**309, "output_format":
         "jpeg"}, 422, "A jpeg image holds at most 65535 pixels a side, not 32x131072: ask for "
         "another size or output_format"),
    ],
)  # fmt: skip
def test_business_rules_refuse_the_submit_as_a_validator_would(
    oct: TestClient, path: str, body: dict[str, Any], status: int, detail: str
) -> None:
    response = oct.post(path, json=body, headers=AUTH)
    fields = ("resolution", "aspect_ratio", "output_format")
    field = next((name for name in fields if name in detail), None)
    # A pydantic validator raising ValueError: loc body (or the field), the input quoted.
    expected: dict[str, Any] = {
        "type": "value_error",
        "loc": ["body", field] if field else ["body"],
        "msg": "Value error, " + detail,
        "input": body[field] if field else body,
        "ctx": {"error": {}},
    }
    assert (response.status_code, response.json()) == (status, {"detail": [expected]})
    assert oct.get("/_mock/tasks").json() == []


def test_a_reference_over_16_megapixels_is_refused_with_400(oct: TestClient) -> None:
    body = {"prompt": "x", "images": [png_base64(4100, 4100)]}
    response = oct.post("/v1/flux-3-image", json=body, headers=AUTH)
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "Reference image is larger than 16 megapixels"},
    )


def test_outpainting_crops_a_reference_beyond_the_canvas_when_asked(oct: TestClient) -> None:
    body = {"input_image": png_base64(800, 800), "width": 640, "height": 640, "auto_crop": True}
    response = oct.post("/v1/flux-tools/outpainting-v1", json=body, headers=AUTH)
    task_id = response.json()["id"]
    # Taken, and priced as any outpainting: 20 credits, the input's and the canvas's megapixels.
    assert (response.status_code, response.json()) == (
        200,
        {
            "id": task_id,
            "polling_url": f"http://testserver/v1/get_result?id={task_id}",
            "cost": 20.0,
            "input_mp": 0.61,
            "output_mp": 0.39,
        },
    )
    task = task_of(oct, task_id)
    assert (task["width"], task["height"]) == (640, 640)


@pytest.mark.parametrize(("path", "limit"), [("/v1/flux-kontext-max", 6), ("/v1/flux-3-video", 5)])
def test_endpoints_with_their_own_active_task_limit_refuse_beyond_it(
    oct: TestClient, path: str, limit: int
) -> None:
    body = {"prompt": "x", "mode": "t2v"} if "video" in path else {"prompt": "x"}
    answers = [oct.post(path, json=body, headers=AUTH) for _ in range(limit + 1)]
    assert [a.status_code for a in answers] == [200] * limit + [429]
    assert answers[-1].json() == {"detail": "Too many active tasks"}
    assert answers[-1].headers["retry-after"] == "1"
    # Another endpoint of the same key is not held back by that limit.
    assert oct.post("/v1/flux-kontext-pro", json={"prompt": "x"}, headers=AUTH).status_code == 200


def test_credits_follow_each_endpoints_price_and_402_below_it(
    make_client: ClientFactory,
) -> None:
    client = make_client(spec=OCT_SPEC, polls_until_ready=1, credits=90.0)
    _, polls = run(client, "/v1/flux-3-video", {"mode": "t2v", "prompt": "x", "duration": 5})
    assert polls[-1][1]["cost"] == 85.0
    assert client.get("/v1/credits", headers=AUTH).json() == {"credits": 5.0}
    refused = client.post("/v1/flux-2-max", json={"prompt": "x"}, headers=AUTH)
    assert (refused.status_code, refused.json()) == (402, {"detail": "Insufficient credits"})
    assert client.post("/v1/flux-2-klein-4b", json={"prompt": "x"}, headers=AUTH).status_code == 200


def test_spelled_out_video_modes_are_accepted_as_the_spec_says(oct: TestClient) -> None:
    answer = oct.post(
        "/v1/flux-3-video", json={"mode": "text-to-video", "prompt": "x"}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    unknown = oct.post("/v1/flux-3-video", json={"mode": "sideways", "prompt": "x"}, headers=AUTH)
    assert unknown.json()["detail"][0]["type"] == "union_tag_invalid"


def planned_size(client: TestClient, path: str, body: dict[str, Any]) -> tuple[int, int]:
    answer = client.post(path, json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    task = task_of(client, answer.json()["id"])
    return task["width"], task["height"]


def test_data_uris_urls_of_the_mock_and_stand_ins_are_all_read(oct: TestClient) -> None:
    kontext = "/v1/flux-kontext-pro"
    uri = "data:image/png;base64," + png_base64(600, 800)
    assert planned_size(oct, kontext, {"prompt": "x", "input_image": uri}) == (880, 1184)
    # A sample URL the mock handed out is read back from the mock itself (1024x768 -> 4:3).
    _, polls = run(oct, "/v1/flux-pro-1.1", {"prompt": "x"})
    sample = polls[-1][1]["result"]["sample"]
    assert planned_size(oct, kontext, {"prompt": "x", "input_image": sample}) == (1184, 880)
    # Any other URL is never fetched: a 1024x1024 stand-in by default.
    remote = {"prompt": "x", "input_image": "https://example.com/cat.png"}
    assert planned_size(oct, kontext, remote) == (1024, 1024)


def test_urls_beyond_loopback_can_fail_instead(make_client: ClientFactory) -> None:
    client = make_client(spec=OCT_SPEC, polls_until_ready=1, url_inputs=UrlInputs.ERROR)
    body = {"prompt": "x", "input_image": "https://example.com/cat.png"}
    _, polls = run(client, "/v1/flux-kontext-pro", body)
    assert polls[-1][1]["details"] == {"error": "Invalid or corrupted image input"}


def test_a_path_of_another_bundled_spec_gets_the_faithful_404_and_a_hint(
    client: TestClient,
) -> None:
    response = client.post("/v1/flux-3-video", json={"mode": "t2v"}, headers=AUTH)
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    journal = client.get("/_mock/journal").json()
    assert journal[-1]["problems"] == [
        "Not Found: the served spec has no /v1/flux-3-video; bundled spec 2026-10 has it "
        "(bfl-mock serve --spec 2026-10)"
    ]


def test_webp_is_served_where_the_spec_allows_it(oct: TestClient) -> None:
    _, polls = run(oct, "/v1/flux-2-pro", {"prompt": "x", "output_format": "webp"})
    assert downloaded_image(oct, polls[-1][1]).format == "WEBP"
    assert "rsct=image/webp" in polls[-1][1]["result"]["sample"]


@pytest.mark.parametrize(
    ("path", "body", "seconds"),
    [
        ("/v1/flux-2-pro", {"prompt": "x"}, 600),  # images: 10 minutes (docs)
        ("/v1/flux-3-image", {"prompt": "x"}, 3600),  # FLUX 3 image: within an hour (docs)
        ("/v1/flux-3-video", {"mode": "t2v", "prompt": "x"}, 7200),  # about 2 hours (docs)
    ],
)
def test_sample_urls_live_as_long_as_each_endpoints_do(
    oct: TestClient, clock: ManualClock, path: str, body: dict[str, Any], seconds: int
) -> None:
    _, polls = run(oct, path, body)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(polls[-1][1]["result"]["sample"]).query)
    expires = datetime.datetime.fromtimestamp(int(clock.now()) + seconds, datetime.timezone.utc)
    assert query["se"] == [expires.strftime("%Y-%m-%dT%H:%M:%SZ")]


def test_rows_of_a_table_file_are_laid_over_the_bundled_table(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    table = tmp_path / "endpoints.toml"
    table.write_text(
        '["/v1/flux-kontext-max"]\nactive_limit = 2\n'
        '["/v1/flux-2-pro"]\nprice = [{ formula = "flat", credits = 1.25 }]\n'
    )
    client = make_client(spec=OCT_SPEC, endpoint_table=table)
    limited = [client.post("/v1/flux-kontext-max", json={"prompt": "x"}, headers=AUTH).status_code
               for _ in range(3)]  # fmt: skip
    assert limited == [200, 200, 429]
    quote = client.post("/v1/flux-2-pro", json={"prompt": "x"}, headers=AUTH).json()
    # The price changed; the rest of the row (numbers on submit, 1 MP output) did not.
    assert (quote["cost"], quote["output_mp"]) == (1.25, 1.0)


def test_a_broken_table_file_is_refused_at_start_with_where(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    table = tmp_path / "endpoints.toml"
    table.write_text('["/v1/flux-2-pro"]\nsize = { rule = "sideways" }\n')
    with pytest.raises(SpecError, match="'/v1/flux-2-pro'.*unknown size rule 'sideways'"):
        make_client(spec=OCT_SPEC, endpoint_table=table)
